package group

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/internal/contract"
)

// bucket is an object store in memory: it records each partition's next
// offset (archive.PartitionUploader), nothing else.
type bucket struct {
	mu   sync.Mutex
	next map[int]int64
}

func (b *bucket) Partition(_ context.Context, _ string, partition int) (archive.PartitionUploader, error) {
	return &bucketPartition{b: b, p: partition}, nil
}

type bucketPartition struct {
	b *bucket
	p int
}

func (u *bucketPartition) Next() int64 {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if n, ok := u.b.next[u.p]; ok {
		return n
	}
	return -1
}

func (u *bucketPartition) Keys() (prev, cur []byte) { return nil, nil }

func (u *bucketPartition) Upload(_ context.Context, _ string, _, next int64, _ time.Time, _ archive.Keys) error {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	u.b.next[u.p] = next
	return nil
}

// TestUploadedOnTimeIsCommitted: with object storage, a batch is committed
// only up to what the bucket holds; the file the last records went into is
// uploaded later, when it rotates on time on a quiet partition, and that
// upload is committed then. It was not: the group's offset (and Kafka's
// lag) stayed one file behind until new records came.
func TestUploadedOnTimeIsCommitted(t *testing.T) {
	const topic, n = "tweets", 40
	brokers := cluster(t, topic, 1)
	produce(t, brokers, topic, 0, n)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &bucket{next: map[int]int64{}}
	arch, err := archive.Open(archive.Config{Dir: t.TempDir(), DedupWindow: 1000, Uploader: b, RotateInterval: 300 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(brokers, topic)
	cfg.Batch = batch.Limits{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond}
	cfg.RotateCheck = 100 * time.Millisecond
	r := New(cfg, OnDisk(arch), log)
	runUntil(t, r, 30*time.Second, func() bool { return committed(t, brokers, topic, 1) == n })
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next[0] != n {
		t.Fatalf("the bucket holds up to offset %d; want %d", b.next[0], n)
	}
}

// archiveRunner is a runner of topic in group over an archive made with
// acfg, with batches of at most 100 records or 50 ms and a rotation check
// every 100 ms.
func archiveRunner(t *testing.T, brokers []string, topic string, acfg archive.Config, group string, log *slog.Logger) *Runner {
	t.Helper()
	arch, err := archive.Open(acfg, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(brokers, topic)
	cfg.GroupID = group
	cfg.Batch = batch.Limits{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond}
	cfg.RotateCheck = 100 * time.Millisecond
	return New(cfg, OnDisk(arch), log)
}

// TestNoCommitSameTopicGoesOn: a group without committed offsets (new, or
// its offsets expired) on the topic the archive holds goes on from the
// checkpoint, also where the dedup window cannot tell: a window that ends
// past the bucket's offset (the staging folder's open file), no window
// (DEDUP_WINDOW=0), or last records the archive dead-lettered.
func TestNoCommitSameTopicGoesOn(t *testing.T) {
	const topic = "tweets"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func(t *testing.T, brokers []string, acfg archive.Config, group string, until func(*Runner) bool) *Runner {
		t.Helper()
		r := archiveRunner(t, brokers, topic, acfg, group, log)
		runUntil(t, r, 30*time.Second, func() bool { return until(r) })
		return r
	}
	written := func(n int64) func(*Runner) bool {
		return func(r *Runner) bool { return r.Stats.Written.Load()+r.Stats.DeadLettered.Load() == n }
	}

	t.Run("window past the bucket", func(t *testing.T) {
		brokers := cluster(t, topic, 1)
		dir, b := t.TempDir(), &bucket{next: map[int]int64{}}
		produceStatuses(t, brokers, topic, "a", 10)
		run(t, brokers, archive.Config{Dir: dir, DedupWindow: 4, Uploader: b, RotateInterval: 200 * time.Millisecond}, "g1",
			func(*Runner) bool { b.mu.Lock(); defer b.mu.Unlock(); return b.next[0] == 10 })
		produceStatuses(t, brokers, topic, "b", 20) // staged, not uploaded
		run(t, brokers, archive.Config{Dir: dir, DedupWindow: 4, Uploader: b, RotateInterval: time.Hour}, "g1", written(20))
		produceStatuses(t, brokers, topic, "c", 5)
		r := run(t, brokers, archive.Config{Dir: dir, DedupWindow: 4, Uploader: b, RotateInterval: time.Hour}, "new-group", written(5))
		if got := r.Stats.PartitionsStopped.Load(); got != 0 {
			t.Fatalf("stopped partitions = %d; want 0", got)
		}
	})

	t.Run("no window", func(t *testing.T) {
		brokers := cluster(t, topic, 1)
		dir := t.TempDir()
		produceStatuses(t, brokers, topic, "a", 10)
		run(t, brokers, archive.Config{Dir: dir}, "g1", written(10))
		produceStatuses(t, brokers, topic, "b", 5)
		run(t, brokers, archive.Config{Dir: dir, DedupWindow: 100}, "new-group", written(5))
	})

	t.Run("last records dead-lettered", func(t *testing.T) {
		brokers := cluster(t, topic, 1)
		dir := t.TempDir()
		produceStatuses(t, brokers, topic, "a", 5)
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
		status := []kafka.Header{{Key: contract.HeaderKind, Value: []byte(contract.KindStatus)}}
		var bad []kafka.Message
		for i := range 20 {
			bad = append(bad, kafka.Message{Key: []byte(fmt.Sprintf("bad-%d", i)), Value: []byte("{not json"), Headers: status})
		}
		if err := w.WriteMessages(context.Background(), bad...); err != nil {
			t.Fatal(err)
		}
		w.Close()
		run(t, brokers, archive.Config{Dir: dir, DedupWindow: 100}, "g1", written(25))
		produceStatuses(t, brokers, topic, "b", 5)
		run(t, brokers, archive.Config{Dir: dir, DedupWindow: 100}, "new-group", written(5))
	})
}

// TestRecreatedTopicBelowStagedRecords: with object storage, a topic deleted
// and created again whose new end lies between the bucket's offset and the
// records staged past it is the recreated-topic case: the partition stops.
// It was checked against the bucket's offset alone, passed, and the new
// topic's records up to the staged ones were skipped as already written.
func TestRecreatedTopicBelowStagedRecords(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	dir, b := t.TempDir(), &bucket{next: map[int]int64{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := func(t *testing.T, rotate time.Duration, group string) *Runner {
		return archiveRunner(t, brokers, topic, archive.Config{Dir: dir, DedupWindow: 100, Uploader: b, RotateInterval: rotate}, group, log)
	}
	produceStatuses(t, brokers, topic, "a", 10)
	r := runner(t, 200*time.Millisecond, "g1")
	runUntil(t, r, 30*time.Second, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.next[0] == 10 })
	produceStatuses(t, brokers, topic, "b", 40) // staged: 10..49
	r = runner(t, time.Hour, "g1")
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load() == 40 })

	if err := recreateTopic(brokers, topic); err != nil {
		t.Fatal(err)
	}
	produceStatuses(t, brokers, topic, "new", 20) // end 20: past the bucket's 10, short of the staged 50
	r = runner(t, time.Hour, "after-delete")
	runUntil(t, r, 30*time.Second, func() bool {
		if r.Stats.PartitionsStopped.Load() == 1 {
			time.Sleep(2 * time.Second) // time to write what a skipping consumer would
			return true
		}
		return r.Stats.Written.Load()+r.Stats.Skipped.Load() > 0
	})
	if got := r.Stats.Written.Load() + r.Stats.Skipped.Load(); got != 0 {
		t.Fatalf("took %d records of the new topic; want none (the partition stopped)", got)
	}
}
