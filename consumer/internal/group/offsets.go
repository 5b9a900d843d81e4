package group

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
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

// recentRecords returns the partition's records from offset from to before
// next, at most one fetch of 1 MiB, as the loop hands them to the archive
// (key, value, the status mark), unchecked.
func (r *Runner) recentRecords(ctx context.Context, topic string, partition int, from, next int64) ([]archive.Record, error) {
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
	var recs []archive.Record
	for {
		rec, err := resp.Records.ReadRecord()
		if errors.Is(err, io.EOF) || err == nil && rec.Offset >= next {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		var key, value []byte
		if rec.Key != nil {
			if key, err = io.ReadAll(rec.Key); err != nil {
				return recs, err
			}
		}
		if rec.Value != nil {
			if value, err = io.ReadAll(rec.Value); err != nil {
				return recs, err
			}
		}
		recs = append(recs, archive.Record{Offset: rec.Offset, Time: rec.Time, Key: key, Value: value, Dedup: contract.IsStatus(rec.Headers)})
	}
}
