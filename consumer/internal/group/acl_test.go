package group

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
)

// aclCluster starts a cluster with ACLs on, with the topics tweets and
// tweets.control (2 partitions each, made by an admin), and returns its
// brokers. The user "app" has the given ACLs and nothing else; "admin" is a
// superuser.
func aclCluster(t *testing.T, acls ...kfake.ACL) []string {
	t.Helper()
	return emptyCluster(t, kfake.EnableACLs(), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "x"),
		kfake.User("PLAIN", "app", "pw", acls...), kfake.SeedTopics(2, "tweets", "tweets.control"))
}

// allow is the ACL that lets "app" do op on the resource named name.
func allow(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: rt, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
}

// asUser is the group's configuration on brokers for the topics, connecting
// as user with SASL PLAIN, as the service does with KAFKA_SASL_*.
func asUser(brokers []string, user, password string, topics ...string) Config {
	mech := plain.Mechanism{Username: user, Password: password}
	cfg := testConfig(brokers, topics[0])
	cfg.Topics = topics
	cfg.Batch = batch.Limits{MaxRecords: 10, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond}
	cfg.Dialer = &kafka.Dialer{Timeout: 5 * time.Second, SASLMechanism: mech}
	cfg.Transport = &kafka.Transport{DialTimeout: 5 * time.Second, SASL: mech}
	return cfg
}

// produceAs writes n messages to topic as the superuser.
func produceAs(t *testing.T, brokers []string, topic string, from, n int) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		Balancer: &kafka.Murmur2Balancer{}, Transport: &kafka.Transport{SASL: plain.Mechanism{Username: "admin", Password: "x"}}}
	defer w.Close()
	msgs := make([]kafka.Message, 0, n)
	for i := from; i < from+n; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte{byte(i)}, Value: []byte(fmt.Sprintf(`{"id":%d}`, i)), Time: time.Unix(1700000000, 0)})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// committedAs is committed, asked as the superuser.
func committedAs(t *testing.T, brokers []string, topic string, partitions int) int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{SASL: plain.Mechanism{Username: "admin", Password: "x"}}}
	req := &kafka.OffsetFetchRequest{GroupID: "test-group", Topics: map[string][]int{topic: {}}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], p)
	}
	resp, err := c.OffsetFetch(context.Background(), req)
	if err != nil {
		return -1
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		if po.CommittedOffset > 0 {
			n += po.CommittedOffset
		}
	}
	return n
}

// appRunner is a runner of the group test-group on the topics, as "app",
// archiving into dir, logging to log.
func appRunner(t *testing.T, brokers []string, dir string, log io.Writer, topics ...string) *Runner {
	t.Helper()
	arch, err := archive.Open(archive.Config{Dir: dir, DedupWindow: 1000}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return New(asUser(brokers, "app", "pw", topics...), OnDisk(arch), slog.New(slog.NewTextHandler(log, nil)))
}

// TestConsumesWithReadOnTopicsAndGroupOnly: with READ on its topics and on
// its group and no other right (no DESCRIBE_CONFIGS, no CREATE, nothing on
// the cluster), the consumer archives every record of each topic once and
// commits them all; restarted, it checks its checkpoint against the
// partitions' ends and goes on; the manifests' offsets can be read.
func TestConsumesWithReadOnTopicsAndGroupOnly(t *testing.T) {
	brokers := aclCluster(t,
		allow(kmsg.ACLResourceTypeTopic, "tweets", kmsg.ACLOperationRead),
		allow(kmsg.ACLResourceTypeTopic, "tweets.control", kmsg.ACLOperationRead),
		allow(kmsg.ACLResourceTypeGroup, "test-group", kmsg.ACLOperationRead))
	dir := t.TempDir()
	produceAs(t, brokers, "tweets", 0, 50)
	produceAs(t, brokers, "tweets.control", 100, 20)
	var log syncBuffer
	r := appRunner(t, brokers, dir, &log, "tweets", "tweets.control")
	runUntil(t, r, 30*time.Second, func() bool {
		return r.Stats.Written.Load() >= 70 && committedAs(t, brokers, "tweets", 2) >= 50 && committedAs(t, brokers, "tweets.control", 2) >= 20
	})

	produceAs(t, brokers, "tweets", 50, 30)
	r = appRunner(t, brokers, dir, &log, "tweets", "tweets.control")
	runUntil(t, r, 30*time.Second, func() bool {
		return r.Stats.Written.Load() >= 30 && committedAs(t, brokers, "tweets", 2) >= 80
	})
	eachOnce(t, dir, "tweets", 80)
	eachOnce(t, dir, "tweets.control", 20)
	if got := committedAs(t, brokers, "tweets.control", 2); got != 20 {
		t.Errorf("committed %d offsets of tweets.control; want 20", got)
	}
	start, end, err := r.Offsets(context.Background(), "tweets")
	if err != nil || len(end) != 2 || end[0]+end[1] != 80 || start[0]+start[1] != 0 {
		t.Errorf("Offsets: %v, %v, %v; want the 2 partitions of tweets, 80 records in all", start, end, err)
	}
	// kafka-go's reader may log a read cut short by its stop (an i/o
	// timeout) on a loaded machine; any other warning or error, a refused
	// right first, fails.
	for _, line := range strings.Split(log.String(), "\n") {
		stopCut := strings.Contains(line, "kafka reader") && strings.Contains(line, "i/o timeout")
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") && !stopCut {
			t.Errorf("log:\n%s\nwant no warning or error but kafka-go's reader's i/o timeouts at a stop; got %s", log.String(), line)
			break
		}
	}
}

// wantRefused runs r for at most 10 s and checks that Run stopped at once
// (within 5 s) with an error holding each of wants; log is r's.
func wantRefused(t *testing.T, r *Runner, log *syncBuffer, wants ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := r.Run(ctx)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("Run: no error after %s (written %d); want it to stop at once naming %q. Log:\n%s", took, r.Stats.Written.Load(), wants, log.String())
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q; want it to contain %s", err, want)
		}
	}
	if took > 5*time.Second {
		t.Errorf("Run took %s; want it to stop at once", took)
	}
}

// TestStopsWithoutReadOnGroup: a user without READ on the group (Kafka
// refuses it FindCoordinator, JoinGroup and OffsetCommit) stops the
// consumer at once, with an error naming the group and the right, rather
// than retrying to join for ever.
func TestStopsWithoutReadOnGroup(t *testing.T) {
	brokers := aclCluster(t,
		allow(kmsg.ACLResourceTypeTopic, "tweets", kmsg.ACLOperationRead),
		allow(kmsg.ACLResourceTypeTopic, "tweets.control", kmsg.ACLOperationRead))
	produceAs(t, brokers, "tweets", 0, 10)
	var log syncBuffer
	r := appRunner(t, brokers, t.TempDir(), &log, "tweets", "tweets.control")
	wantRefused(t, r, &log, `"test-group"`, "READ", "KAFKA_GROUP_ID")
}

// TestStopsWithoutAnyRightOnTopic: a topic the user may neither read nor
// describe is left out of the broker's metadata as if it did not exist;
// the consumer stops at once with an error naming the topic and READ,
// rather than consuming the other topics as if it were not configured (or
// waiting for it to be created).
func TestStopsWithoutAnyRightOnTopic(t *testing.T) {
	brokers := aclCluster(t,
		allow(kmsg.ACLResourceTypeTopic, "tweets", kmsg.ACLOperationRead),
		allow(kmsg.ACLResourceTypeGroup, "test-group", kmsg.ACLOperationRead))
	produceAs(t, brokers, "tweets", 0, 10)
	produceAs(t, brokers, "tweets.control", 100, 10)
	var log syncBuffer
	r := appRunner(t, brokers, t.TempDir(), &log, "tweets", "tweets.control")
	wantRefused(t, r, &log, `"tweets.control"`, "READ", "DESCRIBE", "KAFKA_TOPICS")
}

// TestStopsWithoutReadOnTopic: a topic the user may describe but not read
// (DESCRIBE without READ) is assigned, and Kafka refuses its fetches; the
// consumer stops at once with an error naming the topic and READ, rather
// than retrying the fetch for ever. What it archived of the other topic
// by then is committed, as at any stop.
func TestStopsWithoutReadOnTopic(t *testing.T) {
	brokers := aclCluster(t,
		allow(kmsg.ACLResourceTypeTopic, "tweets", kmsg.ACLOperationRead),
		allow(kmsg.ACLResourceTypeTopic, "tweets.control", kmsg.ACLOperationDescribe),
		allow(kmsg.ACLResourceTypeGroup, "test-group", kmsg.ACLOperationRead))
	produceAs(t, brokers, "tweets", 0, 10)
	produceAs(t, brokers, "tweets.control", 100, 10)
	var log syncBuffer
	r := appRunner(t, brokers, t.TempDir(), &log, "tweets", "tweets.control")
	wantRefused(t, r, &log, `"tweets.control"`, "READ", "KAFKA_TOPICS")
	if written, got := r.Stats.Topic("tweets").Written.Load(), committedAs(t, brokers, "tweets", 2); got != written {
		t.Errorf("committed %d offsets of tweets; want the %d archived", got, written)
	}
}

// TestConfirmRefused: kafka-go's own look-ups (a partition's leader, the
// group leader's assignment) create missing topics, and Kafka answers them
// TOPIC_AUTHORIZATION_FAILED for a topic that does not exist when the user
// may not create it (a topic deleted while the consumer runs): the consumer
// stops only on a refusal a look-up that creates nothing confirms. A topic
// that does not exist confirms nothing; one the user may not describe
// does; one it may describe does when its fetch was refused (no READ).
func TestConfirmRefused(t *testing.T) {
	brokers := aclCluster(t,
		allow(kmsg.ACLResourceTypeTopic, "tweets", kmsg.ACLOperationDescribe),
		allow(kmsg.ACLResourceTypeTopic, "gone", kmsg.ACLOperationRead),
		allow(kmsg.ACLResourceTypeGroup, "test-group", kmsg.ACLOperationRead))
	r := appRunner(t, brokers, t.TempDir(), io.Discard, "tweets", "tweets.control", "gone")
	ctx := context.Background()
	for _, tc := range []struct {
		topics  []string
		fetched bool
		want    string
	}{
		{[]string{"gone"}, true, ""},                                  // READ on it, but it does not exist
		{[]string{"gone"}, false, ""},                                 // the same, while joining
		{[]string{"tweets"}, true, "tweets"},                          // described, its fetch refused: no READ
		{[]string{"tweets"}, false, ""},                               // described: not refused while joining
		{[]string{"gone", "tweets.control"}, false, "tweets.control"}, // neither READ nor DESCRIBE
	} {
		got, ok, _ := r.confirmRefused(ctx, tc.topics, tc.fetched)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("confirmRefused(%v, fetched %v) = %q, %v; want %q", tc.topics, tc.fetched, got, ok, tc.want)
		}
	}
}
