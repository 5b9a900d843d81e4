package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// v42 is version i of a status with id 42: what the order tests send.
func v42(i int) []byte { return []byte(fmt.Sprintf(`{"id_str":"42","text":"%d","user":{}}`, i)) }

// textOf is the version of a value made by v42.
func textOf(t *testing.T, v []byte) int {
	s := strings.TrimPrefix(string(v), `{"id_str":"42","text":"`)
	n, err := strconv.Atoi(s[:strings.IndexByte(s, '"')])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// firstSeenOrder drops the copies, keeping the first of each version.
func firstSeenOrder(order []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, n := range order {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// checkAscending fails unless the versions are in the order sent.
func checkAscending(t *testing.T, what string, order []int) {
	t.Helper()
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("%s: key 42 version %d comes after version %d (position %d of %d)", what, order[i], order[i-1], i, len(order))
		}
	}
}

// newKfake starts a one-broker kfake cluster, stopped when the test ends,
// with the status and control topics made.
func newKfake(t *testing.T, topic, control string) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	ensure(t, brokers, topic, control)
	return c, brokers
}

// versionsIn returns the versions of key 42 in topic, in Kafka's order.
func versionsIn(t *testing.T, brokers []string, topic string) []int {
	t.Helper()
	var order []int
	for _, m := range readAll(t, brokers, topic, 3) {
		order = append(order, textOf(t, m.Value))
	}
	return order
}

// checkEachOnce fails unless order holds n versions of key 42, ascending:
// the n the test sent (or spooled), each once.
func checkEachOnce(t *testing.T, order []int, n int, how string) {
	t.Helper()
	checkAscending(t, "Kafka", order)
	if len(order) != n {
		t.Fatalf("%d messages of key 42 in Kafka; want the %d %s, each once", len(order), n, how)
	}
}

// newSpoolingPublisher returns a publisher, not running yet, with a spool
// (opts) in a new directory, a memory queue of 20 records and batches of 5,
// writing to b, which it stops: Kafka is unreachable from the start.
func newSpoolingPublisher(t *testing.T, b *stoppableBroker, opts spool.Options) (*Publisher, *spool.Spool) {
	t.Helper()
	ensure(t, b.addr(), "tweets", "tweets.control")
	dir := t.TempDir()
	sp, err := spool.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	cfg := testConfig(b.addr())
	cfg.PendingMax, cfg.BatchSize = 20, 5
	cfg.WriteTimeout = time.Second
	cfg.Spool, cfg.SpoolDir = sp, dir
	b.stop()
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	// The tests size the spool by what memory holds when spooling begins:
	// maxFlights flights and the queue, not the flights small records may
	// add (mayDispatch).
	p.flightCap = p.maxFlights
	return p, sp
}

// TestStopWhileSpoolingKeepsKeyOrder: Kafka goes away, the memory queue
// fills, later records go to the spool; then the shutdown timeout passes
// with Kafka still down. What memory held is older than what the spool
// holds, so the spool (sent first at the next start) must hold them first.
// Run with maxFlights flights out, and with as many as small records may
// have (flightsMost, the default cap: 16 flights of 5 here), when spooling
// begins.
func TestStopWhileSpoolingKeepsKeyOrder(t *testing.T) {
	for _, flights := range []struct {
		name string
		cap  func(p *Publisher) int
	}{
		{"maxFlights", func(p *Publisher) int { return p.maxFlights }},
		{"flightsMost", func(*Publisher) int { return flightsMost }},
	} {
		t.Run(flights.name, func(t *testing.T) {
			b := newStoppableBroker(t)
			p, sp := newSpoolingPublisher(t, b, spool.Options{})
			p.flightCap = flights.cap(p)
			// Past what memory holds with every flight out (flightCap
			// flights of 5 and a queue of 20), so the spool takes the rest.
			n := 5*p.flightCap + 20 + 100
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			for i := range n {
				if err := p.Emit(context.Background(), source.Record{Value: v42(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if sp.Len() == 0 {
				t.Fatalf("nothing spooled after %d records; want the records past memory's room", n)
			}
			p.Close()
			time.Sleep(500 * time.Millisecond)
			cancel() // SHUTDOWN_TIMEOUT passes, Kafka still down
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			recs, err := sp.Peek(10*n, 0)
			if err != nil {
				t.Fatal(err)
			}
			var order []int
			for _, r := range recs {
				order = append(order, textOf(t, r.Value))
			}
			t.Logf("spool after the stop, in the order the next start sends it: %v", order)
			checkAscending(t, "spool after a stop", order)
			if len(order) != n {
				t.Fatalf("the spool holds %d records; want the %d sent, each once", len(order), n)
			}
		})
	}
}

// TestSIGKILLWhileSpoolingKeepsKeyOrder: the same, but the producer is
// killed while spooling; the source, acknowledged up to what the spool
// held, hands the records after that over again at the next start, with
// Kafka back. Every version arrives, the first copies in order.
func TestSIGKILLWhileSpoolingKeepsKeyOrder(t *testing.T) {
	b := newStoppableBroker(t)
	ensure(t, b.addr(), "tweets", "tweets.control")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	// Run 1: Kafka unreachable for ever.
	dir1 := t.TempDir()
	sp1, err := spool.Open(dir1, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig([]string{deadAddr})
	cfg.PendingMax, cfg.BatchSize = 20, 5
	cfg.WriteTimeout = time.Second
	cfg.Spool, cfg.SpoolDir = sp1, dir1
	p1, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	go p1.Run(ctx1)
	var position atomic.Int64 // records acknowledged, in order
	for i := range 100 {
		if err := p1.Emit(context.Background(), source.Record{Value: v42(i), Ack: func() {
			if !position.CompareAndSwap(int64(i), int64(i)+1) {
				t.Errorf("record %d acknowledged after %d records", i, position.Load())
			}
		}}); err != nil {
			t.Fatal(err)
		}
	}
	// SIGKILL: the source's position, then the spool directory as it is
	// now (it holds at least what was acknowledged).
	resume := int(position.Load())
	dir2 := t.TempDir()
	if err := os.CopyFS(dir2, os.DirFS(dir1)); err != nil {
		t.Fatal(err)
	}
	t.Logf("run 1 killed with %d records in the spool, %d acknowledged", sp1.Len(), resume)
	if resume == 0 {
		t.Fatal("nothing acknowledged while spooling; want what the spool holds")
	}

	// Run 2: Kafka is back; the source replays from its last ack.
	sp2, err := spool.Open(dir2, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp2.Close()
	cfg2 := testConfig(b.addr())
	cfg2.Spool, cfg2.SpoolDir = sp2, dir2
	p2, err := New(cfg2, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p2.Run(context.Background()) }()
	for i := resume; i < 100; i++ {
		if err := p2.Emit(context.Background(), source.Record{Value: v42(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p2.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	order := versionsIn(t, b.addr(), "tweets")
	t.Logf("key 42 in Kafka (%d messages), first copies: %v", len(order), firstSeenOrder(order))
	checkAscending(t, "Kafka after a SIGKILL, first copies", firstSeenOrder(order))
	if got := len(firstSeenOrder(order)); got != 100 {
		t.Fatalf("%d versions of key 42 in Kafka; want all 100", got)
	}
}

// TestFullSpoolWaiterKeepsKeyOrder: a record waits for room in a full spool
// while Run drains it; the spool empties and the records after it go to
// the memory queue. The waiting record must not be spooled behind them:
// Kafka gets every version of the key in the order sent.
func TestFullSpoolWaiterKeepsKeyOrder(t *testing.T) {
	b := newStoppableBroker(t)
	// Room for what memory holds when spooling begins (4 flights and the
	// queue: 45 records), and not much more.
	const maxBytes = 6000
	p, sp := newSpoolingPublisher(t, b, spool.Options{MaxBytes: maxBytes})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for i := range 200 {
			if err := p.Emit(context.Background(), source.Record{Value: v42(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats.Spooled.Load() == 0 || sp.Bytes()+200 < maxBytes {
		if time.Now().After(deadline) {
			t.Fatalf("the spool did not fill: %d records spooled, %d bytes", p.Stats.Spooled.Load(), sp.Bytes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // an Emit now waits on ErrFull
	b.start()
	<-emitted
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	order := versionsIn(t, b.addr(), "tweets")
	t.Logf("key 42 in Kafka (%d messages), first copies: %v", len(order), firstSeenOrder(order))
	checkAscending(t, "Kafka, first copies", firstSeenOrder(order))
	// The copies of the flights spooled when spooling began are removed
	// unsent once their flights land: each status is sent and counted once.
	if got := p.Stats.Statuses.Load(); got != 200 {
		t.Fatalf("%d statuses acknowledged; want 200", got)
	}
}

// failUntilOvertaken makes c fail the produce requests that hold version
// first of key 42 (with an error kafka-go does not retry, so it gives up on
// the batch at once), until one holding version later has been taken, or
// times+1 of them were failed. It returns the number of failed requests.
func failUntilOvertaken(c *kfake.Cluster, first, later, times int32) *atomic.Int32 {
	var failed atomic.Int32
	var overtaken atomic.Bool
	holds := func(records []byte, v int32) bool {
		return bytes.Contains(records, []byte(fmt.Sprintf(`"text":"%d"`, v)))
	}
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		fail := false
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				if holds(rp.Records, later) {
					overtaken.Store(true)
				}
				if holds(rp.Records, first) && !overtaken.Load() && failed.Load() <= times {
					fail = true
				}
			}
		}
		if !fail {
			return nil, nil, false
		}
		failed.Add(1)
		return refusedAll(req, kerr.TopicAuthorizationFailed.Code), nil, true
	})
	return &failed
}

// TestFailedBatchNotOvertaken: kafka-go gives up on a partition's batch
// while the partition's next batches wait in its queue. The failed batch
// is written again before them: Kafka holds every version of the key once,
// in the order sent. The broker fails the batch's first request, then each
// of its writes again for as long as no later batch of the partition has
// been taken (three times at most), so that a later batch that overtakes
// it is seen whatever the timing.
func TestFailedBatchNotOvertaken(t *testing.T) {
	c, brokers := newKfake(t, "tweets", "tweets.control")
	failed := failUntilOvertaken(c, 0, 5, 3)

	cfg := testConfig(brokers)
	cfg.Compression = "none" // the broker looks for the versions in the records
	cfg.PendingMax, cfg.BatchSize = 20, 5
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	var position atomic.Int64 // records acknowledged, in order
	for i := range 20 {       // queued before Run: four flights at once
		if err := p.Emit(context.Background(), source.Record{Value: v42(i), Ack: func() {
			if !position.CompareAndSwap(int64(i), int64(i)+1) {
				t.Errorf("record %d acknowledged after %d records", i, position.Load())
			}
		}}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if failed.Load() == 0 {
		t.Fatal("the broker failed no request; the test injected nothing")
	}
	order := versionsIn(t, brokers, "tweets")
	t.Logf("%d requests failed; key 42 in Kafka: %v", failed.Load(), order)
	checkEachOnce(t, order, 20, "sent")
	if got := position.Load(); got != 20 {
		t.Fatalf("%d records acknowledged; want 20", got)
	}
}

// noFirstMetadata is a transport that fails the first metadata request:
// the first batch's hand-over to kafka-go fails as when Kafka is
// unreachable, and the next one's goes through.
type noFirstMetadata struct {
	kafka.RoundTripper
	failed atomic.Bool
}

func (t *noFirstMetadata) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if _, ok := req.(*metadata.Request); ok && t.failed.CompareAndSwap(false, true) {
		return nil, errors.New("test: no metadata")
	}
	return t.RoundTripper.RoundTrip(ctx, addr, req)
}

// TestNotTakenBatchNotOvertaken: kafka-go takes none of a batch (no
// metadata when it is handed over), and takes the next ones. The acker
// writes the first again before any later batch goes to kafka-go: Kafka
// holds every version of the key once, in the order sent.
func TestNotTakenBatchNotOvertaken(t *testing.T) {
	c, brokers := newKfake(t, "tweets", "tweets.control")
	failed := failUntilOvertaken(c, 0, 5, 3)
	tr := &noFirstMetadata{RoundTripper: kafka.DefaultTransport}

	cfg := testConfig(brokers)
	cfg.Compression = "none" // the broker looks for the versions in the records
	cfg.PendingMax, cfg.BatchSize = 20, 5
	cfg.Transport = tr
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // queued before Run: four flights at once
		if err := p.Emit(context.Background(), source.Record{Value: v42(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !tr.failed.Load() {
		t.Fatal("no metadata request failed; the test injected nothing")
	}
	order := versionsIn(t, brokers, "tweets")
	t.Logf("%d produce requests failed; key 42 in Kafka: %v", failed.Load(), order)
	checkEachOnce(t, order, 20, "sent")
}

// TestStopWhileRewritingNotOvertaken: Run stops while a partition's batch
// that kafka-go gave up on is being written again (the broker fails every
// request holding it) and Kafka takes the partition's other batches. No
// later batch of the partition may reach Kafka after the stop: the spool
// holds them all, and the next start sends them in order. The test closes
// the async writer after Run, which waits until kafka-go tried every batch
// it held.
func TestStopWhileRewritingNotOvertaken(t *testing.T) {
	c, brokers := newKfake(t, "tweets", "tweets.control")
	failed := failUntilOvertaken(c, 0, 5, 1<<30) // version 5 is never taken before version 0
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()

	cfg := testConfig(brokers)
	cfg.Compression = "none" // the broker looks for the versions in the records
	cfg.PendingMax, cfg.BatchSize = 20, 5
	cfg.Spool, cfg.SpoolDir = sp, dir
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // queued before Run: four flights at once
		if err := p.Emit(context.Background(), source.Record{Value: v42(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for failed.Load() < 2 { // kafka-go gave up on it, and a write again failed
		if time.Now().After(deadline) {
			t.Fatalf("the broker failed %d requests; want 2", failed.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // SHUTDOWN_TIMEOUT passes
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	p.w.Close() // returns once kafka-go tried every batch it held
	order := versionsIn(t, brokers, "tweets")
	if len(order) > 0 {
		t.Fatalf("Kafka holds versions %v of key 42 while version 0 waits in the spool; the next start sends it after them", order)
	}
	recs, err := sp.Peek(1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var spooled []int
	for _, r := range recs {
		spooled = append(spooled, textOf(t, r.Value))
	}
	checkAscending(t, "the spool", spooled)
	if len(spooled) != 20 {
		t.Fatalf("the spool holds %v; want the 20 versions", spooled)
	}
}

// TestNotTakenBatchWrittenInParts: the acker writes again a batch kafka-go
// took none of, and its records of one partition are more than fit in one
// produce request (KAFKA_BATCH_BYTES): the first request of them fails
// past kafka-go's attempts. It is taken before the next: Kafka holds every
// version of the key once, in the order sent.
func TestNotTakenBatchWrittenInParts(t *testing.T) {
	c, brokers := newKfake(t, "tweets", "tweets.control")
	failed := failUntilOvertaken(c, 0, 2, 3)
	tr := &noFirstMetadata{RoundTripper: kafka.DefaultTransport}

	cfg := testConfig(brokers)
	cfg.Compression = "none" // the broker looks for the versions in the records
	cfg.PendingMax, cfg.BatchSize = 20, 5
	cfg.BatchBytes = 200 // two of these records a request
	cfg.Transport = tr
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := p.Emit(context.Background(), source.Record{Value: v42(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !tr.failed.Load() || failed.Load() == 0 {
		t.Fatalf("metadata failed: %v, produce requests failed: %d; the test injected nothing", tr.failed.Load(), failed.Load())
	}
	order := versionsIn(t, brokers, "tweets")
	t.Logf("%d produce requests failed; key 42 in Kafka: %v", failed.Load(), order)
	checkEachOnce(t, order, 20, "sent")
}

// TestSpoolBatchWrittenInParts: a start drains an earlier run's spool, one
// batch of five records of one partition that fit KAFKA_BATCH_BYTES by the
// spool's count, and not by kafka-go's: with a one-letter topic and a time
// on a whole second, kafka-go counts each record a few bytes more (the
// spool counts the topic and a varint time, kafka-go a fixed time), so it
// would write them as two produce requests. The broker fails the first
// request past kafka-go's attempts. It is taken before the rest: Kafka
// holds every version of the key once, in the order sent, and the spool is
// empty.
func TestSpoolBatchWrittenInParts(t *testing.T) {
	c, brokers := newKfake(t, "t", "t.control")
	failed := failUntilOvertaken(c, 0, 4, 1)
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	at := time.Now().Truncate(time.Second)
	for i := range 5 {
		if err := sp.Append(spool.Record{Topic: "t", Key: []byte("42"), Value: v42(i), Time: at,
			Headers: []spool.Header{{Key: contract.HeaderKind, Value: []byte(message.KindStatus)}}}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := testConfig(brokers)
	cfg.Topics = contract.Topics{Status: "t", Control: "t.control"}
	cfg.Compression = "none" // the broker looks for the versions in the records
	cfg.BatchSize = 5
	cfg.BatchBytes = sp.Bytes() // the five records, by the spool's count
	cfg.Spool, cfg.SpoolDir = sp, dir
	if recs, err := sp.Peek(cfg.BatchSize, int(cfg.BatchBytes)); err != nil || len(recs) != 5 {
		t.Fatalf("the spool's first batch holds %d records (%v); want all 5", len(recs), err)
	}
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if failed.Load() == 0 {
		t.Fatal("the broker failed no request; the test injected nothing")
	}
	order := versionsIn(t, brokers, "t")
	t.Logf("%d produce requests failed; key 42 in Kafka: %v", failed.Load(), order)
	checkEachOnce(t, order, 5, "spooled")
	if !sp.Empty() {
		t.Fatalf("the spool holds %d records after the drain; want none", sp.Len())
	}
}
