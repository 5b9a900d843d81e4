package publish

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/produce"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// gate holds every produce request until open is closed; other requests
// pass.
type gate struct {
	kafka.RoundTripper
	open chan struct{}
}

func (g *gate) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if _, ok := req.(*produce.Request); ok {
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.RoundTripper.RoundTrip(ctx, addr, req)
}

// gatedPublisher is a publisher on kfake with these KAFKA_BATCH_SIZE and
// PENDING_MAX whose produce requests wait for its gate to open.
func gatedPublisher(t *testing.T, batchSize, pendingMax int) (*Publisher, *gate) {
	t.Helper()
	_, brokers := newKfake(t, "tweets", "tweets.control")
	g := &gate{RoundTripper: kafka.DefaultTransport, open: make(chan struct{})}
	cfg := testConfig(brokers)
	cfg.Transport = g
	cfg.BatchSize, cfg.PendingMax = batchSize, pendingMax
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return p, g
}

// openAndClose opens g, closes p and fails t unless p's Run, whose result
// ran carries, then returns nil within 20s.
func openAndClose(t *testing.T, p *Publisher, g *gate, ran <-chan error) {
	t.Helper()
	close(g.open)
	p.Close()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s of Kafka answering")
	}
}

// TestSmallRecordsFlyBeyondMaxFlights: while no flight lands, the loop
// sends more flights than PENDING_MAX/KAFKA_BATCH_SIZE when the flights out
// hold under flightBytes (small records), and no more when they hold more
// (large ones); once Kafka answers, every record is sent.
func TestSmallRecordsFlyBeyondMaxFlights(t *testing.T) {
	for _, tc := range []struct {
		name string
		pad  int // bytes of text in each status
		sent int // records handed to kafka-go before any flight lands
	}{
		{"small", 0, 299},            // three flights: 100, 100 and 99
		{"large", 50 << 10, 2 * 100}, // two flights of 5 MB, over flightBytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, g := gatedPublisher(t, 100, 299)
			if p.maxFlights != 2 {
				t.Fatalf("maxFlights %d; the test needs 2", p.maxFlights)
			}
			const n = 299
			text := strings.Repeat("x", tc.pad)
			for i := range n {
				v := fmt.Appendf(nil, `{"id_str":"%d","text":"%s","user":{},"timestamp_ms":"1520424000123"}`, i+1, text)
				if err := p.Emit(context.Background(), source.Record{Value: v}); err != nil {
					t.Fatal(err)
				}
			}
			ran := make(chan error, 1)
			go func() { ran <- p.Run(context.Background()) }()

			// No flight lands while the gate is shut: what left the queue
			// by then stays out.
			deadline := time.Now().Add(5 * time.Second)
			for n-len(p.queue) < tc.sent && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // any flight beyond
			if got := n - len(p.queue); got != tc.sent {
				t.Errorf("%d records handed to kafka-go before any flight landed; want %d", got, tc.sent)
			}

			openAndClose(t, p, g, ran)
			if got := p.Stats.Statuses.Load(); got != n {
				t.Errorf("%d statuses sent; want %d", got, n)
			}
		})
	}
}

// TestBatchSizedByWhatIsQueued: a batch taken from the queue has room for
// the records there, not for KAFKA_BATCH_SIZE: a live stream's records come
// one or a few at a time, and a batch of KAFKA_BATCH_SIZE records for each
// was most of what the producer allocated.
func TestBatchSizedByWhatIsQueued(t *testing.T) {
	cfg := testConfig([]string{"127.0.0.1:1"}) // unreachable: kafka-go takes nothing
	cfg.BatchSize = 1000
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p.queue <- record(strconv.Itoa(i))
	}
	l := p.newLoop(t.Context())
	l.dispatchReady()
	if len(l.unlanded) != 1 {
		t.Fatalf("%d flights; want the three records in one", len(l.unlanded))
	}
	if items := l.unlanded[0].items; len(items) != 3 || cap(items) != 3 {
		t.Errorf("the flight holds %d records with room for %d; want 3, with room for 3", len(items), cap(items))
	}
}

// TestPendingMaxNamesTheFlights: PENDING_MAX's description (the -h table,
// .env.example) gives the flights small records may take as mayDispatch
// allows them.
func TestPendingMaxNamesTheFlights(t *testing.T) {
	f, _ := reflect.TypeFor[Holding]().FieldByName("PendingMax")
	desc := f.Tag.Get("desc")
	want := fmt.Sprintf("up to %d batches while those hold under %d MiB", flightsMost, flightBytes>>20)
	if !strings.Contains(desc, want) {
		t.Errorf("PENDING_MAX's description %q; want it to say %q", desc, want)
	}
}

// TestLandedFlightsLetGo: a flight that landed, and its records, are not
// held by the loop any more (the backing array of the flights out held up to
// as many as were ever out at once: the producer's peak RSS rose from 93 to
// over 120 MiB on 5 KB statuses once up to 16 could be out).
func TestLandedFlightsLetGo(t *testing.T) {
	p, err := New(testConfig([]string{"127.0.0.1:1"}), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	l := p.newLoop(t.Context())
	var flights []weak.Pointer[flight]
	for range 3 {
		fl := &flight{items: []item{record("x")}, bytes: 150}
		l.unlanded = append(l.unlanded, fl)
		l.flyingBytes += fl.bytes
		flights = append(flights, weak.Make(fl))
	}
	l.ackFlight(l.unlanded[0])
	l.ackFlight(l.unlanded[0])
	runtime.GC()
	for i, w := range flights[:2] {
		if w.Value() != nil {
			t.Errorf("flight %d landed and is still held", i+1)
		}
	}
	if flights[2].Value() == nil || len(l.unlanded) != 1 || l.flyingBytes != 150 {
		t.Errorf("the flight still out: collected %v, %d out holding %d bytes; want it held, one out, 150 bytes",
			flights[2].Value() == nil, len(l.unlanded), l.flyingBytes)
	}
	runtime.KeepAlive(l)
}

// TestFlightsStopAtTheCap: with Kafka's answers held, small records go out
// in flights until flightsMost are out, then stay in the queue, which
// fills, and the source waits.
func TestFlightsStopAtTheCap(t *testing.T) {
	const batchSize = 10
	p, g := gatedPublisher(t, batchSize, 29) // maxFlights 2; flights of 10 records of 70 bytes at most
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background()) }()
	var emitted atomic.Int64
	go func() {
		for i := range 10000 {
			v := fmt.Appendf(nil, `{"id_str":"%d","text":"t","user":{}}`, i+1)
			if p.Emit(context.Background(), source.Record{Value: v}) != nil {
				return
			}
			emitted.Add(1)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(p.queue) < cap(p.queue) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // any flight beyond
	const most = 16                    // as PENDING_MAX's description says
	out := emitted.Load() - int64(len(p.queue))
	if len(p.queue) < cap(p.queue) || out < most || out > most*batchSize {
		t.Errorf("the queue holds %d of %d, %d records out; want it full, with %d flights of 1 to %d out",
			len(p.queue), cap(p.queue), out, most, batchSize)
	}
	openAndClose(t, p, g, ran)
}
