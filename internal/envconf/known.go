package envconf

import (
	"regexp"
	"slices"
	"strings"
)

// Known is every variable either service reads, or Compose reads from .env
// for the stack (.env.example lists them all; a test keeps the three
// together): a name beside them in the environment, one or two letters
// off, is a setting misspelled (NearMisses).
var Known = []string{
	"ALLOW_INSECURE_HTTP", "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID_FILE", "AWS_SECRET_ACCESS_KEY",
	"AWS_SECRET_ACCESS_KEY_FILE", "BATCH_MAX_BYTES", "BATCH_MAX_RECORDS", "BATCH_MAX_WAIT",
	"COMPOSE_PROFILES", "DEADLETTER_DIR", "DEDUP_WINDOW", "GOMEMLIMIT", "HOST_OUTPUT_DIR",
	"HTTP_ADDR", "JETSTREAM_COLLECTIONS", "JETSTREAM_LANGS", "JETSTREAM_REWIND",
	"JETSTREAM_STALL_TIMEOUT", "JETSTREAM_URL", "KAFKA_BATCH_BYTES", "KAFKA_BATCH_SIZE",
	"KAFKA_BATCH_TIMEOUT", "KAFKA_BROKERS", "KAFKA_COMPRESSION", "KAFKA_COMPRESSION_LEVEL",
	"KAFKA_CONTROL_TOPIC", "KAFKA_FETCH_MAX_BYTES", "KAFKA_FETCH_MAX_WAIT", "KAFKA_GROUP_ID",
	"KAFKA_MAX_TIMESTAMP_AHEAD", "KAFKA_MIN_INSYNC_REPLICAS", "KAFKA_PARTITIONS",
	"KAFKA_REBALANCE_TIMEOUT", "KAFKA_REPLICATION_FACTOR", "KAFKA_RETENTION", "KAFKA_RETENTION_BYTES",
	"KAFKA_SASL_MECHANISM", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE", "KAFKA_SASL_USERNAME",
	"KAFKA_SESSION_TIMEOUT", "KAFKA_STARTUP_TIMEOUT", "KAFKA_TLS", "KAFKA_TLS_CA_FILE",
	"KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE", "KAFKA_TLS_SKIP_VERIFY", "KAFKA_TOPIC",
	"KAFKA_TOPICS", "KAFKA_WRITE_TIMEOUT", "LOG_FORMAT", "LOG_LEVEL", "MANIFEST", "MANIFEST_GRACE",
	"MANIFEST_INTERVAL", "MEMORY_LIMIT", "OUTPUT_COMPRESSION", "OUTPUT_DIR", "OUTPUT_FILE_MODE",
	"OUTPUT_LAYOUT", "OUTPUT_PAGE_CACHE", "OUTPUT_URL", "PARTITION_WATCH_INTERVAL", "PENDING_MAX", "PROGRESS_INTERVAL",
	"REPLAY_DIR", "REPLAY_PAGE_CACHE", "REPLAY_PATH", "REPLAY_PROGRESS_INTERVAL", "REPLAY_SPEED", "ROTATE_INTERVAL",
	"ROTATE_MAX_BYTES", "S3_ENDPOINT", "S3_PATH_STYLE", "S3_REGION", "SHUTDOWN_TIMEOUT", "SOURCE",
	"SPOOL_DIR", "SPOOL_MAX_BYTES", "STATE_DIR", "STATE_DIR_HOST", "SYNTHETIC_COUNT",
	"SYNTHETIC_RATE", "SYNTHETIC_SEED", "TWEETPIPE_GID", "TWEETPIPE_KAFKA_BROKERS", "TWEETPIPE_UID",
	"TWEETPIPE_VERSION", "TWITTER_ACCESS_SECRET", "TWITTER_ACCESS_SECRET_FILE",
	"TWITTER_ACCESS_TOKEN", "TWITTER_ACCESS_TOKEN_FILE", "TWITTER_CONSUMER_KEY",
	"TWITTER_CONSUMER_KEY_FILE", "TWITTER_CONSUMER_SECRET", "TWITTER_CONSUMER_SECRET_FILE",
	"TWITTER_FOLLOW", "TWITTER_LANGUAGE", "TWITTER_LOCATIONS", "TWITTER_MAX_MESSAGE_BYTES",
	"TWITTER_STALL_TIMEOUT", "TWITTER_STREAM_BASE_URL", "TWITTER_TRACK", "X_BACKFILL_MINUTES",
	"X_BEARER_TOKEN", "X_BEARER_TOKEN_FILE", "X_EXPANSIONS", "X_STALL_TIMEOUT", "X_STREAM_URL",
	"X_TWEET_FIELDS", "X_USER_FIELDS",
}

// variableName is what a setting's name looks like.
var variableName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{5,}$`)

// NearMisses returns, for each variable of environ (KEY=VALUE) that is not
// in known but is one or two edits from a name in it, the pair of the two
// names: a setting misspelled, which would otherwise be ignored without a
// word (SYNTHETC_RATE=5 left the rate at its default).
func NearMisses(environ, known []string) [][2]string {
	var out [][2]string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !variableName.MatchString(name) || slices.Contains(known, name) {
			continue
		}
		for _, k := range known {
			if edits(name, k) <= 2 {
				out = append(out, [2]string{name, k})
				break
			}
		}
	}
	return out
}

// edits is the Levenshtein distance between a and b (insertions, deletions
// and substitutions of bytes); lengths more than 2 apart answer 3 at once.
func edits(a, b string) int {
	if d := len(a) - len(b); d > 2 || d < -2 {
		return 3
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
