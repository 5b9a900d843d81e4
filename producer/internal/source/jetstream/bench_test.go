package jetstream

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tweetpipe/tweetpipe/internal/contract"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/publish"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// benchEvents is what the benchmarks read: the events of testdata/tweets
// (posts in two scripts, a like, an edit, a delete, an identity and an
// account change) and a timeline of posts, about 450 B each as Jetstream's.
func benchEvents(b *testing.B) [][]byte {
	out := corpus.Lines(b, corpus.Path(b, "jetstream/events.jsonl"))
	for _, e := range timeline(21, time.Second) {
		out = append(out, e.raw)
	}
	return out
}

// BenchmarkClassify is one event classified, as the publisher does for
// each record.
func BenchmarkClassify(b *testing.B) {
	events := benchEvents(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if _, err := Classify(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process's CPU time (user and system) an op, from
// its start to the call of the function it returns: on a shared machine
// the wall time an op counts the time other work had the CPU too.
func reportCPU(b *testing.B) func() {
	cpu := func() int64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// BenchmarkRead is one event read from a websocket, classified and emitted
// by the source (the emit does nothing): the source's own cost per event.
func BenchmarkRead(b *testing.B) {
	benchmarkRun(b, func(ctx context.Context, r source.Record) error {
		if r.Ack != nil {
			r.Ack()
		}
		return nil
	})
}

// BenchmarkPublish is one event read from a websocket by the source and
// handed to the publisher's Emit, which classifies it (as SOURCE=jetstream
// configures it) and queues it for Kafka (kfake, in this process): the
// producer's cost per event until Emit returns. Its allocations count the
// test server's, the publisher's and kfake's too.
func BenchmarkPublish(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "tweets", "tweets.control"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p, err := publish.New(publish.Config{
		Brokers: c.ListenAddrs(), Topics: contract.Topics{Status: "tweets", Control: "tweets.control"}, SourceName: "jetstream",
		Batching: publish.Batching{Compression: "zstd", BatchSize: 1000, BatchBytes: 1 << 20, BatchTimeout: time.Millisecond,
			WriteTimeout: 5 * time.Second},
		Holding:  publish.Holding{PendingMax: 10000},
		Classify: Classify,
	}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	benchmarkRun(b, p.Emit)
	p.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := p.Stats.Invalid.Load(); got != 0 {
		b.Fatalf("%d events invalid; want 0", got)
	}
}

// benchmarkRun runs the source over b.N events of benchEvents, each
// handed to emit, and reports the CPU time an event.
func benchmarkRun(b *testing.B, emit source.Emit) {
	events := benchEvents(b)
	n := b.N
	srv := newJSServer(b, postsOnly, ws(func(ctx context.Context, conn *websocket.Conn, cursor int64) {
		for i := range n {
			if err := conn.Write(ctx, websocket.MessageText, events[i%len(events)]); err != nil {
				return
			}
		}
		hold(ctx, conn, cursor)
	}))
	cfg := testConfig(srv.wsURL(), b.TempDir())
	cfg.SaveInterval = time.Hour
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := 0
	b.ReportAllocs()
	b.ResetTimer()
	stopCPU := reportCPU(b)
	err = s.Run(ctx, func(ctx context.Context, r source.Record) error {
		if err := emit(ctx, r); err != nil {
			return err
		}
		if got++; got == n {
			b.StopTimer()
			stopCPU()
			cancel()
		}
		return nil
	})
	if err != nil || got != n {
		b.Fatalf("Run: %v after %d events of %d", err, got, n)
	}
}

// BenchmarkValid is one event checked by message.Valid, and by json.Valid.
func BenchmarkValid(b *testing.B) {
	events := benchEvents(b)
	for _, c := range []struct {
		name  string
		valid func([]byte) bool
	}{{"message.Valid", message.Valid}, {"json.Valid", json.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			defer reportCPU(b)()
			for i := 0; b.Loop(); i++ {
				if !c.valid(events[i%len(events)]) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
