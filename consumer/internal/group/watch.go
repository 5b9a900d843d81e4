package group

import (
	"context"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// partitionCounts returns how many partitions each topic has now (0 for a
// topic that does not exist yet), or nil when the broker did not answer. A
// topic Kafka refuses to describe stops Run (refuse): it would look like one
// that does not exist.
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
		} else if err := topicRefused(t.Name, "metadata", t.Error); err != nil {
			r.refuse(err)
		}
	}
	return counts
}

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
