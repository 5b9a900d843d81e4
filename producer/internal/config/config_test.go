package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/internal/envexample"
	"github.com/tweetpipe/tweetpipe/producer/internal/publish"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/xv2"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // substring; "" means valid
	}{
		{"defaults", nil, ""},
		{"replay needs a path", map[string]string{"SOURCE": "replay"}, "REPLAY_PATH is required"},
		{"replay", map[string]string{"SOURCE": "replay", "REPLAY_PATH": "/x", "REPLAY_SPEED": "2.5"}, ""},
		{"negative replay speed", map[string]string{"SOURCE": "replay", "REPLAY_PATH": "/x", "REPLAY_SPEED": "-1"}, "REPLAY_SPEED=-1"},
		{"unknown source", map[string]string{"SOURCE": "myspace"}, `SOURCE="myspace": accepts synthetic, replay, twitter, xv2 or jetstream`},
		{"xv2 without token", map[string]string{"SOURCE": "xv2"}, "X_BEARER_TOKEN is required for SOURCE=xv2"},
		{"xv2", map[string]string{"SOURCE": "xv2", "X_BEARER_TOKEN": "t"}, ""},
		{"jetstream needs no account", map[string]string{"SOURCE": "jetstream"}, ""},
		{"jetstream without a state dir", map[string]string{"SOURCE": "jetstream", "STATE_DIR": ""}, "STATE_DIR is required"},
		{"partitions not a number", map[string]string{"KAFKA_PARTITIONS": "three"}, `KAFKA_PARTITIONS="three": not a whole number`},
		{"partitions out of range", map[string]string{"KAFKA_PARTITIONS": "0"}, "KAFKA_PARTITIONS=0: accepts 1 to 10000"},
		{"bad compression", map[string]string{"KAFKA_COMPRESSION": "brotli"}, `KAFKA_COMPRESSION="brotli"`},
		{"zstd level", map[string]string{"KAFKA_COMPRESSION_LEVEL": "1"}, ""},
		{"zstd level too high", map[string]string{"KAFKA_COMPRESSION_LEVEL": "23"}, "KAFKA_COMPRESSION_LEVEL=23: zstd accepts 1 to 22"},
		{"gzip level", map[string]string{"KAFKA_COMPRESSION": "gzip", "KAFKA_COMPRESSION_LEVEL": "9"}, ""},
		{"gzip level too high", map[string]string{"KAFKA_COMPRESSION": "gzip", "KAFKA_COMPRESSION_LEVEL": "12"}, "KAFKA_COMPRESSION_LEVEL=12: gzip accepts 1 to 9"},
		{"level without levels", map[string]string{"KAFKA_COMPRESSION": "lz4", "KAFKA_COMPRESSION_LEVEL": "3"}, "KAFKA_COMPRESSION_LEVEL=3: only zstd and gzip have levels (KAFKA_COMPRESSION=lz4)"},
		{"bad duration", map[string]string{"KAFKA_BATCH_TIMEOUT": "soon"}, `KAFKA_BATCH_TIMEOUT="soon": not a duration`},
		{"broker without port", map[string]string{"KAFKA_BROKERS": "kafka"}, `KAFKA_BROKERS: "kafka" is not host:port`},
		{"topic Kafka refuses", map[string]string{"KAFKA_TOPIC": "a/b"}, `KAFKA_TOPIC: "a/b" is not a topic name`},
		{"control topic Kafka refuses", map[string]string{"KAFKA_CONTROL_TOPIC": "tweets control"}, `KAFKA_CONTROL_TOPIC: "tweets control" is not a topic name`},
		{"broker port not a number", map[string]string{"KAFKA_BROKERS": "127.0.0.1:abc"}, `KAFKA_BROKERS: "127.0.0.1:abc" is not host:port`},
		{"broker as a URL", map[string]string{"KAFKA_BROKERS": "http://127.0.0.1:9092"}, `KAFKA_BROKERS: "http://127.0.0.1:9092" is a URL`},
		{"SASL user without mechanism", map[string]string{"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, `KAFKA_SASL_MECHANISM is empty`},
		{"same topics", map[string]string{"KAFKA_CONTROL_TOPIC": "tweets"}, "KAFKA_CONTROL_TOPIC must differ"},
		{"no control topic is fine", map[string]string{"KAFKA_CONTROL_TOPIC": ""}, ""},
		{"negative rate", map[string]string{"SYNTHETIC_RATE": "-5"}, "SYNTHETIC_RATE=-5"},
		{"rate not a number", map[string]string{"SYNTHETIC_RATE": "NaN"}, "SYNTHETIC_RATE=NaN"},
		{"infinite rate", map[string]string{"SYNTHETIC_RATE": "Inf"}, "SYNTHETIC_RATE=+Inf"},
		{"replay speed not a number", map[string]string{"SOURCE": "replay", "REPLAY_PATH": "/x", "REPLAY_SPEED": "NaN"}, "REPLAY_SPEED=NaN"},
		{"bad log format", map[string]string{"LOG_FORMAT": "xml"}, `LOG_FORMAT="xml"`},
		{"twitter without credentials", map[string]string{"SOURCE": "twitter"}, "TWITTER_ACCESS_SECRET is required for SOURCE=twitter"},
		{"timestamps never retimed before sending", map[string]string{"KAFKA_MAX_TIMESTAMP_AHEAD": "0"}, ""},
		{"negative timestamp limit", map[string]string{"KAFKA_MAX_TIMESTAMP_AHEAD": "-1m"}, "KAFKA_MAX_TIMESTAMP_AHEAD=-1m0s: must be 0 (off) or positive"},
		{"dead letters beside no state", map[string]string{"STATE_DIR": "", "DEADLETTER_DIR": "/var/deadletter"}, ""},
		{"no folder for dead letters", map[string]string{"STATE_DIR": ""}, "DEADLETTER_DIR and STATE_DIR are both empty"},
		{"twitter with credentials", map[string]string{"SOURCE": "twitter", "TWITTER_CONSUMER_KEY": "a", "TWITTER_CONSUMER_SECRET": "b", "TWITTER_ACCESS_TOKEN": "c", "TWITTER_ACCESS_SECRET": "d"}, ""},
		// A source's own rules stop the producer at load, before it waits
		// for Kafka, not when the source starts.
		{"twitter follows a name", map[string]string{"SOURCE": "twitter", "TWITTER_CONSUMER_KEY": "a", "TWITTER_CONSUMER_SECRET": "b", "TWITTER_ACCESS_TOKEN": "c", "TWITTER_ACCESS_SECRET": "d", "TWITTER_FOLLOW": "jack"}, `TWITTER_FOLLOW: "jack" is not a numeric user id`},
		{"twitter box of three numbers", map[string]string{"SOURCE": "twitter", "TWITTER_CONSUMER_KEY": "a", "TWITTER_CONSUMER_SECRET": "b", "TWITTER_ACCESS_TOKEN": "c", "TWITTER_ACCESS_SECRET": "d", "TWITTER_LOCATIONS": "1,2,3"}, "TWITTER_LOCATIONS: 3 numbers given"},
		{"xv2 backfill too long", map[string]string{"SOURCE": "xv2", "X_BEARER_TOKEN": "t", "X_BACKFILL_MINUTES": "6"}, "X_BACKFILL_MINUTES=6: accepts 0 (none) to 5"},
		{"xv2 token with a space", map[string]string{"SOURCE": "xv2", "X_BEARER_TOKEN": "a b"}, "X_BEARER_TOKEN holds spaces"},
		{"jetstream collection not an NSID", map[string]string{"SOURCE": "jetstream", "JETSTREAM_COLLECTIONS": "posts"}, `JETSTREAM_COLLECTIONS: "posts" is not an NSID`},
		{"jetstream negative rewind", map[string]string{"SOURCE": "jetstream", "JETSTREAM_REWIND": "-1s"}, "JETSTREAM_REWIND must be positive"},
		// 0 would be taken as the default, which the log would not show.
		{"jetstream rewind 0", map[string]string{"SOURCE": "jetstream", "JETSTREAM_REWIND": "0"}, "JETSTREAM_REWIND=0s: must be positive"},
		{"jetstream stall 0", map[string]string{"SOURCE": "jetstream", "JETSTREAM_STALL_TIMEOUT": "0s"}, "JETSTREAM_STALL_TIMEOUT=0s: must be positive"},
		{"xv2 stall 0", map[string]string{"SOURCE": "xv2", "X_BEARER_TOKEN": "t", "X_STALL_TIMEOUT": "0"}, "X_STALL_TIMEOUT=0s: must be positive"},
		{"twitter stall 0", map[string]string{"SOURCE": "twitter", "TWITTER_CONSUMER_KEY": "a", "TWITTER_CONSUMER_SECRET": "b", "TWITTER_ACCESS_TOKEN": "c", "TWITTER_ACCESS_SECRET": "d", "TWITTER_STALL_TIMEOUT": "0"}, "TWITTER_STALL_TIMEOUT=0s: must be positive"},
		// ALLOW_INSECURE_HTTP is on or off as KAFKA_TLS and S3_PATH_STYLE are.
		{"insecure HTTP on", map[string]string{"ALLOW_INSECURE_HTTP": "on", "SOURCE": "xv2", "X_BEARER_TOKEN": "t", "X_STREAM_URL": "http://stream.example.com/2/tweets/sample/stream"}, ""},
		{"insecure HTTP maybe", map[string]string{"ALLOW_INSECURE_HTTP": "maybe"}, `ALLOW_INSECURE_HTTP="maybe": not on or off`},
		{"insecure HTTP off", map[string]string{"ALLOW_INSECURE_HTTP": "off", "SOURCE": "xv2", "X_BEARER_TOKEN": "t", "X_STREAM_URL": "http://stream.example.com/2/tweets/sample/stream"}, "set ALLOW_INSECURE_HTTP=on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v; want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, prefix := range []string{"KAFKA_", "SOURCE", "SYNTHETIC_", "REPLAY_", "TWITTER_", "X_", "JETSTREAM_", "STATE_", "HTTP_", "LOG_", "PROGRESS_", "SHUTDOWN_", "PENDING_"} {
			if strings.HasPrefix(k, prefix) {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
		}
	}
}

func TestSecretFiles(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	for _, name := range []string{"TWITTER_CONSUMER_KEY", "TWITTER_CONSUMER_SECRET", "TWITTER_ACCESS_TOKEN", "TWITTER_ACCESS_SECRET"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("value-of-"+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(name+"_FILE", path)
	}
	t.Setenv("SOURCE", "twitter")
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Twitter.AccessSecret.Reveal(); got != "value-of-TWITTER_ACCESS_SECRET" {
		t.Fatalf("secret = %q; want the file's content without the newline", got)
	}

	// Secrets never print: not with %v, not in a JSON or text log.
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "secret", cfg.Twitter.ConsumerSecret)
	printed := logs.String() + fmt.Sprintf("%v %+v", cfg, cfg)
	if strings.Contains(printed, "value-of-") {
		t.Fatalf("a secret leaked: %s", printed)
	}
	if !strings.Contains(printed, "[redacted]") {
		t.Fatalf("want secrets shown as [redacted]; got %s", printed)
	}

	t.Setenv("TWITTER_ACCESS_SECRET", "inline")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "TWITTER_ACCESS_SECRET and TWITTER_ACCESS_SECRET_FILE are both set") {
		t.Fatalf("got %v; want an error naming both variables", err)
	}
	os.Unsetenv("TWITTER_ACCESS_SECRET")
	t.Setenv("TWITTER_ACCESS_TOKEN_FILE", filepath.Join(dir, "missing"))
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "TWITTER_ACCESS_TOKEN_FILE") {
		t.Fatalf("got %v; want an error naming TWITTER_ACCESS_TOKEN_FILE", err)
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b bytes.Buffer
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"KAFKA_BROKERS", "SOURCE", "SYNTHETIC_RATE", "REPLAY_PATH", "KAFKA_COMPRESSION", "TWITTER_STREAM_BASE_URL"} {
		if !strings.Contains(b.String(), v) {
			t.Errorf("usage does not list %s", v)
		}
	}
}

// TestURLCredentialsNeverPrint sets stream URLs that carry a user, a
// password and secret query values: the start-up log, %v and -h must show
// none of them, and the sources must still get the URLs whole.
func TestURLCredentialsNeverPrint(t *testing.T) {
	clearEnv(t)
	urls := map[string]string{
		"X_STREAM_URL":            "https://xuser:xpass@api.example.com/2/tweets/sample/stream?access_token=xtoken&tweet.fields=lang",
		"JETSTREAM_URL":           "wss://juser:jpass@jetstream.example.com/subscribe?api_key=jkey&sig=jsig",
		"TWITTER_STREAM_BASE_URL": "https://tuser:tpass@stream.example.com/1.1?client_secret=tsecret#access_token=tfrag",
	}
	for k, v := range urls {
		t.Setenv(k, v)
	}
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cfg.XV2.URL); got != urls["X_STREAM_URL"] {
		t.Errorf("X_STREAM_URL: got %q; want %q, as set", got, urls["X_STREAM_URL"])
	}

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("producer starting", "config", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("producer starting", "config", cfg)
	if err := Usage(&logs); err != nil {
		t.Fatal(err)
	}
	printed := logs.String() + fmt.Sprintf("%v %+v %s", cfg, cfg, cfg.Jetstream.URL)
	for _, secret := range []string{"xuser", "xpass", "xtoken", "juser", "jpass", "jkey", "jsig", "tuser", "tpass", "tsecret", "tfrag"} {
		if strings.Contains(printed, secret) {
			t.Errorf("got %q in what the producer prints; want it redacted", secret)
		}
	}
	for _, want := range []string{"api.example.com/2/tweets/sample/stream", "tweet.fields=lang", "jetstream.example.com/subscribe", "stream.example.com/1.1"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("got a log without %q; want the URLs shown, credentials redacted:\n%s", want, logs.String())
		}
	}
}

// TestUnclearURLCredentialsNeverPrint sets stream URLs whose user and
// password url.Parse cannot find (no "//", or a password read as a host and
// path): the start-up log and %v must show none of their text.
func TestUnclearURLCredentialsNeverPrint(t *testing.T) {
	for _, raw := range []string{
		"https:alice:s3cret@api.x.com/2/tweets/sample/stream",
		"alice:s3cret@api.x.com/2/tweets/sample/stream",
		"https://alice:12/s3cret@api.x.com/2/tweets/sample/stream",
	} {
		t.Run(raw, func(t *testing.T) {
			clearEnv(t)
			for _, k := range []string{"X_STREAM_URL", "JETSTREAM_URL", "TWITTER_STREAM_BASE_URL"} {
				t.Setenv(k, raw)
			}
			cfg, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("producer starting", "config", cfg)
			slog.New(slog.NewTextHandler(&logs, nil)).Info("producer starting", "config", cfg)
			printed := logs.String() + fmt.Sprintf("%v %+v %s %s", cfg, cfg, cfg.XV2.URL, cfg.Jetstream.URL)
			if strings.Contains(printed, "s3cret") {
				t.Errorf("got s3cret in what the producer prints; want the URLs shown as [unparsable]:\n%s", printed)
			}
			if !strings.Contains(logs.String(), "[unparsable]") {
				t.Errorf("got a log without [unparsable]:\n%s", logs.String())
			}
		})
	}
}

// TestDeadLetterPath: the folder for dead letters, and the variable a
// message about it names: STATE_DIR when the folder is STATE_DIR's.
func TestDeadLetterPath(t *testing.T) {
	for _, tc := range []struct {
		stateDir, deadLetterDir, want, variable string
	}{
		{"./state", "", filepath.Join("state", "deadletter"), "STATE_DIR (DEADLETTER_DIR is empty: its deadletter folder)"},
		{"/state", "/var/tweetpipe/refused", "/var/tweetpipe/refused", "DEADLETTER_DIR"},
		{"", "", "", "DEADLETTER_DIR"},
	} {
		c := Config{StateDir: tc.stateDir, Holding: publish.Holding{DeadLetterDir: tc.deadLetterDir}}
		if got := c.DeadLetterPath(); got != tc.want {
			t.Errorf("STATE_DIR=%q DEADLETTER_DIR=%q: got %q; want %q", tc.stateDir, tc.deadLetterDir, got, tc.want)
		}
		if got := c.DeadLetterVariable(); got != tc.variable {
			t.Errorf("STATE_DIR=%q DEADLETTER_DIR=%q: variable %q; want %q", tc.stateDir, tc.deadLetterDir, got, tc.variable)
		}
	}
}

// TestLingerAsOtherClients: a partial batch waits 5 ms by default, as
// librdkafka's (kcat's) and, since Kafka 4.0, the Java client's linger.ms.
// At 10 ms the records in flight (two flights at the defaults) waited out
// the linger often enough to cost the 1 KB statuses about a tenth of the
// producer's rate (docs/performance-history.md).
func TestLingerAsOtherClients(t *testing.T) {
	clearEnv(t)
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchTimeout != 5*time.Millisecond {
		t.Fatalf("KAFKA_BATCH_TIMEOUT defaults to %s; want 5ms", cfg.BatchTimeout)
	}
}

// TestSourceDefaultsAgree: a variable left unset gives the source the
// default its package applies to a zero value, so -h and .env.example say
// what the source does; the topics are the contract's.
func TestSourceDefaultsAgree(t *testing.T) {
	clearEnv(t)
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"KAFKA_TOPIC", cfg.KafkaTopic, contract.DefaultTopic},
		{"KAFKA_CONTROL_TOPIC", cfg.KafkaControlTopic, contract.DefaultControlTopic},
		{"TWITTER_STREAM_BASE_URL", cfg.Twitter.BaseURL.Reveal(), twitter.DefaultBaseURL},
		{"TWITTER_MAX_MESSAGE_BYTES", cfg.Twitter.MaxMessageBytes, twitter.DefaultMaxMessageBytes},
		{"TWITTER_STALL_TIMEOUT", cfg.Twitter.StallTimeout, twitter.DefaultStallTimeout},
		{"X_STREAM_URL", cfg.XV2.URL.Reveal(), xv2.DefaultURL},
		{"X_STALL_TIMEOUT", cfg.XV2.StallTimeout, xv2.DefaultStallTimeout},
		{"X_TWEET_FIELDS", strings.Join(cfg.XV2.TweetFields, ","), xv2.DefaultTweetFields},
		{"X_EXPANSIONS", strings.Join(cfg.XV2.Expansions, ","), xv2.DefaultExpansions},
		{"X_USER_FIELDS", strings.Join(cfg.XV2.UserFields, ","), xv2.DefaultUserFields},
		{"JETSTREAM_URL", cfg.Jetstream.URL.Reveal(), jetstream.DefaultURL},
		{"JETSTREAM_COLLECTIONS", strings.Join(cfg.Jetstream.Collections, ","), jetstream.DefaultCollection},
		{"JETSTREAM_REWIND", cfg.Jetstream.Rewind, jetstream.DefaultRewind},
		{"JETSTREAM_STALL_TIMEOUT", cfg.Jetstream.StallTimeout, jetstream.DefaultStallTimeout},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s unset: got %v; want the source's default %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestVariablesAsInEnvExample: -h lists the variables of .env.example's
// producer part, in its order, with its defaults: the names users,
// compose files and scripts set, wherever in the code each one lives.
// (scripts/env-example.sh writes that part from -h.)
func TestVariablesAsInEnvExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	producerPart, _, ok := strings.Cut(string(b), "\n# consumer\n")
	if !ok {
		t.Fatal(".env.example has no consumer part")
	}
	want := envexample.Variables(producerPart)

	var usage bytes.Buffer
	if err := Usage(&usage); err != nil {
		t.Fatal(err)
	}
	got := envexample.UsageVariables(usage.String())
	if len(want) < 60 {
		t.Fatalf("read %d variables from .env.example; want the producer's 60 and more", len(want))
	}
	if !slices.Equal(got, want) {
		t.Errorf("-h lists, with their defaults:\n%s\nwant, as .env.example:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
