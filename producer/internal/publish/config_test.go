package publish

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBatchingValidate(t *testing.T) {
	ok := Batching{Compression: "zstd", BatchSize: 1000, BatchBytes: 1 << 20, BatchTimeout: 5 * time.Millisecond, WriteTimeout: 10 * time.Second}
	with := func(f func(*Batching)) Batching { b := ok; f(&b); return b }
	tests := []struct {
		name string
		cfg  Batching
		want []string // the error's lines; none means valid
	}{
		{"defaults", ok, nil},
		{"zstd at its best ratio", with(func(b *Batching) { b.CompressionLevel = 22 }), nil},
		{"gzip at its best", with(func(b *Batching) { b.Compression, b.CompressionLevel = "gzip", 9 }), nil},
		{"no compression", with(func(b *Batching) { b.Compression = "none" }), nil},
		{"unknown codec", with(func(b *Batching) { b.Compression = "brotli" }), []string{
			`KAFKA_COMPRESSION="brotli": accepts none, gzip, snappy, lz4 or zstd`}},
		{"empty codec", with(func(b *Batching) { b.Compression = "" }), []string{
			`KAFKA_COMPRESSION="": accepts none, gzip, snappy, lz4 or zstd`}},
		{"zstd level 23", with(func(b *Batching) { b.CompressionLevel = 23 }), []string{
			"KAFKA_COMPRESSION_LEVEL=23: zstd accepts 1 to 22, or 0 for its default"}},
		{"gzip level 10", with(func(b *Batching) { b.Compression, b.CompressionLevel = "gzip", 10 }), []string{
			"KAFKA_COMPRESSION_LEVEL=10: gzip accepts 1 to 9, or 0 for its default"}},
		{"a level for lz4", with(func(b *Batching) { b.Compression, b.CompressionLevel = "lz4", 3 }), []string{
			"KAFKA_COMPRESSION_LEVEL=3: only zstd and gzip have levels (KAFKA_COMPRESSION=lz4); leave it 0"}},
		{"everything out of range", Batching{Compression: "zstd", BatchSize: 100001, BatchBytes: 1023, BatchTimeout: -time.Second}, []string{
			"KAFKA_BATCH_SIZE=100001: accepts 1 to 100000",
			"KAFKA_BATCH_BYTES=1023: accepts 1024 or more",
			"KAFKA_BATCH_TIMEOUT=-1s: must be positive",
			"KAFKA_WRITE_TIMEOUT=0s: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lines(tt.cfg.Validate()); !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestHoldingValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Holding
		want []string // the error's lines; none means valid
	}{
		{"defaults", Holding{SpoolMaxBytes: 1 << 30, MaxTimestampAhead: 55 * time.Minute, PendingMax: 2000}, nil},
		{"smallest", Holding{SpoolMaxBytes: 1 << 20, PendingMax: 1}, nil},
		{"most pending", Holding{SpoolMaxBytes: 1 << 30, PendingMax: 100000}, nil},
		{"pending beyond memory", Holding{SpoolMaxBytes: 1 << 30, PendingMax: 2000000000}, []string{
			"PENDING_MAX=2000000000: accepts 1 to 100000 (each record queued takes its size and about 200 bytes, and as many again may be in flight: 100000 posts of 5 KB are about 1 GB; SPOOL_DIR holds more, on disk)"}},
		{"everything out of range", Holding{SpoolMaxBytes: 1<<20 - 1, MaxTimestampAhead: -time.Minute}, []string{
			"SPOOL_MAX_BYTES=1048575: accepts 1048576 (1 MiB) or more",
			"KAFKA_MAX_TIMESTAMP_AHEAD=-1m0s: must be 0 (off) or positive",
			"PENDING_MAX=0: accepts 1 to 100000 (each record queued takes its size and about 200 bytes, and as many again may be in flight: 100000 posts of 5 KB are about 1 GB; SPOOL_DIR holds more, on disk)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lines(tt.cfg.Validate()); !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestTopicSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  TopicSpec
		want []string // the error's lines; none means valid
	}{
		{"defaults", TopicSpec{Partitions: 3, ReplicationFactor: 1, RetentionBytes: -1}, nil},
		{"largest", TopicSpec{Partitions: 10000, ReplicationFactor: 32, MinInsyncReplicas: 32, Retention: time.Hour, RetentionBytes: 1}, nil},
		{"everything out of range", TopicSpec{Partitions: 0, ReplicationFactor: 33, MinInsyncReplicas: 34, Retention: -time.Second, RetentionBytes: 0}, []string{
			"KAFKA_PARTITIONS=0: accepts 1 to 10000",
			"KAFKA_REPLICATION_FACTOR=33: accepts 1 to 32",
			"KAFKA_MIN_INSYNC_REPLICAS=34: accepts 0 (the broker's default) to KAFKA_REPLICATION_FACTOR (33)",
			"KAFKA_RETENTION=-1s: accepts 0 (keep) or a duration of a millisecond or more",
			"KAFKA_RETENTION_BYTES=0: accepts -1 (no limit) or a positive size"}},
		// retention.ms would be 0: Kafka deletes at once what it should keep.
		{"retention under a millisecond", TopicSpec{Partitions: 1, ReplicationFactor: 1, Retention: time.Nanosecond, RetentionBytes: -1}, []string{
			"KAFKA_RETENTION=1ns: accepts 0 (keep) or a duration of a millisecond or more"}},
		{"retention of a millisecond", TopicSpec{Partitions: 1, ReplicationFactor: 1, Retention: time.Millisecond, RetentionBytes: -1}, nil},
		{"min.insync.replicas above the replication factor", TopicSpec{Partitions: 1, ReplicationFactor: 1, MinInsyncReplicas: 2, RetentionBytes: -1}, []string{
			"KAFKA_MIN_INSYNC_REPLICAS=2: accepts 0 (the broker's default) to KAFKA_REPLICATION_FACTOR (1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lines(tt.cfg.Validate()); !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// TestTopicSpecConfigs: the topic configs a created topic gets, from the
// variables as set: KAFKA_RETENTION=0 keeps whatever the age.
func TestTopicSpecConfigs(t *testing.T) {
	tests := []struct {
		name string
		spec TopicSpec
		want []string
	}{
		{"defaults", TopicSpec{Partitions: 3, ReplicationFactor: 1, RetentionBytes: -1},
			[]string{"retention.ms=-1", "retention.bytes=-1"}},
		{"a week, 1 GiB, two in sync", TopicSpec{Partitions: 3, ReplicationFactor: 3, MinInsyncReplicas: 2, Retention: 7 * 24 * time.Hour, RetentionBytes: 1 << 30},
			[]string{"retention.ms=604800000", "retention.bytes=1073741824", "min.insync.replicas=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range tt.spec.configs() {
				got = append(got, c.ConfigName+"="+c.ConfigValue)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
