package group

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
)

func TestWriterGate(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	var g writerGate
	if ok, _ := g.early(t0, nil); !ok {
		t.Fatal("a writer that has written nothing: got not ready; want ready")
	}

	g.handed()
	woken := 0
	if ok, at := g.early(t0, func() { woken++ }); ok || !at.IsZero() {
		t.Fatalf("writer busy: got ok=%v at=%v; want not ready, woken when done", ok, at)
	}
	// The write took 50 ms: no early batch until as long again after it.
	g.written(t0, t0.Add(50*time.Millisecond))
	if woken != 1 {
		t.Fatalf("got %d wake-ups when the write was done; want 1", woken)
	}
	if ok, at := g.early(t0.Add(60*time.Millisecond), nil); ok || !at.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("10 ms after a 50 ms write: got ok=%v at=%v; want ready at %v", ok, at, t0.Add(100*time.Millisecond))
	}
	if ok, _ := g.early(t0.Add(100*time.Millisecond), nil); !ok {
		t.Fatal("50 ms after a 50 ms write: got not ready; want ready")
	}

	// A quick write: the floor holds.
	g.handed()
	g.written(t0.Add(time.Second), t0.Add(time.Second+time.Millisecond))
	if woken != 1 {
		t.Fatalf("got %d wake-ups; want none more: nobody waited", woken)
	}
	want := t0.Add(time.Second + time.Millisecond + minEarlyGap)
	if ok, at := g.early(t0.Add(time.Second+2*time.Millisecond), nil); ok || !at.Equal(want) {
		t.Fatalf("right after a 1 ms write: got ok=%v at=%v; want ready at %v", ok, at, want)
	}

	// The writer done before the fetching goroutine counted its hand-over.
	g.written(t0.Add(2*time.Second), t0.Add(2*time.Second+time.Millisecond))
	g.handed()
	if ok, _ := g.early(t0.Add(3*time.Second), nil); !ok {
		t.Fatal("after a write counted before its hand-over: got not ready; want ready")
	}
}

// gateRunner is a Runner on memArchive with one partition whose batches
// are due only after an hour: what is written earlier was handed over
// because the partition was caught up.
func gateRunner(t *testing.T, brokers []string, topic string, arch *memArchive) *Runner {
	t.Helper()
	cfg := testConfig(brokers, topic)
	cfg.Batch = batch.Limits{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: time.Hour}
	cfg.RotateCheck = time.Hour
	return New(cfg, arch, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// TestCaughtUpWrittenAtOnce: the last messages of a partition are written
// and committed without waiting for BATCH_MAX_WAIT, since nothing more is
// there to join their batch.
func TestCaughtUpWrittenAtOnce(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	produce(t, brokers, topic, 0, 5)
	arch := &memArchive{recs: map[string][]archive.Record{}}
	r := gateRunner(t, brokers, topic, arch)
	runUntil(t, r, 20*time.Second, func() bool { return r.Stats.Written.Load() == 5 && committed(t, brokers, topic, 1) == 5 })
	if got := len(arch.values()); got != 5 {
		t.Errorf("got %d values archived; want 5", got)
	}
}

// TestGroupCommitWhileWriting: what arrives while the writer is busy waits
// for it and goes in one batch once it is done, not one batch a message
// and not after BATCH_MAX_WAIT.
func TestGroupCommitWhileWriting(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	var (
		mu      sync.Mutex
		sizes   []int
		entered = make(chan struct{})
		release = make(chan struct{})
	)
	arch := &memArchive{recs: map[string][]archive.Record{}, onAppend: func(recs []archive.Record) {
		mu.Lock()
		sizes = append(sizes, len(recs))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
	}}
	r := gateRunner(t, brokers, topic, arch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	defer releaseOnce() // first, so a failed test's writer is not held

	produce(t, brokers, topic, 0, 1)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the first message was not handed to the writer within 20 s")
	}
	produce(t, brokers, topic, 1, 9)
	waitFor(t, 20*time.Second, "the 9 messages fetched", func() bool { return r.Stats.Consumed.Load() == 10 })
	releaseOnce()
	waitFor(t, 20*time.Second, "10 messages written and committed", func() bool {
		return r.Stats.Written.Load() == 10 && committed(t, brokers, topic, 1) == 10
	})
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, 9}; !slices.Equal(sizes, want) {
		t.Errorf("got batches of %v records; want %v", sizes, want)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
