// Command consumer is a Kafka consumer group that batch-writes every message
// into JSON Lines files: nothing lost, nothing written twice.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/config"
	"github.com/tweetpipe/tweetpipe/consumer/internal/group"
	"github.com/tweetpipe/tweetpipe/consumer/internal/manifest"
	"github.com/tweetpipe/tweetpipe/consumer/internal/objstore"
	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
	"github.com/tweetpipe/tweetpipe/internal/ops"
	"github.com/tweetpipe/tweetpipe/internal/retry"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ops.Flags("consumer", version, config.Usage)
	cfg, err := config.Load()
	log := ops.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		// Load may have stopped before LOG_LEVEL and LOG_FORMAT.
		log = ops.NewLogger(os.Stderr, os.Getenv("LOG_LEVEL"), os.Getenv("LOG_FORMAT"))
		log.Error("invalid configuration", "error", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("consumer stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ops.SetMemoryLimit(cfg.MemoryLimit)
	kafkaconn.UseSmallZstd(0) // 1 MiB zstd windows: most of the memory a service uses otherwise
	log.Info("consumer starting", "version", version, "config", cfg)
	ops.WarnMisspelled(log)
	if unused := cfg.UnusedBucketSettings(); len(unused) > 0 {
		log.Warn(strings.Join(unused, ", ")+" set, but OUTPUT_URL names no bucket (s3://bucket/prefix): they are not used, the files go to OUTPUT_DIR", "output_dir", cfg.OutputDir)
	}

	// Health and metrics, first, so /healthz answers while Kafka is awaited.
	reg := prometheus.NewRegistry()
	var stats atomic.Pointer[group.Stats] // set once the group is built
	ready := func() error {
		if s := stats.Load(); s == nil || !s.Ready.Load() {
			return errors.New("not a member of the consumer group yet")
		}
		return nil
	}
	stopOps, err := ops.Start(ctx, cfg.HTTPAddr, reg, ops.Checks{Ready: ready}, log)
	if err != nil {
		return err
	}
	defer stopOps()

	// Object storage, with OUTPUT_URL=s3://...: the bucket must answer
	// before anything is read; OUTPUT_DIR is then the staging folder.
	var (
		uploader archive.Uploader
		bucket   *objstore.Store
	)
	if sc, ok := cfg.Store(); ok {
		store, err := objstore.New(sc)
		if err != nil {
			return err
		}
		checkCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err = store.Check(checkCtx)
		cancel()
		if err != nil {
			return err
		}
		log.Info("bucket checked", "url", cfg.OutputURL, "endpoint", sc.Endpoint, "staging", cfg.OutputDir)
		uploader, bucket = store, store
	}

	// Archive: the output directory.
	var rotated atomic.Int64
	acfg := cfg.ArchiveConfig()
	acfg.Uploader = uploader
	acfg.OnRotate = func(string) { rotated.Add(1) }
	arch, err := archive.Open(acfg, log)
	if err != nil {
		return err
	}

	// Kafka: how to reach it, then wait for it.
	kc := cfg.Kafka()
	dialer, err := kc.Dialer(log)
	if err != nil {
		return err
	}
	transport, err := kc.Transport(log)
	if err != nil {
		return err
	}
	if err := waitForKafka(ctx, cfg, transport, kc, log); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}

	// Consumer group.
	gcfg := cfg.GroupConfig()
	gcfg.Dialer, gcfg.Transport = dialer, transport
	runner := group.New(gcfg, group.OnDisk(arch), log)
	observeBatch, err := registerMetrics(reg, &runner.Stats, &rotated)
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	runner.ObserveBatch(observeBatch)
	stats.Store(&runner.Stats)

	// Manifests of the closed hours (MANIFEST), written beside the group
	// until it stops: in the folder, or in the bucket with OUTPUT_URL=s3://...
	var fin interface{ Run(context.Context) }
	if mcfg, on := cfg.ManifestConfig(); on && bucket != nil {
		if fin, err = manifest.NewBucket(mcfg, bucket, runner, log); err != nil {
			return err
		}
	} else if on {
		if fin, err = manifest.New(mcfg, runner, log); err != nil {
			return err
		}
	}

	progressCtx, stopProgress := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error {
		defer stopProgress()
		return runner.Run(ctx)
	})
	g.Go(func() error {
		progress(progressCtx, cfg.ProgressInterval, cfg.OutputDir, &runner.Stats, log)
		return nil
	})
	if fin != nil {
		g.Go(func() error { fin.Run(progressCtx); return nil })
	}
	err = g.Wait()
	s := &runner.Stats
	log.Info("consumer totals", "consumed", s.Consumed.Load(), "written", s.Written.Load(), "bytes", s.Bytes.Load(),
		"dead_lettered", s.DeadLettered.Load(), "skipped", s.Skipped.Load(), "duplicates", s.Duplicates.Load(), "batches", s.Batches.Load(),
		"write_errors", s.WriteErrors.Load(), "commit_errors", s.CommitErrors.Load())
	return err
}

// waitForKafka asks the brokers for metadata until one answers, logging each
// try, for at most KAFKA_STARTUP_TIMEOUT.
func waitForKafka(ctx context.Context, cfg config.Config, transport kafka.RoundTripper, kc kafkaconn.Config, log *slog.Logger) error {
	if cfg.KafkaStartupTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.KafkaStartupTimeout)
		defer cancel()
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Timeout: 10 * time.Second, Transport: transport}
	backoff := retry.Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		_, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		if err == nil {
			return nil
		}
		if fatal, explained := kc.Fatal(err); fatal {
			return fmt.Errorf("connecting to Kafka at %s: %w", client.Addr, explained)
		}
		if diagnosis := kc.Diagnose(ctx, cfg.KafkaBrokers); diagnosis != nil {
			return fmt.Errorf("connecting to Kafka at %s: %w", client.Addr, diagnosis)
		}
		if ctx.Err() != nil {
			if ctx.Err() == context.Canceled {
				return nil
			}
			return fmt.Errorf("waiting for Kafka at %s: gave up after %d tries (KAFKA_STARTUP_TIMEOUT=%s): %w",
				client.Addr, attempt, cfg.KafkaStartupTimeout, err)
		}
		wait := backoff.Next()
		log.Warn("waiting for Kafka", "brokers", client.Addr.String(), "attempt", attempt, "retry_in", wait, "error", err)
		retry.Wait(ctx, wait)
	}
}

// progress logs the consumer's progress every PROGRESS_INTERVAL.
func progress(ctx context.Context, every time.Duration, dir string, s *group.Stats, log *slog.Logger) {
	ops.Progress(ctx, every, s.Written.Load, func(n int64, rate float64) {
		log.Info("progress", "written", n, "lines_per_s", fmt.Sprintf("%.1f", rate), "lag", s.Lag.Load(),
			"partitions", s.Partitions.Load(), "dead_lettered", s.DeadLettered.Load(),
			"skipped", s.Skipped.Load(), "duplicates", s.Duplicates.Load(), "bytes", s.Bytes.Load(), "output", dir)
	})
}
