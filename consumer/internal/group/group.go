// Package group runs the Kafka consumer group: for each generation it starts
// one loop per assigned partition, which batches messages, hands each full
// batch to the archive (append, fsync, checkpoint) and only then commits the
// offsets to Kafka. A crash at any instant therefore loses nothing, and the
// archive's checkpoint skips what was written but not yet committed. A
// commit that fails is made again by the next batch's, or, while no batch
// comes, by the partition itself (retryCommit), so the committed offsets
// reach what the archive holds without new data. The partitions held share
// one buffer budget for their batches and fetches (see limits), so owning
// more of them makes each one's batches smaller, not the memory larger.
package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/internal/retry"
)

// Config is what the group needs of the service's configuration.
type Config struct {
	Brokers          []string
	Topics           []string
	GroupID          string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	FetchMaxBytes    int
	FetchMaxWait     time.Duration
	WatchInterval    time.Duration
	Batch            batch.Limits
	RotateCheck      time.Duration // how often an idle partition checks rotation by age
	ShutdownTimeout  time.Duration // bound on the final write and commit
	// ObserveBatch, when not nil, is told how long each batch took from
	// the start of its write to the archive until its offsets were committed.
	ObserveBatch func(time.Duration)
	// Dialer reaches the brokers for the group and the partition readers,
	// Transport for metadata and offsets (kafkaconn's, with its dial
	// timeout, TLS and SASL); nil: kafka-go's defaults.
	Dialer      *kafka.Dialer
	Transport   *kafka.Transport
	DedupWindow int // keys per generation of a partition's dedup window, for the memory estimate
	// BufferBudget is the memory the batches and fetches of all the
	// partitions held share (see limits); 0: half the soft memory limit,
	// or DefaultBufferBudget without one.
	BufferBudget int64
}

// DefaultBufferBudget is the memory the partitions' buffers share when no
// soft memory limit is in force: half the default MEMORY_LIMIT.
const DefaultBufferBudget = 40 << 20

// Floors of a partition's share, below which it is not cut: a smaller
// batch or fetch costs more in round trips and fsyncs than it saves.
const (
	minBatchBytes    = 64 << 10
	minFetchBytes    = 64 << 10
	minQueueCapacity = 10
	queueCapacity    = 100 // kafka-go's default, when nothing is cut
)

// partitionLimits are what one partition's loop may hold: its batches, the
// bytes one fetch may return and how many messages its reader queues.
type partitionLimits struct {
	Batch         batch.Limits
	FetchMaxBytes int
	QueueCapacity int
}

// bufferBudget is the memory the batches and fetches of all the partitions
// held share: BufferBudget when set, else half the soft memory limit in
// force (MEMORY_LIMIT or GOMEMLIMIT), else DefaultBufferBudget.
func (c Config) bufferBudget() int64 {
	if c.BufferBudget > 0 {
		return c.BufferBudget
	}
	if limit := debug.SetMemoryLimit(-1); limit < math.MaxInt64 {
		return limit / 2
	}
	return DefaultBufferBudget
}

// limits returns what each of n partitions may hold. A partition holds two
// batches (one being filled, one being written) and a fetch with about as
// much again decompressed: 2*BATCH_MAX_BYTES + 2*KAFKA_FETCH_MAX_BYTES. While
// n of those fit the budget, each partition gets the configured limits, so
// few partitions batch as configured. Beyond, the budget is cut in n
// shares, each split as the configured limits are (the batch's bytes, the
// fetch's bytes and the reader's queue shrink by one factor), down to the
// floors above: more partitions then take no more memory, only smaller
// batches. BATCH_MAX_BYTES and KAFKA_FETCH_MAX_BYTES stay the ceilings.
func (c Config) limits(n int) partitionLimits {
	b := int64(c.Batch.MaxBytes)
	if b <= 0 {
		b = batch.DefaultMaxBytes
	}
	f := int64(c.FetchMaxBytes)
	if f <= 0 {
		f = 1 << 20 // kafka-go's default
	}
	l := partitionLimits{Batch: c.Batch, FetchMaxBytes: int(f), QueueCapacity: queueCapacity}
	l.Batch.MaxBytes = int(b)
	per := 2*b + 2*f
	share := c.bufferBudget() / int64(max(n, 1))
	if share >= per {
		return l
	}
	l.Batch.MaxBytes = int(max(b*share/per, min(b, minBatchBytes)))
	l.FetchMaxBytes = int(max(f*share/per, min(f, minFetchBytes)))
	l.QueueCapacity = int(max(queueCapacity*share/per, minQueueCapacity))
	return l
}

// memoryNeed estimates the live memory of n partitions consumed at once:
// their batches and fetches (see limits), the dedup window's two
// generations of keys per partition (128-bit digests in a map: about 50
// bytes each), plus 20 MiB for the rest.
func (c Config) memoryNeed(n int) int64 {
	l := c.limits(n)
	per := 2*int64(l.Batch.MaxBytes) + 2*int64(l.FetchMaxBytes) + 2*50*int64(c.DedupWindow)
	return 20<<20 + int64(n)*per
}

// warnMemory logs when the partitions just assigned need more memory than
// the soft memory limit (MEMORY_LIMIT or GOMEMLIMIT): the collector would
// then run nearly all the time, and throughput falls by half or more.
func (r *Runner) warnMemory(n int) {
	limit := debug.SetMemoryLimit(-1) // reads the limit in force
	if need := r.cfg.memoryNeed(n); limit < math.MaxInt64 && need > limit {
		r.log.Warn("the partitions assigned need more memory than the soft memory limit: garbage collection will take much of the CPU; "+
			"raise MEMORY_LIMIT (and the container's memory) or run more consumers, or lower DEDUP_WINDOW",
			"partitions", n, "estimated_mib", need>>20, "memory_limit_mib", limit>>20)
	}
}

// Stats are running totals; safe to read at any time.
type Stats struct {
	Consumed     atomic.Int64 // messages fetched
	Written      atomic.Int64 // lines durably written
	Bytes        atomic.Int64 // value bytes durably written
	DeadLettered atomic.Int64
	Skipped      atomic.Int64 // already archived before (redelivered after a crash)
	Duplicates   atomic.Int64 // statuses dropped: their key was written recently
	Batches      atomic.Int64
	WriteErrors  atomic.Int64
	CommitErrors atomic.Int64
	Partitions   atomic.Int64 // partitions owned now
	// PartitionsStopped counts owned partitions not consumed because their
	// offsets went back (a topic deleted and created again).
	PartitionsStopped atomic.Int64
	Lag               atomic.Int64 // sum over owned partitions of high water mark - next offset
	Ready             atomic.Bool  // joined the group

	lags   sync.Map // partitionKey -> *atomic.Int64, for owned partitions
	topics sync.Map // topic -> *TopicCounts
}

type partitionKey struct {
	topic     string
	partition int
}

// TopicCounts are one topic's running totals.
type TopicCounts struct {
	Consumed, Written, Bytes, DeadLettered, Duplicates atomic.Int64
}

// Topic returns the totals of one topic.
func (s *Stats) Topic(topic string) *TopicCounts {
	if v, ok := s.topics.Load(topic); ok {
		return v.(*TopicCounts)
	}
	v, _ := s.topics.LoadOrStore(topic, &TopicCounts{})
	return v.(*TopicCounts)
}

// EachTopic calls fn with every topic's totals.
func (s *Stats) EachTopic(fn func(topic string, c *TopicCounts)) {
	s.topics.Range(func(k, v any) bool {
		fn(k.(string), v.(*TopicCounts))
		return true
	})
}

// EachLag calls fn with the lag of every partition this instance owns.
func (s *Stats) EachLag(fn func(topic string, partition int, lag int64)) {
	s.lags.Range(func(k, v any) bool {
		key := k.(partitionKey)
		fn(key.topic, key.partition, v.(*atomic.Int64).Load())
		return true
	})
}

// Archive is the part of the archive the group uses: each partition's
// files, and where a partition's checkpoint lives (named to operators).
type Archive interface {
	Partition(ctx context.Context, topic string, partition int) (Partition, error)
	CheckpointFile(topic string, partition int) string
}

// Partition is one partition's files as its loop uses them: where they end,
// a durable append (fsync and checkpoint), rotation by age, and release.
type Partition interface {
	NextOffset() int64
	Append(recs []archive.Record) (archive.Result, error)
	Tick() error
	Close() error
}

// OnDisk is the archive in the output directory as the group uses it.
func OnDisk(a *archive.Archive) Archive { return onDisk{a} }

type onDisk struct{ a *archive.Archive }

func (d onDisk) Partition(ctx context.Context, topic string, partition int) (Partition, error) {
	p, err := d.a.Partition(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (d onDisk) CheckpointFile(topic string, partition int) string {
	return d.a.CheckpointFile(topic, partition)
}

// Runner owns the consumer group.
type Runner struct {
	cfg    Config
	client *kafka.Client
	// baseline is the partition count of each topic when the last
	// generation ended; only Run's goroutine and the generation's watcher
	// (which has returned before Next gives the next generation, see
	// ended) touch it.
	baseline map[string]int
	arch     Archive
	log      *slog.Logger
	Stats    Stats

	// commitMu lets one partition commit at a time. The commits share the
	// coordinator's connection, where kafka-go waits for its response by
	// yielding in a loop while another request's answer is ahead: three
	// partitions committing at once spent about 5% of the consumer's CPU
	// there.
	commitMu sync.Mutex
}

// New returns a runner; Run joins the group.
func New(cfg Config, arch Archive, log *slog.Logger) *Runner {
	if cfg.RotateCheck <= 0 {
		cfg.RotateCheck = time.Second
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
	if cfg.Transport != nil {
		client.Transport = cfg.Transport
	}
	return &Runner{cfg: cfg, client: client, arch: arch, log: log}
}

// ObserveBatch sets the hook told each batch's duration (Config.ObserveBatch);
// call it before Run.
func (r *Runner) ObserveBatch(fn func(time.Duration)) { r.cfg.ObserveBatch = fn }

// Run consumes until ctx ends, then writes and commits what it holds and
// leaves the group.
func (r *Runner) Run(ctx context.Context) error {
	r.baseline = r.partitionCounts(ctx)
	for ctx.Err() == nil {
		if err := r.runGroup(ctx, r.subscribable(r.baseline)); err != nil {
			return err
		}
	}
	return nil
}

// subscribable returns the configured topics that exist, by counts; all of
// them when none does or counts is nil (the broker did not answer). The
// group subscribes to these only: kafka-go's group leader assigns no
// partition at all, of any topic, while one topic it is given does not
// exist, so a control topic never created would stop the archive. While
// none exists, the group is joined with all of them, no partition is
// assigned, and the watcher sees the first one appear.
func (r *Runner) subscribable(counts map[string]int) []string {
	var topics []string
	for _, t := range r.cfg.Topics {
		if counts[t] > 0 {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return r.cfg.Topics
	}
	return topics
}

// runGroup is a member of the consumer group subscribed to topics until the
// service stops or the configured topics that exist change (one that was
// missing appears); then it leaves the group (its partitions written and
// committed) for Run to join again with the topics there are now.
func (r *Runner) runGroup(ctx context.Context, topics []string) error {
	g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:      r.cfg.GroupID,
		Brokers: r.cfg.Brokers,
		Dialer:  r.cfg.Dialer,
		Topics:  topics,
		// kafka-go's default is 30 s: every crashed member would stall its
		// partitions that long. Chosen in KAFKA_SESSION_TIMEOUT.
		SessionTimeout:    r.cfg.SessionTimeout,
		HeartbeatInterval: r.cfg.SessionTimeout / 5,
		RebalanceTimeout:  r.cfg.RebalanceTimeout,
		// Topics and partitions created later are found by watchPartitions:
		// kafka-go's own watcher gives up on a topic that does not exist yet.
		WatchPartitionChanges: false,
		// A group with no committed offsets starts at the beginning, so
		// nothing published before the first start is lost.
		StartOffset:      kafka.FirstOffset,
		RetentionTime:    7 * 24 * time.Hour,
		JoinGroupBackoff: time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			r.log.Warn("kafka consumer group: " + fmt.Sprintf(msg, args...))
		}),
		Timeout: 10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("creating consumer group %s: %w", r.cfg.GroupID, err)
	}
	defer g.Close()
	// appeared ends this membership when the watcher sees the topics that
	// exist change; ctx, the service's, still stops the partitions.
	gctx, appeared := context.WithCancel(ctx)
	defer appeared()

	backoff := retry.Backoff{Initial: time.Second, Max: 10 * time.Second, Jitter: 0.2}
	for {
		gen, err := g.Next(gctx)
		switch {
		case gctx.Err() != nil:
			return nil
		case errors.Is(err, kafka.ErrGroupClosed):
			return nil
		case err != nil:
			r.Stats.Ready.Store(false)
			wait := backoff.Next()
			r.log.Warn("joining consumer group failed; retrying", "group", r.cfg.GroupID, "topics", topics, "retry_in", wait, "error", err)
			if !retry.Wait(gctx, wait) {
				return nil
			}
			continue
		}
		backoff.Reset()
		r.Stats.Ready.Store(true)
		n := 0
		for _, parts := range gen.Assignments {
			n += len(parts)
		}
		// The partitions held share the buffer budget: more of them get
		// smaller batches and fetches, not more memory.
		limits := r.cfg.limits(n)
		for topic, parts := range gen.Assignments {
			for _, a := range parts {
				gen.Start(func(gctx context.Context) {
					r.partition(ctx, gctx, gen, topic, a, limits)
				})
			}
		}
		// The watcher compares against the partition counts read when the
		// previous generation ended (before this one's join): reading them
		// now could miss a topic created between the leader's assignment
		// and now, and the group would never pick it up.
		counts := r.baseline
		gen.Start(func(genCtx context.Context) { r.watch(ctx, genCtx, counts, topics, appeared) })
		r.log.Info("joined consumer group", "group", r.cfg.GroupID, "generation", gen.ID, "member", gen.MemberID, "partitions", n, "assignments", describe(gen.Assignments),
			"batch_max_bytes", limits.Batch.MaxBytes, "fetch_max_bytes", limits.FetchMaxBytes, "queue_capacity", limits.QueueCapacity)
		r.warnMemory(n)
		if n == 0 {
			// Nothing assigned (more members than partitions, or the topics
			// have no partitions yet): wait for the next generation or the stop.
			r.log.Info("no partitions assigned; waiting", "topics", topics)
		}
	}
}

// partitionCounts returns how many partitions each topic has now (0 for a
// topic that does not exist yet), or nil when the broker did not answer.
func (r *Runner) partitionCounts(ctx context.Context) map[string]int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.client.Metadata(ctx, &kafka.MetadataRequest{Topics: r.cfg.Topics})
	if err != nil {
		return nil
	}
	counts := make(map[string]int, len(r.cfg.Topics))
	for _, t := range resp.Topics {
		if t.Error == nil {
			counts[t.Name] = len(t.Partitions)
		}
	}
	return counts
}

// ended reports whether the generation had ended when a function given to
// its Start began. kafka-go still runs such a function, so that a caller
// waiting on it is not stuck, but no longer waits for it before the next
// generation: the function must return at once and touch nothing the next
// generation owns (a partition's archive, the watcher's baseline). Start
// decides under the generation's lock, and the generation's context is done
// from the moment it ends, so this check cannot miss that case.
func ended(gctx context.Context) bool { return gctx.Err() != nil }

// watch runs watchPartitions for one generation and keeps the counts it
// returns as the next generation's baseline.
func (r *Runner) watch(runCtx, gctx context.Context, counts map[string]int, subscribed []string, appeared func()) {
	if ended(gctx) {
		return
	}
	r.baseline = r.watchPartitions(runCtx, gctx, counts)
	if now := r.subscribable(r.baseline); !slices.Equal(now, subscribed) {
		r.log.Info("the topics that exist changed; joining the group again", "topics", now, "before", subscribed)
		appeared()
	}
}

// watchPartitions returns, which ends the generation and makes the group
// rebalance, once a topic appears or gains partitions. It runs as one of the
// generation's functions, so it also returns when the generation ends or the
// service stops. It returns the partition counts as they are when it
// stops: the next generation's baseline.
func (r *Runner) watchPartitions(runCtx, gctx context.Context, counts map[string]int) map[string]int {
	t := time.NewTicker(r.cfg.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-gctx.Done():
			return r.partitionCounts(runCtx)
		case <-runCtx.Done():
			return counts
		case <-t.C:
		}
		now := r.partitionCounts(gctx)
		if now == nil {
			continue // broker unreachable: the partition loops report it
		}
		// A nil baseline (the broker did not answer when the last
		// generation ended) reads as no partitions: any topic there is now
		// makes one rebalance, which costs little. Taking now as the
		// baseline instead would miss a topic created since the leader's
		// assignment, for good.
		for _, topic := range r.cfg.Topics {
			if now[topic] != counts[topic] {
				r.log.Info("partitions changed; rebalancing", "topic", topic, "partitions", now[topic], "before", counts[topic])
				return now
			}
		}
	}
}

func describe(assignments map[string][]kafka.PartitionAssignment) map[string][]int {
	out := make(map[string][]int, len(assignments))
	for t, parts := range assignments {
		for _, p := range parts {
			out[t] = append(out[t], p.ID)
		}
	}
	return out
}

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

	if !r.checkpointMatches(ctx, log, topic, a.ID, p.NextOffset()) {
		return
	}
	start := a.Offset
	if next := p.NextOffset(); next >= 0 && (start < 0 || next > start) {
		// Written and checkpointed, but the commit did not reach Kafka.
		start = next
	}
	log.Info("partition assigned", "offset", start, "committed", a.Offset, "checkpoint", p.NextOffset())

	l := loop{r: r, log: log, gen: gen, p: p, topic: topic, partition: a.ID, b: batch.New(limits.Batch), next: start,
		counts: r.Stats.Topic(topic), lag: &atomic.Int64{},
		commitWait: retry.Backoff{Initial: time.Second, Max: 30 * time.Second},
		work:       make(chan []archive.Record), spare: make(chan []archive.Record, 1)}
	if start > a.Offset {
		// The checkpoint is ahead of the commit (a commit failed before
		// the last owner stopped): the writer commits it, new data or not.
		l.uncommitted = start
	}
	r.Stats.lags.Store(partitionKey{topic, a.ID}, l.lag)
	defer r.Stats.lags.Delete(partitionKey{topic, a.ID})
	defer l.setLag(0)

	// The writer outlives ctx by up to the shutdown timeout, to finish
	// what is held when the partition is revoked or the service stops.
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriter()
	written := make(chan bool, 1)
	go func() { written <- l.write(wctx) }()

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
	if <-written {
		log.Info("partition released", "next_offset", l.committed)
	} else {
		log.Warn("partition released before what it held was written (SHUTDOWN_TIMEOUT); its owner reads it again from the last commit",
			"next_offset", l.committed)
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
	for {
		end, err := r.endOffset(ctx, topic, partition)
		switch {
		case err == nil && end >= next:
			return true
		case err == nil:
			log.Error("the archive's checkpoint is past the end of the partition: was the topic deleted and created again? "+
				"Not consuming it, so nothing is skipped; move the checkpoint file (and this partition's files) away to start it afresh",
				"checkpoint_next_offset", next, "partition_end_offset", end,
				"checkpoint", r.arch.CheckpointFile(topic, partition))
		case ctx.Err() == nil:
			log.Warn("reading the partition's end offset; retrying", "error", err)
		}
		if !retry.Wait(ctx, 30*time.Second) {
			return false
		}
	}
}

// endOffset returns the offset the partition's next message will get.
func (r *Runner) endOffset(ctx context.Context, topic string, partition int) (int64, error) {
	return r.listOffset(ctx, topic, partition, kafka.LastOffsetOf(partition))
}

// startOffset returns the offset of the partition's oldest message.
func (r *Runner) startOffset(ctx context.Context, topic string, partition int) (int64, error) {
	return r.listOffset(ctx, topic, partition, kafka.FirstOffsetOf(partition))
}

func (r *Runner) listOffset(ctx context.Context, topic string, partition int, req kafka.OffsetRequest) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {req}},
	})
	if err != nil {
		return 0, err
	}
	for _, po := range resp.Topics[topic] {
		if po.Partition == partition {
			if po.Error != nil {
				return 0, po.Error
			}
			if req.Timestamp == kafka.FirstOffset {
				return po.FirstOffset, nil
			}
			return po.LastOffset, nil
		}
	}
	return 0, fmt.Errorf("no offsets for %s partition %d in the answer", topic, partition)
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

func (r *Runner) openPartition(ctx context.Context, log *slog.Logger, topic string, partition int) Partition {
	backoff := retry.Backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}
	for {
		p, err := r.arch.Partition(ctx, topic, partition)
		if err == nil {
			return p
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := backoff.Next()
		log.Error("opening partition archive; retrying", "retry_in", wait, "error", err)
		if !retry.Wait(ctx, wait) {
			return nil
		}
	}
}

type loop struct {
	r         *Runner
	log       *slog.Logger
	gen       *kafka.Generation
	p         Partition
	topic     string
	partition int
	b         *batch.Batcher
	recs      []archive.Record
	committed int64 // next offset committed to Kafka
	// uncommitted is the next offset the archive has fsynced and
	// checkpointed but whose commit failed; while it is above committed,
	// the writer commits it again at retryAt (see retryCommit).
	uncommitted int64
	retryAt     time.Time
	commitWait  retry.Backoff // 1 s doubling to 30 s while the commit fails
	lag         *atomic.Int64 // messages behind the high water mark at the last fetch (in Stats.lags)
	counts      *TopicCounts
	next        int64     // offset of the next message to fetch (kafka.FirstOffset at first)
	lastFetch   time.Time // when a message last arrived (or the reader started)
	lastEnd     time.Time // when the partition's end offset was last checked
	endBelow    int       // consecutive checks that found the end below next
	wentBack    string    // set when the partition's offsets went back: what was seen

	// The fetching goroutine (run) fills recs and hands full batches over
	// work to the writing one (write), which owns p and committed, and
	// gives the emptied slices back on spare. So the next batch is fetched,
	// decompressed and checked while the last is written and fsynced; at
	// most two batches are held.
	work  chan []archive.Record
	spare chan []archive.Record
}

// stallAfter is how long a partition may go without a message before the
// loop asks Kafka whether there is anything to read: a kafka-go reader can
// stop delivering after network errors without returning one.
const stallAfter = 30 * time.Second

// run fetches until ctx ends, handing each batch to the writer when it is
// full or due. It returns when ctx ends, or when the reader stalled.
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
		m, err := rd.FetchMessage(wc.until(ctx, wake))
		now := time.Now()
		switch {
		case err == nil:
			l.r.Stats.Consumed.Add(1)
			l.counts.Consumed.Add(1)
			if !l.b.Fits(len(m.Value)) {
				if !l.handoff(ctx) {
					return
				}
			}
			l.recs = append(l.recs, archive.Record{Offset: m.Offset, Time: m.Time, Value: m.Value,
				Key: m.Key, Dedup: contract.IsStatus(m.Headers)})
			l.b.Add(len(m.Value), now)
			l.next, l.lastFetch = m.Offset+1, now
			if lag := m.HighWaterMark - m.Offset - 1; lag >= 0 {
				l.setLag(lag)
			}
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded):
		default:
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
	select {
	case l.recs = <-l.spare:
	default:
		l.recs = make([]archive.Record, 0, cap(l.recs))
	}
	l.b.Reset()
	return true
}

// write writes and commits the batches run hands over, in order, and
// rotates idle files on time, until work is closed. It reports false when
// ctx ended before everything handed over was durable.
func (l *loop) write(ctx context.Context) bool {
	tick := time.NewTicker(l.r.cfg.RotateCheck)
	defer tick.Stop()
	for {
		select {
		case recs, ok := <-l.work:
			if !ok {
				return true
			}
			if !l.flush(ctx, recs) {
				for range l.work { // let run and the stop hand over, unwritten
				}
				return false
			}
			clear(recs) // drop the values: the slice waits on spare
			select {
			case l.spare <- recs[:0]:
			default:
			}
		case <-tick.C:
			if err := l.p.Tick(); err != nil {
				l.log.Error("rotating file", "error", err)
			}
			l.retryCommit()
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
// succeeds or ctx ends, then commits the next offset to Kafka. It reports
// false when ctx ended before the records were durable.
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
			break
		}
		l.r.Stats.WriteErrors.Add(1)
		// Not committed: Kafka keeps the messages, the archive keeps its
		// last checkpoint. Retry the same batch.
		wait := backoff.Next()
		l.log.Error("writing batch failed; not committing, retrying", "count", len(recs), "retry_in", wait, "error", err)
		if !retry.Wait(ctx, wait) {
			return false
		}
	}
	next := recs[len(recs)-1].Offset + 1
	if err := l.commit(next); err != nil {
		// The checkpoint already covers these offsets: a redelivery after a
		// lost commit is skipped by the archive, never written twice. The
		// next batch's commit covers them, or retryCommit if none comes.
		l.r.Stats.CommitErrors.Add(1)
		l.uncommitted = next
		l.commitWait.Reset()
		wait := l.commitWait.Next()
		l.retryAt = time.Now().Add(wait)
		l.log.Warn("committing offset failed; the archive checkpoint covers it, retrying", "offset", next, "retry_in", wait, "error", err)
		return true
	}
	if l.r.cfg.ObserveBatch != nil {
		l.r.cfg.ObserveBatch(time.Since(started))
	}
	return true
}

// commit commits next, the offset after the last one the archive holds, to
// Kafka with the partition's generation (which Kafka refuses once it has
// ended), and records it as committed.
func (l *loop) commit(next int64) error {
	l.r.commitMu.Lock()
	err := l.gen.CommitOffsets(map[string]map[int]int64{l.topic: {l.partition: next}})
	l.r.commitMu.Unlock()
	if err != nil {
		return err
	}
	l.committed = next
	return nil
}

// retryCommit commits again, when due, the offset whose commit failed after
// its batch was written (or that the checkpoint held ahead of the commit
// when the partition was assigned), unless a later commit has covered it.
// Without it the committed offset of a partition that receives nothing
// more stays behind what the archive holds, and whatever waits for the
// group to catch up (lag, a drain) waits as long. Only offsets the archive
// has fsynced and checkpointed are committed. The wait doubles from a
// second to 30 s while the commit fails.
func (l *loop) retryCommit() {
	if l.uncommitted <= l.committed || time.Now().Before(l.retryAt) {
		return
	}
	if err := l.commit(l.uncommitted); err != nil {
		l.r.Stats.CommitErrors.Add(1)
		wait := l.commitWait.Next()
		l.retryAt = time.Now().Add(wait)
		l.log.Warn("committing offset failed again; retrying", "offset", l.uncommitted, "retry_in", wait, "error", err)
		return
	}
	l.log.Info("committed the offset the archive checkpoint covers", "offset", l.committed)
}
