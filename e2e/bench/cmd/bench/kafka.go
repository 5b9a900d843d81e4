package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// admin creates, counts and deletes the benchmark's topics.
type admin struct {
	c *kafka.Client
}

func newAdmin(brokers string) *admin {
	return &admin{c: &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Timeout: 30 * time.Second}}
}

// unique returns a topic name no earlier run used, so runs can share a broker.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// create makes topics with partitions partitions and one replica, waiting
// for the broker for up to a minute. Like the producer's own topics they
// keep messages whatever their age: the statuses carry their own, old,
// timestamps, and a broker's default retention (7 days) would delete them
// as soon as a segment rolls (Kafka did, in this benchmark's first runs:
// 537,131 of 1,000,000 acknowledged statuses gone within a minute).
func (a *admin) create(ctx context.Context, partitions int, topics ...string) error {
	specs := make([]kafka.TopicConfig, len(topics))
	for i, t := range topics {
		specs[i] = kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{
				{ConfigName: "retention.ms", ConfigValue: "-1"},
				{ConfigName: "retention.bytes", ConfigValue: "-1"},
			}}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := a.c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: specs})
		if err == nil {
			for t, e := range resp.Errors {
				if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
					return fmt.Errorf("creating topic %s: %w", t, e)
				}
			}
			return a.waitLeaders(ctx, partitions, topics)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("creating topics at %s: %w", a.c.Addr, err)
		}
		time.Sleep(time.Second)
	}
}

// waitLeaders waits until every partition of topics has a leader.
func (a *admin) waitLeaders(ctx context.Context, partitions int, topics []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := a.c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		ok := err == nil
		if ok {
			for _, t := range resp.Topics {
				if t.Error != nil || len(t.Partitions) != partitions {
					ok = false
					break
				}
				for _, p := range t.Partitions {
					if p.Leader.Host == "" {
						ok = false
					}
				}
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics %v have no leaders after 30s: %v", topics, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count returns the number of offsets in topic (end minus start, summed over
// its partitions).
func (a *admin) count(ctx context.Context, topic string, partitions int) (int64, error) {
	req := make([]kafka.OffsetRequest, 0, 2*partitions)
	for p := range partitions {
		req = append(req, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := a.c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return 0, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return 0, fmt.Errorf("offsets of %s partition %d: %w", topic, po.Partition, po.Error)
		}
		n += po.LastOffset - po.FirstOffset
	}
	return n, nil
}

// remove deletes topics; a failure is only reported, the run is over.
func (a *admin) remove(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	resp, err := a.c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		return err
	}
	var errs []error
	for t, e := range resp.Errors {
		if e != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t, e))
		}
	}
	return errors.Join(errs...)
}
