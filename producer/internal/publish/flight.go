package publish

// Pipelining: Run hands each batch taken from the memory queue to kafka-go's
// writer in async mode (one call per batch, from one goroutine, so the
// records of a partition enter kafka-go's per-partition queue in the order
// the source emitted them) and goes on with the next batch while Kafka
// acknowledges the first. Up to maxFlights batches are in flight. The acker
// goroutine takes the flights in order, waits until kafka-go completed every
// message of the oldest, writes again (synchronously, with backoff, until
// Kafka takes them) the ones whose produce request failed after kafka-go's
// own attempts (a record the broker refused for good is settled on its own,
// reject.go), and only then acknowledges the flight's records to the
// source, in order (unless the spool took copies of them first, spool.go).
// A synchronous call per batch, as before, left the connection idle while
// each batch's last partial request waited for its linger and every
// acknowledgement came back; against Apache Kafka that halved the
// producer's throughput.
//
// Order within a partition holds unless a produce request fails after
// kafka-go's attempts: its records are written again after the ones behind
// them that succeeded. Each is still written (and archived) once.

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// flight is one batch kafka-go is writing: records taken from the memory
// queue in order, acknowledged to the source together.
type flight struct {
	items   []item
	slots   []slot        // per item; kafka-go carries a pointer to each as WriterData
	left    atomic.Int64  // messages kafka-go has not completed yet
	done    chan struct{} // closed when left reaches zero
	started time.Time
	// Set under p.mu when spooling began while the flight was out: its
	// records were copied to the spool, ncopies of them (those handed to
	// kafka-go; one refused later as too large is still one of them).
	copied  bool
	ncopies int
	// acked is set under p.mu once its records were acknowledged to their
	// sources: when it landed, or when the spool took copies of them.
	acked bool
}

// slot is one record's outcome, set once by kafka-go's completion callback
// (or by dispatch when kafka-go refused the call) before left is decremented.
type slot struct {
	fl  *flight
	err error
}

func (s *slot) complete(err error) {
	s.err = err
	if s.fl.left.Add(-1) == 0 {
		close(s.fl.done)
	}
}

// completed is the async writer's Completion callback: the outcome of one
// produce request (after kafka-go's own attempts) for the messages in it.
func (p *Publisher) completed(msgs []kafka.Message, err error) {
	if err == nil {
		p.Stats.Connected.Store(true)
	} else {
		p.Stats.WriteErrors.Add(1)
		p.Stats.Connected.Store(false)
	}
	for i := range msgs {
		if s, ok := msgs[i].WriterData.(*slot); ok {
			s.complete(err)
		}
	}
}

// dispatch hands batch to the async writer as one flight, first waiting for
// room among the flights in flight. It returns errStopped, with nothing
// handed over, when ctx ends while it waits.
func (p *Publisher) dispatch(ctx context.Context, batch []item) error {
	select {
	case p.inflight <- struct{}{}:
	case reply := <-p.spoolReq:
		// Every flight is waiting for Kafka and the queue is full: the
		// spool takes this batch, after copies of the flights.
		err := p.beginSpooling(batch)
		close(reply)
		return err
	case <-ctx.Done():
		return errStopped
	}
	fl := &flight{items: batch, slots: make([]slot, len(batch)), done: make(chan struct{}), started: time.Now()}
	msgs := make([]kafka.Message, 0, len(batch))
	for i := range batch {
		if batch[i].drop {
			continue
		}
		fl.slots[i].fl = fl
		m := batch[i].msg
		m.WriterData = &fl.slots[i]
		msgs = append(msgs, m)
	}
	fl.left.Store(int64(len(msgs)) + 1) // +1: held until every message is handed over
	p.mu.Lock()
	p.unlanded = append(p.unlanded, fl)
	p.mu.Unlock()
	p.flights <- fl // never blocks: p.inflight bounds the flights
	for len(msgs) > 0 {
		// An error means kafka-go queued nothing of this call: it checks
		// sizes and looks partitions up before it batches.
		err := p.w.WriteMessages(ctx, msgs...)
		if err == nil {
			break
		}
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			if j := slices.IndexFunc(msgs, func(m kafka.Message) bool { return sameMessage(m, tooLarge.Message) }); j >= 0 {
				msgs[j].WriterData.(*slot).complete(err) // the acker drops it
				msgs = slices.Delete(msgs, j, j+1)
				continue
			}
		}
		// Kafka unreachable (no metadata), or stopping: the acker writes
		// these synchronously, retrying until Kafka takes them or ctx ends.
		for _, m := range msgs {
			m.WriterData.(*slot).complete(err)
		}
		break
	}
	if fl.left.Add(-1) == 0 {
		close(fl.done)
	}
	return nil
}

// waitIdle returns once every flight is acknowledged (the spool is only
// drained then, as its records are newer), or errStopped when ctx ends. It
// holds every in-flight token for a moment, and gives back only those it
// took: the others belong to flights the acker has yet to acknowledge, and
// it takes one back after each.
func (p *Publisher) waitIdle(ctx context.Context) error {
	taken := 0
	defer func() {
		for range taken {
			<-p.inflight
		}
	}()
	for range cap(p.inflight) {
		select {
		case p.inflight <- struct{}{}:
			taken++
		case <-ctx.Done():
			return errStopped
		}
	}
	return nil
}

// acker acknowledges the flights in order until p.flights is closed and
// empty. When ctx ends first it reports stopped, with the records of the
// flights it had not acknowledged, oldest first, for the stop to spool or
// report: those the spool does not hold already.
func (p *Publisher) acker(ctx context.Context) (held []item, stopped bool) {
	for fl := range p.flights {
		if err := p.land(ctx, fl); err != nil {
			rest := []*flight{fl}
			for fl := range p.flights {
				rest = append(rest, fl)
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, fl := range rest {
				if !fl.copied {
					held = append(held, fl.items...)
				}
			}
			return held, true
		}
		p.mu.Lock()
		p.unlanded = p.unlanded[1:]
		if fl.copied {
			p.landed += int64(fl.ncopies)
		}
		p.mu.Unlock()
		<-p.inflight
	}
	return nil, false
}

// land waits for fl, writes again what failed, and acknowledges fl's
// records. It returns errStopped when ctx ends before Kafka holds them all.
func (p *Publisher) land(ctx context.Context, fl *flight) error {
	select {
	case <-fl.done:
	case <-ctx.Done():
		return errStopped
	}
	var retry, refused []int
	for i := range fl.slots {
		s := &fl.slots[i]
		switch {
		case s.fl == nil || s.err == nil:
		case isTooLarge(s.err):
			p.dropTooLarge(&fl.items[i], s.err)
		case refusalReason(s.err) != "":
			refused = append(refused, i)
		default:
			retry = append(retry, i)
		}
	}
	if len(refused) > 0 {
		again, err := p.settleRefused(ctx, fl.items, refused)
		if err != nil {
			return err
		}
		retry = append(retry, again...)
		slices.Sort(retry)
	}
	if len(retry) > 0 {
		p.Stats.Retries.Add(int64(len(retry)))
		p.log.Warn("kafka write failed; retrying", "count", len(retry), "error", fl.slots[retry[0]].err)
		if err := p.send(ctx, fl.items, retry); err != nil {
			return err
		}
		p.log.Info("kafka write recovered", "count", len(retry))
	}
	if p.cfg.ObserveBatch != nil && len(fl.items) > 0 {
		p.cfg.ObserveBatch(time.Since(fl.started))
	}
	p.count(fl.items)
	p.mu.Lock()
	if !fl.acked { // else acknowledged when the spool took copies
		fl.acked = true
		ackSources(fl.items)
	}
	p.mu.Unlock()
	return nil
}
