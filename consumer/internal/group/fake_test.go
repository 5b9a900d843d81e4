package group

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
)

// memArchive keeps each partition's records in memory, as the archive
// would on disk: appended in order, nothing below the next offset twice.
// Its appends fail while failures are left, as a full disk's would.
type memArchive struct {
	mu       sync.Mutex
	recs     map[string][]archive.Record
	failures int
	fenced   bool // every append fails with archive.ErrFenced
	// onAppend, when set, is called with each batch before it is
	// appended (outside the lock): a test can hold the writer there.
	onAppend func(recs []archive.Record)
}

func (a *memArchive) Partition(_ context.Context, topic string, partition int) (Partition, error) {
	return &memPartition{a: a, key: fmt.Sprintf("%s-%d", topic, partition)}, nil
}

func (a *memArchive) CheckpointFile(topic string, partition int) string {
	return fmt.Sprintf("memory:%s-%d", topic, partition)
}

// values returns every value held, partition by partition.
func (a *memArchive) values() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, recs := range a.recs {
		for _, r := range recs {
			out = append(out, string(r.Value))
		}
	}
	return out
}

type memPartition struct {
	a   *memArchive
	key string
}

func (p *memPartition) NextOffset() int64 {
	p.a.mu.Lock()
	defer p.a.mu.Unlock()
	recs := p.a.recs[p.key]
	if len(recs) == 0 {
		return -1
	}
	return recs[len(recs)-1].Offset + 1
}

func (p *memPartition) Append(recs []archive.Record) (archive.Result, error) {
	if p.a.onAppend != nil {
		p.a.onAppend(recs)
	}
	next := p.NextOffset()
	p.a.mu.Lock()
	defer p.a.mu.Unlock()
	if p.a.fenced {
		return archive.Result{}, fmt.Errorf("another process locked the partition: %w", archive.ErrFenced)
	}
	if p.a.failures > 0 {
		p.a.failures--
		return archive.Result{}, errors.New("no space left on device")
	}
	var res archive.Result
	for _, r := range recs {
		if r.Offset < next {
			res.Skipped++
			continue
		}
		p.a.recs[p.key] = append(p.a.recs[p.key], archive.Record{Offset: r.Offset, Value: slices.Clone(r.Value)})
		next = r.Offset + 1
		res.Written++
		res.Bytes += int64(len(r.Value)) + 1
	}
	return res, nil
}

func (p *memPartition) Tick() error  { return nil }
func (p *memPartition) Close() error { return nil }

// TestPartitionLoopWithoutDisk: the partition loop, run against an archive
// that is not a folder and whose first appends fail, writes every message
// once and commits all of them once the appends succeed.
func TestPartitionLoopWithoutDisk(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 2)
	produce(t, brokers, topic, 0, 60)
	arch := &memArchive{recs: map[string][]archive.Record{}, failures: 3}
	cfg := testConfig(brokers, topic)
	cfg.Batch = batch.Limits{MaxRecords: 10, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond}
	r := New(cfg, arch, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load() >= 60 && committed(t, brokers, topic, 2) >= 60 })

	got := arch.values()
	slices.Sort(got)
	var want []string
	for i := range 60 {
		want = append(want, fmt.Sprintf(`{"id":%d}`, i))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got values %v; want each of 0..59 once", got)
	}
	if got := r.Stats.WriteErrors.Load(); got != 3 {
		t.Errorf("got %d write errors; want 3", got)
	}
	if got := committed(t, brokers, topic, 2); got != 60 {
		t.Errorf("got %d offsets committed; want 60", got)
	}
}

// TestFencedPartitionWaits: a partition whose archive lost its lock to
// another process (archive.ErrFenced) is not written again and again: it
// is counted as stopped, nothing is committed, and the service stops
// cleanly.
func TestFencedPartitionWaits(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	produce(t, brokers, topic, 0, 20)
	arch := &memArchive{recs: map[string][]archive.Record{}, fenced: true}
	cfg := testConfig(brokers, topic)
	cfg.Batch = batch.Limits{MaxRecords: 10, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond}
	r := New(cfg, arch, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for r.Stats.PartitionsStopped.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.Stats.PartitionsStopped.Load(); got != 1 {
		t.Fatalf("stopped partitions: %d; want 1", got)
	}
	time.Sleep(2 * time.Second) // the retries, if any, would come every 0.5 to 1 s
	if got := r.Stats.WriteErrors.Load(); got != 1 {
		t.Errorf("%d write errors; want 1: a fenced partition is not retried", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := committed(t, brokers, topic, 1); got != 0 {
		t.Errorf("committed %d offsets; want none", got)
	}
	if got := r.Stats.PartitionsStopped.Load(); got != 0 {
		t.Errorf("stopped partitions after the stop: %d; want 0", got)
	}
}

// slowArchive delays every append by delay, as a slow disk would.
type slowArchive struct {
	Archive
	delay time.Duration
}

func (a slowArchive) Partition(ctx context.Context, topic string, partition int) (Partition, error) {
	p, err := a.Archive.Partition(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	return slowPartition{p, a.delay}, nil
}

type slowPartition struct {
	Partition
	delay time.Duration
}

func (p slowPartition) Append(recs []archive.Record) (archive.Result, error) {
	time.Sleep(p.delay)
	return p.Partition.Append(recs)
}

// testConfig is the group's configuration in these tests: topic on
// brokers, with short timeouts and intervals.
func testConfig(brokers []string, topic string) Config {
	return Config{
		Brokers: brokers,
		Settings: Settings{Topics: []string{topic}, GroupID: "test-group",
			SessionTimeout: 6 * time.Second, RebalanceTimeout: 5 * time.Second,
			FetchMaxBytes: 1 << 20, FetchMaxWait: 100 * time.Millisecond},
		Watch:           Watch{WatchInterval: 200 * time.Millisecond},
		ShutdownTimeout: 5 * time.Second,
	}
}

// unopenedArchive refuses to open partitions while closed is set, as an
// archive whose checkpoint cannot be read does.
type unopenedArchive struct {
	*memArchive
	closed atomic.Bool
}

func (a *unopenedArchive) Partition(ctx context.Context, topic string, partition int) (Partition, error) {
	if a.closed.Load() {
		return nil, fmt.Errorf("checkpoint memory:%s-%d is corrupt", topic, partition)
	}
	return a.memArchive.Partition(ctx, topic, partition)
}

// TestUnopenedPartitionCountsAsStopped: a partition whose archive does not
// open is retried, and counts in Stats.PartitionsStopped (the alert's
// gauge) until it opens; then it is consumed and the count falls back.
func TestUnopenedPartitionCountsAsStopped(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 2)
	produce(t, brokers, topic, 0, 40)
	arch := &unopenedArchive{memArchive: &memArchive{recs: map[string][]archive.Record{}}}
	arch.closed.Store(true)
	r := New(testConfig(brokers, topic), arch, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sawStopped := false
	runUntil(t, r, 30*time.Second, func() bool {
		if !sawStopped && r.Stats.PartitionsStopped.Load() == 2 {
			sawStopped = true
			arch.closed.Store(false)
		}
		return sawStopped && r.Stats.Written.Load() >= 40 && r.Stats.PartitionsStopped.Load() == 0
	})
}
