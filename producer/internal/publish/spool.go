package publish

// The spool: when Kafka is unreachable for longer than the memory queue
// (PENDING_MAX records) can cover, new records go to a durable FIFO on disk
// (SPOOL_DIR) instead of stopping the source, and every record after them
// goes there too, so order is kept: memory queue first, then the spool. When
// Kafka answers again Run drains the spool, oldest first, and only then
// returns to the memory queue. A spool left by an earlier run is drained
// first. Records still in memory when a stop gives up waiting for Kafka are
// spooled too (after what the spool holds), so a stop loses nothing; they
// are sent at the next start.
//
// Sources are acknowledged once Kafka holds a record, spooled or not; a
// crash between Kafka's acknowledgement and the spool's Remove sends those
// records again, and the consumer's dedup window drops the copies.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// spoolAck is the acknowledgement owed for one record handed over while
// spooling: spooled ones are acknowledged when Kafka holds them, dropped
// ones (not JSON, no control topic) once everything before them is.
type spoolAck struct {
	ack     func()
	spooled bool
}

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

// startSpooling switches new records to the spool.
func (p *Publisher) startSpooling() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.spooling {
		p.spooling = true
		p.log.Warn("Kafka is unreachable and the memory queue is full: spooling to disk", "spool_dir", p.cfg.SpoolDir, "pending", p.Stats.Pending.Load())
	}
}

// spoolAppend writes it to the spool (p.mu held). A full spool waits for
// room (Run drains it once Kafka is back); when Run drains it completely
// meanwhile, spooling is over and errDrained says so: the record goes to
// the memory queue, ahead of the records after it, not into the spool
// behind them. A write error stops the producer.
func (p *Publisher) spoolAppend(ctx context.Context, it item) error {
	if it.drop {
		p.spoolAcks = append(p.spoolAcks, spoolAck{ack: it.ack})
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
	p.spoolAcks = append(p.spoolAcks, spoolAck{ack: it.ack, spooled: true})
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
// and acknowledges its records to the source.
func (p *Publisher) drainSpool(ctx context.Context) error {
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
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ackSpooled(len(recs))
	if p.spool.Empty() && p.spooling {
		p.spooling = false
		for _, a := range p.spoolAcks { // drops handed over after the last record
			if a.ack != nil {
				a.ack()
			}
		}
		p.spoolAcks = p.spoolAcks[:0]
		p.log.Info("spool drained: back to the memory queue", "spooled_total", p.Stats.Spooled.Load())
	}
	return nil
}

// ackSpooled acknowledges the n oldest spooled records (p.mu held). Records
// spooled by an earlier run have no acknowledgement owed.
func (p *Publisher) ackSpooled(n int) {
	if p.oldSpooled > 0 {
		k := min(int64(n), p.oldSpooled)
		p.oldSpooled -= k
		n -= int(k)
	}
	i := 0
	for ; i < len(p.spoolAcks) && (n > 0 || !p.spoolAcks[i].spooled); i++ {
		if p.spoolAcks[i].spooled {
			n--
		}
		if a := p.spoolAcks[i].ack; a != nil {
			a()
		}
	}
	p.spoolAcks = p.spoolAcks[i:]
}

// spoolAtStop spools what a stop found waiting in memory: the batch being
// written and the queue. Nothing accepted is lost; it is sent next start.
func (p *Publisher) spoolAtStop(held []item) error {
	var recs []spool.Record
	for _, it := range held {
		if !it.drop {
			recs = append(recs, toSpool(it.msg))
		}
	}
	for {
		select {
		case it := <-p.queue:
			if !it.drop {
				recs = append(recs, toSpool(it.msg))
			}
			continue
		default:
		}
		break
	}
	if len(recs) == 0 {
		return nil
	}
	if err := p.spool.Append(recs...); err != nil {
		return fmt.Errorf("stopped with %d messages not acknowledged by Kafka, and spooling them to %s failed: %w", len(recs), p.cfg.SpoolDir, err)
	}
	p.Stats.Spooled.Add(int64(len(recs)))
	p.log.Warn("stopped before Kafka acknowledged everything: spooled the rest; it is sent at the next start",
		"count", len(recs), "spool_dir", p.cfg.SpoolDir)
	return nil
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
		if h.Key == "kind" {
			return message.Kind(h.Value)
		}
	}
	return message.KindUnknown
}
