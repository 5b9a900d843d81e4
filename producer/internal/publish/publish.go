// Package publish owns the Kafka writer: it classifies each record, routes it
// to the tweets or the control topic, writes it with acks from all in-sync
// replicas, retries what the broker did not take, and acknowledges records to
// their source only once Kafka (or, while Kafka is away, the spool) holds
// them.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/internal/retry"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// Stats are the publisher's running totals; safe to read at any time.
type Stats struct {
	In             atomic.Int64 // records the source emitted
	Statuses       atomic.Int64 // statuses acknowledged by Kafka
	Control        atomic.Int64 // control messages acknowledged by Kafka
	Bytes          atomic.Int64 // value bytes acknowledged by Kafka
	Invalid        atomic.Int64 // lines that are not a JSON object
	ControlDropped atomic.Int64 // control messages dropped (no control topic)
	WriteErrors    atomic.Int64 // failed produce attempts
	Pending        atomic.Int64 // records accepted but not yet acknowledged
	Retries        atomic.Int64 // messages written again after a failed attempt
	Spooled        atomic.Int64 // records written to the spool
	Retimed        atomic.Int64 // records sent with the time they were read as their timestamp
	Connected      atomic.Bool  // the last produce call succeeded
	ReceivedBytes  atomic.Int64 // value bytes the source emitted

	sent         sync.Map // sentKey -> *sentCount: acknowledged messages by topic and kind
	deadLettered sync.Map // reason -> *atomic.Int64: records Kafka refused for good
}

func (s *Stats) addDeadLettered(reason string) {
	v, ok := s.deadLettered.Load(reason)
	if !ok {
		v, _ = s.deadLettered.LoadOrStore(reason, &atomic.Int64{})
	}
	v.(*atomic.Int64).Add(1)
}

// EachDeadLettered calls fn with the records written to the dead-letter
// file for each reason so far.
func (s *Stats) EachDeadLettered(fn func(reason string, records int64)) {
	s.deadLettered.Range(func(k, v any) bool {
		fn(k.(string), v.(*atomic.Int64).Load())
		return true
	})
}

type sentKey struct{ topic, kind string }

type sentCount struct{ messages, bytes atomic.Int64 }

func (s *Stats) addSent(topic string, kind message.Kind, bytes int) {
	v, ok := s.sent.Load(sentKey{topic, string(kind)})
	if !ok {
		v, _ = s.sent.LoadOrStore(sentKey{topic, string(kind)}, &sentCount{})
	}
	c := v.(*sentCount)
	c.messages.Add(1)
	c.bytes.Add(int64(bytes))
}

// EachSent calls fn with the messages and bytes Kafka acknowledged for each
// topic and kind so far.
func (s *Stats) EachSent(fn func(topic, kind string, messages, bytes int64)) {
	s.sent.Range(func(k, v any) bool {
		key, c := k.(sentKey), v.(*sentCount)
		fn(key.topic, key.kind, c.messages.Load(), c.bytes.Load())
		return true
	})
}

type item struct {
	msg  kafka.Message
	kind message.Kind
	ack  func()
	drop bool      // counted and acknowledged in order, never written
	read time.Time // when the source read it (Record.Read) or Emit took it; zero for records read back from the spool
}

// Publisher routes and writes records. Emit feeds it; Run writes. Run's
// loop owns the state of the writing (state.go, loop.go); Emit reaches it
// through the queue and the requests alone.
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	w     *kafka.Writer // async: the memory queue's batches (flight.go)
	sw    *kafka.Writer // synchronous: writes again what failed, and the spool
	one   *kafka.Writer // synchronous, one record a request: records a broker refused (reject.go)
	wl    *lookups      // w's partition lookups, one a call (lookups.go)
	swl   *lookups      // sw's
	Stats *Stats

	queue    chan item     // Emit → the loop: records for the memory path
	requests chan *request // Emit → the loop: records while the spool takes them (spool.go)
	closed   chan struct{} // closed by Close
	loopDone chan struct{} // closed when Run's loop has returned

	spool      *spool.Spool
	start      state       // the state Run begins in
	spooling   atomic.Bool // the loop's state is spooling or draining: Emit asks it
	maxFlights int         // batches kafka-go may hold at once, whatever their size
	flightCap  int         // and at most, while those out hold under flightBytes (mayDispatch)

	invalidLogged int         // Emit's
	outsideLogged atomic.Bool // a record retimed for a time outside minRecordTime to maxRecordTime was logged
	limitsLogged  atomic.Bool // a record retimed for the topic's timestamp limits was logged

	// statusHeaders are the headers of every status, built once: nothing
	// writes to a record's headers in place (retime copies them first), so
	// the records share them, with no allocation per status.
	statusHeaders []kafka.Header
}

// New builds the publisher and its kafka-go Writer; it keeps its totals in
// stats (nil: its own). Nothing is dialled yet.
func New(cfg Config, stats *Stats, log *slog.Logger) (*Publisher, error) {
	if stats == nil {
		stats = &Stats{}
	}
	if cfg.Classify == nil {
		cfg.Classify = message.Classify
	}
	codec, err := Compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	writer := func(batchSize int) *kafka.Writer {
		return &kafka.Writer{
			Addr: kafka.TCP(cfg.Brokers...),
			// Every message names its topic (statuses or control).
			Balancer: &kafka.Murmur2Balancer{}, // same partition for a key as Java clients
			// kafka-go's default is RequireNone: fire and forget. The guarantee
			// needs every in-sync replica to hold a message before it counts.
			RequiredAcks: kafka.RequireAll,
			// kafka-go's default linger is 1 s; a synchronous call waits for it
			// whenever a partition's batch is not full.
			BatchTimeout: cfg.BatchTimeout,
			BatchSize:    batchSize,
			BatchBytes:   cfg.BatchBytes,
			Compression:  codec,
			WriteTimeout: cfg.WriteTimeout,
			ReadTimeout:  cfg.WriteTimeout,
			// A few quick retries inside kafka-go; the acker retries for ever on top.
			MaxAttempts:            3,
			WriteBackoffMin:        100 * time.Millisecond,
			WriteBackoffMax:        time.Second,
			AllowAutoTopicCreation: false, // EnsureTopics creates them with the configured partitions
			Transport:              cfg.Transport,
		}
	}
	// Batches in flight: enough to keep every partition's connection busy
	// while the oldest is acknowledged, and no more than PENDING_MAX records
	// beyond the queue's (at least two).
	maxFlights := max(2, cfg.PendingMax/max(1, cfg.BatchSize))
	// Beyond those, flights of small records: two flights of 1,000
	// Jetstream events (about 450 bytes each) are under 1 MB, and the
	// records in flight then bound the rate (each flight lands a linger and
	// a round trip after it went out, and the next waits for it): about
	// 250,000 a second here, with the CPU to spare. More flights go out
	// while those out hold less than flightBytes, so the memory in flight
	// stays about what two flights of 2 KB statuses hold.
	flightCap := max(maxFlights, flightsMost)
	// The async writer cuts a partition's batch at half KAFKA_BATCH_SIZE
	// records. A flight lands only once every one of its records is in
	// Kafka, and no more flights go out meanwhile; at whole batches, the
	// records in flight at the defaults (two flights of 1,000) spread over
	// three partitions fill none of their batches (1,000 records, or 1 MiB:
	// 700 statuses of 1.5 KB), which then wait out KAFKA_BATCH_TIMEOUT
	// while the source waits too. At half, they go as they fill.
	asyncBatch := max(1, cfg.BatchSize/2)
	p := &Publisher{
		cfg:        cfg,
		log:        log,
		w:          writer(asyncBatch),
		sw:         writer(cfg.BatchSize),
		one:        writer(1),
		Stats:      stats,
		queue:      make(chan item, cfg.PendingMax),
		requests:   make(chan *request),
		closed:     make(chan struct{}),
		loopDone:   make(chan struct{}),
		spool:      cfg.Spool,
		maxFlights: maxFlights,
		flightCap:  flightCap,
	}
	p.statusHeaders = p.headers(message.KindStatus)
	p.wl, p.swl = newLookups(cfg.Transport), newLookups(cfg.Transport)
	p.w.Transport, p.sw.Transport = p.wl, p.swl
	p.w.Async, p.w.Completion = true, p.completed
	p.start, _ = initial(p.spool == nil || p.spool.Empty())
	if p.start != sending {
		// An earlier run's records: they go first, and what comes now
		// goes to the spool behind them.
		n := p.spool.Len()
		p.spooling.Store(true)
		stats.Pending.Add(n)
		log.Info("the spool holds records from an earlier run; sending them first", "count", n, "spool_dir", cfg.SpoolDir)
	}
	return p, nil
}

// Compression maps KAFKA_COMPRESSION to kafka-go's codec.
func Compression(name string) (kafka.Compression, error) {
	switch name {
	case "none", "":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("KAFKA_COMPRESSION=%q: accepts none, gzip, snappy, lz4 or zstd", name)
}

// ErrClosed is returned by Emit after Close.
var ErrClosed = errors.New("publisher closed")

// Emit classifies one record (unless its source did: r.Classified) and
// queues it for Kafka, blocking while PendingMax records wait. It
// implements source.Emit.
func (p *Publisher) Emit(ctx context.Context, r source.Record) error {
	p.Stats.In.Add(1)
	p.Stats.ReceivedBytes.Add(int64(len(r.Value)))
	m, err := r.Classified, error(nil)
	if m.Kind == "" {
		m, err = p.cfg.Classify(r.Value)
	}
	m.Value = r.Value
	it := item{ack: r.Ack, kind: m.Kind, read: r.Read}
	if it.read.IsZero() {
		it.read = time.Now()
	}
	switch topic := p.cfg.Topics.For(string(m.Kind)); {
	case err != nil:
		p.Stats.Invalid.Add(1)
		p.logInvalid(r, err)
		it.drop = true
	case topic == "": // not a status, and no control topic
		p.Stats.ControlDropped.Add(1)
		it.drop = true
	default:
		it.msg = p.kafkaMessage(topic, m, it.read)
	}
	if it.drop && it.ack == nil {
		return nil
	}
	if p.spooling.Load() {
		if taken, err := p.ask(ctx, it, false); taken || err != nil {
			return err
		}
	}
	select {
	case p.queue <- it:
		p.Stats.Pending.Add(1)
		return nil
	default:
	}
	// The queue is full: wait for room, or, while Kafka is unreachable and
	// a spool is configured, spool.
	var tick <-chan time.Time
	if p.spool != nil {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case p.queue <- it:
			p.Stats.Pending.Add(1)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-p.closed:
			return ErrClosed
		case <-tick:
			away := !p.Stats.Connected.Load()
			if !away && !p.spooling.Load() {
				continue
			}
			if taken, err := p.ask(ctx, it, away); taken || err != nil {
				return err
			}
		}
	}
}

// ask hands it to Run's loop, which spools it while the spool takes
// records (and begins spooling first when away: the queue is full and
// Kafka unreachable). It reports false, with no error, when the record is
// to go to the memory queue instead. While the record waits for room in a
// full spool, Emit may give up on it when ctx ends.
func (p *Publisher) ask(ctx context.Context, it item, away bool) (bool, error) {
	rq := &request{it: it, away: away, reply: make(chan error, 1)}
	select {
	case p.requests <- rq:
	case <-ctx.Done():
		return false, ctx.Err()
	case <-p.loopDone:
		return false, ErrClosed
	}
	for {
		select {
		case err := <-rq.reply:
			return answered(err)
		case <-ctx.Done():
		case <-p.loopDone:
		}
		if rq.claim.CompareAndSwap(requestOpen, requestAbandoned) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, ErrClosed
		}
		// The loop is writing it to the spool at this moment: its answer
		// comes, or the record waits for room again.
		select {
		case err := <-rq.reply:
			return answered(err)
		case <-time.After(time.Millisecond):
		}
	}
}

// answered is ask's answer for the loop's reply.
func answered(err error) (bool, error) {
	if errors.Is(err, errNotTaken) {
		return false, nil
	}
	return true, err
}

// Record times outside these are sent as the time the record was read (its
// own time in the post_time header), whatever the topic's limits: Kafka's
// clients take no timestamp before 1970 (a negative one means none), and
// the spool keeps years 1 to 9999.
var (
	minRecordTime = time.Unix(0, 0)
	maxRecordTime = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
)

// kafkaMessage builds m's Kafka record. Its timestamp is m's own time, or
// read when it has none, when it is further ahead of read than
// MaxTimestampAhead, or behind it than MaxTimestampBehind, or when it is
// outside minRecordTime to maxRecordTime (its own time then goes in the
// post_time header).
func (p *Publisher) kafkaMessage(topic string, m message.Message, read time.Time) kafka.Message {
	t := m.Time
	if t.IsZero() {
		t = read
	}
	hs := p.statusHeaders
	if m.Kind != message.KindStatus || hs == nil {
		hs = p.headers(m.Kind)
	}
	km := kafka.Message{
		Topic:   topic,
		Key:     m.Key,
		Value:   m.Value,
		Time:    t,
		Headers: hs,
	}
	outside := t.Before(minRecordTime) || t.After(maxRecordTime)
	ahead, behind := p.cfg.RetimeAhead > 0 && t.Sub(read) > p.cfg.RetimeAhead, p.cfg.RetimeBehind > 0 && read.Sub(t) > p.cfg.RetimeBehind
	if !outside && !ahead && !behind {
		return km
	}
	retime(&km, read)
	p.Stats.Retimed.Add(1)
	// Each reason is logged the first time it comes, whatever was retimed
	// before it.
	switch {
	case outside && p.outsideLogged.CompareAndSwap(false, true):
		p.log.Warn("a record's own time is outside the years 1970 to 9999 that Kafka's clients and the spool take: it is sent with the time it was read, its own time in the "+PostTimeHeader+" header (counted, logged once)",
			"topic", topic, "key", string(m.Key), "post_time", t.UTC().Format(postTimeLayout), "read", read.UTC().Format(postTimeLayout))
	case !outside && p.limitsLogged.CompareAndSwap(false, true):
		p.log.Warn("a record's own time is further from the time it was read than the topic accepts: it is sent with the time it was read, its own time in the "+PostTimeHeader+" header (counted, logged once)",
			"topic", topic, "key", string(m.Key), "post_time", t.UTC().Format(postTimeLayout), "read", read.UTC().Format(postTimeLayout),
			"max_ahead", p.cfg.RetimeAhead, "max_behind", p.cfg.RetimeBehind)
	}
	return km
}

// headers are the headers of a record of this kind. The slice is full
// (len == cap), so an append never writes into a shared one.
func (p *Publisher) headers(kind message.Kind) []kafka.Header {
	return []kafka.Header{
		{Key: contract.HeaderSource, Value: []byte(p.cfg.SourceName)},
		{Key: contract.HeaderKind, Value: []byte(kind)},
	}
}

// logInvalid logs a record that is not a JSON object: the first five in
// full, then that more come. Each names where its source read it, when the
// source says (replay's file and line number).
func (p *Publisher) logInvalid(r source.Record, err error) {
	const full = 5
	p.invalidLogged++
	var where []any
	if r.From != "" {
		where = []any{"file", r.From, "line_number", r.Line}
	}
	switch {
	case p.invalidLogged <= full:
		p.log.Warn("line is not a JSON object, skipped", append([]any{"error", err, "line", string(r.Value)}, where...)...)
	case p.invalidLogged == full+1:
		p.log.Warn("more lines are not JSON objects; counting them without logging each", append([]any{"error", err}, where...)...)
	}
}

// Close tells Run that no more records come. Run returns once it has
// written or given up on what is queued.
func (p *Publisher) Close() {
	select {
	case <-p.closed:
	default:
		close(p.closed)
	}
}

// Run writes queued records until Close and the queue (and the spool) are
// empty. ctx bounds the whole run including the final flush: when it ends
// with records not acknowledged, they are spooled if a spool is configured
// (nothing is lost), else Run returns an error saying how many.
func (p *Publisher) Run(ctx context.Context) error {
	l := p.newLoop(ctx)
	go p.acker(l.work, l.flights, l.landings)
	_, first := initial(p.start == sending)
	l.run(p.start, first)
	close(p.loopDone)
	l.finish()
	p.closeWriters(ctx)
	return l.err
}

// closeWriters closes the writers. On a stop the async one may still be
// trying a dead broker; its records are spooled or reported by then, so
// its close is not waited for.
func (p *Publisher) closeWriters(ctx context.Context) {
	if ctx.Err() != nil {
		go p.w.Close()
	} else {
		p.w.Close()
	}
	p.sw.Close()
	p.one.Close()
}

// errStopped is write's answer when ctx ended before Kafka took the batch.
var errStopped = errors.New("stopped before Kafka acknowledged the batch")

// write sends batch (records from the spool, acknowledged to their source
// when spooled) synchronously until Kafka acknowledged every message,
// retrying only the ones that failed, and counts them. It writes in parts
// of one produce request per partition (sendInOrder): the spool counts a
// record's bytes otherwise than kafka-go, so a batch it read within
// KAFKA_BATCH_BYTES may not fit in one request of a partition.
func (p *Publisher) write(ctx context.Context, batch []item) error {
	todo := make([]int, 0, len(batch)) // indexes into batch still to write
	for i, it := range batch {
		if !it.drop {
			todo = append(todo, i)
		}
	}
	started := time.Now()
	if err := p.sendInOrder(ctx, batch, todo); err != nil {
		return err
	}
	if p.cfg.ObserveBatch != nil && len(todo) > 0 {
		p.cfg.ObserveBatch(time.Since(started))
	}
	p.count(batch)
	return nil
}

// send writes batch[i] for each i in todo with the synchronous writer until
// Kafka took them all, retrying only the ones that failed, with backoff; a
// message larger than a batch may be, or one the broker refuses for good,
// goes to the dead-letter file (marked drop). It returns errStopped when
// ctx ends first.
func (p *Publisher) send(ctx context.Context, batch []item, todo []int) error {
	msgs := make([]kafka.Message, 0, len(todo))
	backoff := retry.Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}
	for attempt := 1; len(todo) > 0; attempt++ {
		msgs = msgs[:0]
		for _, i := range todo {
			msgs = append(msgs, batch[i].msg)
		}
		p.swl.next()
		err := p.sw.WriteMessages(ctx, msgs...)
		if err == nil {
			p.Stats.Connected.Store(true)
			if attempt > 1 {
				p.log.Info("kafka write recovered", "count", len(todo), "attempts", attempt)
			}
			break
		}
		p.Stats.WriteErrors.Add(1)
		if ctx.Err() != nil {
			return errStopped
		}
		var failed, refused []int
		var werrs kafka.WriteErrors
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			// kafka-go refused the whole call before sending anything,
			// because of one message larger than a batch may be: drop it
			// and send the others at once.
			if j := slices.IndexFunc(todo, func(i int) bool { return sameMessage(batch[i].msg, tooLarge.Message) }); j >= 0 {
				if err := p.tooLarge(ctx, &batch[todo[j]], err); err != nil {
					return err
				}
				todo = slices.Delete(todo, j, j+1)
				continue
			}
		}
		if errors.As(err, &werrs) && len(werrs) == len(todo) {
			for j, e := range werrs {
				switch {
				case e == nil:
				case isTooLarge(e):
					if err := p.tooLarge(ctx, &batch[todo[j]], e); err != nil {
						return err
					}
				case refusalReason(e) != "":
					refused = append(refused, todo[j])
				default:
					failed = append(failed, todo[j])
				}
			}
		} else if isTooLarge(err) && len(todo) == 1 {
			if err := p.tooLarge(ctx, &batch[todo[0]], err); err != nil {
				return err
			}
		} else if refusalReason(err) != "" {
			refused = todo // one error for the whole request: each record is written alone
		} else {
			failed = todo
		}
		if len(refused) > 0 {
			again, err := p.settleRefused(ctx, batch, refused)
			if err != nil {
				return err
			}
			failed = append(failed, again...)
			slices.Sort(failed)
		}
		todo = failed
		if len(todo) == 0 {
			break
		}
		p.Stats.Connected.Store(false)
		p.Stats.Retries.Add(int64(len(todo)))
		wait := backoff.Next()
		p.log.Warn("kafka write failed; retrying", append([]any{"count", len(todo), "attempt", attempt, "retry_in", wait, "error", err}, writeHint(err)...)...)
		if !retry.Wait(ctx, wait) {
			return errStopped
		}
	}
	return nil
}

// count counts batch's records as sent (those not dropped) and no longer
// pending.
func (p *Publisher) count(batch []item) {
	for _, it := range batch {
		if !it.drop {
			if it.msg.Topic == p.cfg.Topics.Status {
				p.Stats.Statuses.Add(1)
			} else {
				p.Stats.Control.Add(1)
			}
			p.Stats.Bytes.Add(int64(len(it.msg.Value)))
			p.Stats.addSent(it.msg.Topic, it.kind, len(it.msg.Value))
		}
		p.Stats.Pending.Add(-1)
	}
}

// sameMessage reports whether a and b share their value's bytes: kafka-go
// hands back a copy of the message it refused.
func sameMessage(a, b kafka.Message) bool {
	return len(a.Value) > 0 && len(a.Value) == len(b.Value) && &a.Value[0] == &b.Value[0]
}

// isTooLarge reports kafka-go's refusal of a message larger than a batch
// may be (KAFKA_BATCH_BYTES), made before anything is sent. The broker's
// MESSAGE_TOO_LARGE, for a batch over the topic's max.message.bytes, is a
// refusal (refusalReason): its records are written alone.
func isTooLarge(err error) bool {
	var tooLarge kafka.MessageTooLargeError
	return errors.As(err, &tooLarge)
}

// tooLarge dead-letters a message larger than a batch may be: no request
// can carry it, and the file keeps its value.
func (p *Publisher) tooLarge(ctx context.Context, it *item, err error) error {
	return p.deadLetter(ctx, it, "too_large", fmt.Errorf("larger than KAFKA_BATCH_BYTES (%d bytes): %w", p.cfg.BatchBytes, err))
}

// writeHint adds to a failed write's log line what its error means for the
// operator, where kafka-go's words do not say it: the topic does not exist
// (deleted while the producer runs), which no retry mends.
func writeHint(err error) []any {
	unknown := errors.Is(err, kafka.UnknownTopicOrPartition)
	var each kafka.WriteErrors
	if !unknown && errors.As(err, &each) {
		unknown = slices.ContainsFunc(each, func(e error) bool { return errors.Is(e, kafka.UnknownTopicOrPartition) })
	}
	if unknown {
		return []any{"hint", "the topic does not exist in Kafka: was it deleted? The producer creates its topics only at start: " +
			"restart it to create them again (what it holds, in memory or in SPOOL_DIR, is sent then)"}
	}
	return nil
}
