package group

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/contract"
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

// recentStatusKeys returns the keys of the statuses (contract.IsStatus)
// among the partition's records from offset from to before next, at most
// one fetch of 1 MiB.
func (r *Runner) recentStatusKeys(ctx context.Context, topic string, partition int, from, next int64) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: from,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	var keys [][]byte
	for {
		rec, err := resp.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return keys, err
		}
		if rec.Offset >= next {
			return keys, nil
		}
		if rec.Key == nil || !contract.IsStatus(rec.Headers) {
			continue
		}
		key, err := io.ReadAll(rec.Key)
		if err != nil {
			return keys, err
		}
		keys = append(keys, key)
	}
}
