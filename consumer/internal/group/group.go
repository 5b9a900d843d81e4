// Package group runs the Kafka consumer group: for each generation it starts
// one loop per assigned partition, which batches messages, hands each full
// batch to the archive (append, fsync, checkpoint) and only then has the
// offsets committed to Kafka, by a committer that works while the next batch
// is written (commit.go). A crash at any instant therefore loses nothing,
// and the archive's checkpoint skips what was written but not yet
// committed. A commit that fails is made again with the next batch's, or,
// while no batch comes, after a wait, so the committed offsets reach what
// the archive holds without new data. The partitions held share
// one buffer budget for their batches and fetches (see limits), so owning
// more of them makes each one's batches smaller, not the memory larger.
package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/internal/retry"
)

// Config is what the group needs of the service's configuration.
type Config struct {
	Settings              // KAFKA_TOPICS, KAFKA_GROUP_ID, KAFKA_*_TIMEOUT, KAFKA_FETCH_*
	Watch                 // PARTITION_WATCH_INTERVAL
	Batch    batch.Limits // BATCH_*

	// What the service hands over from its own settings (KAFKA_BROKERS,
	// SHUTDOWN_TIMEOUT) and the archive's (DEDUP_WINDOW).
	Brokers         []string
	ShutdownTimeout time.Duration // bound on the final write and commit
	DedupWindow     int           // keys per generation of a partition's dedup window, for the memory estimate

	RotateCheck time.Duration // how often an idle partition checks rotation by age
	// ObserveBatch, when not nil, is told how long each batch took from
	// the start of its write to the archive until it was durable (append,
	// fsync, checkpoint); its offsets are committed after that, while the
	// next batch is written.
	ObserveBatch func(time.Duration)
	// Dialer reaches the brokers for the group and the partition readers,
	// Transport for metadata and offsets (kafkaconn's, with its dial
	// timeout, TLS and SASL); nil: kafka-go's defaults. New makes a
	// transport of its own set up as this one, whose metadata requests name
	// Topics (see namingTopics).
	Dialer    *kafka.Dialer
	Transport *kafka.Transport
	// BufferBudget is the memory the batches and fetches of all the
	// partitions held share (see limits); 0: half the soft memory limit,
	// or DefaultBufferBudget without one.
	BufferBudget int64
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

	// stop ends Run's context with the error Run returns: Kafka refused
	// the consumer a right it needs (see refuse). Set by Run before it
	// starts anything.
	stop context.CancelCauseFunc
}

// New returns a runner; Run joins the group.
func New(cfg Config, arch Archive, log *slog.Logger) *Runner {
	if cfg.RotateCheck <= 0 {
		cfg.RotateCheck = time.Second
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second,
		Transport: namingTopics(cfg.Transport, cfg.Topics)}
	return &Runner{cfg: cfg, client: client, arch: arch, log: log}
}

// namingTopics returns a transport set up as t (kafka-go's defaults when
// nil) whose metadata names topics. kafka-go's transport answers Metadata
// from its cache, filled by default with every topic the broker lists; a
// broker with ACLs lists only those the consumer may describe, so a topic it
// may not would look like one that does not exist. Named, it is answered
// TOPIC_AUTHORIZATION_FAILED, and Run stops with the missing right.
func namingTopics(t *kafka.Transport, topics []string) *kafka.Transport {
	out := &kafka.Transport{MetadataTopics: slices.Clone(topics)}
	if t != nil {
		out.Dial, out.DialTimeout, out.IdleTimeout, out.MetadataTTL = t.Dial, t.DialTimeout, t.IdleTimeout, t.MetadataTTL
		out.ClientID, out.TLS, out.SASL, out.Resolver, out.Context = t.ClientID, t.TLS, t.SASL, t.Resolver, t.Context
	}
	return out
}

// ObserveBatch sets the hook told each batch's duration (Config.ObserveBatch);
// call it before Run.
func (r *Runner) ObserveBatch(fn func(time.Duration)) { r.cfg.ObserveBatch = fn }

// Run consumes until ctx ends, then writes and commits what it holds and
// leaves the group. It does the same, and returns the error, when Kafka
// refuses the consumer its group or one of its topics (acl.go).
func (r *Runner) Run(ctx context.Context) (err error) {
	ctx, r.stop = context.WithCancelCause(ctx)
	defer func() {
		var refused refusal
		if errors.As(context.Cause(ctx), &refused) && err == nil {
			err = refused.error
		}
		r.stop(nil)
	}()
	r.baseline = r.partitionCounts(ctx)
	for ctx.Err() == nil {
		topics := r.subscribable(r.baseline)
		if len(topics) == 0 {
			r.baseline = r.awaitTopics(ctx)
			continue
		}
		if err := r.runGroup(ctx, topics); err != nil {
			return err
		}
	}
	return nil
}

// subscribable returns the configured topics that exist, by counts; none
// when counts is nil (the broker did not answer). The group subscribes to
// these only: kafka-go's group leader assigns no partition at all, of any
// topic, while one topic it is given does not exist, so a control topic
// never created would stop the archive; and it reads their partitions with
// a request that lets the broker create a missing topic with its own
// defaults (auto.create.topics.enable, on by default: one partition, a
// week's retention, not the producer's settings).
func (r *Runner) subscribable(counts map[string]int) []string {
	var topics []string
	for _, t := range r.cfg.Topics {
		if counts[t] > 0 {
			topics = append(topics, t)
		}
	}
	return topics
}

// awaitTopics waits, without joining the group, until one of the
// configured topics exists (the producer creates them), and returns the
// counts then; nil once ctx ends.
func (r *Runner) awaitTopics(ctx context.Context) map[string]int {
	r.log.Info("waiting for the topics to exist (the producer creates them); the group is joined once one does",
		"topics", r.cfg.Topics)
	every := min(r.cfg.WatchInterval, time.Second)
	if every <= 0 {
		every = time.Second
	}
	for {
		if !retry.Wait(ctx, every) {
			return nil
		}
		if counts := r.partitionCounts(ctx); len(r.subscribable(counts)) > 0 {
			return counts
		}
	}
}

// heartbeatInterval is how often a member heartbeats: a fifth of the
// session timeout, and at most 3 s (kafka-go's and the Java client's
// default). A member learns that the group rebalances only from a
// heartbeat's answer, and must join again within KAFKA_REBALANCE_TIMEOUT:
// with KAFKA_SESSION_TIMEOUT=30m a fifth would be 6 minutes, and every
// rebalance would drop the members that did not hear of it in time.
func heartbeatInterval(session time.Duration) time.Duration {
	return min(session/5, 3*time.Second)
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
		HeartbeatInterval: heartbeatInterval(r.cfg.SessionTimeout),
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
		refused := groupRefused(r.cfg.GroupID, err)
		if refused == nil && errors.Is(err, kafka.TopicAuthorizationFailed) {
			// The group leader's look-up creates missing topics: a refusal
			// counts once a look-up that creates nothing confirms it.
			// Otherwise a topic is most likely gone since the topics were
			// read: once the look-up shows it, subscribe again to those
			// there are, or every join would fail the same way.
			topic, ok, counts := r.confirmRefused(gctx, r.cfg.Topics, false)
			switch {
			case ok:
				refused = topicRefused(topic, "metadata", err)
			case counts != nil && !slices.Equal(r.subscribable(counts), topics):
				r.baseline = counts
				return nil
			}
		}
		switch {
		case gctx.Err() != nil:
			return nil
		case errors.Is(err, kafka.ErrGroupClosed):
			return nil
		case refused != nil:
			r.Stats.Ready.Store(false)
			return refused
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

// ended reports whether the generation had ended when a function given to
// its Start began. kafka-go still runs such a function, so that a caller
// waiting on it is not stuck, but no longer waits for it before the next
// generation: the function must return at once and touch nothing the next
// generation owns (a partition's archive, the watcher's baseline). Start
// decides under the generation's lock, and the generation's context is done
// from the moment it ends, so this check cannot miss that case.
func ended(gctx context.Context) bool { return gctx.Err() != nil }

func describe(assignments map[string][]kafka.PartitionAssignment) map[string][]int {
	out := make(map[string][]int, len(assignments))
	for t, parts := range assignments {
		for _, p := range parts {
			out[t] = append(out[t], p.ID)
		}
	}
	return out
}
