package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/retry"
)

// TopicSpec is how the producer creates a topic that does not exist yet.
type TopicSpec struct {
	Partitions        int
	ReplicationFactor int
	MinInsyncReplicas int // 0: the broker's default
	// RetentionMs is the topic's retention.ms; -1 keeps messages whatever
	// their age. The record timestamp is the post's own time, and Kafka
	// deletes a segment by its newest timestamp: with a time limit, a
	// replay of last year's archive would be deleted before it is read.
	RetentionMs int64
	// RetentionBytes is retention.bytes per partition; -1: no limit.
	RetentionBytes int64
}

func (s TopicSpec) configs() []kafka.ConfigEntry {
	c := []kafka.ConfigEntry{
		{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(s.RetentionMs, 10)},
		{ConfigName: "retention.bytes", ConfigValue: strconv.FormatInt(s.RetentionBytes, 10)},
	}
	if s.MinInsyncReplicas > 0 {
		c = append(c, kafka.ConfigEntry{ConfigName: "min.insync.replicas", ConfigValue: strconv.Itoa(s.MinInsyncReplicas)})
	}
	return c
}

// EnsureTopics waits for the broker and creates the topics that are
// missing. It retries with backoff, logging each try, until ctx ends (the
// caller bounds it with KAFKA_STARTUP_TIMEOUT), except on an error that
// fatal says retrying cannot fix (wrong credentials, an untrusted
// certificate): fatal, given the error, returns such a failure explained,
// and EnsureTopics returns it at once. fatal may be nil.
func EnsureTopics(ctx context.Context, client *kafka.Client, topics []string, spec TopicSpec, fatal func(error) error, log *slog.Logger) error {
	backoff := retry.Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		err := createTopics(ctx, client, topics, spec, log)
		if err == nil {
			return nil
		}
		if fatal != nil {
			if diagnosis := fatal(err); diagnosis != nil {
				return fmt.Errorf("connecting to Kafka at %s: %w", client.Addr, diagnosis)
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for Kafka at %s: gave up after %d tries: %w", client.Addr, attempt, err)
		}
		wait := backoff.Next()
		log.Warn("waiting for Kafka", "brokers", client.Addr.String(), "attempt", attempt, "retry_in", wait, "error", err)
		if !retry.Wait(ctx, wait) {
			return fmt.Errorf("waiting for Kafka at %s: gave up after %d tries: %w", client.Addr, attempt, err)
		}
	}
}

func createTopics(ctx context.Context, client *kafka.Client, topics []string, spec TopicSpec, log *slog.Logger) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             t,
			NumPartitions:     spec.Partitions,
			ReplicationFactor: spec.ReplicationFactor,
			ConfigEntries:     spec.configs(),
		})
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := client.CreateTopics(actx, req)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range topics {
		switch terr := resp.Errors[t]; {
		case terr == nil:
			log.Info("created topic", "topic", t, "partitions", spec.Partitions, "replication_factor", spec.ReplicationFactor,
				"min_insync_replicas", spec.MinInsyncReplicas, "retention_ms", spec.RetentionMs, "retention_bytes", spec.RetentionBytes)
		case errors.Is(terr, kafka.TopicAlreadyExists):
			log.Debug("topic exists", "topic", t)
		default:
			errs = append(errs, fmt.Errorf("creating topic %s: %w", t, terr))
		}
	}
	return errors.Join(errs...)
}
