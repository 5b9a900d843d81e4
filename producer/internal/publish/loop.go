package publish

// Run's loop: the one goroutine that owns the publisher's state (state.go).
// It takes batches from the memory queue and hands them to kafka-go as
// flights, appends to the spool and removes from it, keeps the backlog and
// the records waiting for room in the spool, and acknowledges every record
// to its source, so acknowledgements go out in order by construction. The
// others send it events and touch none of that: Emit (a request, while the
// spool takes records or when the queue is full with Kafka away), the acker
// (a flight landed; flight.go), the drainer (a batch from the spool is in
// Kafka; spool.go), Close and ctx.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// request is a record Emit hands to the loop, or one the loop took from
// the memory queue while the spool takes records (reply nil).
type request struct {
	it     item
	away   bool       // Emit found the queue full while Kafka is unreachable
	queued bool       // taken from the memory queue: counted as pending already
	reply  chan error // nil, errNotTaken or an error; buffered, never blocks the loop
	claim  atomic.Int32
}

// A request's claim: who has it. The loop claims it to answer; Emit, to
// give up (its ctx ended, or the loop is gone) while it waits for room.
const (
	requestOpen int32 = iota
	requestTaken
	requestAbandoned
)

// take claims rq for the loop; false when Emit gave up on it. A record
// from the queue has no Emit waiting.
func (rq *request) take() bool {
	return rq.reply == nil || rq.claim.CompareAndSwap(requestOpen, requestTaken)
}

// answer tells Emit what became of its record (rq taken).
func (rq *request) answer(err error) {
	if rq.reply != nil {
		rq.reply <- err
	}
}

// errNotTaken is the loop's answer when a record is to go to the memory
// queue: Emit puts it there.
var errNotTaken = errors.New("not taken: the record goes to the memory queue")

// landing is the acker's report: a flight landed, or, once it stopped, the
// flights it did not land, oldest first.
type landing struct {
	fl   *flight
	held []*flight
}

// drained is the drainer's report on a batch from the spool: Kafka holds
// its n records, or err (errStopped) says ctx ended first.
type drained struct {
	n   int
	err error
}

// loop is the state Run's goroutine owns.
type loop struct {
	p     *Publisher
	ctx   context.Context
	work  context.Context // ctx, cancelled too once the loop has returned: the acker's and the drainer's
	stop  context.CancelFunc
	table *table
	state state

	flights     chan *flight // to the acker, in order; nil once closed
	landings    chan landing // from the acker; closed when it returns
	unlanded    []*flight    // handed to kafka-go and not landed yet, oldest first
	flyingBytes int64        // their records' wireSize
	notTaken    int          // of them, those kafka-go took none of: no flight goes to it meanwhile
	held        []*flight    // the acker's, once it stopped
	acked       bool         // the acker has returned

	backlog []item     // records given back to memory, sent before the queue
	moved   []item     // what acSpoolMemory took from memory and could not spool
	waiting []*request // records waiting for room in the spool, oldest first
	copies  int        // records at the spool's head copied from flights that have landed since
	drains  chan drained
	out     int // records of the batch the drainer sends; 0: none out

	closed         bool
	tooSmallLogged bool
	err            error // Run's answer

	// The payload of the event being handled.
	rq     *request
	landed *flight
	sent   int
}

func (p *Publisher) newLoop(ctx context.Context) *loop {
	work, stop := context.WithCancel(ctx)
	p.haltWhen(work.Done())
	return &loop{
		p:        p,
		ctx:      ctx,
		work:     work,
		stop:     stop,
		table:    newTable(transitions()),
		flights:  make(chan *flight, p.flightCap),
		landings: make(chan landing, p.flightCap+1),
		drains:   make(chan drained, 1),
	}
}

// noEvent is an action's answer when it has no outcome to handle.
const noEvent = numEvents

// handle takes l through event ev and the outcomes of its actions.
func (l *loop) handle(ev event) {
	for ev != noEvent {
		next, actions, ok := l.table.step(l.state, ev)
		if !ok {
			l.err = fmt.Errorf("publisher: event %s in state %s cannot happen", ev, l.state)
			l.setState(stopped)
			return
		}
		l.setState(next)
		ev = noEvent
		for _, a := range actions {
			if out := l.do(a); out != noEvent {
				ev = out
			}
		}
	}
}

func (l *loop) setState(s state) {
	l.state = s
	l.p.spooling.Store(s == spooling || s == draining)
}

// do runs one action and returns its outcome, or noEvent.
func (l *loop) do(a action) event {
	switch a {
	case acMemory:
		if l.rq.take() {
			l.rq.answer(errNotTaken)
		}
	case acAppend:
		l.appendRecord(l.rq)
	case acSpoolMemory:
		return l.spoolMemory()
	case acBacklog:
		l.keepBacklog()
	case acAckFlight:
		l.ackFlight(l.landed)
	case acDrainNext:
		return l.drainNext()
	case acRemoveSent:
		return l.removeSent(l.sent)
	case acAppendWaiting:
		l.appendWaiting()
	case acUnpark:
		l.unpark()
	case acWindDown:
		close(l.flights)
		l.flights = nil
	case acSpoolHeld:
		l.spoolHeld()
	case acFail:
		// l.err says why.
	}
	return noEvent
}

// run is the loop: it waits for the next event and handles it, until the
// state is stopped.
func (l *loop) run(start state, first []action) {
	l.setState(start)
	for _, a := range first {
		if out := l.do(a); out != noEvent {
			l.handle(out)
		}
	}
	p := l.p
	for l.state != stopped {
		if l.err != nil {
			l.handle(evFailed) // a record from the queue could not be spooled
			continue
		}
		if l.state == sending {
			l.dispatchReady()
			if l.closed && len(p.queue) == 0 && len(l.backlog) == 0 && len(l.unlanded) == 0 {
				l.handle(evIdle)
				continue
			}
		}
		if l.state == stopping && l.acked && l.out == 0 {
			l.handle(evQuiet)
			continue
		}
		var (
			queue    <-chan item
			landings <-chan landing
			drains   <-chan drained
			closed   <-chan struct{}
			done     <-chan struct{}
		)
		switch l.state {
		case sending:
			if l.mayDispatch() {
				queue = p.queue
			}
		case spooling, draining:
			queue = p.queue
		}
		if !l.acked {
			landings = l.landings
		}
		if l.out > 0 {
			drains = l.drains
		}
		if !l.closed {
			closed = p.closed
		}
		if l.state != stopping {
			done = l.ctx.Done()
		}
		select {
		case it := <-queue:
			if l.state == sending {
				l.dispatch(l.fill(append(l.newBatch(1), it)))
				continue
			}
			l.rq = &request{it: it, queued: true}
			l.handle(evRecord)
		case rq := <-p.requests:
			if rq.away {
				l.handle(evKafkaAway)
				if l.state == stopped { // spooling what memory held failed: l.err says why
					if rq.take() {
						rq.answer(ErrClosed)
					}
					continue
				}
			}
			if l.state == spooling || l.state == draining {
				l.spoolQueued() // older than rq
			}
			l.rq = rq
			l.handle(evRecord)
		case ld, ok := <-landings:
			switch {
			case !ok:
				l.acked = true
			case ld.fl == nil:
				l.held = ld.held
			default:
				if l.unlanded[0] != ld.fl {
					l.err = errors.New("publisher: a flight landed out of order")
					l.setState(stopped)
					continue
				}
				l.landed = ld.fl
				if len(l.unlanded) == 1 {
					l.handle(evLastLanded)
				} else {
					l.handle(evLanded)
				}
				l.landed = nil // it and its records are let go (a quiet stream lands no other for long)
			}
		case d := <-drains:
			l.out = 0
			if d.err != nil {
				l.handle(evBatchStopped)
			} else {
				l.sent = d.n
				l.handle(evBatchSent)
			}
		case <-closed:
			l.closed = true
		case <-done:
			l.handle(evStop)
		}
	}
}

// finish lets the acker and the drainer return once the loop has (on a
// failure they may still be waiting for Kafka), and waits for them. Emit's
// requests still waiting are told the publisher is closed.
func (l *loop) finish() {
	l.stop()
	if l.flights != nil {
		close(l.flights)
	}
	for range l.landings {
	}
	if l.out > 0 {
		<-l.drains
	}
	for _, rq := range l.waiting {
		if rq.take() {
			rq.answer(ErrClosed)
		}
	}
}

// newBatch is an empty batch with room for taken records and what the
// backlog and the queue hold now, up to BatchSize: a batch of BatchSize
// records for each record of a slow source (a live stream's) was most of
// what the producer allocated (a quarter of a megabyte a record at the
// defaults).
func (l *loop) newBatch(taken int) []item {
	return make([]item, 0, min(l.p.cfg.BatchSize, taken+len(l.backlog)+len(l.p.queue)))
}

// fill adds records given back (the backlog) and then queued ones to
// batch, without waiting, up to BatchSize.
func (l *loop) fill(batch []item) []item {
	if n := min(len(l.backlog), l.p.cfg.BatchSize-len(batch)); n > 0 {
		batch = append(batch, l.backlog[:n]...)
		clear(l.backlog[:n]) // the batch holds them now; the backing array would hold them on
		l.backlog = l.backlog[n:]
	}
	for len(batch) < l.p.cfg.BatchSize {
		select {
		case it := <-l.p.queue:
			batch = append(batch, it)
		default:
			return batch
		}
	}
	return batch
}

// Flights beyond maxFlights (New): at most flightsMost in all, each sent
// while those out hold under flightBytes by wireSize.
const (
	flightsMost = 16
	flightBytes = 4 << 20
)

// mayDispatch: a batch may go to kafka-go now. Fewer than maxFlights are
// out, or fewer than flightCap holding under flightBytes; and none that
// kafka-go did not take: the acker writes that one first, so that nothing
// of its partitions overtakes it (flight.go).
func (l *loop) mayDispatch() bool {
	out := len(l.unlanded)
	return l.notTaken == 0 && (out < l.p.maxFlights || out < l.p.flightCap && l.flyingBytes < flightBytes)
}

// dispatchReady hands what memory holds to kafka-go, a batch a flight,
// while mayDispatch.
func (l *loop) dispatchReady() {
	for l.mayDispatch() && (len(l.backlog) > 0 || len(l.p.queue) > 0) {
		if batch := l.fill(l.newBatch(0)); len(batch) > 0 {
			l.dispatch(batch)
		}
	}
}

// takeQueued appends to items what the queue holds now, without waiting.
func (l *loop) takeQueued(items []item) []item {
	for {
		select {
		case it := <-l.p.queue:
			items = append(items, it)
		default:
			return items
		}
	}
}

// ackFlight counts fl's records and acknowledges them to their sources, in
// order, unless the spool took copies of them (acknowledged then): those
// copies are removed unsent before the spool drains.
func (l *loop) ackFlight(fl *flight) {
	// The backing array would hold the landed flight, and its records,
	// until an append outgrew it: up to as many flights as were ever out
	// at once (80 MB of 5 KB statuses at 16 flights).
	l.unlanded[0] = nil
	l.unlanded = l.unlanded[1:]
	l.flyingBytes -= fl.bytes
	if fl.notTaken {
		l.notTaken--
	}
	l.p.count(fl.items)
	if fl.copied {
		l.copies += len(fl.sent)
		return
	}
	ackSources(fl.items)
}

// ackSources acknowledges each record of batch to its source, in order
// (the loop alone calls it).
func ackSources(batch []item) {
	for _, it := range batch {
		if it.ack != nil {
			it.ack()
		}
	}
}
