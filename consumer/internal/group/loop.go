package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/internal/retry"
)

// partition owns one partition for one generation. It returns only when the
// generation ends or the service stops; returning early would end the
// generation for every partition (kafka-go's contract).
func (r *Runner) partition(runCtx, gctx context.Context, gen *kafka.Generation, topic string, a kafka.PartitionAssignment, limits partitionLimits) {
	if ended(gctx) {
		return
	}
	ctx, cancel := context.WithCancel(gctx)
	defer cancel()
	stopOnSignal := context.AfterFunc(runCtx, cancel)
	defer stopOnSignal()

	log := r.log.With("topic", topic, "partition", a.ID)
	p := r.openPartition(ctx, log, topic, a.ID)
	if p == nil {
		return
	}
	defer func() {
		if err := p.Close(); err != nil {
			log.Error("closing partition archive", "error", err)
		}
	}()
	r.Stats.Partitions.Add(1)
	defer r.Stats.Partitions.Add(-1)

	if !r.checkpointMatches(ctx, log, topic, a.ID, archived(p)) {
		return
	}
	if a.Offset < 0 && !r.sameRecords(ctx, log, topic, a.ID, p) {
		return
	}
	start := assignedStart(log, a.Offset, p.NextOffset(), r.arch.CheckpointFile(topic, a.ID))
	log.Info("partition assigned", "offset", start, "committed", a.Offset, "checkpoint", p.NextOffset())

	l := loop{r: r, log: log, p: p, topic: topic, partition: a.ID, b: batch.New(limits.Batch), next: start,
		counts: r.Stats.Topic(topic), lag: &atomic.Int64{}, commits: newCommitter(r, log, gen, topic, a.ID, a.Offset),
		work: make(chan []archive.Record), spare: make(chan []archive.Record, 1)}
	if start > a.Offset {
		// The checkpoint is ahead of the commit (a commit failed before
		// the last owner stopped): it is committed, new data or not.
		l.commits.post(start)
	}
	r.Stats.lags.Store(partitionKey{topic, a.ID}, l.lag)
	defer r.Stats.lags.Delete(partitionKey{topic, a.ID})
	defer l.setLag(0)

	// The writer and the committer outlive ctx by up to the shutdown
	// timeout, to finish what is held when the partition is revoked or the
	// service stops.
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriter()
	written := make(chan bool, 1)
	go func() { written <- l.write(wctx) }()
	go l.commits.run()

	for ctx.Err() == nil {
		rd := r.newReader(log, topic, a.ID, limits)
		if err := rd.SetOffset(l.next); err != nil {
			log.Error("setting start offset", "offset", l.next, "error", err)
			rd.Close()
			<-ctx.Done()
			break
		}
		l.run(ctx, rd) // returns when ctx ends, when the reader stalled, or when the partition went back
		rd.Close()
		if l.wentBack != "" {
			r.Stats.PartitionsStopped.Add(1)
			log.Error("the partition's offsets went back below what was read ("+l.wentBack+"): was the topic deleted and created again? "+
				"Not consuming it, so nothing is skipped; stop the consumer, move the checkpoint file (and this partition's files) away, and start it again",
				"offset", l.next, "checkpoint", r.arch.CheckpointFile(topic, a.ID))
			<-ctx.Done()
			r.Stats.PartitionsStopped.Add(-1)
		}
	}
	// Stopping: write and commit what is held (the writer's batch and the
	// one being filled), bounded by the shutdown timeout.
	deadline := time.AfterFunc(r.cfg.ShutdownTimeout, stopWriter)
	defer deadline.Stop()
	if len(l.recs) > 0 {
		select {
		case l.work <- l.recs:
		case <-wctx.Done():
		}
	}
	close(l.work)
	ok := <-written
	l.commits.close(wctx)
	if ok {
		log.Info("partition released", "next_offset", l.commits.next())
	} else {
		log.Warn("partition released before what it held was written (SHUTDOWN_TIMEOUT); its owner reads it again from the last commit",
			"next_offset", l.commits.next())
	}
}

// checkpointMatches guards against a topic that was deleted and created
// again: its offsets restart at 0, and the archive would skip every offset
// below its checkpoint as already written. A partition's offsets never go
// down otherwise, so a checkpoint past the partition's end means the archive
// describes another partition. It is reported and the partition is left
// alone (nothing is skipped, nothing overwritten) until an operator moves
// the old checkpoint away. It returns false when the partition must not be
// consumed; then it has waited for ctx to end.
func (r *Runner) checkpointMatches(ctx context.Context, log *slog.Logger, topic string, partition int, next int64) bool {
	if next <= 0 {
		return true
	}
	stopped := stopMark{n: &r.Stats.PartitionsStopped}
	defer stopped.clear()
	for {
		end, err := r.endOffset(ctx, topic, partition)
		refused := topicRefused(topic, "offsets", err)
		switch {
		case err == nil && end >= next:
			return true
		case err == nil:
			stopped.set()
			log.Error("the archive's checkpoint is past the end of the partition: was the topic deleted and created again? "+
				"Not consuming it, so nothing is skipped; move the checkpoint file (and this partition's files) away to start it afresh",
				"checkpoint_next_offset", next, "partition_end_offset", end,
				"checkpoint", r.arch.CheckpointFile(topic, partition))
		case refused != nil:
			r.refuse(refused) // ends ctx
		case ctx.Err() == nil:
			log.Warn("reading the partition's end offset; retrying", "error", err)
		}
		if !retry.Wait(ctx, 30*time.Second) {
			return false
		}
	}
}

// archived is the offset after the last record p holds anywhere: its
// NextOffset, or with object storage the staging folder's checkpoint when it
// is past the bucket's (records staged, not uploaded yet). The partition
// has held records up to it, so an end below it means another topic.
func archived(p Partition) int64 {
	next := p.NextOffset()
	if w, ok := p.(interface{ WindowEnd() (int64, bool) }); ok {
		if end, _ := w.WindowEnd(); end > next {
			return end
		}
	}
	return next
}

// recheckLast is how many records before the archive's checkpoint
// sameRecords reads back.
const recheckLast = 16

// sameRecords reports whether the partition's records just before the
// archive's checkpoint are the ones the archive wrote, when the group has no
// committed offset to vouch for it. Kafka drops a topic's committed offsets
// with the topic: a topic deleted and created again, then filled past the
// checkpoint (the producer's spool sends it all at once), would otherwise
// have its records before the checkpoint skipped without a word. The check:
// of the last recheckLast records before the end of the archive's dedup
// window (its folder's checkpoint), those the window can tell (statuses
// with a key and a value the archive writes), at least one is in it. When
// none is, the partition is not consumed (as checkpointMatches does), and
// false is returned once ctx ends. A new group, or one whose offsets
// expired, on the same topic finds its keys and goes on. When it cannot
// tell (no such record, an empty window, a control topic, DEDUP_WINDOW=0,
// or the records cannot be read) it warns and goes on.
func (r *Runner) sameRecords(ctx context.Context, log *slog.Logger, topic string, partition int, p Partition) bool {
	w, ok := p.(interface {
		WindowHolds(r *archive.Record) (held, comparable bool)
		WindowEnd() (next int64, empty bool)
	})
	if !ok {
		return true
	}
	end, empty := w.WindowEnd()
	if end <= 0 {
		return true
	}
	cannotTell := func(why string, err error) bool {
		log.Warn("the group has no committed offset for this partition, and "+why+": if the topic was deleted and created again, "+
			"its records before the archive's checkpoint are not archived (move the checkpoint file and this partition's files away to archive them)",
			"checkpoint_next_offset", end, "checkpoint", r.arch.CheckpointFile(topic, partition), "error", err)
		return true
	}
	if empty {
		return cannotTell("the archive's dedup window holds no key to compare its records with", nil)
	}
	from, err := r.startOffset(ctx, topic, partition)
	if err != nil {
		return cannotTell("its oldest offset could not be read", err)
	}
	from = max(from, end-recheckLast)
	if from >= end {
		return true // Kafka keeps none of what was archived: nothing to compare
	}
	recs, err := r.recentRecords(ctx, topic, partition, from, end)
	if err != nil {
		return cannotTell("its last records before the archive's checkpoint could not be read", err)
	}
	compared := 0
	for i := range recs {
		held, comparable := w.WindowHolds(&recs[i])
		if held {
			return true
		}
		if comparable {
			compared++
		}
	}
	if compared == 0 {
		return cannotTell("its last records before the archive's checkpoint hold no status the archive's dedup window can tell", nil)
	}
	stopped := stopMark{n: &r.Stats.PartitionsStopped}
	defer stopped.clear()
	stopped.set()
	log.Error("the partition's last records before the archive's checkpoint are not the ones it archived: none of their keys is among those it wrote last, "+
		"and the group has no committed offset. Was the topic deleted and created again? Not consuming it, so nothing is skipped; "+
		"move the checkpoint file (and this partition's files) away to start it afresh",
		"checkpoint_next_offset", end, "statuses_compared", compared, "checkpoint", r.arch.CheckpointFile(topic, partition))
	<-ctx.Done()
	return false
}

// assignedStart is where a partition's new owner reads from: after what the
// archive holds (next, its checkpoint; -1 when it holds nothing), whatever
// the group committed. The archive writes its checkpoint before each
// commit, so the commit is never ahead of it unless something outside
// moved it: the group's offsets reset by hand, the folder replaced, or
// KAFKA_GROUP_ID shared with a consumer writing another folder. Then the
// offsets between are read again into this folder, with a warning; taking
// the commit would leave them out of it without a word. An archive that
// holds nothing of the partition (a new folder or bucket prefix) starts at
// the commit, as it always has, with a warning naming what it leaves out.
func assignedStart(log *slog.Logger, committed, next int64, checkpoint string) int64 {
	switch {
	case next >= 0 && committed >= 0 && next < committed:
		log.Warn("the group committed past what this archive holds: reading the offsets between again, so that none is missing from it "+
			"(were the group's offsets moved by hand, the folder replaced, or KAFKA_GROUP_ID shared with a consumer writing another folder?)",
			"checkpoint_next_offset", next, "committed", committed, "checkpoint", checkpoint)
		return next
	case next < 0 && committed > 0:
		log.Warn("this archive holds nothing of the partition, though the group committed offsets of it: starting at the group's offset, "+
			"so the offsets before it are not archived here; to archive what Kafka keeps of them, run with a KAFKA_GROUP_ID of its own",
			"committed", committed, "checkpoint", checkpoint)
		return committed
	case next >= 0:
		// The commit is behind (it failed before the last owner stopped,
		// or was moved back by hand) or there is none: what the archive
		// holds is not read again.
		return next
	}
	return committed
}

// newReader reads one partition, without a group: offsets are committed
// through the generation.
func (r *Runner) newReader(log *slog.Logger, topic string, partition int, limits partitionLimits) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:   r.cfg.Brokers,
		Dialer:    r.cfg.Dialer,
		Topic:     topic,
		Partition: partition,
		MinBytes:  1,
		MaxBytes:  limits.FetchMaxBytes,
		MaxWait:   r.cfg.FetchMaxWait,
		// Each queued message is a copy of its value: the queue is cut
		// with the partition's share of the buffer budget.
		QueueCapacity: limits.QueueCapacity,
		// The lag comes with each message (HighWaterMark); kafka-go's own
		// lag reader would dial the partition's leader every minute from a
		// goroutine that Close does not wait for.
		ReadLagInterval: -1,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Warn("kafka reader: " + fmt.Sprintf(msg, args...))
		}),
	})
}

// stopMark counts a partition in n (Stats.PartitionsStopped) once, from
// its first set until clear.
type stopMark struct {
	n  *atomic.Int64
	on bool
}

func (m *stopMark) set() {
	if !m.on {
		m.on = true
		m.n.Add(1)
	}
}

func (m *stopMark) clear() {
	if m.on {
		m.on = false
		m.n.Add(-1)
	}
}

// openPartition opens the partition's archive, retrying until it opens or
// ctx ends. While it fails the partition counts as stopped
// (tweetpipe_consumer_stopped_partitions), so that a checkpoint that cannot
// be read, or a full disk, is seen beside the log.
func (r *Runner) openPartition(ctx context.Context, log *slog.Logger, topic string, partition int) Partition {
	backoff := retry.Backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}
	stopped := stopMark{n: &r.Stats.PartitionsStopped}
	defer stopped.clear()
	for {
		p, err := r.arch.Partition(ctx, topic, partition)
		if err == nil {
			return p
		}
		if ctx.Err() != nil {
			return nil
		}
		stopped.set()
		wait := backoff.Next()
		log.Error("opening partition archive; retrying, the partition is not consumed until it opens (the error names the file at fault; docs/guarantee.md says what each means)",
			"retry_in", wait, "error", err)
		if !retry.Wait(ctx, wait) {
			return nil
		}
	}
}

type loop struct {
	r         *Runner
	log       *slog.Logger
	p         Partition
	topic     string
	partition int
	b         *batch.Batcher
	recs      []archive.Record
	commits   *committer    // commits what the writer made durable (commit.go)
	lag       *atomic.Int64 // messages behind the high water mark at the last fetch (in Stats.lags)
	counts    *TopicCounts
	next      int64     // offset of the next message to fetch (kafka.FirstOffset at first)
	lastFetch time.Time // when a message last arrived (or the reader started)
	lastEnd   time.Time // when the partition's end offset was last checked
	endBelow  int       // consecutive checks that found the end below next
	wentBack  string    // set when the partition's offsets went back: what was seen
	caughtUp  bool      // the last message fetched was the last the broker held
	confirmed time.Time // when a fetch's refusal was last checked (confirmRefused): at most every refusalCheck

	// The fetching goroutine (run) fills recs and hands full batches over
	// work to the writing one (write), which owns p, and
	// gives the emptied slices back on spare. So the next batch is fetched,
	// decompressed and checked while the last is written and fsynced, and
	// the one before that committed (commits); at most two batches are
	// held. A caught-up partition hands its batch over as soon as the
	// writer is idle (gate).
	work  chan []archive.Record
	spare chan []archive.Record
	gate  writerGate
}

// refusalCheck is how often a partition's loop asks Kafka afresh whether a
// refused fetch is a missing right (confirmRefused, a connection of its
// own): the reader returns such an error every few hundred milliseconds.
const refusalCheck = 5 * time.Second

// stallAfter is how long a partition may go without a message before the
// loop asks Kafka whether there is anything to read: a kafka-go reader can
// stop delivering after network errors without returning one.
const stallAfter = 30 * time.Second

// run fetches until ctx ends, handing each batch to the writer when it is
// full or due, or, once the partition is caught up, when the writer is idle
// (see writerGate). It returns when ctx ends, or when the reader stalled.
func (l *loop) run(ctx context.Context, rd *kafka.Reader) {
	nextTick := time.Now().Add(l.r.cfg.RotateCheck)
	l.lastFetch = time.Now()
	var wc wakeCtx
	defer wc.stop()
	for ctx.Err() == nil {
		wake := nextTick
		if d, ok := l.b.Deadline(); ok && d.Before(wake) {
			wake = d
		}
		fetchCtx := wc.until(ctx, wake)
		if l.caughtUp && len(l.recs) > 0 {
			ok, at := l.gate.early(time.Now(), wc.cancel)
			if ok {
				if !l.handoff(ctx) {
					return
				}
				continue
			}
			if !at.IsZero() && at.Before(wake) {
				fetchCtx = wc.until(ctx, at)
			}
		}
		m, err := rd.FetchMessage(fetchCtx)
		now := time.Now()
		switch {
		case err == nil:
			if l.next >= 0 && m.Offset > l.next {
				l.gap(ctx, m.Offset)
			}
			l.r.Stats.Consumed.Add(1)
			l.counts.Consumed.Add(1)
			if !l.b.Fits(len(m.Value)) {
				if !l.handoff(ctx) {
					return
				}
			}
			l.recs = append(l.recs, archive.Record{Offset: m.Offset, Time: m.Time, Value: m.Value,
				Key: m.Key, Dedup: contract.IsStatus(m.Headers)})
			// Checked here, while the writer writes and fsyncs the batch
			// before, rather than by the writer after that.
			l.recs[len(l.recs)-1].Check()
			l.b.Add(len(m.Value), now)
			l.next, l.lastFetch = m.Offset+1, now
			lag := m.HighWaterMark - m.Offset - 1
			if lag >= 0 {
				l.setLag(lag)
			}
			l.caughtUp = lag <= 0
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			// A wake-up: a deadline, or the writer became idle.
		default:
			if refused := topicRefused(l.topic, "fetch", err); refused != nil && now.Sub(l.confirmed) >= refusalCheck {
				l.confirmed = now
				if _, ok, _ := l.r.confirmRefused(ctx, []string{l.topic}, true); ok {
					l.r.refuse(refused) // ends ctx: the partition is written, committed and released
					continue
				}
			}
			l.log.Warn("fetching messages", "error", err)
		}
		if l.b.Full() || l.b.Due(now) {
			if !l.handoff(ctx) {
				return
			}
		}
		if !now.Before(nextTick) {
			nextTick = now.Add(l.r.cfg.RotateCheck)
			if idle := now.Sub(l.lastFetch); idle >= l.r.cfg.WatchInterval && now.Sub(l.lastEnd) >= l.r.cfg.WatchInterval && l.endWentBack(ctx) {
				return
			}
			if now.Sub(l.lastFetch) > stallAfter && l.stalled(ctx) {
				return // the caller starts a new reader at l.next
			}
		}
	}
}

// gap looks at offsets skipped between the next one to fetch and at, the
// one fetched: a partition's offsets have gaps where a transaction's
// marker or compaction left them, but those below the partition's start
// were deleted before the consumer read them (retention.ms or
// retention.bytes reached, or records deleted by hand), and kafka-go's
// reader moves past them without a word. Those are logged and counted
// (tweetpipe_consumer_messages_deleted_unread_total): they are in Kafka no
// more, and not in the archive.
func (l *loop) gap(ctx context.Context, at int64) {
	start, err := l.r.startOffset(ctx, l.topic, l.partition)
	if err != nil || start <= l.next {
		return
	}
	lost := min(start, at) - l.next
	l.r.Stats.DeletedUnread.Add(lost)
	l.log.Error("Kafka deleted records of this partition before the consumer read them (the topic's retention.ms or retention.bytes, or a records deletion): "+
		"they are not in the archive; give the topic a longer retention, or keep the consumer running",
		"first_offset", l.next, "last_offset", l.next+lost-1, "count", lost, "partition_start_offset", start)
}

// wakeCtx is a fetch context that ends at a wake-up time, made once per
// wake-up time rather than once per message.
type wakeCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
	at     time.Time
}

func (w *wakeCtx) until(parent context.Context, at time.Time) context.Context {
	if w.ctx == nil || !at.Equal(w.at) || w.ctx.Err() != nil {
		w.stop()
		w.ctx, w.cancel = context.WithDeadline(parent, at)
		w.at = at
	}
	return w.ctx
}

func (w *wakeCtx) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// handoff gives the held records to the writer and starts a new batch. It
// waits while the writer is busy with the batch before, and reports false
// when ctx ends first (the records stay held).
func (l *loop) handoff(ctx context.Context) bool {
	if len(l.recs) == 0 {
		return true
	}
	select {
	case l.work <- l.recs:
	case <-ctx.Done():
		return false
	}
	l.gate.handed()
	select {
	case l.recs = <-l.spare:
	default:
		l.recs = make([]archive.Record, 0, cap(l.recs))
	}
	l.b.Reset()
	return true
}

// write writes the batches run hands over, in order, handing each one's
// offset to the committer, and rotates idle files on time, until work is
// closed. It reports false when ctx ended before everything handed over
// was durable.
func (l *loop) write(ctx context.Context) bool {
	tick := time.NewTicker(l.r.cfg.RotateCheck)
	defer tick.Stop()
	for {
		select {
		case recs, ok := <-l.work:
			if !ok {
				return true
			}
			started := time.Now()
			if !l.flush(ctx, recs) {
				for range l.work { // let run and the stop hand over, unwritten
				}
				return false
			}
			l.gate.written(started, time.Now())
			clear(recs) // drop the values: the slice waits on spare
			select {
			case l.spare <- recs[:0]:
			default:
			}
		case <-tick.C:
			if err := l.p.Tick(); err != nil {
				l.log.Error("rotating file", "error", err)
			}
			// With object storage, a file that rotated on time was
			// uploaded: what it holds may be committed now.
			l.commits.post(l.p.NextOffset())
		}
	}
}

// stalled reports whether the partition holds messages past the last one
// fetched although none came for stallAfter: the reader is stuck.
func (l *loop) stalled(ctx context.Context) bool {
	l.lastFetch = time.Now() // ask again in stallAfter, not at every tick
	end, err := l.r.endOffset(ctx, l.topic, l.partition)
	from := l.next
	if err == nil && from < 0 {
		// Nothing fetched yet (kafka.FirstOffset): the reader owes the
		// partition's oldest message, if there is one.
		from, err = l.r.startOffset(ctx, l.topic, l.partition)
	}
	if err != nil || end <= from {
		return false
	}
	l.log.Warn("no message for a while although the partition has more: starting a new reader",
		"offset", l.next, "end_offset", end, "silent_for", stallAfter)
	return true
}

// endWentBack reports whether the partition ends below the next offset to
// fetch, at two checks in a row (a broker that just became the leader may
// answer from behind once). Offsets never go back in a partition, so it was
// deleted and created again (or lost messages on the broker): a reader
// would wait there until the new partition grew past that offset, then go
// on, silently skipping its first messages. Checked while no message
// comes, which is how such a reader looks until then.
func (l *loop) endWentBack(ctx context.Context) bool {
	l.lastEnd = time.Now()
	if l.next < 0 {
		return false // nothing read yet: nothing to go back from
	}
	end, err := l.r.endOffset(ctx, l.topic, l.partition)
	if err != nil {
		return false // the broker did not answer: the next check asks again
	}
	if end >= l.next {
		l.endBelow = 0
		return false
	}
	l.endBelow++
	if l.endBelow < 2 {
		return false
	}
	l.wentBack = fmt.Sprintf("its end offset is %d, the next offset to read %d", end, l.next)
	return true
}

// setLag records the partition's lag (its gauge in Stats.lags, registered once
// when the partition loop starts) and keeps Stats.Lag the sum over owned partitions.
func (l *loop) setLag(lag int64) {
	l.r.Stats.Lag.Add(lag - l.lag.Swap(lag))
}

// flush writes recs (append, fsync, checkpoint), retrying until it
// succeeds or ctx ends, then hands the next offset to the committer, which
// commits it to Kafka while the next batch is written. It reports false
// when ctx ended before the records were durable.
func (l *loop) flush(ctx context.Context, recs []archive.Record) bool {
	if len(recs) == 0 {
		return true
	}
	backoff := retry.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2}
	started := time.Now()
	for {
		res, err := l.p.Append(recs)
		if err == nil {
			l.counts.Written.Add(int64(res.Written))
			l.counts.Bytes.Add(res.Bytes)
			l.counts.DeadLettered.Add(int64(res.DeadLettered))
			l.counts.Duplicates.Add(int64(res.Duplicates))
			l.r.Stats.Written.Add(int64(res.Written))
			l.r.Stats.Bytes.Add(res.Bytes)
			l.r.Stats.DeadLettered.Add(int64(res.DeadLettered))
			l.r.Stats.Skipped.Add(int64(res.Skipped))
			l.r.Stats.Duplicates.Add(int64(res.Duplicates))
			l.r.Stats.Batches.Add(1)
			if l.r.cfg.ObserveBatch != nil {
				l.r.cfg.ObserveBatch(time.Since(started))
			}
			break
		}
		l.r.Stats.WriteErrors.Add(1)
		if errors.Is(err, archive.ErrFenced) {
			// Another process holds the partition's lock now and writes
			// it; no retry mends that. Counted as stopped, the partition
			// waits here until it is taken from this member or the
			// service stops; Kafka keeps its messages.
			l.log.Error("the partition is written by another process now: this consumer neither writes nor commits it until it is assigned again", "error", err)
			stopped := stopMark{n: &l.r.Stats.PartitionsStopped}
			stopped.set()
			<-ctx.Done()
			stopped.clear()
			return false
		}
		// Not committed: Kafka keeps the messages, the archive keeps its
		// last checkpoint. Retry the same batch.
		wait := backoff.Next()
		l.log.Error("writing batch failed; not committing, retrying", "count", len(recs), "retry_in", wait, "error", err)
		if !retry.Wait(ctx, wait) {
			return false
		}
	}
	next := recs[len(recs)-1].Offset + 1
	if held := l.p.NextOffset(); held < next {
		// Object storage: what is only in the staging folder is not
		// committed; the archive's NextOffset is what the bucket holds
		// (post ignores it while it has not moved).
		next = held
	}
	l.commits.post(next)
	return true
}
