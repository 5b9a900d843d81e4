package main

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tweetpipe/tweetpipe/consumer/internal/group"
	"github.com/tweetpipe/tweetpipe/internal/ops"
)

// registerMetrics exposes the group's running totals on /metrics and
// returns the hook that times each batch.
func registerMetrics(reg *prometheus.Registry, s *group.Stats, rotated *atomic.Int64) (func(time.Duration), error) {
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tweetpipe_consumer_batch_duration_seconds",
		Help:    "Time from the start of a batch's write to the archive until it was durable (append, fsync, checkpoint; its offsets are committed after, while the next batch is written); its count is the batches written.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	})
	perTopic := func(name, help string, value func(*group.TopicCounts) *atomic.Int64) error {
		return ops.CounterVecFunc(reg, name, help, []string{"topic"}, func(emit ops.Emit) {
			s.EachTopic(func(topic string, c *group.TopicCounts) { emit(float64(value(c).Load()), topic) })
		})
	}
	err := errors.Join(
		reg.Register(batch),
		perTopic("tweetpipe_consumer_messages_consumed_total", "Messages fetched from Kafka.", func(c *group.TopicCounts) *atomic.Int64 { return &c.Consumed }),
		perTopic("tweetpipe_consumer_messages_written_total", "Lines durably written to the archive.", func(c *group.TopicCounts) *atomic.Int64 { return &c.Written }),
		perTopic("tweetpipe_consumer_written_bytes_total", "Bytes durably written to the archive, newlines included.", func(c *group.TopicCounts) *atomic.Int64 { return &c.Bytes }),
		perTopic("tweetpipe_consumer_dead_lettered_total", "Messages sent to the dead-letter area.", func(c *group.TopicCounts) *atomic.Int64 { return &c.DeadLettered }),
		perTopic("tweetpipe_consumer_duplicates_dropped_total", "Statuses dropped because their key was written recently.", func(c *group.TopicCounts) *atomic.Int64 { return &c.Duplicates }),
		ops.CounterFunc(reg, "tweetpipe_consumer_redelivered_skipped_total", "Messages handed over again after a lost commit and skipped: the archive already held them.", nil, ops.Int64(&s.Skipped)),
		ops.CounterFunc(reg, "tweetpipe_consumer_write_errors_total", "Batches that failed to be written (and were retried).", nil, ops.Int64(&s.WriteErrors)),
		ops.CounterFunc(reg, "tweetpipe_consumer_commit_errors_total", "Offset commits that failed (the archive's checkpoint covers them).", nil, ops.Int64(&s.CommitErrors)),
		ops.CounterFunc(reg, "tweetpipe_consumer_files_rotated_total", "Data files closed (and compressed if configured).", nil, ops.Int64(rotated)),
		ops.GaugeVecFunc(reg, "tweetpipe_consumer_lag_messages", "Messages behind the partition's end at the last fetch, per owned partition.",
			[]string{"topic", "partition"}, func(emit ops.Emit) {
				s.EachLag(func(topic string, partition int, lag int64) { emit(float64(lag), topic, strconv.Itoa(partition)) })
			}),
		ops.GaugeFunc(reg, "tweetpipe_consumer_assigned_partitions", "Partitions this instance owns now.", nil, ops.Int64(&s.Partitions)),
		ops.CounterFunc(reg, "tweetpipe_consumer_messages_deleted_unread_total", "Records Kafka deleted (retention, or a records deletion) before the consumer read them: not in the archive; see the log.", nil, ops.Int64(&s.DeletedUnread)),
		ops.GaugeFunc(reg, "tweetpipe_consumer_stopped_partitions", "Owned partitions not consumed: their archive does not open (a checkpoint that cannot be read, a full disk), or their offsets went back (topic deleted and created again), or another process took their lock; see the log.", nil, ops.Int64(&s.PartitionsStopped)),
		ops.GaugeFunc(reg, "tweetpipe_consumer_group_member", "1 while this instance is a member of the consumer group.", nil, ops.Bool(&s.Ready)),
	)
	return func(d time.Duration) { batch.Observe(d.Seconds()) }, err
}
