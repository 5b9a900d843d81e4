package publish

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// stoppableBroker is a kfake broker on a fixed port that keeps its data
// across stop and start.
type stoppableBroker struct {
	t    *testing.T
	port int
	dir  string
	c    *kfake.Cluster
}

func newStoppableBroker(t *testing.T) *stoppableBroker {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &stoppableBroker{t: t, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	l.Close()
	b.start()
	t.Cleanup(func() {
		if b.c != nil {
			b.c.Close()
		}
	})
	return b
}

func (b *stoppableBroker) addr() []string { return []string{fmt.Sprintf("127.0.0.1:%d", b.port)} }

func (b *stoppableBroker) start() {
	var err error
	for range 50 {
		if b.c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(b.port), kfake.DataDir(b.dir)); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("starting kfake: %v", err)
}

func (b *stoppableBroker) stop() { b.c.Close(); b.c = nil }

// spoolingPublisher runs a publisher on a stoppable broker with the topics
// made, a memory queue of 20 records and a spool of its own, closed at the
// test's end; done gets what Run returns.
func spoolingPublisher(t *testing.T) (*stoppableBroker, *spool.Spool, *Publisher, <-chan error) {
	t.Helper()
	b := newStoppableBroker(t)
	ensure(t, b.addr(), "tweets", "tweets.control")
	sp, err := spool.Open(t.TempDir(), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	cfg := testConfig(b.addr())
	cfg.PendingMax = 20
	cfg.WriteTimeout = time.Second
	cfg.Spool, cfg.SpoolDir = sp, "test-spool"
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	return b, sp, p, done
}

func status(i int) []byte { return []byte(fmt.Sprintf(`{"id_str":"%d","text":"t","user":{}}`, i)) }

// TestSpoolWhileKafkaIsDown: with Kafka gone and the memory queue full,
// records go to the spool instead of stopping the source; when Kafka is
// back the spool drains, everything arrives, and acks come in order.
func TestSpoolWhileKafkaIsDown(t *testing.T) {
	b, sp, p, done := spoolingPublisher(t)

	var mu sync.Mutex
	var acked []int
	emit := func(i int) {
		if err := p.Emit(context.Background(), source.Record{Value: status(i), Ack: func() {
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
		}}); err != nil {
			t.Fatalf("Emit %d: %v", i, err)
		}
	}
	for i := range 50 {
		emit(i)
	}
	b.stop()
	emitted := make(chan struct{})
	go func() {
		for i := 50; i < 600; i++ {
			emit(i) // must not block for ever: the spool takes them
		}
		close(emitted)
	}()
	select {
	case <-emitted:
	case <-time.After(60 * time.Second):
		t.Fatal("the source was blocked while Kafka was down; want the spool to take its records")
	}
	if p.Stats.Spooled.Load() == 0 {
		t.Fatal("nothing was spooled while Kafka was down")
	}
	b.start()
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := readAll(t, b.addr(), "tweets", 3)
	keys := map[string]bool{}
	for _, m := range got {
		keys[string(m.Key)] = true
	}
	if len(keys) != 600 {
		t.Fatalf("got %d distinct statuses in Kafka; want 600 (spooled %d)", len(keys), p.Stats.Spooled.Load())
	}
	if len(acked) != 600 {
		t.Fatalf("%d acks; want 600", len(acked))
	}
	for i, a := range acked {
		if a != i {
			t.Fatalf("ack %d was for record %d; want acks in order", i, a)
		}
	}
	if !sp.Empty() {
		t.Fatalf("spool holds %d records after draining; want 0", sp.Len())
	}
	t.Logf("spooled %d of 600 while Kafka was down; all delivered, acks in order", p.Stats.Spooled.Load())
}

// TestStopSpoolsWhatKafkaDidNotTake: a stop while Kafka is down spools what
// memory holds; the next run sends it.
func TestStopSpoolsWhatKafkaDidNotTake(t *testing.T) {
	b := newStoppableBroker(t)
	ensure(t, b.addr(), "tweets", "tweets.control")
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(b.addr())
	cfg.WriteTimeout = time.Second
	cfg.Spool, cfg.SpoolDir = sp, dir
	b.stop()
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for i := range 100 {
		if err := p.Emit(context.Background(), source.Record{Value: status(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	time.Sleep(500 * time.Millisecond)
	cancel() // the shutdown timeout, with Kafka still down
	if err := <-done; err != nil {
		t.Fatalf("Run: %v; want nil: the spool holds what Kafka did not take", err)
	}
	if sp.Len() != 100 {
		t.Fatalf("spool holds %d records; want 100", sp.Len())
	}
	sp.Close()

	// Next start, Kafka back.
	b.start()
	sp2, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp2.Close()
	cfg.Spool = sp2
	p2, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done2 := make(chan error, 1)
	go func() { done2 <- p2.Run(context.Background()) }()
	if err := p2.Emit(context.Background(), source.Record{Value: status(100)}); err != nil {
		t.Fatal(err)
	}
	p2.Close()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range readAll(t, b.addr(), "tweets", 3) {
		keys[string(m.Key)] = true
	}
	if len(keys) != 101 {
		t.Fatalf("got %d distinct statuses; want the 100 spooled and 1 new", len(keys))
	}
}

// TestDropsWhileSpoolingAcknowledged: while Kafka is down and records go
// to the spool, lines that are dropped (not JSON) are acknowledged at once:
// a long outage with many of them holds no acknowledgement in memory.
func TestDropsWhileSpoolingAcknowledged(t *testing.T) {
	b := newStoppableBroker(t)
	p, sp := newSpoolingPublisher(t, b, spool.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var acked atomic.Int64
	ack := func() { acked.Add(1) }
	for i := 0; sp.Empty(); i++ {
		if i == 1000 {
			t.Fatal("nothing was spooled after 1000 statuses with Kafka down")
		}
		if err := p.Emit(context.Background(), source.Record{Value: status(i), Ack: ack}); err != nil {
			t.Fatal(err)
		}
	}
	const drops = 20000
	base := acked.Load()
	for range drops {
		if err := p.Emit(context.Background(), source.Record{Value: []byte("not json"), Ack: ack}); err != nil {
			t.Fatal(err)
		}
	}
	if got := acked.Load() - base; got != drops {
		t.Fatalf("%d of the %d lines dropped while spooling were acknowledged; want all: the others are held in memory until Kafka returns", got, drops)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSpooledRecordsCountAsTaken: a record fsynced into the spool counts as
// taken for the source's position. Kafka is down, records are spooled and
// a stop spools the rest; every record is acknowledged, in order. The next
// run, with Kafka back, drains the spool while the source resumes after
// the last acknowledgement: each status is in Kafka once.
func TestSpooledRecordsCountAsTaken(t *testing.T) {
	b := newStoppableBroker(t)
	p, sp := newSpoolingPublisher(t, b, spool.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	const n = 300
	var mu sync.Mutex
	var acked []int
	position := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(acked)
	}
	for i := range n {
		if err := p.Emit(context.Background(), source.Record{Value: status(i), Ack: func() {
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(position()); got == 0 || int64(got) > sp.Len() {
		t.Fatalf("while Kafka is down, %d records acknowledged, %d in the spool; want those the spool holds acknowledged", got, sp.Len())
	}
	p.Close()
	time.Sleep(300 * time.Millisecond)
	cancel() // SHUTDOWN_TIMEOUT passes, Kafka still down
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkAcksInOrder(t, position(), n)
	if sp.Len() != n {
		t.Fatalf("the spool holds %d records; want %d", sp.Len(), n)
	}

	// The process exits: kafka-go's writer, still trying the flights in
	// the background, ends with it (Close waits for its last attempts).
	p.w.Close()

	// Next start, Kafka back: the source resumes after its position.
	b.start()
	cfg := testConfig(b.addr())
	cfg.Spool, cfg.SpoolDir = sp, "test-spool"
	p2, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done2 := make(chan error, 1)
	go func() { done2 <- p2.Run(context.Background()) }()
	for i := len(position()); i < n+10; i++ {
		if err := p2.Emit(context.Background(), source.Record{Value: status(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p2.Close()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range readAll(t, b.addr(), "tweets", 3) {
		count[string(m.Key)]++
	}
	for k, c := range count {
		if c != 1 {
			t.Fatalf("status %s is in Kafka %d times; want once (the source read again what the spool held)", k, c)
		}
	}
	if len(count) != n+10 {
		t.Fatalf("got %d distinct statuses in Kafka; want %d", len(count), n+10)
	}
}

// TestSpoolFailureWhenKafkaGoesAwayReported: when Kafka goes away and the
// spool cannot take what memory holds, Run returns the spool's error, naming
// SPOOL_DIR, and Emit is told the publisher is closed.
func TestSpoolFailureWhenKafkaGoesAwayReported(t *testing.T) {
	b, sp, p, done := spoolingPublisher(t)
	b.stop()
	sp.Close() // every append fails from now on
	emitted := make(chan error, 1)
	go func() {
		// Until memory is full: flights of these small records take up to
		// flightsMost batches.
		for i := range 100 * flightsMost * testConfig(nil).BatchSize {
			if err := p.Emit(context.Background(), source.Record{Value: status(i), Ack: func() {}}); err != nil {
				emitted <- err
				return
			}
		}
		emitted <- nil
	}()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after the spool failed")
	}
	if runErr == nil || !strings.Contains(runErr.Error(), "test-spool") || !errors.Is(runErr, spool.ErrClosed) {
		t.Errorf("Run returned %v; want the spool's error, naming test-spool", runErr)
	}
	select {
	case err := <-emitted:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Emit returned %v; want ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Emit still waits after Run returned")
	}
}

// TestRecordOutsideSpoolYearsSpooled: a record dated year 0 among others,
// emitted while Kafka is away and the spool takes records, is spooled with
// the rest (its own time in post_time) and everything arrives once Kafka is
// back.
func TestRecordOutsideSpoolYearsSpooled(t *testing.T) {
	b, _, p, done := spoolingPublisher(t)
	b.stop()
	n, year0 := 0, -1 // records emitted; the one dated year 0
	for ; n < 10000 && (year0 < 0 || n < year0+10); n++ {
		v := status(n)
		if year0 < 0 && p.Stats.Spooled.Load() > 0 {
			year0 = n
			v = fmt.Appendf(nil, `{"id_str":"%d","text":"t","user":{},"created_at":"Sat Jan 01 00:00:00 +0000 0000"}`, n)
		}
		if err := p.Emit(context.Background(), source.Record{Value: v, Ack: func() {}}); err != nil {
			t.Fatalf("Emit %d: %v", n, err)
		}
	}
	if year0 < 0 {
		t.Fatalf("nothing was spooled while Kafka was down, after %d records", n)
	}
	b.start()
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	keys := map[string]bool{}
	for _, m := range readAll(t, b.addr(), "tweets", 3) {
		keys[string(m.Key)] = true
		if string(m.Key) == strconv.Itoa(year0) && header(m, PostTimeHeader) != "0000-01-01T00:00:00.000Z" {
			t.Errorf("status %d: post_time %q, timestamp %s; want its own time, year 0, in post_time", year0, header(m, PostTimeHeader), m.Time)
		}
	}
	if len(keys) != n || !keys[strconv.Itoa(year0)] {
		t.Fatalf("got %d distinct statuses in Kafka, status %d among them: %v; want %d", len(keys), year0, keys[strconv.Itoa(year0)], n)
	}
}
