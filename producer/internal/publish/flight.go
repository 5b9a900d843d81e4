package publish

// Pipelining: Run's loop hands each batch taken from the memory queue to
// kafka-go's writer in async mode (one call per batch, from one goroutine,
// so the records of a partition enter kafka-go's per-partition queue in the
// order the source emitted them) and goes on with the next batch while
// Kafka acknowledges the first. Up to maxFlights batches are in flight,
// and up to flightCap while those hold under flightBytes (mayDispatch): the
// loop counts them and their bytes, and takes no batch from the queue
// while no more may go. The acker goroutine takes the flights in order, waits until kafka-go
// completed every message of the oldest, and only then tells the loop the
// flight landed; the loop acknowledges its records to the source, in order
// (unless the spool took copies of them first, spool.go).
// A synchronous call per batch, as before, left the connection idle while
// each batch's last partial request waited for its linger and every
// acknowledgement came back; against Apache Kafka that halved the
// producer's throughput.
//
// Order within a partition. kafka-go writes a partition's batches one at a
// time, from one goroutine per partition, each with its own attempts
// (MaxAttempts) before the next: a produce request is never overtaken by a
// later one of its partition while kafka-go retries it. When its attempts
// are spent, or the error is one kafka-go does not retry, it calls the
// completion callback and goes on to the partition's next batch. So the
// callback (settle) writes the failed batch again itself, synchronously,
// retrying until Kafka takes it (a record the broker refuses for good is
// settled on its own, reject.go), before it returns: the partition's later
// batches wait in kafka-go's queue meanwhile, and the other partitions go
// on. Writing it again after the callback returned, as the acker once did,
// let kafka-go write the later batches first. A batch kafka-go took none
// of (Kafka unreachable when it was handed over: no metadata) is written
// by the acker when it lands, and the loop hands kafka-go no later batch
// until it has (loop.go). When Run stops, the async writer's transport
// refuses every request (halt), so nothing of a partition reaches Kafka
// after a batch of it that was given up on: the spool sends them all, in
// order, at the next start.

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// flight is one batch kafka-go is writing: records taken from the memory
// queue in order, acknowledged to the source together. The loop builds it
// and hands it to the acker; from then on items are the acker's (it marks
// drops and retimes records), except their ack, which nobody writes; sent
// is never written again, and copied and notTaken are the loop's.
type flight struct {
	items   []item
	sent    []kafka.Message // the records handed to kafka-go, in order: what the spool copies
	slots   []slot          // per item; kafka-go carries a pointer to each as WriterData
	left    atomic.Int64    // messages kafka-go has not completed yet
	done    chan struct{}   // closed when left reaches zero
	started time.Time
	bytes   int64           // sent's wireSize
	ctx     context.Context // the loop's work: settle gives up when it ends
	// copied: spooling began while the flight was out; the spool took
	// copies of sent, and its records were acknowledged then.
	copied bool
	// notTaken: kafka-go took none of the records (WriteMessages failed);
	// the acker writes them, and no later flight goes to kafka-go before.
	notTaken bool
}

// slot is one record's outcome, set once by kafka-go's completion callback
// (or by dispatch when kafka-go refused the call) before left is decremented.
// When the callback wrote the record again, settled is what became of it,
// for the acker to copy to the flight's item: the callback works on copies,
// since the loop may read the items of a flight still out.
type slot struct {
	fl      *flight
	i       int // the item's index in fl.items
	err     error
	settled *settled
}

// settled is a record the completion callback wrote again (or dropped).
type settled struct {
	msg  kafka.Message
	drop bool
}

func (s *slot) complete(err error) {
	s.err = err
	if s.fl.left.Add(-1) == 0 {
		close(s.fl.done)
	}
}

// completed is the async writer's Completion callback: the outcome of one
// produce request (after kafka-go's own attempts) for the messages in it,
// one partition's batch. kafka-go calls it from the partition's goroutine
// before it writes the partition's next batch, so a failed batch is written
// again here (settle), and the next waits.
func (p *Publisher) completed(msgs []kafka.Message, err error) {
	if err == nil {
		p.Stats.Connected.Store(true)
		for i := range msgs {
			if s, ok := msgs[i].WriterData.(*slot); ok {
				s.complete(nil)
			}
		}
		return
	}
	p.Stats.WriteErrors.Add(1)
	p.Stats.Connected.Store(false)
	slots := make([]*slot, 0, len(msgs))
	for i := range msgs {
		if s, ok := msgs[i].WriterData.(*slot); ok {
			slots = append(slots, s)
		}
	}
	if len(slots) > 0 {
		err = p.settle(slots, err)
	}
	for _, s := range slots {
		s.complete(err)
	}
}

// settle writes again, in order and synchronously, the records of a batch
// kafka-go gave up on with err, retrying until Kafka takes them: a record
// the broker refuses for good is settled on its own (reject.go), one
// larger than a batch may be is dead-lettered. It records what became of each in its slot, and
// returns nil, or errStopped when Run stopped first.
func (p *Publisher) settle(slots []*slot, err error) error {
	ctx := slots[0].fl.ctx
	items := make([]item, len(slots))
	all := make([]int, len(slots))
	for j, s := range slots {
		items[j] = s.fl.items[s.i]
		all[j] = j
	}
	var retry []int
	switch {
	case ctx.Err() != nil:
		return errStopped
	case isTooLarge(err):
		for j := range items {
			if err := p.tooLarge(ctx, &items[j], err); err != nil {
				return err
			}
		}
	case refusalReason(err) != "":
		again, serr := p.settleRefused(ctx, items, all)
		if serr != nil {
			return serr
		}
		retry = again
	default:
		retry = all
	}
	if len(retry) > 0 {
		p.Stats.Retries.Add(int64(len(retry)))
		p.log.Warn("kafka write failed; retrying", append([]any{"count", len(retry), "error", err}, writeHint(err)...)...)
		if err := p.sendInOrder(ctx, items, retry); err != nil {
			return err
		}
		p.log.Info("kafka write recovered", "count", len(retry))
	}
	for j, s := range slots {
		s.settled = &settled{msg: items[j].msg, drop: items[j].drop}
	}
	return nil
}

// halt is the async writer's transport while Run runs: once stop is
// closed it refuses every request. A batch given up on when Run stopped
// must not be overtaken by the partition's later batches, which kafka-go
// would otherwise go on writing.
type halt struct {
	kafka.RoundTripper
	stop <-chan struct{}
}

func (h halt) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	select {
	case <-h.stop:
		return nil, errStopped
	default:
	}
	return h.RoundTripper.RoundTrip(ctx, addr, req)
}

// haltWhen makes the async writer refuse every request once stop is
// closed. Run calls it before anything is written.
func (p *Publisher) haltWhen(stop <-chan struct{}) {
	rt := p.w.Transport
	if rt == nil {
		rt = kafka.DefaultTransport
	}
	p.w.Transport = halt{RoundTripper: rt, stop: stop}
}

// dispatch hands batch to the async writer as one flight (the loop has
// checked that another may go out: mayDispatch).
func (l *loop) dispatch(batch []item) {
	fl := &flight{items: batch, slots: make([]slot, len(batch)), done: make(chan struct{}), started: time.Now(), ctx: l.work}
	msgs := make([]kafka.Message, 0, len(batch))
	for i := range batch {
		if batch[i].drop {
			continue
		}
		fl.slots[i].fl, fl.slots[i].i = fl, i
		m := batch[i].msg
		m.WriterData = &fl.slots[i]
		msgs = append(msgs, m)
		fl.bytes += wireSize(m)
	}
	fl.sent = msgs
	l.flyingBytes += fl.bytes
	fl.left.Store(int64(len(msgs)) + 1) // +1: held until every message is handed over
	l.unlanded = append(l.unlanded, fl)
	l.flights <- fl // never blocks: it holds no more than the flights out
	for len(msgs) > 0 {
		// An error means kafka-go queued nothing of this call: it checks
		// sizes and looks partitions up before it batches.
		l.p.wl.next()
		err := l.p.w.WriteMessages(l.ctx, msgs...)
		if err == nil {
			break
		}
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			if j := slices.IndexFunc(msgs, func(m kafka.Message) bool { return sameMessage(m, tooLarge.Message) }); j >= 0 {
				msgs[j].WriterData.(*slot).complete(err) // the acker drops it
				if len(msgs) == len(fl.sent) {
					msgs = slices.Clone(msgs) // fl.sent keeps them all
				}
				msgs = slices.Delete(msgs, j, j+1)
				continue
			}
		}
		// Kafka unreachable (no metadata), or stopping: the acker writes
		// these synchronously, retrying until Kafka takes them or ctx ends,
		// and later flights wait until it has.
		fl.notTaken = true
		l.notTaken++
		for _, m := range msgs {
			m.WriterData.(*slot).complete(err)
		}
		break
	}
	if fl.left.Add(-1) == 0 {
		close(fl.done)
	}
}

// acker lands the flights in order until flights is closed and empty, and
// tells the loop of each. When ctx ends first it reports the flights it
// had not landed, oldest first, for the stop to spool or report. It closes
// landings when it returns.
func (p *Publisher) acker(ctx context.Context, flights <-chan *flight, landings chan<- landing) {
	defer close(landings)
	for fl := range flights {
		if err := p.land(ctx, fl); err != nil {
			held := []*flight{fl}
			for fl := range flights {
				held = append(held, fl)
			}
			landings <- landing{held: held}
			return
		}
		landings <- landing{fl: fl}
	}
}

// land waits for fl and writes again what failed. It returns errStopped
// when ctx ends before Kafka holds them all.
func (p *Publisher) land(ctx context.Context, fl *flight) error {
	select {
	case <-fl.done:
	case <-ctx.Done():
		return errStopped
	}
	var retry, refused []int
	for i := range fl.slots {
		s := &fl.slots[i]
		if s.settled != nil {
			fl.items[i].msg, fl.items[i].drop = s.settled.msg, s.settled.drop
		}
		switch {
		case s.fl == nil || s.err == nil:
		case isTooLarge(s.err):
			if err := p.tooLarge(ctx, &fl.items[i], s.err); err != nil {
				return err
			}
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
		p.log.Warn("kafka write failed; retrying", append([]any{"count", len(retry), "error", fl.slots[retry[0]].err}, writeHint(fl.slots[retry[0]].err)...)...)
		if err := p.sendInOrder(ctx, fl.items, retry); err != nil {
			return err
		}
		p.log.Info("kafka write recovered", "count", len(retry))
	}
	if p.cfg.ObserveBatch != nil && len(fl.items) > 0 {
		p.cfg.ObserveBatch(time.Since(fl.started))
	}
	return nil
}

// sendInOrder writes batch[i] for each i in todo as send does, in parts
// small enough that kafka-go makes one produce request per partition of
// each (at most BatchSize records, and at most BatchBytes by wireSize),
// each part taken by Kafka before the next is written. One synchronous
// call with more would go to a partition as several requests, and kafka-go
// goes on to the next after giving up on one: the records send then wrote
// again would follow later ones of their partition. The drain writes the
// spool's batches so too (write).
func (p *Publisher) sendInOrder(ctx context.Context, batch []item, todo []int) error {
	for len(todo) > 0 {
		n, bytes := 0, int64(0)
		for n < len(todo) && (n == 0 || n < p.cfg.BatchSize) {
			b := wireSize(batch[todo[n]].msg)
			if n > 0 && bytes+b > p.cfg.BatchBytes {
				break
			}
			bytes += b
			n++
		}
		if err := p.send(ctx, batch, slices.Clone(todo[:n])); err != nil {
			return err
		}
		todo = todo[n:]
	}
	return nil
}

// wireSize is at least the size kafka-go counts for m against BatchBytes:
// key, value and headers, with the most their lengths and the record's
// fixed fields take.
func wireSize(m kafka.Message) int64 {
	n := 32 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return int64(n)
}
