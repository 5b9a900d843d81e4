package publish

// The spool: when Kafka is unreachable for longer than the memory queue
// (PENDING_MAX records) can cover, records go to a durable FIFO on disk
// (SPOOL_DIR) instead of stopping the source. Spooling begins with
// everything not yet acknowledged, in the source's order: copies of the
// records in flight (kafka-go keeps trying them), then the queued ones;
// every new record follows. So the spool alone holds, in order, all that a
// stop or a crash could lose or reorder. When Kafka answers again the
// flights land first, their copies are removed from the spool unsent, and
// the loop drains the rest, oldest first, then returns to the memory queue. A
// spool left by an earlier run is drained first (copies whose flights had
// landed are sent again then, and the consumer's dedup window drops them).
// Records still in memory when a stop gives up waiting for Kafka and not
// spooled yet are spooled too, so a stop loses nothing.
//
// Sources are acknowledged once a record is durable: once Kafka holds it,
// or once the spool does (its Append fsynced), whichever comes first, and
// always in the order they were emitted. When spooling begins, the copies
// of the flights and the queued records reach the disk in one append, and
// all are acknowledged then, flights first; each later record is
// acknowledged as its append returns, and a dropped one (not JSON, no
// control topic) at once, as everything before it is acknowledged already.
// So a restart resumes the source after what the spool holds, instead of
// reading it again, and no acknowledgement waits in memory while spooling.
// A crash between Kafka's acknowledgement and the spool's Remove sends
// those records again, and the consumer's dedup window drops the copies.
//
// Run's loop alone appends to the spool and removes from it (loop.go), so
// no append can slip between the copies of the flights and the queue, and
// no record can wait for room in the spool while the loop drains it and
// goes back to the memory queue: the records waiting for room are the
// loop's, oldest first, and go to memory ahead of anything later when the
// spool empties. The drainer only writes a batch the loop read from the
// spool, and says when Kafka holds it.

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// spoolMemory appends to the spool copies of the records in flight, then
// the backlog and the queue, in one append, and acknowledges them, in
// order. When they do not fit, what it took from memory waits in l.moved
// for acBacklog.
func (l *loop) spoolMemory() event {
	p := l.p
	moved := l.takeQueued(l.backlog)
	l.backlog = nil
	var recs []spool.Record
	for _, fl := range l.unlanded {
		for _, m := range fl.sent {
			recs = append(recs, toSpool(m))
		}
	}
	recs = appendSpoolRecords(recs, moved)
	if err := p.spool.Append(recs...); err != nil {
		l.moved = moved
		if errors.Is(err, spool.ErrFull) {
			return evSpoolTooSmall
		}
		l.err = fmt.Errorf("spooling to %s: %w", p.cfg.SpoolDir, err)
		return evFailed
	}
	p.Stats.Spooled.Add(int64(len(recs)))
	n := 0
	for _, fl := range l.unlanded {
		fl.copied = true
		n += len(fl.sent)
		ackSources(fl.items) // the spool holds them now: in order, flights first
	}
	l.copies = 0
	p.log.Warn("Kafka does not take the records (unreachable, or refusing them: see the last write failure) and the memory queue is full: spooling to disk", "spool_dir", p.cfg.SpoolDir,
		"pending", p.Stats.Pending.Load(), "in_flight_copied", n, "queued_moved", len(moved))
	ackSources(moved)
	for _, it := range moved {
		if it.drop {
			p.Stats.Pending.Add(-1) // never sent: not pending any more
		}
	}
	if len(l.unlanded) > 0 {
		return evSpooledFlightsOut
	}
	return evSpooledNoFlights
}

// keepBacklog gives back to memory what spoolMemory could not spool: it is
// sent before anything queued later.
func (l *loop) keepBacklog() {
	l.backlog, l.moved = l.moved, nil
	if !l.tooSmallLogged {
		l.tooSmallLogged = true
		l.p.log.Warn("Kafka does not take the records and the memory queue is full, but the spool cannot take the records held in memory; waiting for Kafka (raise SPOOL_MAX_BYTES)",
			"records", len(l.backlog), "spool_dir", l.p.cfg.SpoolDir)
	}
}

// spoolQueued spools what the memory queue holds: records an Emit queued
// before the spool took records, older than any request after it.
func (l *loop) spoolQueued() {
	for {
		select {
		case it := <-l.p.queue:
			l.appendRecord(&request{it: it, queued: true})
		default:
			return
		}
	}
}

// appendRecord spools rq's record behind those waiting for room, if any.
func (l *loop) appendRecord(rq *request) {
	if len(l.waiting) > 0 || !l.tryAppend(rq) {
		l.waiting = append(l.waiting, rq)
	}
}

// tryAppend writes rq's record to the spool and acknowledges it: everything
// before it is acknowledged already (see the header). A dropped record
// (not JSON, no control topic) is only acknowledged. It returns false when
// the spool is full: the record waits for room, and its Emit may give up.
// A write error goes to its Emit; for a record from the queue, to Run.
func (l *loop) tryAppend(rq *request) bool {
	if !rq.take() {
		return true // Emit gave up on it
	}
	p, it := l.p, rq.it
	if !it.drop {
		err := p.spool.Append(toSpool(it.msg))
		if errors.Is(err, spool.ErrFull) {
			rq.claim.Store(requestOpen)
			return false
		}
		if err != nil {
			err = fmt.Errorf("spooling to %s: %w", p.cfg.SpoolDir, err)
			if rq.queued {
				l.err = err
			}
			rq.answer(err)
			return true
		}
		p.Stats.Spooled.Add(1)
		if !rq.queued {
			p.Stats.Pending.Add(1)
		}
	} else if rq.queued {
		p.Stats.Pending.Add(-1) // never sent: not pending any more
	}
	if it.ack != nil {
		it.ack()
	}
	rq.answer(nil)
	return true
}

// appendWaiting spools the records that waited for room, oldest first,
// while there is room.
func (l *loop) appendWaiting() {
	for len(l.waiting) > 0 && l.tryAppend(l.waiting[0]) {
		l.waiting[0] = nil
		l.waiting = l.waiting[1:]
	}
}

// unpark gives the records that waited for room in the spool, which is
// empty now, to memory, ahead of every later record.
func (l *loop) unpark() {
	for _, rq := range l.waiting {
		if !rq.take() {
			continue
		}
		l.backlog = append(l.backlog, rq.it)
		if !rq.queued {
			l.p.Stats.Pending.Add(1)
		}
		rq.answer(nil)
	}
	l.waiting = nil
}

// removeLandedCopies removes from the spool's head the copies of flights
// Kafka has acknowledged since spooling began: they are not sent again.
func (l *loop) removeLandedCopies() error {
	if l.copies == 0 {
		return nil
	}
	if err := l.p.spool.Remove(l.copies); err != nil {
		return fmt.Errorf("removing from the spool in %s the copies of records Kafka acknowledged: %w", l.p.cfg.SpoolDir, err)
	}
	l.copies = 0
	return nil
}

// drainNext removes the landed copies, then hands the drainer one batch
// from the head of the spool (its records were acknowledged to the source
// when spooled). No flight is out: the copies go first, unsent.
func (l *loop) drainNext() event {
	p := l.p
	if err := l.removeLandedCopies(); err != nil {
		l.err = err
		return evFailed
	}
	if p.spool.Empty() {
		return evSpoolEmpty
	}
	recs, err := p.spool.Peek(p.cfg.BatchSize, int(p.cfg.BatchBytes))
	if err != nil {
		l.err = fmt.Errorf("reading the spool in %s: %w", p.cfg.SpoolDir, err)
		return evFailed
	}
	batch := make([]item, len(recs))
	for i, r := range recs {
		batch[i] = item{msg: fromSpool(r), kind: kindOf(r)}
	}
	l.out = len(batch)
	go func() { l.drains <- drained{n: len(batch), err: p.write(l.work, batch)} }()
	return noEvent
}

// removeSent removes from the spool the n records of the batch Kafka holds.
func (l *loop) removeSent(n int) event {
	p := l.p
	if err := p.spool.Remove(n); err != nil {
		l.err = fmt.Errorf("removing sent records from the spool in %s: %w", p.cfg.SpoolDir, err)
		return evFailed
	}
	if p.spool.Empty() {
		if l.state == draining {
			p.log.Info("spool drained: back to the memory queue", "spooled_total", p.Stats.Spooled.Load())
		}
		return evSpoolEmpty
	}
	return evSpoolHoldsMore
}

// spoolHeld is the stop while records wait for Kafka: the flights the
// spool has no copies of, the backlog, the records that waited for room in
// the spool and the queue go to the spool when there is one (nothing
// accepted is lost; it is sent at the next start); otherwise Run reports
// how many records Kafka did not acknowledge.
func (l *loop) spoolHeld() {
	p := l.p
	var held []item
	for _, fl := range l.held {
		if !fl.copied {
			held = append(held, fl.items...)
		}
	}
	held = append(held, l.backlog...)
	l.backlog = nil
	var asked []*request
	for _, rq := range l.waiting {
		if rq.take() {
			held = append(held, rq.it)
			asked = append(asked, rq)
			if !rq.queued {
				p.Stats.Pending.Add(1)
			}
		}
	}
	l.waiting = nil
	held = l.takeQueued(held)
	if p.spool == nil {
		if n := p.Stats.Pending.Load(); n > 0 {
			l.err = fmt.Errorf("stopped with %d accepted messages not acknowledged by Kafka: %w", n, context.Cause(l.ctx))
		}
		return
	}
	if err := l.removeLandedCopies(); err != nil {
		l.err = err
		return
	}
	recs := appendSpoolRecords(nil, held)
	if len(recs) > 0 {
		if err := p.spool.Append(recs...); err != nil {
			l.err = fmt.Errorf("stopped with %d messages not acknowledged by Kafka, and spooling them to %s failed: %w", len(recs), p.cfg.SpoolDir, err)
			for _, rq := range asked {
				rq.answer(ErrClosed)
			}
			return
		}
	}
	ackSources(held) // durable now
	for _, rq := range asked {
		rq.answer(nil)
	}
	if len(recs) == 0 {
		return
	}
	p.Stats.Spooled.Add(int64(len(recs)))
	p.log.Warn("stopped before Kafka acknowledged everything: spooled the rest; it is sent at the next start",
		"count", len(recs), "spool_dir", p.cfg.SpoolDir)
}

// appendSpoolRecords appends the spool records of items, those not dropped.
func appendSpoolRecords(recs []spool.Record, items []item) []spool.Record {
	for _, it := range items {
		if !it.drop {
			recs = append(recs, toSpool(it.msg))
		}
	}
	return recs
}

func toSpool(m kafka.Message) spool.Record {
	r := spool.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Time: m.Time}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, spool.Header{Key: h.Key, Value: h.Value})
	}
	return r
}

func fromSpool(r spool.Record) kafka.Message {
	m := kafka.Message{Topic: r.Topic, Key: r.Key, Value: r.Value, Time: r.Time}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

func kindOf(r spool.Record) message.Kind {
	for _, h := range r.Headers {
		if h.Key == contract.HeaderKind {
			return message.Kind(h.Value)
		}
	}
	return message.KindUnknown
}
