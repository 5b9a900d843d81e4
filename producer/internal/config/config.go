// Package config loads the producer's configuration from the environment.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
	"github.com/tweetpipe/tweetpipe/internal/ops"
	"github.com/tweetpipe/tweetpipe/producer/internal/publish"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/replay"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/synthetic"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/xv2"
)

// Config is every setting of the producer. Names are the environment
// variables users, compose files and scripts rely on.
type Config struct {
	KafkaBrokers        []string      `envconfig:"KAFKA_BROKERS" default:"localhost:9092" desc:"comma-separated Kafka bootstrap brokers (host:port)"`
	KafkaTopic          string        `envconfig:"KAFKA_TOPIC" default:"tweets" desc:"topic for statuses (posts)"`
	KafkaControlTopic   string        `envconfig:"KAFKA_CONTROL_TOPIC" default:"tweets.control" desc:"topic for everything else the stream says (delete, limit, ...); empty: count and drop them"`
	publish.TopicSpec                 // KAFKA_PARTITIONS, KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS, KAFKA_RETENTION*
	publish.Batching                  // KAFKA_COMPRESSION*, KAFKA_BATCH_*, KAFKA_WRITE_TIMEOUT
	kafkaconn.Security                // KAFKA_TLS_*, KAFKA_SASL_*
	KafkaStartupTimeout time.Duration `envconfig:"KAFKA_STARTUP_TIMEOUT" default:"2m" desc:"how long to wait for the broker at start before giving up (0: forever)"`
	publish.Holding                   // SPOOL_DIR, SPOOL_MAX_BYTES, KAFKA_MAX_TIMESTAMP_AHEAD, DEADLETTER_DIR, PENDING_MAX

	Source   string `envconfig:"SOURCE" default:"synthetic" desc:"synthetic, replay, twitter, xv2 or jetstream"`
	StateDir string `envconfig:"STATE_DIR" default:"./state" desc:"where resumable sources (replay, jetstream) keep the position Kafka acknowledged, and xv2 with X_BACKFILL_MINUTES the time of its last post"`

	// Each source's variables, with their defaults and rules, are its
	// package's; embedded so that their names stay as they are.
	Synthetic // SYNTHETIC_*
	Replay    // REPLAY_*
	Twitter   // TWITTER_*

	HTTPAddr string `envconfig:"HTTP_ADDR" default:":8080" desc:"address of /healthz, /readyz and /metrics (empty: off)"`

	XV2 // X_*

	AllowInsecureHTTP envconf.Switch `envconfig:"ALLOW_INSECURE_HTTP" default:"off" desc:"on: accept http:// (ws://) stream URLs to hosts other than loopback that would carry credentials in clear text: X_STREAM_URL, TWITTER_STREAM_BASE_URL, a JETSTREAM_URL with a user or key"`

	Jetstream // JETSTREAM_*

	ops.Settings                  // MEMORY_LIMIT, LOG_LEVEL, LOG_FORMAT, PROGRESS_INTERVAL
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s" desc:"how long a stop may spend flushing what Kafka has not acknowledged"`
}

// The sources' configurations, under names of their own so that the
// producer's Config can embed them all (envconfig keeps the variables of
// an embedded struct unprefixed).
type (
	Synthetic = synthetic.Config
	Replay    = replay.Config
	Twitter   = twitter.Config
	XV2       = xv2.Config
	Jetstream = jetstream.Config
)

// LogValue logs the effective configuration under the variables' names,
// secrets redacted.
func (c Config) LogValue() slog.Value {
	return envconf.LogValue(c)
}

// Load reads the environment, applies *_FILE variables and validates.
func Load() (Config, error) {
	var cfg Config
	secrets := map[string]*envconf.Secret{
		"X_BEARER_TOKEN":          &cfg.XV2.BearerToken,
		"KAFKA_SASL_PASSWORD":     &cfg.KafkaSASLPassword,
		"TWITTER_CONSUMER_KEY":    &cfg.Twitter.ConsumerKey,
		"TWITTER_CONSUMER_SECRET": &cfg.Twitter.ConsumerSecret,
		"TWITTER_ACCESS_TOKEN":    &cfg.Twitter.AccessToken,
		"TWITTER_ACCESS_SECRET":   &cfg.Twitter.AccessSecret,
	}
	if err := envconf.Process(&cfg, secrets); err != nil {
		return cfg, err
	}
	cfg.share()
	return cfg, cfg.Validate()
}

// share hands the settings that several parts read to the sources'
// configurations: STATE_DIR, ALLOW_INSECURE_HTTP and SHUTDOWN_TIMEOUT.
func (c *Config) share() {
	c.Replay.StateDir, c.Jetstream.StateDir, c.XV2.StateDir = c.StateDir, c.StateDir, c.StateDir
	c.Replay.DrainTimeout = c.ShutdownTimeout
	c.Twitter.AllowInsecureHTTP = bool(c.AllowInsecureHTTP)
	c.XV2.AllowInsecureHTTP = bool(c.AllowInsecureHTTP)
	c.Jetstream.AllowInsecureHTTP = bool(c.AllowInsecureHTTP)
}

// Usage writes every variable with its type, default and description.
func Usage(w io.Writer) error {
	return envconf.Usage(w, &Config{})
}

// Topics is where each kind of message goes: KAFKA_TOPIC and
// KAFKA_CONTROL_TOPIC.
func (c Config) Topics() contract.Topics {
	return contract.Topics{Status: c.KafkaTopic, Control: c.KafkaControlTopic}
}

// DeadLetterPath is DEADLETTER_DIR, or STATE_DIR/deadletter when it is
// empty; "" when both are.
func (c Config) DeadLetterPath() string {
	switch {
	case c.DeadLetterDir != "":
		return c.DeadLetterDir
	case c.StateDir != "":
		return filepath.Join(c.StateDir, "deadletter")
	}
	return ""
}

// DeadLetterVariable names the variable DeadLetterPath comes from, for
// messages about that folder.
func (c Config) DeadLetterVariable() string {
	if c.DeadLetterDir == "" && c.StateDir != "" {
		return "STATE_DIR (DEADLETTER_DIR is empty: its deadletter folder)"
	}
	return "DEADLETTER_DIR"
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
	if c.KafkaTopic == "" {
		bad("KAFKA_TOPIC is empty: name the topic for statuses")
	} else if err := contract.CheckTopic(c.KafkaTopic); err != nil {
		bad("KAFKA_TOPIC: %v", err)
	}
	if c.KafkaControlTopic != "" {
		if err := contract.CheckTopic(c.KafkaControlTopic); err != nil {
			bad("KAFKA_CONTROL_TOPIC: %v", err)
		}
	}
	if c.KafkaTopic == c.KafkaControlTopic {
		bad("KAFKA_CONTROL_TOPIC must differ from KAFKA_TOPIC (%q)", c.KafkaTopic)
	}
	errs = append(errs, envconf.Unjoin(c.TopicSpec.Validate())...)
	errs = append(errs, envconf.Unjoin(c.Batching.Validate())...)
	if c.KafkaStartupTimeout < 0 {
		bad("KAFKA_STARTUP_TIMEOUT=%s: must be 0 (forever) or positive", c.KafkaStartupTimeout)
	}
	errs = append(errs, envconf.Unjoin(c.Holding.Validate())...)
	if c.DeadLetterPath() == "" {
		bad("DEADLETTER_DIR and STATE_DIR are both empty: name a folder for records Kafka refuses for good")
	}
	switch c.Source {
	case "synthetic":
		errs = append(errs, envconf.Unjoin(c.Synthetic.Validate())...)
	case "replay":
		errs = append(errs, envconf.Unjoin(c.Replay.Validate())...)
	case "twitter":
		errs = append(errs, c.Twitter.Validate(), notZero(c.Twitter.StallTimeout, "TWITTER_STALL_TIMEOUT"))
	case "xv2":
		errs = append(errs, c.XV2.Validate(), notZero(c.XV2.StallTimeout, "X_STALL_TIMEOUT"))
	case "jetstream":
		errs = append(errs, c.Jetstream.Validate(), notZero(c.Jetstream.StallTimeout, "JETSTREAM_STALL_TIMEOUT"),
			notZero(c.Jetstream.Rewind, "JETSTREAM_REWIND"))
	default:
		bad("SOURCE=%q: accepts synthetic, replay, twitter, xv2 or jetstream", c.Source)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT=%s: must be positive", c.ShutdownTimeout)
	}
	// Sort for a stable message, in the order the lines have always had.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(errText(a), errText(b)) })
	return errors.Join(errs...)
}

// notZero refuses a duration of 0 read from the environment: a source
// takes 0 in its Config as "the default", which a user who wrote 0 (as
// "never", or "none") would not see.
func notZero(d time.Duration, name string) error {
	if d == 0 {
		return fmt.Errorf("%s=0s: must be positive (unset, it takes its default)", name)
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
