package publish

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// The topic configurations ExistingTopicWarnings reads.
const (
	configRetentionMs     = "retention.ms"
	configMaxMessageBytes = "max.message.bytes"
)

// ExistingTopicWarnings reads the topics as they are on the broker and
// returns, for each, what differs from what the producer would have made
// it with (spec), where that matters: a retention that deletes records by
// their own, possibly old, times (a replayed archive, gone at the broker's
// next check); a partition count other than KAFKA_PARTITIONS (a topic the
// broker created on request with its defaults, or by hand); a
// max.message.bytes below KAFKA_BATCH_BYTES (each batch over it refused
// whole and written again a record at a time). A topic the producer has
// just created gives none. Each warning names the topic, what it has, and
// how to change it. When the configurations cannot be read, it returns
// the partition warnings with an error saying so.
func ExistingTopicWarnings(ctx context.Context, client *kafka.Client, topics []string, spec TopicSpec, batchBytes int64) ([]string, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("reading the topics' partitions: %w", err)
	}
	// Without the configuration (no DESCRIBE_CONFIGS right), the
	// partitions are still compared; the error says what was not.
	configs, err := describeTopics(ctx, client, topics, configRetentionMs, configMaxMessageBytes)
	var warnings []string
	for _, t := range md.Topics {
		if t.Error != nil {
			continue
		}
		c := configs[t.Name]
		if n := len(t.Partitions); n != spec.Partitions {
			warnings = append(warnings, fmt.Sprintf("topic %s has %d partitions, KAFKA_PARTITIONS says %d: it was made by hand or by the broker on request "+
				"(auto.create.topics.enable), not by the producer; its partitions are used as they are (add some with kafka-topics.sh --alter --partitions)",
				t.Name, n, spec.Partitions))
		}
		if ms, err := strconv.ParseInt(c[configRetentionMs], 10, 64); err == nil && ms >= 0 && ms != spec.retentionMs() {
			keep := "for ever (retention.ms=-1)"
			if spec.Retention > 0 {
				keep = fmt.Sprintf("%s (retention.ms=%d)", spec.Retention, spec.retentionMs())
			}
			warnings = append(warnings, fmt.Sprintf("topic %s keeps records %s by their timestamps, which are the posts' own times: "+
				"older posts (a replayed archive) are deleted at the broker's next retention check, perhaps before they are archived. "+
				"KAFKA_RETENTION asks to keep them %s: kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config retention.ms=%d",
				t.Name, time.Duration(ms)*time.Millisecond, keep, t.Name, spec.retentionMs()))
		}
		if max, err := strconv.ParseInt(c[configMaxMessageBytes], 10, 64); err == nil && max > 0 && max < batchBytes {
			warnings = append(warnings, fmt.Sprintf("topic %s takes batches of at most %d bytes (max.message.bytes), below KAFKA_BATCH_BYTES (%d): "+
				"a batch over it after compression is refused whole and its records are written again one at a time; set KAFKA_BATCH_BYTES to %d or less",
				t.Name, max, batchBytes, max))
		}
	}
	if err != nil {
		return warnings, fmt.Errorf("retention.ms and max.message.bytes not compared: %w", err)
	}
	return warnings, nil
}
