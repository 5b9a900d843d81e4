package group

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
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
