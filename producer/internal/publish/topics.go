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

// createCommand is the command an admin runs to create topic as the
// producer would have.
func (s TopicSpec) createCommand(topic string) string {
	cmd := fmt.Sprintf("kafka-topics.sh --create --topic %s --partitions %d --replication-factor %d", topic, s.Partitions, s.ReplicationFactor)
	for _, c := range s.configs() {
		cmd += fmt.Sprintf(" --config %s=%s", c.ConfigName, c.ConfigValue)
	}
	return cmd
}

// notAllowedError is a topic the producer may not create and that does
// not exist, or that it may not see: retrying cannot fix it.
type notAllowedError struct{ error }

func (e notAllowedError) Unwrap() error { return e.error }

// EnsureTopics waits for the broker and creates the topics that are
// missing. It retries with backoff, logging each try, until ctx ends (the
// caller bounds it with KAFKA_STARTUP_TIMEOUT), except on an error that
// fatal says retrying cannot fix (wrong credentials, an untrusted
// certificate): fatal, given the error, returns such a failure explained,
// and EnsureTopics returns it at once. fatal may be nil.
//
// A producer with the rights to produce to its topics but not to create
// them (no CREATE on the topics or the cluster: least-privilege ACLs,
// topics made by an admin) is refused the creation even of a topic that
// exists, since Kafka checks the right first; EnsureTopics then uses the
// topics that exist as they are, and returns at once an error naming each
// that does not, or that it may not see.
func EnsureTopics(ctx context.Context, client *kafka.Client, topics []string, spec TopicSpec, fatal func(error) error, log *slog.Logger) error {
	backoff := retry.Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		err := createTopics(ctx, client, topics, spec, log)
		if err == nil {
			return nil
		}
		if errors.As(err, new(notAllowedError)) {
			return fmt.Errorf("creating the topics at Kafka %s: %w", client.Addr, err)
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
	var refused []string
	for _, t := range topics {
		switch terr := resp.Errors[t]; {
		case terr == nil:
			log.Info("created topic", "topic", t, "partitions", spec.Partitions, "replication_factor", spec.ReplicationFactor,
				"min_insync_replicas", spec.MinInsyncReplicas, "retention_ms", spec.retentionMs(), "retention_bytes", spec.RetentionBytes)
		case errors.Is(terr, kafka.TopicAlreadyExists):
			log.Debug("topic exists", "topic", t)
		case errors.Is(terr, kafka.TopicAuthorizationFailed), errors.Is(terr, kafka.ClusterAuthorizationFailed):
			// Refused before the broker looked whether it exists.
			refused = append(refused, t)
		default:
			errs = append(errs, fmt.Errorf("creating topic %s: %w", t, terr))
		}
	}
	if len(refused) > 0 {
		errs = append(errs, existingTopics(actx, client, refused, spec, resp.Errors, log))
	}
	return errors.Join(errs...)
}

// existingTopics looks up in the metadata the topics the producer was not
// allowed to create (refused, by topic, is how the broker refused each).
// One that exists is used as it is, with a line in the log. One that does
// not, or that the producer may not see either (the two look the same), is
// a notAllowedError saying which rights it needs and how an admin would
// create it. A failed lookup is returned, to be retried.
func existingTopics(ctx context.Context, client *kafka.Client, topics []string, spec TopicSpec, refused map[string]error, log *slog.Logger) error {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("creating topics %v: refused (%v); looking up whether they exist: %w", topics, refused[topics[0]], err)
	}
	found := make(map[string]kafka.Topic, len(md.Topics))
	for _, t := range md.Topics {
		found[t.Name] = t
	}
	var errs []error
	for _, name := range topics {
		t, ok := found[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("creating topic %s: %w; the broker did not describe it", name, refused[name]))
		case t.Error == nil:
			log.Info("topic exists; the producer may not create topics (no CREATE right), so it uses it as it is: "+
				"KAFKA_PARTITIONS, KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS and KAFKA_RETENTION* were not applied to it",
				"topic", name, "partitions", len(t.Partitions))
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition), errors.Is(t.Error, kafka.TopicAuthorizationFailed):
			// kafka-go's transport answers from its cache of the topics
			// the broker lists, which leaves out those the client may not
			// describe: missing and hidden look the same.
			errs = append(errs, notAllowedError{fmt.Errorf("topic %s does not exist, or the producer may not see it, and it may not create it (%v): "+
				"it needs WRITE on the topic (which implies DESCRIBE) to write to it, and CREATE on the topic (or on the cluster) to create it; "+
				"or have an admin create it as the producer would: %s",
				name, refused[name], spec.createCommand(name))})
		default:
			errs = append(errs, fmt.Errorf("creating topic %s: %w; looking it up: %w", name, refused[name], t.Error))
		}
	}
	return errors.Join(errs...)
}
