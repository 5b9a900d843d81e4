package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// TopicSpec is how the producer creates a topic that does not exist yet.
type TopicSpec struct {
	Partitions        int
	ReplicationFactor int
}

// EnsureTopics waits for the broker and creates the topics that are
// missing. It retries with backoff, logging each try, until ctx ends (the
// caller bounds it with KAFKA_STARTUP_TIMEOUT).
func EnsureTopics(ctx context.Context, client *kafka.Client, topics []string, spec TopicSpec, log *slog.Logger) error {
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := createTopics(ctx, client, topics, spec, log)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for Kafka at %s: gave up after %d tries: %w", client.Addr, attempt, err)
		}
		log.Warn("waiting for Kafka", "brokers", client.Addr.String(), "attempt", attempt, "retry_in", backoff, "error", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("waiting for Kafka at %s: gave up after %d tries: %w", client.Addr, attempt, err)
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func createTopics(ctx context.Context, client *kafka.Client, topics []string, spec TopicSpec, log *slog.Logger) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             t,
			NumPartitions:     spec.Partitions,
			ReplicationFactor: spec.ReplicationFactor,
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
			log.Info("created topic", "topic", t, "partitions", spec.Partitions, "replication_factor", spec.ReplicationFactor)
		case errors.Is(terr, kafka.TopicAlreadyExists):
			log.Debug("topic exists", "topic", t)
		default:
			errs = append(errs, fmt.Errorf("creating topic %s: %w", t, terr))
		}
	}
	return errors.Join(errs...)
}
