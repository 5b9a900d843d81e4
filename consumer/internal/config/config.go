// Package config loads the consumer's configuration from the environment.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/consumer/internal/group"
	"github.com/tweetpipe/tweetpipe/consumer/internal/manifest"
	"github.com/tweetpipe/tweetpipe/consumer/internal/objstore"
	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
	"github.com/tweetpipe/tweetpipe/internal/ops"
)

// Config is every setting of the consumer. Names are the environment
// variables users, compose files and scripts rely on.
type Config struct {
	KafkaBrokers        []string      `envconfig:"KAFKA_BROKERS" default:"localhost:9092" desc:"comma-separated Kafka bootstrap brokers (host:port)"`
	Group                             // KAFKA_TOPICS, KAFKA_GROUP_ID, KAFKA_SESSION_TIMEOUT, KAFKA_REBALANCE_TIMEOUT, KAFKA_FETCH_*
	kafkaconn.Security                // KAFKA_TLS_*, KAFKA_SASL_*
	KafkaStartupTimeout time.Duration `envconfig:"KAFKA_STARTUP_TIMEOUT" default:"2m" desc:"how long to wait for the broker at start before giving up (0: forever)"`
	Watch                             // PARTITION_WATCH_INTERVAL

	OutputDir   string `envconfig:"OUTPUT_DIR" default:"./data" desc:"where the JSON Lines files go; with OUTPUT_URL=s3://..., the staging folder of the files being written"`
	OutputURL   string `envconfig:"OUTPUT_URL" desc:"empty: OUTPUT_DIR; file:///path: the same as OUTPUT_DIR=/path; s3://bucket/prefix: an S3 bucket, OUTPUT_DIR staging the files being written (S3_* and AWS_* below)"`
	objstore.S3        // S3_ENDPOINT, S3_REGION, S3_PATH_STYLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
	Batch              // BATCH_MAX_RECORDS, BATCH_MAX_BYTES, BATCH_MAX_WAIT
	Archive            // ROTATE_MAX_BYTES, ROTATE_INTERVAL, DEDUP_WINDOW, OUTPUT_COMPRESSION, OUTPUT_FILE_MODE, OUTPUT_LAYOUT, OUTPUT_PAGE_CACHE

	// Layout and manifests of the output (docs/architecture.md#output-layout):
	// OUTPUT_LAYOUT above, MANIFEST, MANIFEST_GRACE, MANIFEST_INTERVAL.
	Manifest

	HTTPAddr        string        `envconfig:"HTTP_ADDR" default:":8080" desc:"address of /healthz, /readyz and /metrics (empty: off)"`
	ops.Settings                  // MEMORY_LIMIT, LOG_LEVEL, LOG_FORMAT, PROGRESS_INTERVAL
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s" desc:"how long a stop may spend writing the open batch and committing"`
}

// The variables of each part, with their defaults and rules, are its
// package's, under names of their own here so that Config can embed them
// (envconfig keeps the variables of an embedded struct unprefixed).
type (
	Group    = group.Settings
	Watch    = group.Watch
	Batch    = batch.Limits
	Archive  = archive.Settings
	Manifest = manifest.Settings
)

// LogValue logs the effective configuration under the variables' names.
func (c Config) LogValue() slog.Value {
	return envconf.LogValue(c)
}

// Load reads the environment (KAFKA_SASL_PASSWORD_FILE, AWS_ACCESS_KEY_ID_FILE
// and AWS_SECRET_ACCESS_KEY_FILE too) and validates. OUTPUT_URL=file:///x
// sets OUTPUT_DIR to /x; an OUTPUT_DIR set to another folder beside it is an
// error.
func Load() (Config, error) {
	var cfg Config
	secrets := cfg.S3.Secrets()
	secrets["KAFKA_SASL_PASSWORD"] = &cfg.KafkaSASLPassword
	if err := envconf.Process(&cfg, secrets); err != nil {
		return cfg, err
	}
	if t, err := cfg.Target(); err == nil && !t.S3() && cfg.OutputURL != "" {
		if dir := os.Getenv("OUTPUT_DIR"); dir != "" && filepath.Clean(dir) != t.Dir {
			return cfg, fmt.Errorf("OUTPUT_URL=%s and OUTPUT_DIR=%s name two folders: set one", cfg.OutputURL, dir)
		}
		cfg.OutputDir = t.Dir
	}
	return cfg, cfg.Validate()
}

// Target returns what OUTPUT_URL names; empty, it is the folder OUTPUT_DIR.
func (c Config) Target() (objstore.Target, error) {
	if c.OutputURL == "" {
		return objstore.Target{Dir: c.OutputDir}, nil
	}
	return objstore.ParseURL(c.OutputURL)
}

// UnusedBucketSettings names the S3_* variables set while OUTPUT_URL names
// no bucket: they are read only with OUTPUT_URL=s3://..., so the files go
// to OUTPUT_DIR whatever they say. (AWS_* are left out: a shell may hold
// them for other tools.)
func (c Config) UnusedBucketSettings() []string {
	if t, err := c.Target(); err != nil || t.S3() {
		return nil
	}
	var set []string
	for _, name := range []string{"S3_ENDPOINT", "S3_REGION", "S3_PATH_STYLE"} {
		if os.Getenv(name) != "" {
			set = append(set, name)
		}
	}
	return set
}

// Store returns the bucket's settings, with OUTPUT_LAYOUT naming the hour
// in its keys and OUTPUT_COMPRESSION their extension, and false when
// OUTPUT_URL names no bucket; call it on a validated Config.
func (c Config) Store() (objstore.Config, bool) {
	t, err := c.Target()
	if err != nil || !t.S3() {
		return objstore.Config{}, false
	}
	sc := c.S3.Config(t)
	sc.Layout = archive.Layout(c.Archive.Layout)
	sc.Compression = c.Archive.Compression
	return sc, true
}

// Usage writes every variable with its type, default and description.
func Usage(w io.Writer) error {
	return envconf.Usage(w, &Config{})
}

// ArchiveConfig returns the archive's configuration: its settings, in
// OUTPUT_DIR. The caller adds the uploader and the rotation hook. Call it
// on a validated Config.
func (c Config) ArchiveConfig() archive.Config {
	return c.Archive.Config(c.OutputDir)
}

// GroupConfig returns the consumer group's configuration: its settings,
// the batch limits, and KAFKA_BROKERS, SHUTDOWN_TIMEOUT and DEDUP_WINDOW,
// which it shares. The caller adds the dialer and the transport.
func (c Config) GroupConfig() group.Config {
	return group.Config{
		Settings: c.Group, Watch: c.Watch, Batch: c.Batch,
		Brokers: c.KafkaBrokers, ShutdownTimeout: c.ShutdownTimeout, DedupWindow: c.Archive.DedupWindow,
	}
}

// ManifestConfig returns the manifest finalizer's configuration, or false
// with MANIFEST=off. With OUTPUT_URL=s3://... the manifests go in the
// bucket (manifest.NewBucket), the output folder only staging the files
// being written. Call it on a validated Config.
func (c Config) ManifestConfig() (manifest.Config, bool) {
	return c.Manifest.Config(c.ArchiveConfig(), c.Group.Topics), c.Manifest.On()
}

// Validate checks ranges and rules across fields; each error names the variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := c.Kafka().Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Settings.Validate()...)
	errs = append(errs, kafkaconn.ValidateBrokers(c.KafkaBrokers)...)
	errs = append(errs, envconf.Unjoin(c.Group.Validate())...)
	if c.KafkaStartupTimeout < 0 {
		bad("KAFKA_STARTUP_TIMEOUT=%s: must be 0 (forever) or positive", c.KafkaStartupTimeout)
	}
	errs = append(errs, envconf.Unjoin(c.Watch.Validate())...)
	if c.OutputDir == "" {
		bad("OUTPUT_DIR is empty")
	}
	if t, err := c.Target(); err != nil {
		errs = append(errs, err)
	} else if t.S3() {
		if err := c.S3.Config(t).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, envconf.Unjoin(c.Batch.Validate())...)
	errs = append(errs, envconf.Unjoin(c.Archive.Validate())...)
	errs = append(errs, envconf.Unjoin(c.Manifest.Validate())...)
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT=%s: must be positive", c.ShutdownTimeout)
	}
	// Sort for a stable message, in the order the lines have always had
	// (the bucket's errors, checked together, stay one entry).
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
