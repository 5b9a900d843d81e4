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

// TopicSpec is how the producer creates a topic that does not exist yet:
// the KAFKA_PARTITIONS, KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS
// and KAFKA_RETENTION* variables, which the producer's config embeds.
type TopicSpec struct {
	Partitions        int `envconfig:"KAFKA_PARTITIONS" default:"3" desc:"partitions of topics the producer creates (1-10000)"`
	ReplicationFactor int `envconfig:"KAFKA_REPLICATION_FACTOR" default:"1" desc:"replication factor of topics the producer creates (1-32)"`
	MinInsyncReplicas int `envconfig:"KAFKA_MIN_INSYNC_REPLICAS" default:"0" desc:"min.insync.replicas of topics the producer creates (0: the broker's default; 2 with a replication factor of 3)"`
	// Retention is the topic's retention.ms; 0 keeps messages whatever
	// their age (retention.ms -1). The record timestamp is the post's own
	// time, and Kafka deletes a segment by its newest timestamp: with a
	// time limit, a replay of last year's archive would be deleted before
	// it is read.
	Retention time.Duration `envconfig:"KAFKA_RETENTION" default:"0" desc:"retention.ms of topics the producer creates (0: keep whatever the age: records carry the posts' own, possibly old, times)"`
	// RetentionBytes is retention.bytes per partition; -1: no limit.
	RetentionBytes int64 `envconfig:"KAFKA_RETENTION_BYTES" default:"-1" desc:"retention.bytes per partition of topics the producer creates (-1: no limit)"`
}

// Validate checks the variables; each error names the one at fault.
func (s TopicSpec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Partitions < 1 || s.Partitions > 10000 {
		bad("KAFKA_PARTITIONS=%d: accepts 1 to 10000", s.Partitions)
	}
	if s.ReplicationFactor < 1 || s.ReplicationFactor > 32 {
		bad("KAFKA_REPLICATION_FACTOR=%d: accepts 1 to 32", s.ReplicationFactor)
	}
	if s.MinInsyncReplicas < 0 || s.MinInsyncReplicas > s.ReplicationFactor {
		bad("KAFKA_MIN_INSYNC_REPLICAS=%d: accepts 0 (the broker's default) to KAFKA_REPLICATION_FACTOR (%d)", s.MinInsyncReplicas, s.ReplicationFactor)
	}
	if s.Retention < 0 || (s.Retention > 0 && s.Retention < time.Millisecond) {
		// retention.ms counts whole milliseconds: less than one would be
		// 0, which Kafka reads as delete at once, not keep.
		bad("KAFKA_RETENTION=%s: accepts 0 (keep) or a duration of a millisecond or more", s.Retention)
	}
	if s.RetentionBytes < -1 || s.RetentionBytes == 0 {
		bad("KAFKA_RETENTION_BYTES=%d: accepts -1 (no limit) or a positive size", s.RetentionBytes)
	}
	return errors.Join(errs...)
}

// retentionMs is the topic's retention.ms: -1 (keep) for a Retention of 0.
func (s TopicSpec) retentionMs() int64 {
	if s.Retention > 0 {
		return s.Retention.Milliseconds()
	}
	return -1
}

func (s TopicSpec) configs() []kafka.ConfigEntry {
	c := []kafka.ConfigEntry{
		{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(s.retentionMs(), 10)},
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
		// kafka-go answers "Broker Not Available" for a broker it could not
		// dial or look up; Metadata says why (connection refused, no such
		// host), as the consumer's wait does.
		if _, merr := client.Metadata(actx, &kafka.MetadataRequest{}); merr != nil {
			return merr
		}
		return err
	}
	var errs []error
	for _, t := range topics {
		switch terr := resp.Errors[t]; {
		case terr == nil:
			log.Info("created topic", "topic", t, "partitions", spec.Partitions, "replication_factor", spec.ReplicationFactor,
				"min_insync_replicas", spec.MinInsyncReplicas, "retention_ms", spec.retentionMs(), "retention_bytes", spec.RetentionBytes)
		case errors.Is(terr, kafka.TopicAlreadyExists):
			log.Debug("topic exists", "topic", t)
		default:
			errs = append(errs, fmt.Errorf("creating topic %s: %w", t, terr))
		}
	}
	return errors.Join(errs...)
}
