// Command producer reads a stream of posts and publishes each one, raw bytes
// unchanged, to Kafka.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/tweetpipe/tweetpipe/producer/internal/config"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/publish"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/replay"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/synthetic"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/xv2"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	help := flag.Bool("h", false, "print every environment variable with its default")
	flag.Parse()
	if *help {
		fmt.Fprintf(os.Stdout, "tweetpipe producer %s: configured by environment variables\n\n", version)
		if err := config.Usage(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	cfg, err := config.Load()
	// The log and replay's progress bar share stderr: each log line is
	// written above the bar.
	stderr := replay.NewTerminal(os.Stderr)
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log, stderr); err != nil {
		log.Error("producer stopped", "error", err)
		os.Exit(1)
	}
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" || (format != "json" && isTerminal(os.Stderr)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func run(ctx context.Context, cfg config.Config, log *slog.Logger, stderr *replay.Terminal) error {
	log.Info("producer starting", "version", version, "config", cfg)

	// Source.
	src, err := newSource(cfg, log, stderr)
	if err != nil {
		return err
	}

	// Kafka: wait for the broker and create the topics.
	client := &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Timeout: 10 * time.Second}
	topics := []string{cfg.KafkaTopic}
	if cfg.KafkaControlTopic != "" {
		topics = append(topics, cfg.KafkaControlTopic)
	}
	startCtx, cancelStart := ctx, context.CancelFunc(func() {})
	if cfg.KafkaStartupTimeout > 0 {
		startCtx, cancelStart = context.WithTimeout(ctx, cfg.KafkaStartupTimeout)
	}
	err = publish.EnsureTopics(startCtx, client, topics, publish.TopicSpec{
		Partitions: cfg.KafkaPartitions, ReplicationFactor: cfg.KafkaReplicationFactor,
	}, log)
	cancelStart()
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting: nothing was accepted
		}
		return err
	}

	// Publisher.
	pub, err := publish.New(publish.Config{
		Brokers:      cfg.KafkaBrokers,
		Topic:        cfg.KafkaTopic,
		ControlTopic: cfg.KafkaControlTopic,
		SourceName:   src.Name(),
		Compression:  cfg.KafkaCompression,
		BatchSize:    cfg.KafkaBatchSize,
		BatchBytes:   cfg.KafkaBatchBytes,
		BatchTimeout: cfg.KafkaBatchTimeout,
		WriteTimeout: cfg.KafkaWriteTimeout,
		PendingMax:   cfg.PendingMax,
		Classify:     classifier(cfg.Source),
	}, log)
	if err != nil {
		return err
	}

	// The publisher outlives ctx by ShutdownTimeout so that what the source
	// already handed over is flushed after a signal.
	drainCtx, cancelDrain := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelDrain(nil)
	stopDrain := context.AfterFunc(ctx, func() {
		time.AfterFunc(cfg.ShutdownTimeout, func() {
			cancelDrain(fmt.Errorf("SHUTDOWN_TIMEOUT (%s) passed", cfg.ShutdownTimeout))
		})
	})
	defer stopDrain()

	var g errgroup.Group
	g.Go(func() error {
		defer pub.Close()
		if err := src.Run(ctx, pub.Emit); err != nil && !errors.Is(err, publish.ErrClosed) {
			return fmt.Errorf("source %s: %w", src.Name(), err)
		}
		log.Info("source finished", "source", src.Name())
		return nil
	})
	g.Go(func() error {
		err := pub.Run(drainCtx)
		cancelDrain(nil) // stop progress
		return err
	})
	g.Go(func() error {
		progress(drainCtx, cfg.ProgressInterval, &pub.Stats, log)
		return nil
	})
	err = g.Wait()
	logTotals(&pub.Stats, log)
	return err
}

func newSource(cfg config.Config, log *slog.Logger, stderr *replay.Terminal) (source.Source, error) {
	switch cfg.Source {
	case "synthetic":
		return synthetic.New(synthetic.Config{Rate: cfg.SyntheticRate, Count: cfg.SyntheticCount, Seed: cfg.SyntheticSeed}), nil
	case "replay":
		return replay.New(replay.Config{
			Path:             cfg.ReplayPath,
			Speed:            cfg.ReplaySpeed,
			StateDir:         cfg.StateDir,
			ProgressInterval: cfg.ReplayProgressInterval,
			DrainTimeout:     cfg.ShutdownTimeout,
			Terminal:         stderr,
		}, log), nil
	case "twitter":
		return twitter.New(twitter.Config{
			ConsumerKey:     cfg.TwitterConsumerKey.Reveal(),
			ConsumerSecret:  cfg.TwitterConsumerSecret.Reveal(),
			AccessToken:     cfg.TwitterAccessToken.Reveal(),
			AccessSecret:    cfg.TwitterAccessSecret.Reveal(),
			BaseURL:         cfg.TwitterStreamBaseURL,
			Language:        cfg.TwitterLanguage,
			Track:           cfg.TwitterTrack,
			Follow:          cfg.TwitterFollow,
			Locations:       cfg.TwitterLocations,
			MaxMessageBytes: cfg.TwitterMaxMessageBytes,
			StallTimeout:    cfg.TwitterStallTimeout,
		}, log)
	case "xv2":
		return xv2.New(xv2.Config{
			BearerToken:     cfg.XBearerToken.Reveal(),
			URL:             cfg.XStreamURL,
			TweetFields:     cfg.XTweetFields,
			Expansions:      cfg.XExpansions,
			UserFields:      cfg.XUserFields,
			BackfillMinutes: cfg.XBackfillMinutes,
			StallTimeout:    cfg.XStallTimeout,
		}, log)
	case "jetstream":
		return jetstream.New(jetstream.Config{
			URL:          cfg.JetstreamURL,
			Collections:  cfg.JetstreamCollections,
			Langs:        cfg.JetstreamLangs,
			StateDir:     cfg.StateDir,
			Rewind:       cfg.JetstreamRewind,
			StallTimeout: cfg.JetstreamStallTimeout,
		}, log)
	}
	return nil, fmt.Errorf("SOURCE=%q: accepts synthetic, replay, twitter, xv2 or jetstream", cfg.Source)
}

// classifier returns how the source's payloads are read: v1.1 JSON for
// synthetic, replay and twitter, their own shape for the others.
func classifier(source string) func([]byte) (message.Message, error) {
	switch source {
	case "xv2":
		return xv2.Classify
	case "jetstream":
		return jetstream.Classify
	}
	return message.Classify
}

func progress(ctx context.Context, every time.Duration, s *publish.Stats, log *slog.Logger) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := s.Statuses.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := s.Statuses.Load()
			rate := float64(n-last) / now.Sub(lastAt).Seconds()
			last, lastAt = n, now
			log.Info("progress", "statuses", n, "statuses_per_s", fmt.Sprintf("%.1f", rate),
				"control", s.Control.Load(), "invalid", s.Invalid.Load(), "pending", s.Pending.Load(),
				"bytes", s.Bytes.Load(), "write_errors", s.WriteErrors.Load())
		}
	}
}

func logTotals(s *publish.Stats, log *slog.Logger) {
	log.Info("producer totals", "read", s.In.Load(), "statuses", s.Statuses.Load(), "control", s.Control.Load(),
		"control_dropped", s.ControlDropped.Load(), "invalid", s.Invalid.Load(), "too_large", s.TooLarge.Load(),
		"bytes", s.Bytes.Load(), "write_errors", s.WriteErrors.Load(), "unacknowledged", s.Pending.Load())
}
