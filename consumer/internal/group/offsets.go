package group

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

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
