package publish

// The spool: when Kafka is unreachable for longer than the memory queue
// (PENDING_MAX records) can cover, records go to a durable FIFO on disk
// (SPOOL_DIR) instead of stopping the source. Spooling begins with
// everything not yet acknowledged, in the source's order: copies of the
// records in flight (kafka-go keeps trying them), then the queued ones;
// every new record follows. So the spool alone holds, in order, all that a
// stop or a crash could lose or reorder. When Kafka answers again the
// flights land first, their copies are removed from the spool unsent, and
// Run drains the rest, oldest first, then returns to the memory queue. A
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

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// spoolIfSpooling appends it to the spool while the spool holds records.
func (p *Publisher) spoolIfSpooling(ctx context.Context, it item) (bool, error) {
	if p.spool == nil {
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.spooling {
		return false, nil
	}
	if err := p.spoolAppend(ctx, it); err != errDrained {
		return true, err
	}
	return false, nil
}

// errDrained is spoolAppend's answer when the spool was drained while the
// record waited for room in it.
var errDrained = errors.New("spool drained while waiting for room")

// startSpooling asks Run's loop to begin spooling (beginSpooling) and waits
// until it has, or could not.
func (p *Publisher) startSpooling(ctx context.Context) {
	p.mu.Lock()
	on := p.spooling
	p.mu.Unlock()
	if on {
		return
	}
	reply := make(chan struct{})
	select {
	case p.spoolReq <- reply:
	case <-ctx.Done():
		return
	case <-p.loopDone:
		return
	}
	select {
	case <-reply:
	case <-ctx.Done():
	}
}

// beginSpooling runs in Run's loop, so that no batch is half taken from the
// queue: the spool takes copies of the records in flight, then held (a
// batch taken from the queue and not handed over), the backlog and the
// queue, in one append, and new records follow. When they do not fit, held,
// the backlog and the queue become the backlog (sent before anything
// queued later) and spooling waits.
func (p *Publisher) beginSpooling(held []item) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	moved := p.takeQueued(append(held, p.backlog...))
	var recs []spool.Record
	copies := make([]int, len(p.unlanded))
	if !p.spooling {
		for i, fl := range p.unlanded {
			// The records dispatch handed to kafka-go (a slot with its
			// flight): set before the flight was added to p.unlanded,
			// unlike drop, which the acker may set meanwhile.
			for j := range fl.items {
				if fl.slots[j].fl != nil {
					recs = append(recs, toSpool(fl.items[j].msg))
					copies[i]++
				}
			}
		}
	}
	recs = appendSpoolRecords(recs, moved)
	if err := p.spool.Append(recs...); err != nil {
		p.backlog = moved
		if errors.Is(err, spool.ErrFull) {
			if !p.tooSmallLogged {
				p.tooSmallLogged = true
				p.log.Warn("Kafka is unreachable and the memory queue is full, but the spool cannot take the records held in memory; waiting for Kafka (raise SPOOL_MAX_BYTES)",
					"records", len(recs), "spool_dir", p.cfg.SpoolDir)
			}
			return nil
		}
		return fmt.Errorf("spooling to %s: %w", p.cfg.SpoolDir, err)
	}
	p.backlog = nil
	p.Stats.Spooled.Add(int64(len(recs)))
	if !p.spooling {
		n := 0
		for i, fl := range p.unlanded {
			fl.copied, fl.ncopies = true, copies[i]
			n += copies[i]
		}
		// The spool holds them all now: acknowledge them, in order.
		for _, fl := range p.unlanded {
			if !fl.acked {
				fl.acked = true
				ackSources(fl.items)
			}
		}
		p.landed = 0
		p.spooling = true
		p.log.Warn("Kafka is unreachable and the memory queue is full: spooling to disk", "spool_dir", p.cfg.SpoolDir,
			"pending", p.Stats.Pending.Load(), "in_flight_copied", n, "queued_moved", len(moved))
	}
	ackSources(moved)
	for _, it := range moved {
		if it.drop {
			p.Stats.Pending.Add(-1) // never sent: not pending any more
		}
	}
	select {
	case p.spoolKick <- struct{}{}:
	default:
	}
	return nil
}

// removeLandedCopies removes from the spool's head the copies of flights
// Kafka has acknowledged since spooling began: they are not sent again.
func (p *Publisher) removeLandedCopies() error {
	p.mu.Lock()
	n := p.landed
	p.mu.Unlock()
	if n == 0 {
		return nil
	}
	if err := p.spool.Remove(int(n)); err != nil {
		return fmt.Errorf("removing from the spool in %s the copies of records Kafka acknowledged: %w", p.cfg.SpoolDir, err)
	}
	p.mu.Lock()
	p.landed -= n
	p.mu.Unlock()
	return nil
}

// spoolAppend writes it to the spool (p.mu held). A full spool waits for
// room (Run drains it once Kafka is back); when Run drains it completely
// meanwhile, spooling is over and errDrained says so: the record goes to
// the memory queue, ahead of the records after it, not into the spool
// behind them. A write error stops the producer.
func (p *Publisher) spoolAppend(ctx context.Context, it item) error {
	if it.drop {
		if it.ack != nil {
			it.ack() // everything before it is acknowledged: see the header
		}
		return nil
	}
	rec := toSpool(it.msg)
	for {
		err := p.spool.Append(rec)
		if err == nil {
			break
		}
		if !errors.Is(err, spool.ErrFull) {
			return fmt.Errorf("spooling to %s: %w", p.cfg.SpoolDir, err)
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			p.mu.Lock()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		p.mu.Lock()
		if !p.spooling {
			return errDrained
		}
	}
	if it.ack != nil {
		it.ack() // durable now, and everything before it is acknowledged
	}
	p.Stats.Pending.Add(1)
	p.Stats.Spooled.Add(1)
	select {
	case p.spoolKick <- struct{}{}:
	default:
	}
	return nil
}

// spoolPending reports whether the spool holds records to send.
func (p *Publisher) spoolPending() bool {
	return p.spool != nil && !p.spool.Empty()
}

// drainSpool sends one batch from the head of the spool, then removes it
// (its records were acknowledged to the source when spooled). Run calls it
// once every flight has landed, so the copies of the flights go first,
// unsent.
func (p *Publisher) drainSpool(ctx context.Context) error {
	if err := p.removeLandedCopies(); err != nil {
		return err
	}
	if !p.spool.Empty() {
		recs, err := p.spool.Peek(p.cfg.BatchSize, int(p.cfg.BatchBytes))
		if err != nil {
			return fmt.Errorf("reading the spool in %s: %w", p.cfg.SpoolDir, err)
		}
		batch := make([]item, len(recs))
		for i, r := range recs {
			batch[i] = item{msg: fromSpool(r), kind: kindOf(r)}
		}
		if err := p.write(ctx, batch); err != nil {
			if errors.Is(err, errStopped) {
				return nil // still in the spool: sent at the next start
			}
			return err
		}
		if err := p.spool.Remove(len(recs)); err != nil {
			return fmt.Errorf("removing sent records from the spool in %s: %w", p.cfg.SpoolDir, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spool.Empty() && p.spooling {
		p.spooling = false
		p.log.Info("spool drained: back to the memory queue", "spooled_total", p.Stats.Spooled.Load())
	}
	return nil
}

// spoolAtStop spools what a stop found waiting in memory and not in the
// spool yet: flights not copied, the batch being handed over, the backlog
// and the queue. Nothing accepted is lost; it is sent at the next start.
// Copies of flights Kafka acknowledged meanwhile are removed first.
func (p *Publisher) spoolAtStop(held []item) error {
	if err := p.removeLandedCopies(); err != nil {
		return err
	}
	items := p.takeQueued(held)
	recs := appendSpoolRecords(nil, items)
	if len(recs) > 0 {
		if err := p.spool.Append(recs...); err != nil {
			return fmt.Errorf("stopped with %d messages not acknowledged by Kafka, and spooling them to %s failed: %w", len(recs), p.cfg.SpoolDir, err)
		}
	}
	p.mu.Lock()
	ackSources(items) // durable now; the acker has returned
	p.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	p.Stats.Spooled.Add(int64(len(recs)))
	p.log.Warn("stopped before Kafka acknowledged everything: spooled the rest; it is sent at the next start",
		"count", len(recs), "spool_dir", p.cfg.SpoolDir)
	return nil
}

// takeQueued appends to items what the queue holds now, without waiting.
func (p *Publisher) takeQueued(items []item) []item {
	for {
		select {
		case it := <-p.queue:
			items = append(items, it)
		default:
			return items
		}
	}
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
