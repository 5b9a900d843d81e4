package publish

import (
	"bytes"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// newDrainingLoop is a loop, not running, draining a spool that takes
// maxBytes and holds records of the sizes given (Kafka unreachable: the
// drainer sends nothing).
func newDrainingLoop(t *testing.T, maxBytes int64, sizes ...int) (*loop, *spool.Spool) {
	t.Helper()
	sp, err := spool.Open(t.TempDir(), spool.Options{MaxBytes: maxBytes, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	cfg := testConfig([]string{"127.0.0.1:1"})
	cfg.Spool = sp
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range sizes {
		if err := sp.Append(spool.Record{Topic: "tweets", Value: bytes.Repeat([]byte("x"), n)}); err != nil {
			t.Fatal(err)
		}
	}
	l := p.newLoop(t.Context())
	l.setState(draining)
	return l, sp
}

// records hands the loop each request's record, as Emit does.
func (l *loop) records(rqs ...*request) {
	for _, rq := range rqs {
		l.rq = rq
		l.handle(evRecord)
	}
}

// record is a record of 150 bytes named v.
func record(v string) item {
	return item{msg: kafka.Message{Topic: "tweets", Value: append([]byte(v+" "), bytes.Repeat([]byte("x"), 149-len(v))...)}}
}

// name is the name of a record made by record.
func name(v []byte) string { return string(v[:bytes.IndexByte(v, ' ')]) }

func ask(it item) *request { return &request{it: it, reply: make(chan error, 1)} }

// TestWaitingForRoomThenSpoolEmpties: a record waits for room in a full
// spool while it drains; the spool empties, and the record goes to memory
// ahead of the records queued meanwhile, never behind them. A record whose
// Emit gave up while it waited goes nowhere.
func TestWaitingForRoomThenSpoolEmpties(t *testing.T) {
	l, sp := newDrainingLoop(t, 300, 200)
	waiter, quitter := ask(record("waiter")), ask(record("quitter"))
	l.records(waiter, quitter)
	if len(l.waiting) != 2 || len(waiter.reply) != 0 {
		t.Fatalf("%d records wait for room, the first answered: %v; want both waiting, unanswered", len(l.waiting), len(waiter.reply) != 0)
	}
	if !quitter.claim.CompareAndSwap(requestOpen, requestAbandoned) {
		t.Fatal("the loop holds the claim of a record waiting for room; want Emit able to give up on it")
	}
	l.p.queue <- record("later")

	l.sent = 1 // the drainer sent the spool's one record
	l.handle(evBatchSent)

	if l.state != sending {
		t.Fatalf("state %s; want sending once the spool is empty", l.state)
	}
	select {
	case err := <-waiter.reply:
		if err != nil {
			t.Fatalf("the waiter's answer: %v; want nil (in memory)", err)
		}
	default:
		t.Fatal("the waiter was not answered once the spool was empty")
	}
	batch := l.fill(nil)
	var got []string
	for _, it := range batch {
		got = append(got, name(it.msg.Value))
	}
	if len(got) != 2 || got[0] != "waiter" || got[1] != "later" {
		t.Fatalf("memory sends %q; want the waiter, then the record queued after it", got)
	}
	if len(quitter.reply) != 0 {
		t.Fatal("the record Emit gave up on was answered")
	}
	if !sp.Empty() {
		t.Fatalf("the spool holds %d records; want none", sp.Len())
	}
}

// TestWaitingForRoomThenRoom: records that wait for room in the spool go to
// it, oldest first, when a drained batch makes room, before the records
// that came after them.
func TestWaitingForRoomThenRoom(t *testing.T) {
	l, sp := newDrainingLoop(t, 400, 150, 150)
	first, second := ask(record("first")), ask(record("second"))
	l.records(first, second)
	if len(l.waiting) != 2 {
		t.Fatalf("%d records wait for room; want 2", len(l.waiting))
	}
	l.sent = 1
	l.handle(evBatchSent) // room for one; the spool holds more: the next batch goes out
	l.stop()
	if d := <-l.drains; d.err == nil {
		t.Fatal("the drainer sent a batch to an unreachable Kafka")
	}
	if l.state != draining || len(l.waiting) != 1 || len(first.reply) != 1 || len(second.reply) != 0 {
		t.Fatalf("state %s, %d waiting, first answered %v, second %v; want draining, the second waiting, the first spooled",
			l.state, len(l.waiting), len(first.reply) == 1, len(second.reply) == 1)
	}
	recs, err := sp.Peek(10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(recs); n != 2 || name(recs[1].Value) != "first" {
		t.Fatalf("the spool holds %d records, the last %.10q; want 2, the first waiter last", n, recs[n-1].Value)
	}
}
