// Command producer reads a stream of posts and publishes each one, raw bytes
// unchanged, to Kafka.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
	"github.com/tweetpipe/tweetpipe/internal/ops"
	"github.com/tweetpipe/tweetpipe/producer/internal/config"
	"github.com/tweetpipe/tweetpipe/producer/internal/deadletter"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/publish"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/replay"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/synthetic"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/xv2"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
	"github.com/tweetpipe/tweetpipe/producer/internal/terminal"
	"github.com/tweetpipe/tweetpipe/producer/internal/zstdcodec"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ops.Flags("producer", version, config.Usage)
	cfg, err := config.Load()
	// The log and replay's progress bar share stderr: each log line is
	// written above the bar.
	stderr := terminal.New(os.Stderr)
	log := ops.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		// Load may have stopped before LOG_LEVEL and LOG_FORMAT.
		log = ops.NewLogger(stderr, os.Getenv("LOG_LEVEL"), os.Getenv("LOG_FORMAT"))
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

func run(ctx context.Context, cfg config.Config, log *slog.Logger, stderr *terminal.Terminal) error {
	ops.SetMemoryLimit(cfg.MemoryLimit)
	kafkaconn.UseSmallZstd(cfg.CompressionLevel) // 1 MiB zstd windows: most of the memory a service uses otherwise
	// Batches compressed by encoders that last: libzstd in the Makefile's
	// builds and the images (build tag libzstd), klauspost's otherwise.
	if err := zstdcodec.Install(cfg.CompressionLevel); err != nil {
		return err
	}
	if cfg.Compression == "gzip" && cfg.CompressionLevel > 0 {
		compress.Codecs[compress.Gzip] = &gzip.Codec{Level: cfg.CompressionLevel}
	}
	log.Info("producer starting", "version", version, "zstd_encoder", zstdcodec.Encoder, "config", cfg)
	ops.WarnMisspelled(log)

	// Health and metrics, first, so /healthz answers while Kafka is awaited.
	reg := prometheus.NewRegistry()
	var stats publish.Stats
	ready := readiness{stats: &stats}
	stopOps, err := ops.Start(ctx, cfg.HTTPAddr, reg, ops.Checks{Ready: ready.check}, log)
	if err != nil {
		return err
	}
	defer stopOps()

	// Source.
	src, err := newSource(cfg, log, stderr)
	if err != nil {
		return err
	}
	if c, ok := src.(source.Connector); ok {
		ready.source.Store(&c)
	}
	// A source that can tell it has nothing to read (replay's REPLAY_PATH)
	// says so now, not once Kafka answers.
	if c, ok := src.(interface{ Check() error }); ok {
		if err := c.Check(); err != nil {
			return err
		}
	}
	if ss, ok := src.(streamSource); ok {
		if err := registerSourceMetrics(reg, src.Name(), ss); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}

	// Kafka: wait for the broker and create the topics.
	kc := cfg.Kafka()
	transport, err := kc.Transport(log)
	if err != nil {
		return err
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Timeout: 10 * time.Second, Transport: transport}
	topics := cfg.Topics().Names()
	startCtx, cancelStart := ctx, context.CancelFunc(func() {})
	if cfg.KafkaStartupTimeout > 0 {
		startCtx, cancelStart = context.WithTimeout(ctx, cfg.KafkaStartupTimeout)
	}
	err = publish.EnsureTopics(startCtx, client, topics, cfg.TopicSpec, func(err error) error {
		if fatal, explained := kc.Fatal(err); fatal {
			return explained
		}
		return kc.Diagnose(startCtx, cfg.KafkaBrokers)
	}, log)
	cancelStart()
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting: nothing was accepted
		}
		return err
	}

	// Spool, for when Kafka is away longer than the memory queue covers.
	var sp *spool.Spool
	if cfg.SpoolDir != "" {
		sp, err = spool.Open(cfg.SpoolDir, spool.Options{MaxBytes: cfg.SpoolMaxBytes, Logger: log})
		if err != nil {
			return fmt.Errorf("SPOOL_DIR: %w", err)
		}
		defer sp.Close()
	}

	// How far from the broker's clock the topics accept record timestamps.
	maxAhead, maxBehind := timestampLimits(ctx, client, topics, cfg.MaxTimestampAhead, log)
	existingTopics(ctx, client, topics, cfg, log)

	// Dead letters: records Kafka refuses for good.
	// A folder that cannot be written is no reason not to start (most runs
	// refuse nothing): a refused record waits, and is retried, until it can.
	dl := deadletter.New(cfg.DeadLetterPath())
	if err := dl.Check(); err != nil {
		log.Warn(cfg.DeadLetterVariable()+": records Kafka refuses for good cannot be kept there; such a record would wait, with the ones behind it, until they can", "error", err)
	}
	defer dl.Close()

	// Publisher.
	observeBatch, err := registerMetrics(reg, src.Name(), &stats)
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	pub, err := publish.New(publish.Config{
		Batching:     cfg.Batching, // KAFKA_COMPRESSION*, KAFKA_BATCH_*, KAFKA_WRITE_TIMEOUT, as loaded
		Holding:      cfg.Holding,  // SPOOL_*, KAFKA_MAX_TIMESTAMP_AHEAD, DEADLETTER_DIR, PENDING_MAX, as loaded
		Brokers:      cfg.KafkaBrokers,
		Topics:       cfg.Topics(),
		SourceName:   src.Name(),
		Transport:    transport,
		Classify:     classifier(cfg.Source),
		ObserveBatch: observeBatch,
		Spool:        sp,
		RetimeAhead:  maxAhead,
		RetimeBehind: maxBehind,
		DeadLetter:   dl,
	}, &stats, log)
	if err != nil {
		return err
	}
	stats.Connected.Store(true) // the topics were just created: Kafka answers
	ready.started.Store(true)

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
		progress(drainCtx, cfg.Settings.ProgressInterval, &stats, log)
		return nil
	})
	err = g.Wait()
	logTotals(&stats, log)
	return err
}

// timestampLimits reads the topics' timestamp limits and returns how far
// ahead and behind the time it is read a post's own time may be before it
// is sent with the time it was read: KAFKA_MAX_TIMESTAMP_AHEAD alone when
// the broker does not say.
func timestampLimits(ctx context.Context, client *kafka.Client, topics []string, maxAhead time.Duration, log *slog.Logger) (ahead, behind time.Duration) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	limits, err := publish.ReadTimestampLimits(rctx, client, topics)
	if err != nil {
		log.Warn("could not read the topics' timestamp limits; KAFKA_MAX_TIMESTAMP_AHEAD alone applies", "error", err)
	}
	ahead, behind = limits.Within(maxAhead)
	log.Info("record timestamps", "topic_max_ahead", limits.Ahead, "topic_max_behind", limits.Behind,
		"retimed_beyond_ahead", ahead, "retimed_beyond_behind", behind)
	return ahead, behind
}

// existingTopics warns of what in topics the producer did not create
// differs from its settings where it matters (publish.ExistingTopicWarnings).
func existingTopics(ctx context.Context, client *kafka.Client, topics []string, cfg config.Config, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	warnings, err := publish.ExistingTopicWarnings(rctx, client, topics, cfg.TopicSpec, cfg.BatchBytes)
	if err != nil {
		log.Warn("could not compare all of the topics' settings with KAFKA_PARTITIONS, KAFKA_RETENTION and KAFKA_BATCH_BYTES", "error", err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
}

// readiness is /readyz: Kafka answers and, for a stream source, the stream
// is connected. Its parts are set as run builds them.
type readiness struct {
	stats   *publish.Stats
	started atomic.Bool                      // Kafka answered and the topics exist
	source  atomic.Pointer[source.Connector] // nil for sources without a connection
}

func (r *readiness) check() error {
	switch c := r.source.Load(); {
	case !r.started.Load():
		return errors.New("waiting for Kafka")
	case !r.stats.Connected.Load():
		return errors.New("writes to Kafka are failing")
	case c != nil && !(*c).Connected():
		return errors.New("the source is not connected")
	}
	return nil
}

func newSource(cfg config.Config, log *slog.Logger, stderr *terminal.Terminal) (source.Source, error) {
	switch cfg.Source {
	case "synthetic":
		return synthetic.New(cfg.Synthetic), nil
	case "replay":
		rc := cfg.Replay
		rc.Terminal = stderr
		return replay.New(rc, log), nil
	case "twitter":
		return twitter.New(cfg.Twitter, log)
	case "xv2":
		return xv2.New(cfg.XV2, log)
	case "jetstream":
		return jetstream.New(cfg.Jetstream, log)
	}
	return nil, fmt.Errorf("SOURCE=%q: accepts synthetic, replay, twitter, xv2 or jetstream", cfg.Source)
}

// classifier returns how the source's payloads are read: v1.1 JSON for
// synthetic and twitter, their own shape for xv2 and jetstream, and any
// of the three, line by line, for replay.
func classifier(source string) func([]byte) (message.Message, error) {
	switch source {
	case "xv2":
		return xv2.Classify
	case "jetstream":
		return jetstream.Classify
	case "replay":
		return replay.Classify
	}
	return message.Classify
}

// progress logs the producer's progress every PROGRESS_INTERVAL.
func progress(ctx context.Context, every time.Duration, s *publish.Stats, log *slog.Logger) {
	ops.Progress(ctx, every, s.Statuses.Load, func(n int64, rate float64) {
		log.Info("progress", "statuses", n, "statuses_per_s", fmt.Sprintf("%.1f", rate),
			"control", s.Control.Load(), "invalid", s.Invalid.Load(), "pending", s.Pending.Load(),
			"bytes", s.Bytes.Load(), "write_errors", s.WriteErrors.Load())
	})
}

func logTotals(s *publish.Stats, log *slog.Logger) {
	log.Info("producer totals", "read", s.In.Load(), "statuses", s.Statuses.Load(), "control", s.Control.Load(),
		"control_dropped", s.ControlDropped.Load(), "invalid", s.Invalid.Load(),
		"dead_lettered", deadLettered(s), "retimed", s.Retimed.Load(),
		"bytes", s.Bytes.Load(), "write_errors", s.WriteErrors.Load(), "unacknowledged", s.Pending.Load())
}

// deadLettered is how many records went to the dead-letter file, all reasons.
func deadLettered(s *publish.Stats) int64 {
	var n int64
	s.EachDeadLettered(func(_ string, records int64) { n += records })
	return n
}
