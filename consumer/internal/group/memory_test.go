package group

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
)

// TestMemoryWarning: at the defaults three partitions fit the default 80 MiB
// soft limit and twelve do not; the warning names the partitions, the
// estimate and the limit, and stays quiet without a limit.
func TestMemoryWarning(t *testing.T) {
	cfg := Config{Batch: batch.Limits{MaxBytes: 4 << 20}, Settings: Settings{FetchMaxBytes: 2 << 20}, DedupWindow: 20000}
	const limit = 80 << 20
	if need := cfg.memoryNeed(3); need > limit {
		t.Fatalf("3 partitions at the defaults: estimated %d MiB; want at most 80", need>>20)
	}
	if need := cfg.memoryNeed(12); need <= limit {
		t.Fatalf("12 partitions at the defaults: estimated %d MiB; want more than 80", need>>20)
	}
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	for _, tc := range []struct {
		limit int64
		n     int
		warn  bool
	}{{limit, 3, false}, {limit, 12, true}, {math.MaxInt64, 12, false}} {
		var out bytes.Buffer
		r := New(cfg, nil, slog.New(slog.NewTextHandler(&out, nil)))
		debug.SetMemoryLimit(tc.limit)
		r.warnMemory(tc.n)
		got := strings.Contains(out.String(), "raise MEMORY_LIMIT")
		if got != tc.warn {
			t.Fatalf("limit %d, %d partitions: warned %v; want %v: %q", tc.limit, tc.n, got, tc.warn, out.String())
		}
		if got && !strings.Contains(out.String(), "partitions=12") || got && !strings.Contains(out.String(), "memory_limit_mib=80") {
			t.Fatalf("warning lacks the partitions or the limit: %q", out.String())
		}
	}
}

// TestLimitsShareTheBudget: while the partitions' batches and fetches fit
// the budget each gets the configured limits; beyond, n partitions together
// hold no more than the budget (down to the floors), and the configured
// limits stay the ceilings.
func TestLimitsShareTheBudget(t *testing.T) {
	cfg := Config{Batch: batch.Limits{MaxRecords: 1000, MaxBytes: 4 << 20, MaxWait: time.Second},
		Settings: Settings{FetchMaxBytes: 2 << 20}, BufferBudget: 40 << 20}
	for _, tc := range []struct {
		n                   int
		batch, fetch, queue int
	}{
		{1, 4 << 20, 2 << 20, 100},
		{3, 4 << 20, 2 << 20, 100}, // 3 × 12 MiB fit 40 MiB: nothing cut
		{4, 40 << 20 / 4 / 3, 40 << 20 / 4 / 6, 83},
		{12, 40 << 20 / 12 / 3, 40 << 20 / 12 / 6, 27},
		{1000, 64 << 10, 64 << 10, 10}, // the floors
	} {
		got := cfg.limits(tc.n)
		if int(got.Batch.MaxBytes) != tc.batch || got.FetchMaxBytes != tc.fetch || got.QueueCapacity != tc.queue {
			t.Errorf("%d partitions: got batch %d bytes, fetch %d bytes, queue %d messages; want %d, %d, %d",
				tc.n, got.Batch.MaxBytes, got.FetchMaxBytes, got.QueueCapacity, tc.batch, tc.fetch, tc.queue)
		}
		if got.Batch.MaxRecords != 1000 || got.Batch.MaxWait != time.Second {
			t.Errorf("%d partitions: got %d records, wait %s; want the configured 1000, 1s", tc.n, got.Batch.MaxRecords, got.Batch.MaxWait)
		}
		if held := int64(tc.n) * (2*got.Batch.MaxBytes + 2*int64(got.FetchMaxBytes)); tc.n <= 12 && held > cfg.BufferBudget {
			t.Errorf("%d partitions: got %d bytes held; want at most the budget, %d", tc.n, held, cfg.BufferBudget)
		}
	}
}

// TestBatchesShrinkWithPartitions: twelve partitions sharing a 9 MiB budget
// write batches of at most a third of their twelfth (256 KiB), although
// BATCH_MAX_BYTES allows 4 MiB, and still write every message once.
func TestBatchesShrinkWithPartitions(t *testing.T) {
	const (
		topic      = "tweets"
		partitions = 12
		perPart    = 150
		valueSize  = 4 << 10
	)
	brokers := cluster(t, topic, partitions)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, BatchBytes: 16 << 20, Balancer: &kafka.RoundRobin{}}
	var msgs []kafka.Message
	pad := strings.Repeat("x", valueSize)
	for i := range partitions * perPart {
		msgs = append(msgs, kafka.Message{Value: []byte(fmt.Sprintf(`{"id":%d,"pad":"%s"}`, i, pad))})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
	w.Close()

	arch := &sizingArchive{memArchive: memArchive{recs: map[string][]archive.Record{}}}
	cfg := testConfig(brokers, topic)
	cfg.FetchMaxBytes = 2 << 20
	cfg.Batch = batch.Limits{MaxRecords: 1000, MaxBytes: 4 << 20, MaxWait: 2 * time.Second}
	cfg.BufferBudget = 9 << 20
	r := New(cfg, arch, slog.New(slog.NewTextHandler(io.Discard, nil)))
	total := int64(partitions * perPart)
	runUntil(t, r, 60*time.Second, func() bool { return r.Stats.Written.Load() >= total })

	if got := len(arch.values()); got != int(total) {
		t.Errorf("got %d values written; want %d", got, total)
	}
	const want = 9 << 20 / partitions / 3
	if got := arch.largest(); got > want {
		t.Errorf("got a batch of %d bytes; want at most %d", got, want)
	}
}

// sizingArchive is a memArchive that notes the largest batch appended.
type sizingArchive struct {
	memArchive
	mu  sync.Mutex
	max int
}

func (a *sizingArchive) Partition(ctx context.Context, topic string, partition int) (Partition, error) {
	p, _ := a.memArchive.Partition(ctx, topic, partition)
	return sizingPartition{Partition: p, a: a}, nil
}

func (a *sizingArchive) largest() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.max
}

type sizingPartition struct {
	Partition
	a *sizingArchive
}

func (p sizingPartition) Append(recs []archive.Record) (archive.Result, error) {
	n := 0
	for _, r := range recs {
		n += len(r.Value)
	}
	p.a.mu.Lock()
	p.a.max = max(p.a.max, n)
	p.a.mu.Unlock()
	return p.Partition.Append(recs)
}

// TestMemoryNeedPerDedupKey: the estimate counts about 50 bytes for each
// key of the dedup window's two generations (128-bit digests in a map).
func TestMemoryNeedPerDedupKey(t *testing.T) {
	cfg := Config{Batch: batch.Limits{MaxBytes: 4 << 20}, Settings: Settings{FetchMaxBytes: 2 << 20}, BufferBudget: 40 << 20}
	without := cfg.memoryNeed(3)
	cfg.DedupWindow = 100_000
	got := cfg.memoryNeed(3) - without
	if want := int64(3 * 2 * 50 * 100_000); got != want {
		t.Errorf("got %d bytes for 3 partitions' dedup windows of 100000 keys; want %d", got, want)
	}
}
