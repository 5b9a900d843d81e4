package publish

import (
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/producer/internal/deadletter"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// Config is what the publisher needs: its variables (Batching, Holding),
// which the producer's config embeds, and what the service builds at start.
type Config struct {
	Batching // KAFKA_COMPRESSION*, KAFKA_BATCH_*, KAFKA_WRITE_TIMEOUT
	Holding  // SPOOL_DIR, SPOOL_MAX_BYTES, KAFKA_MAX_TIMESTAMP_AHEAD, DEADLETTER_DIR, PENDING_MAX

	Brokers    []string
	Topics     contract.Topics // where each kind goes; no control topic: count and drop the rest
	SourceName string          // the "source" header
	Transport  kafka.RoundTripper
	// Classify gives a record's kind, key and time. nil means the v1.1
	// classifier (message.Classify); sources with another payload shape
	// (X API v2, Jetstream) bring their own.
	Classify func(raw []byte) (message.Message, error)
	// Spool, when not nil, takes new records while Kafka is unreachable and
	// the memory queue is full (spool.go); SpoolDir names it in messages.
	Spool *spool.Spool
	// ObserveBatch, when not nil, is told how long each batch took from the
	// first produce attempt until Kafka acknowledged all of it.
	ObserveBatch func(time.Duration)
	// RetimeAhead and RetimeBehind: a record whose own time is further
	// ahead of (behind) the time it is read is sent with the time it is
	// read as its timestamp, and its own time in the post_time header
	// (reject.go). 0: only once the broker refused its timestamp.
	// TimestampLimits.Within gives them from MaxTimestampAhead and the
	// topics' limits.
	RetimeAhead  time.Duration
	RetimeBehind time.Duration
	// DeadLetter takes the records Kafka refuses for good (reject.go);
	// nil: they are logged, counted and dropped.
	DeadLetter *deadletter.Writer
}

// Batching is how records are grouped, compressed and written: the
// variables of that name, which the producer's config embeds.
type Batching struct {
	Compression      string        `envconfig:"KAFKA_COMPRESSION" default:"zstd" desc:"none, gzip, snappy, lz4 or zstd"`
	CompressionLevel int           `envconfig:"KAFKA_COMPRESSION_LEVEL" default:"0" desc:"zstd 1-22 (1: fastest, 2-5: default, 6-9: better, 10+: best ratio) or gzip 1-9; 0: the codec's default (zstd about level 3)"`
	BatchSize        int           `envconfig:"KAFKA_BATCH_SIZE" default:"1000" desc:"most messages sent in one produce call (1-100000)"`
	BatchBytes       int64         `envconfig:"KAFKA_BATCH_BYTES" default:"1048576" desc:"most bytes in one partition's batch; keep under the broker's message.max.bytes"`
	BatchTimeout     time.Duration `envconfig:"KAFKA_BATCH_TIMEOUT" default:"5ms" desc:"how long a partial batch waits for more messages (linger; 5ms as librdkafka's and the Java client's linger.ms)"`
	WriteTimeout     time.Duration `envconfig:"KAFKA_WRITE_TIMEOUT" default:"10s" desc:"timeout of one produce request"`
}

// Validate checks the variables; each error names the one at fault.
func (b Batching) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch b.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		bad("KAFKA_COMPRESSION=%q: accepts none, gzip, snappy, lz4 or zstd", b.Compression)
	}
	switch {
	case b.CompressionLevel == 0:
	case b.Compression == "zstd" && (b.CompressionLevel < 1 || b.CompressionLevel > 22):
		bad("KAFKA_COMPRESSION_LEVEL=%d: zstd accepts 1 to 22, or 0 for its default", b.CompressionLevel)
	case b.Compression == "gzip" && (b.CompressionLevel < 1 || b.CompressionLevel > 9):
		bad("KAFKA_COMPRESSION_LEVEL=%d: gzip accepts 1 to 9, or 0 for its default", b.CompressionLevel)
	case b.Compression != "zstd" && b.Compression != "gzip":
		bad("KAFKA_COMPRESSION_LEVEL=%d: only zstd and gzip have levels (KAFKA_COMPRESSION=%s); leave it 0", b.CompressionLevel, b.Compression)
	}
	if b.BatchSize < 1 || b.BatchSize > 100000 {
		bad("KAFKA_BATCH_SIZE=%d: accepts 1 to 100000", b.BatchSize)
	}
	if b.BatchBytes < 1024 {
		bad("KAFKA_BATCH_BYTES=%d: accepts 1024 or more", b.BatchBytes)
	}
	if b.BatchTimeout <= 0 {
		bad("KAFKA_BATCH_TIMEOUT=%s: must be positive", b.BatchTimeout)
	}
	if b.WriteTimeout <= 0 {
		bad("KAFKA_WRITE_TIMEOUT=%s: must be positive", b.WriteTimeout)
	}
	return errors.Join(errs...)
}

// Holding is what becomes of records that cannot go at once: they wait in
// memory (PENDING_MAX), then on disk (SPOOL_*); one whose time Kafka would
// refuse is retimed (KAFKA_MAX_TIMESTAMP_AHEAD), one Kafka refuses for good
// is set aside (DEADLETTER_DIR). The producer's config embeds it.
type Holding struct {
	SpoolDir          string        `envconfig:"SPOOL_DIR" desc:"while Kafka is unreachable and PENDING_MAX is reached, records are spooled here and sent in order when it returns (empty: off, the source waits)"`
	SpoolMaxBytes     int64         `envconfig:"SPOOL_MAX_BYTES" default:"1073741824" desc:"most bytes the spool may hold; beyond, the source waits. It must hold what memory holds when spooling begins (PENDING_MAX records and those in flight, see PENDING_MAX), and stay below the free space of SPOOL_DIR's volume"`
	MaxTimestampAhead time.Duration `envconfig:"KAFKA_MAX_TIMESTAMP_AHEAD" default:"55m" desc:"a post whose own time is further ahead than this of when it was read is sent with the time it was read as its Kafka timestamp and its own time in the post_time header (RFC 3339); a topic whose message.timestamp.after.max.ms (Kafka 4: 1h, read at start) allows less lowers it to that less a twelfth, and one whose before.max.ms is set retimes posts older than that the same way (0: only after the broker refused a timestamp)"`
	// DeadLetterDir is DEADLETTER_DIR as set; the service resolves an
	// empty one against STATE_DIR.
	DeadLetterDir string `envconfig:"DEADLETTER_DIR" desc:"records Kafka refuses for good (invalid timestamp even at the time read, invalid or corrupt record) are appended here to deadletter.jsonl with the reason, and the records behind them go on (empty: STATE_DIR/deadletter)"`
	PendingMax    int    `envconfig:"PENDING_MAX" default:"2000" desc:"messages queued in memory for Kafka before the source is paused (1-100000: each takes its size and about 200 bytes); up to max(PENDING_MAX, 2 x KAFKA_BATCH_SIZE) more are in flight, and small ones up to 16 batches while those hold under 4 MiB"`
}

// MaxPending is the most PENDING_MAX accepts. The queue's slots (about 200
// bytes each) are allocated at start, and each record queued holds its
// post (1 to 5 KB, up to KAFKA_BATCH_BYTES), with as many again in flight:
// at 100000, 5 KB posts take about 1 GB, twelve times the default
// MEMORY_LIMIT and as much as the default SPOOL_MAX_BYTES, which must hold
// what memory holds when spooling begins. More than that belongs on disk,
// in the spool (SPOOL_DIR); a count far beyond it (2000000000) made the
// queue's allocation alone exhaust memory at start.
const MaxPending = 100000

// Validate checks the variables; each error names the one at fault.
func (h Holding) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if h.SpoolMaxBytes < 1<<20 {
		bad("SPOOL_MAX_BYTES=%d: accepts 1048576 (1 MiB) or more", h.SpoolMaxBytes)
	}
	if h.MaxTimestampAhead < 0 {
		bad("KAFKA_MAX_TIMESTAMP_AHEAD=%s: must be 0 (off) or positive", h.MaxTimestampAhead)
	}
	if h.PendingMax < 1 || h.PendingMax > MaxPending {
		bad("PENDING_MAX=%d: accepts 1 to 100000 (each record queued takes its size and about 200 bytes, and as many again may be in flight: 100000 posts of 5 KB are about 1 GB; SPOOL_DIR holds more, on disk)", h.PendingMax)
	}
	return errors.Join(errs...)
}
