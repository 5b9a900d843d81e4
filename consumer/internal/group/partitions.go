package group

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Offsets returns, for each partition of topic (the slices' index), the
// offset of its oldest message and the offset its next message will get, as
// the broker says now: how many partitions the topic has, and where each
// one ends. It is safe to call from any goroutine while Run runs.
func (r *Runner) Offsets(ctx context.Context, topic string) (start, end []int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	meta, err := r.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the partitions of %s: %w", topic, err)
	}
	n := -1
	for _, t := range meta.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return nil, nil, fmt.Errorf("reading the partitions of %s: %w", topic, t.Error)
			}
			n = len(t.Partitions)
		}
	}
	if n < 0 {
		return nil, nil, fmt.Errorf("reading the partitions of %s: not in the broker's answer", topic)
	}
	// One request for the starts and one for the ends: a request may name
	// a partition once.
	list := func(at func(int) kafka.OffsetRequest) ([]int64, error) {
		reqs := make([]kafka.OffsetRequest, n)
		for p := range n {
			reqs[p] = at(p)
		}
		resp, err := r.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err != nil {
			return nil, err
		}
		out := make([]int64, n)
		seen := 0
		for _, po := range resp.Topics[topic] {
			if po.Error != nil {
				return nil, fmt.Errorf("partition %d: %w", po.Partition, po.Error)
			}
			if po.Partition >= 0 && po.Partition < n {
				// kafka-go files the answer under FirstOffset or
				// LastOffset by the timestamp the broker echoes; the
				// other stays at its placeholder (-1 or 0).
				out[po.Partition] = max(po.FirstOffset, po.LastOffset)
				seen++
			}
		}
		if seen != n {
			return nil, fmt.Errorf("%d partitions in the answer; want %d", seen, n)
		}
		return out, nil
	}
	if start, err = list(kafka.FirstOffsetOf); err != nil {
		return nil, nil, fmt.Errorf("reading the start offsets of %s: %w", topic, err)
	}
	if end, err = list(kafka.LastOffsetOf); err != nil {
		return nil, nil, fmt.Errorf("reading the end offsets of %s: %w", topic, err)
	}
	return start, end, nil
}
