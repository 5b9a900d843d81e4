package publish

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

// produceOnly starts a cluster with ACLs on, where the topics in seeded
// exist (3 partitions, made by an admin) and the user the client
// authenticates as has, on tweets and tweets.control, only the given
// rights: no CREATE on the topics or the cluster.
func produceOnly(t *testing.T, seeded []string, ops ...kmsg.ACLOperation) *kafka.Client {
	t.Helper()
	var acls []kfake.ACL
	for _, topic := range []string{"tweets", "tweets.control"} {
		for _, op := range ops {
			acls = append(acls, kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: topic,
				Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true})
		}
	}
	opts := []kfake.Opt{kfake.EnableACLs(), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "x"),
		kfake.User("PLAIN", "app", "pw", acls...)}
	if len(seeded) > 0 {
		opts = append(opts, kfake.SeedTopics(3, seeded...))
	}
	brokers := startCluster(t, opts...)
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second,
		Transport: &kafka.Transport{SASL: plain.Mechanism{Username: "app", Password: "pw"}}}
}

// TestEnsureTopicsWithoutCreateRightUsesExistingTopics: with the rights to
// produce to topics an admin made (WRITE and DESCRIBE, not CREATE), the
// broker refuses to create them (TOPIC_AUTHORIZATION_FAILED, checked before
// whether they exist); EnsureTopics finds them in the metadata and goes on
// at once, saying the topic settings were not applied, rather than waiting
// for Kafka until KAFKA_STARTUP_TIMEOUT.
func TestEnsureTopicsWithoutCreateRightUsesExistingTopics(t *testing.T) {
	client := produceOnly(t, []string{"tweets", "tweets.control"}, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	var log logbuf.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := EnsureTopics(ctx, client, []string{"tweets", "tweets.control"}, TopicSpec{Partitions: 3, ReplicationFactor: 1, RetentionBytes: -1},
		nil, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatalf("EnsureTopics: %v; want the existing topics used", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("EnsureTopics took %s; want no waiting", took)
	}
	for _, topic := range []string{"tweets", "tweets.control"} {
		if !strings.Contains(log.String(), "topic="+topic) || !strings.Contains(log.String(), "may not create") {
			t.Errorf("log:\n%s\nwant a line saying topic %s is used as it is because the producer may not create topics", log.String(), topic)
		}
	}
	if strings.Contains(log.String(), "waiting for Kafka") {
		t.Errorf("log:\n%s\nwant no waiting for Kafka", log.String())
	}
}

// TestEnsureTopicsWithoutCreateRightStopsOnMissingTopic: a topic that does
// not exist and that the producer may not create stops EnsureTopics at
// once, with an error naming the topic, the CREATE right it lacks, and the
// settings an admin should create it with.
func TestEnsureTopicsWithoutCreateRightStopsOnMissingTopic(t *testing.T) {
	client := produceOnly(t, []string{"tweets"}, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := EnsureTopics(ctx, client, []string{"tweets", "tweets.control"},
		TopicSpec{Partitions: 6, ReplicationFactor: 1, MinInsyncReplicas: 1, RetentionBytes: -1}, nil, quiet())
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("EnsureTopics took %s; want it to stop at once", took)
	}
	if err == nil {
		t.Fatal("EnsureTopics: no error; want one naming tweets.control")
	}
	for _, want := range []string{"tweets.control", "CREATE", "--partitions 6", "retention.ms=-1", "min.insync.replicas=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q; want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "gave up") {
		t.Errorf("error %q; want no waiting", err)
	}
}

// TestEnsureTopicsNeitherCreateNorDescribeRight: a topic the producer may
// neither create nor describe (no WRITE either, which implies DESCRIBE)
// cannot be told apart from a missing one; EnsureTopics stops at once,
// naming the rights.
func TestEnsureTopicsNeitherCreateNorDescribeRight(t *testing.T) {
	client := produceOnly(t, []string{"tweets", "tweets.control"}, kmsg.ACLOperationDescribeConfigs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := EnsureTopics(ctx, client, []string{"tweets"}, TopicSpec{Partitions: 3, ReplicationFactor: 1, RetentionBytes: -1}, nil, quiet())
	if err == nil || !strings.Contains(err.Error(), "tweets") || !strings.Contains(err.Error(), "CREATE") ||
		!strings.Contains(err.Error(), "DESCRIBE") || strings.Contains(err.Error(), "gave up") {
		t.Fatalf("EnsureTopics: %v; want an error at once naming the topic, CREATE and DESCRIBE", err)
	}
}

// TestExistingTopicWarningsWithoutDescribeConfigsRight: without the right
// to read the topics' configuration (DESCRIBE_CONFIGS), the partition
// counts, which the metadata gives, are still compared, and the error
// names the missing right.
func TestExistingTopicWarningsWithoutDescribeConfigsRight(t *testing.T) {
	client := produceOnly(t, []string{"tweets", "tweets.control"}, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := ExistingTopicWarnings(ctx, client, []string{"tweets", "tweets.control"}, TopicSpec{Partitions: 6, ReplicationFactor: 1, RetentionBytes: -1}, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "DESCRIBE_CONFIGS") {
		t.Errorf("error %v; want one naming DESCRIBE_CONFIGS", err)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "topic tweets") || !strings.Contains(got[0], "has 3 partitions, KAFKA_PARTITIONS says 6") {
		t.Errorf("warnings:\n%s\nwant one for the partitions of each topic", strings.Join(got, "\n"))
	}
	if _, err := ReadTimestampLimits(ctx, client, []string{"tweets"}); err == nil || !strings.Contains(err.Error(), "DESCRIBE_CONFIGS") {
		t.Errorf("ReadTimestampLimits: %v; want an error naming DESCRIBE_CONFIGS", err)
	}
}
