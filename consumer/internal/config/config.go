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
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/manifest"
	"github.com/tweetpipe/tweetpipe/consumer/internal/objstore"
	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
	"github.com/tweetpipe/tweetpipe/internal/ops"
)

// Config is every setting of the consumer. Names are the environment
// variables users, compose files and scripts rely on.
type Config struct {
	KafkaBrokers           []string      `envconfig:"KAFKA_BROKERS" default:"localhost:9092" desc:"comma-separated Kafka bootstrap brokers (host:port)"`
	KafkaTopics            []string      `envconfig:"KAFKA_TOPICS" default:"tweets,tweets.control" desc:"comma list of topics to archive; the control topic holds the deletions researchers must honour (a topic that does not exist yet is waited for)"`
	KafkaGroupID           string        `envconfig:"KAFKA_GROUP_ID" default:"tweetpipe-archiver" desc:"consumer group; instances with the same id share the partitions"`
	KafkaSessionTimeout    time.Duration `envconfig:"KAFKA_SESSION_TIMEOUT" default:"10s" desc:"a member that stops heartbeating (crash, SIGKILL) keeps its partitions this long (6s-300s)"`
	KafkaRebalanceTimeout  time.Duration `envconfig:"KAFKA_REBALANCE_TIMEOUT" default:"30s" desc:"how long members get to finish their batch and rejoin during a rebalance"`
	KafkaFetchMaxBytes     int           `envconfig:"KAFKA_FETCH_MAX_BYTES" default:"2097152" desc:"most bytes one fetch request returns per partition"`
	KafkaFetchMaxWait      time.Duration `envconfig:"KAFKA_FETCH_MAX_WAIT" default:"500ms" desc:"how long the broker holds a fetch waiting for data"`
	kafkaconn.Security                   // KAFKA_TLS_*, KAFKA_SASL_*
	KafkaStartupTimeout    time.Duration `envconfig:"KAFKA_STARTUP_TIMEOUT" default:"2m" desc:"how long to wait for the broker at start before giving up (0: forever)"`
	PartitionWatchInterval time.Duration `envconfig:"PARTITION_WATCH_INTERVAL" default:"5s" desc:"how often new topics and partitions are looked for"`

	OutputDir         string        `envconfig:"OUTPUT_DIR" default:"./data" desc:"where the JSON Lines files go; with OUTPUT_URL=s3://..., the staging folder of the files being written"`
	OutputURL         string        `envconfig:"OUTPUT_URL" desc:"empty: OUTPUT_DIR; file:///path: the same as OUTPUT_DIR=/path; s3://bucket/prefix: an S3 bucket, OUTPUT_DIR staging the files being written (S3_* and AWS_* below)"`
	objstore.S3                     // S3_ENDPOINT, S3_REGION, S3_PATH_STYLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
	BatchMaxRecords   int           `envconfig:"BATCH_MAX_RECORDS" default:"1000" desc:"a batch is written when it holds this many messages (1-1000000)"`
	BatchMaxBytes     int64         `envconfig:"BATCH_MAX_BYTES" default:"4194304" desc:"... or this many bytes"`
	BatchMaxWait      time.Duration `envconfig:"BATCH_MAX_WAIT" default:"1s" desc:"... or when its first message has waited this long"`
	RotateMaxBytes    int64         `envconfig:"ROTATE_MAX_BYTES" default:"134217728" desc:"a file is closed once it is this large"`
	RotateInterval    time.Duration `envconfig:"ROTATE_INTERVAL" default:"1h" desc:"... or this old, even when no new data arrives"`
	DedupWindow       int           `envconfig:"DEDUP_WINDOW" default:"20000" desc:"per partition, a status whose key is among the last this many written is dropped as a duplicate (0: off)"`
	OutputCompression string        `envconfig:"OUTPUT_COMPRESSION" default:"none" desc:"none, gzip or zstd, applied when a file is closed"`
	OutputFileMode    string        `envconfig:"OUTPUT_FILE_MODE" default:"0640" desc:"permission of the files written, octal; folders also get x where r is set (0640: owner and group only; 0644: every user of the host may read)"`

	// Layout and manifests of the output (docs/architecture.md#output-layout).
	OutputLayout     string        `envconfig:"OUTPUT_LAYOUT" default:"dated" desc:"folders by hour: dated (<topic>/<YYYY-MM-DD>/<HH>/) or hive (<topic>/dt=<YYYY-MM-DD>/hr=<HH>/, for DuckDB, Spark, Athena); a folder written in one is refused in the other"`
	Manifests        string        `envconfig:"MANIFEST" default:"on" desc:"on: write <hour folder>/_manifest.json (files, offsets, lines, bytes, SHA-256) once every partition of the topic has moved past the hour (in a local folder only, not with OUTPUT_URL=s3://...); off: none"`
	ManifestGrace    time.Duration `envconfig:"MANIFEST_GRACE" default:"2m" desc:"a partition with no new data has moved past an hour this long after the hour's end"`
	ManifestInterval time.Duration `envconfig:"MANIFEST_INTERVAL" default:"10s" desc:"how often the closed hours are looked for"`

	HTTPAddr        string        `envconfig:"HTTP_ADDR" default:":8080" desc:"address of /healthz, /readyz and /metrics (empty: off)"`
	ops.Settings                  // MEMORY_LIMIT, LOG_LEVEL, LOG_FORMAT, PROGRESS_INTERVAL
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s" desc:"how long a stop may spend writing the open batch and committing"`
}

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

// Store returns the bucket's settings, and false when OUTPUT_URL names no
// bucket; call it on a validated Config.
func (c Config) Store() (objstore.Config, bool) {
	t, err := c.Target()
	if err != nil || !t.S3() {
		return objstore.Config{}, false
	}
	return c.S3.Config(t), true
}

// Usage writes every variable with its type, default and description.
func Usage(w io.Writer) error {
	return envconf.Usage(w, &Config{})
}

// FileMode returns OUTPUT_FILE_MODE; call it on a validated Config.
func (c Config) FileMode() os.FileMode {
	m, _ := strconv.ParseUint(c.OutputFileMode, 8, 32)
	return os.FileMode(m)
}

// ManifestConfig returns the manifest finalizer's configuration, or false
// with MANIFEST=off, and with OUTPUT_URL=s3://...: the output folder then
// only stages the files being written (each closed file is uploaded and
// removed), so a manifest written there would list part of an hour. Call it
// on a validated Config.
func (c Config) ManifestConfig() (manifest.Config, bool) {
	_, bucket := c.Store()
	return manifest.Config{
		Dir: c.OutputDir, Layout: archive.Layout(c.OutputLayout), Topics: c.KafkaTopics,
		Grace: c.ManifestGrace, Interval: c.ManifestInterval, FileMode: c.FileMode(),
	}, c.Manifests == "on" && !bucket
}

// Validate checks ranges and rules across fields; each error names the variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := c.Kafka().Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Settings.Validate()...)
	if len(c.KafkaBrokers) == 0 {
		bad("KAFKA_BROKERS is empty: give at least one host:port")
	}
	for _, b := range c.KafkaBrokers {
		if !strings.Contains(b, ":") {
			bad("KAFKA_BROKERS: %q is not host:port", b)
		}
	}
	if len(c.KafkaTopics) == 0 {
		bad("KAFKA_TOPICS is empty: name at least one topic")
	}
	for _, t := range c.KafkaTopics {
		if t == "" || strings.ContainsAny(t, "/\\ ") || t == "." || t == ".." || strings.HasPrefix(t, "_") {
			bad("KAFKA_TOPICS: %q is not a topic this consumer can archive (no /, \\, spaces, leading _)", t)
		}
	}
	if c.KafkaGroupID == "" {
		bad("KAFKA_GROUP_ID is empty")
	}
	// Kafka's broker defaults bound the session timeout to 6s-300s.
	if c.KafkaSessionTimeout < 6*time.Second || c.KafkaSessionTimeout > 300*time.Second {
		bad("KAFKA_SESSION_TIMEOUT=%s: accepts 6s to 300s (the broker's group.min/max.session.timeout.ms)", c.KafkaSessionTimeout)
	}
	if c.KafkaRebalanceTimeout < time.Second {
		bad("KAFKA_REBALANCE_TIMEOUT=%s: accepts 1s or more", c.KafkaRebalanceTimeout)
	}
	if c.KafkaFetchMaxBytes < 1024 {
		bad("KAFKA_FETCH_MAX_BYTES=%d: accepts 1024 or more", c.KafkaFetchMaxBytes)
	}
	if c.KafkaFetchMaxWait <= 0 {
		bad("KAFKA_FETCH_MAX_WAIT=%s: must be positive", c.KafkaFetchMaxWait)
	}
	if c.KafkaStartupTimeout < 0 {
		bad("KAFKA_STARTUP_TIMEOUT=%s: must be 0 (forever) or positive", c.KafkaStartupTimeout)
	}
	if c.PartitionWatchInterval < 100*time.Millisecond {
		bad("PARTITION_WATCH_INTERVAL=%s: accepts 100ms or more", c.PartitionWatchInterval)
	}
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
	if c.BatchMaxRecords < 1 || c.BatchMaxRecords > 1_000_000 {
		bad("BATCH_MAX_RECORDS=%d: accepts 1 to 1000000", c.BatchMaxRecords)
	}
	if c.BatchMaxBytes < 1024 {
		bad("BATCH_MAX_BYTES=%d: accepts 1024 or more", c.BatchMaxBytes)
	}
	if c.BatchMaxWait < time.Millisecond {
		bad("BATCH_MAX_WAIT=%s: accepts 1ms or more", c.BatchMaxWait)
	}
	if c.RotateMaxBytes < 1024 {
		bad("ROTATE_MAX_BYTES=%d: accepts 1024 or more", c.RotateMaxBytes)
	}
	if c.RotateInterval < time.Second {
		bad("ROTATE_INTERVAL=%s: accepts 1s or more", c.RotateInterval)
	}
	if c.DedupWindow < 0 || c.DedupWindow > 10_000_000 {
		bad("DEDUP_WINDOW=%d: accepts 0 (off) to 10000000", c.DedupWindow)
	}
	switch c.OutputCompression {
	case "none", "gzip", "zstd":
	default:
		bad("OUTPUT_COMPRESSION=%q: accepts none, gzip or zstd", c.OutputCompression)
	}
	if m, err := strconv.ParseUint(c.OutputFileMode, 8, 32); err != nil || m > 0o777 || m&0o600 != 0o600 {
		bad("OUTPUT_FILE_MODE=%q: accepts an octal mode from 0600 to 0777 (the owner must read and write)", c.OutputFileMode)
	}
	if !slices.Contains(archive.Layouts(), archive.Layout(c.OutputLayout)) {
		bad("OUTPUT_LAYOUT=%q: accepts dated or hive", c.OutputLayout)
	}
	if c.Manifests != "on" && c.Manifests != "off" {
		bad("MANIFEST=%q: accepts on or off", c.Manifests)
	}
	if c.ManifestGrace < 0 {
		bad("MANIFEST_GRACE=%s: must be 0 or positive", c.ManifestGrace)
	}
	if c.ManifestInterval < 100*time.Millisecond {
		bad("MANIFEST_INTERVAL=%s: accepts 100ms or more", c.ManifestInterval)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT=%s: must be positive", c.ShutdownTimeout)
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
