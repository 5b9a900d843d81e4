package publish

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestExistingTopicWarnings: a topic made by hand, or by the broker on
// request with its defaults (one partition, a week's retention), is named
// in a warning for each setting that differs from the producer's where it
// matters; a topic the producer made gives none.
func TestExistingTopicWarnings(t *testing.T) {
	brokers := startCluster(t)
	spec := TopicSpec{Partitions: 3, ReplicationFactor: 1, RetentionBytes: -1}
	ensure(t, brokers, "tweets") // the producer's own
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: "byhand", NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "604800000"}, {ConfigName: "max.message.bytes", ConfigValue: "100000"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	got, err := ExistingTopicWarnings(ctx, client, []string{"tweets", "byhand"}, spec, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"topic byhand has 1 partitions, KAFKA_PARTITIONS says 3", "topic byhand keeps records 168h0m0s", "topic byhand takes batches of at most 100000 bytes"}
	if len(got) != len(want) || !slices.ContainsFunc(got, func(w string) bool { return strings.HasPrefix(w, want[0]) }) ||
		!slices.ContainsFunc(got, func(w string) bool { return strings.HasPrefix(w, want[1]) && strings.Contains(w, "retention.ms=-1") }) ||
		!slices.ContainsFunc(got, func(w string) bool { return strings.HasPrefix(w, want[2]) }) {
		t.Fatalf("warnings:\n%s\nwant one starting with each of %q", strings.Join(got, "\n"), want)
	}
}
