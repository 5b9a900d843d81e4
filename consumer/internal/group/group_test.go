package group

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/internal/contract"
)

// cluster starts an in-process broker with one topic.
func cluster(t *testing.T, topic string, partitions int) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// emptyCluster is a broker with no topic, set up with opts.
func emptyCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// recreateTopic deletes topic and creates it again with one partition, as
// an operator's kafka-topics.sh --delete and --create would.
func recreateTopic(brokers []string, topic string) error {
	cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
	if _, err := cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
		return fmt.Errorf("deleting topic %s: %w", topic, err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	return nil
}

func produce(t *testing.T, brokers []string, topic string, from, n int) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Balancer: &kafka.Murmur2Balancer{}}
	defer w.Close()
	msgs := make([]kafka.Message, 0, n)
	for i := from; i < from+n; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"id":%d}`, i)), Time: time.Unix(1700000000, 0)})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

func newRunner(t *testing.T, brokers []string, topic, dir string) *Runner {
	t.Helper()
	arch, err := archive.Open(archive.Config{Dir: dir, DedupWindow: 1000}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(brokers, topic)
	cfg.Batch = batch.Limits{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond}
	return New(cfg, OnDisk(arch), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// runUntil runs r until cond holds, then stops it and waits for Run to return.
func runUntil(t *testing.T, r *Runner, within time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = r.Run(ctx) }()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("condition not met within %s (written %d)", within, r.Stats.Written.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
}

func outputIDs(t *testing.T, dir, topic string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, topic, "*", "*", "*.jsonl"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			ids[strings.TrimSuffix(strings.TrimPrefix(sc.Text(), `{"id":`), "}")]++
		}
		fh.Close()
	}
	return ids
}

// eachOnce fails t unless the output holds n distinct ids, each written
// once.
func eachOnce(t *testing.T, dir, topic string, n int) {
	t.Helper()
	ids := outputIDs(t, dir, topic)
	if len(ids) != n {
		t.Fatalf("got %d distinct ids in the output; want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("id %s written %d times; want once", id, c)
		}
	}
}

func committed(t *testing.T, brokers []string, topic string, partitions int) int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	req := &kafka.OffsetFetchRequest{GroupID: "test-group", Topics: map[string][]int{topic: {}}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], p)
	}
	resp, err := c.OffsetFetch(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range resp.Topics[topic] {
		if p.CommittedOffset > 0 {
			sum += p.CommittedOffset
		}
	}
	return sum
}

// TestArchivesAndCommits: every message lands in the files once, and the
// committed offsets cover exactly what was written.
func TestArchivesAndCommits(t *testing.T) {
	const topic, n = "tweets", 1000
	brokers := cluster(t, topic, 3)
	produce(t, brokers, topic, 0, n)
	dir := t.TempDir()
	r := newRunner(t, brokers, topic, dir)
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load() == n })

	eachOnce(t, dir, topic, n)
	if got := committed(t, brokers, topic, 3); got != n {
		t.Fatalf("committed offsets sum to %d; want %d", got, n)
	}
}

// TestRestartResumes: a second run picks up where the first stopped and
// writes only the new messages.
func TestRestartResumes(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 3)
	dir := t.TempDir()
	produce(t, brokers, topic, 0, 500)
	r1 := newRunner(t, brokers, topic, dir)
	runUntil(t, r1, 30*time.Second, func() bool { return r1.Stats.Written.Load() == 500 })

	produce(t, brokers, topic, 500, 300)
	r2 := newRunner(t, brokers, topic, dir)
	runUntil(t, r2, 30*time.Second, func() bool { return r2.Stats.Written.Load() == 300 })
	if got := r2.Stats.Consumed.Load(); got != 300 {
		t.Errorf("second run consumed %d messages; want only the 300 new ones", got)
	}
	ids := outputIDs(t, dir, topic)
	if len(ids) != 800 {
		t.Fatalf("got %d distinct ids; want 800", len(ids))
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("id %s written %d times; want once", id, c)
		}
	}
}

// TestLostCommitIsSkipped: when the archive holds offsets that Kafka never
// saw committed (a crash between checkpoint and commit), a new group
// starting from the earliest offset writes nothing twice.
func TestLostCommitIsSkipped(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 3)
	dir := t.TempDir()
	produce(t, brokers, topic, 0, 600)
	r1 := newRunner(t, brokers, topic, dir)
	runUntil(t, r1, 30*time.Second, func() bool { return r1.Stats.Written.Load() == 600 })

	// A different group id has no commits: it is handed every offset again.
	r2 := newRunner(t, brokers, topic, dir)
	r2.cfg.GroupID = "another-group"
	produce(t, brokers, topic, 600, 10)
	runUntil(t, r2, 30*time.Second, func() bool { return r2.Stats.Written.Load() == 10 })
	ids := outputIDs(t, dir, topic)
	if len(ids) != 610 {
		t.Fatalf("got %d distinct ids; want 610", len(ids))
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("id %s written %d times; want once", id, c)
		}
	}
}

// createTopic creates topic with the given partitions, from any goroutine;
// it reports false, the test failed, when the broker refused.
func createTopic(t *testing.T, brokers []string, topic string, partitions int) bool {
	cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
	if _, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}}); err != nil {
		t.Errorf("creating topic %s: %v", topic, err)
		return false
	}
	return true
}

// TestTopicCreatedLater: the group waits for a topic that does not exist
// yet and archives it once it appears.
func TestTopicCreatedLater(t *testing.T) {
	brokers := emptyCluster(t)
	dir := t.TempDir()
	r := newRunner(t, brokers, "later", dir)
	go func() {
		time.Sleep(time.Second)
		if createTopic(t, brokers, "later", 2) {
			produce(t, brokers, "later", 0, 50)
		}
	}()
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load() == 50 })
	if ids := outputIDs(t, dir, "later"); len(ids) != 50 {
		t.Fatalf("got %d ids; want 50", len(ids))
	}
}

// TestMissingTopicsNotAutoCreated: on a broker that creates a topic for a
// client that asks for it (auto.create.topics.enable, Kafka's default), a
// consumer started before its topics exist does not make the broker create
// them (with the broker's defaults, not the producer's partitions and
// retention): it joins the group only once the producer created one.
func TestMissingTopicsNotAutoCreated(t *testing.T) {
	brokers := emptyCluster(t, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	dir := t.TempDir()
	r := newRunner(t, brokers, "later", dir)
	partitions := func() int {
		md, err := (&kafka.Client{Addr: kafka.TCP(brokers...)}).Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{"later"}})
		if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
			return 0
		}
		return len(md.Topics[0].Partitions)
	}
	created := make(chan int, 1)
	go func() {
		time.Sleep(3 * time.Second) // the consumer has been waiting
		before := partitions()
		ok := createTopic(t, brokers, "later", 3)
		created <- before
		if ok {
			produce(t, brokers, "later", 0, 50)
		}
	}()
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load() == 50 })
	if before := <-created; before != 0 {
		t.Fatalf("the topic had %d partitions before the producer created it; want it not created by the consumer", before)
	}
	if got := partitions(); got != 3 {
		t.Fatalf("the topic has %d partitions; want the 3 it was created with", got)
	}
}

// TestRecreatedTopicIsNotSkipped: a topic deleted and created again starts
// its offsets at 0 again; the archive's old checkpoint must not make the
// consumer skip the new messages as already written.
func TestRecreatedTopicIsNotSkipped(t *testing.T) {
	const topic = "tweets"
	dir := t.TempDir()
	first := cluster(t, topic, 1)
	produce(t, first, topic, 0, 300)
	r1 := newRunner(t, first, topic, dir)
	runUntil(t, r1, 30*time.Second, func() bool { return r1.Stats.Written.Load() == 300 })

	// Same topic name, offsets from 0 again, fewer messages than the old
	// checkpoint counted. More arrive while the consumer runs: one trusting
	// the old checkpoint would skip offsets 0-299 and write from 300 on.
	second := cluster(t, topic, 1)
	produce(t, second, topic, 1000, 100)
	r2 := newRunner(t, second, topic, dir)
	var logs syncBuffer
	r2.log = slog.New(slog.NewJSONHandler(&logs, nil))
	started := time.Now()
	go func() {
		time.Sleep(time.Second)
		produce(t, second, topic, 1100, 250)
	}()
	runUntil(t, r2, 30*time.Second, func() bool { return time.Since(started) > 4*time.Second })
	if got := r2.Stats.Skipped.Load(); got != 0 {
		t.Fatalf("skipped %d new messages as if already written; want 0", got)
	}
	if got := r2.Stats.Written.Load(); got != 0 {
		t.Fatalf("wrote %d messages into an archive that describes another partition; want 0 until an operator acts", got)
	}
	if ids := outputIDs(t, dir, topic); len(ids) != 300 {
		t.Fatalf("got %d ids; want the first run's 300 untouched", len(ids))
	}
	// The operator is told which checkpoint file to move away: it must be
	// the one the archive keeps.
	named := ""
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct{ Checkpoint string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Checkpoint != "" {
			named = rec.Checkpoint
			break
		}
	}
	if named == "" {
		t.Fatalf("no log line names the checkpoint file:\n%s", logs.String())
	}
	if _, err := os.Stat(named); err != nil {
		t.Errorf("the checkpoint file named in the log: %v; want the archive's file", err)
	}
}

// TestDuplicatesDropped: a status sent twice (a producer retry, a source
// resuming early) has two offsets; the archive keeps the first copy only.
// Control messages with repeated keys are all kept.
func TestDuplicatesDropped(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 3)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Balancer: &kafka.Murmur2Balancer{}}
	defer w.Close()
	status := []kafka.Header{{Key: contract.HeaderKind, Value: []byte(contract.KindStatus)}}
	scrub := []kafka.Header{{Key: contract.HeaderKind, Value: []byte("scrub_geo")}}
	var msgs []kafka.Message
	for round := range 2 {
		for i := range 100 {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"id":%d}`, i)), Headers: status})
		}
		msgs = append(msgs, kafka.Message{Key: []byte("user-7"), Value: []byte(fmt.Sprintf(`{"id":"scrub-%d"}`, round)), Headers: scrub})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := newRunner(t, brokers, topic, dir)
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load()+r.Stats.Duplicates.Load() == 202 })
	ids := outputIDs(t, dir, topic)
	if len(ids) != 102 {
		t.Fatalf("got %d distinct lines; want 100 statuses and 2 scrub_geo", len(ids))
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("%s written %d times; want once", id, c)
		}
	}
	if got := r.Stats.Duplicates.Load(); got != 100 {
		t.Fatalf("duplicates = %d; want 100", got)
	}
}

// TestWriteFailureHoldsCommits: while the output cannot be written (a file
// stands where the topic's folder must go, as a full or broken disk would
// fail), nothing is committed; once it can, everything lands once.
func TestWriteFailureHoldsCommits(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 3)
	produce(t, brokers, topic, 0, 100)
	dir := t.TempDir()
	blocker := filepath.Join(dir, topic)
	if err := os.WriteFile(blocker, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, brokers, topic, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for r.Stats.WriteErrors.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no write errors reported")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := committed(t, brokers, topic, 3); got != 0 {
		t.Fatalf("committed %d offsets while nothing could be written; want 0", got)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	for r.Stats.Written.Load() < 100 {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("written %d after the disk recovered; want 100", r.Stats.Written.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ids := outputIDs(t, dir, topic); len(ids) != 100 {
		t.Fatalf("got %d ids; want 100", len(ids))
	}
	if got := committed(t, brokers, topic, 3); got != 100 {
		t.Fatalf("committed %d; want 100", got)
	}
}

// refusingCommits starts an in-process broker with one single-partition
// topic whose coordinator answers an offset commit for which refuse reports
// true with REQUEST_TIMED_OUT for every partition in it, as one moving to
// another broker does.
func refusingCommits(t *testing.T, topic string, refuse func(*kmsg.OffsetCommitRequest) bool) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.OffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetCommitRequest)
		if !refuse(req) {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			ot := kmsg.NewOffsetCommitResponseTopic()
			ot.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				op := kmsg.NewOffsetCommitResponseTopicPartition()
				op.Partition, op.ErrorCode = rp.Partition, 7 // REQUEST_TIMED_OUT
				ot.Partitions = append(ot.Partitions, op)
			}
			resp.Topics = append(resp.Topics, ot)
		}
		return resp, nil, true
	})
	return c.ListenAddrs()
}

// TestFailedCommitRetriedWhenIdle: the commit of the last batch fails once
// and no message comes after it; the committed offset still reaches the
// end of the partition (what a drain waits for), and nothing is written
// twice.
func TestFailedCommitRetriedWhenIdle(t *testing.T) {
	const topic, n = "tweets", 50
	var refused atomic.Int32
	brokers := refusingCommits(t, topic, func(req *kmsg.OffsetCommitRequest) bool {
		// The first commit of the end offset only.
		return len(req.Topics) == 1 && len(req.Topics[0].Partitions) == 1 &&
			req.Topics[0].Partitions[0].Offset == n && refused.CompareAndSwap(0, 1)
	})
	produce(t, brokers, topic, 0, n)
	dir := t.TempDir()
	r := newRunner(t, brokers, topic, dir)
	runUntil(t, r, 20*time.Second, func() bool {
		return r.Stats.Written.Load() == n && r.Stats.CommitErrors.Load() > 0 && committed(t, brokers, topic, 1) == n
	})
	if got := refused.Load(); got != 1 {
		t.Fatalf("refused %d commits; want 1", got)
	}
	eachOnce(t, dir, topic, n)
}

// TestSlowCommitDoesNotHoldWrites: while the coordinator holds a commit
// unanswered, the partition goes on writing what comes behind it (the
// commit is not on the writer's path), and once the coordinator answers,
// the next commit covers it all.
func TestSlowCommitDoesNotHoldWrites(t *testing.T) {
	const topic, first, n = "tweets", 100, 500 // newRunner's batches hold 100 records
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	release := make(chan struct{})
	var held atomic.Int32
	c.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if held.CompareAndSwap(0, 1) {
			// The first commit waits, without holding other connections,
			// until the test releases it (or 15 s, not to hang a failed run).
			c.SleepControl(func() {
				select {
				case <-release:
				case <-time.After(15 * time.Second):
				}
			})
		}
		return nil, nil, false
	})
	brokers := c.ListenAddrs()
	produce(t, brokers, topic, 0, first)
	dir := t.TempDir()
	r := newRunner(t, brokers, topic, dir)
	var rest, released bool
	runUntil(t, r, 10*time.Second, func() bool {
		switch {
		case !rest && held.Load() == 1:
			// The first batch's commit is held: the rest comes only now.
			produce(t, brokers, topic, first, n-first)
			rest = true
		case rest && !released && r.Stats.Written.Load() == n:
			close(release) // all written while the first commit was held
			released = true
		}
		return released && committed(t, brokers, topic, 1) == n
	})
	eachOnce(t, dir, topic, n)
}

// TestCheckpointAheadCommittedAtAssignment: a consumer wrote everything but
// every commit failed before it stopped; the next one, given no new data,
// commits what the checkpoint covers, and writes nothing again.
func TestCheckpointAheadCommittedAtAssignment(t *testing.T) {
	const topic, n = "tweets", 50
	var refuse atomic.Bool
	refuse.Store(true)
	brokers := refusingCommits(t, topic, func(*kmsg.OffsetCommitRequest) bool { return refuse.Load() })
	produce(t, brokers, topic, 0, n)
	dir := t.TempDir()
	r1 := newRunner(t, brokers, topic, dir)
	runUntil(t, r1, 20*time.Second, func() bool { return r1.Stats.Written.Load() == n && r1.Stats.CommitErrors.Load() > 0 })
	if got := committed(t, brokers, topic, 1); got != 0 {
		t.Fatalf("committed %d while every commit was refused; want 0", got)
	}

	refuse.Store(false)
	r2 := newRunner(t, brokers, topic, dir)
	runUntil(t, r2, 20*time.Second, func() bool { return committed(t, brokers, topic, 1) == n })
	if got := r2.Stats.Written.Load(); got != 0 {
		t.Errorf("the second consumer wrote %d lines; want 0 (all were written before)", got)
	}
	eachOnce(t, dir, topic, n)
}

// TestBadValuesDeadLettered: values that are not one line of JSON go to the
// dead-letter area with their coordinates, and the partition keeps flowing.
func TestBadValuesDeadLettered(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	values := []string{`{"id":1}`, ``, `not json`, "\"\xff\xfe\"", "{\"a\":1}\n{\"b\":2}", `{"id":2}`, `{"id":3`, `{"id":4}`}
	var msgs []kafka.Message
	for _, v := range values {
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := newRunner(t, brokers, topic, dir)
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load()+r.Stats.DeadLettered.Load() == int64(len(values)) })
	if w, d := r.Stats.Written.Load(), r.Stats.DeadLettered.Load(); w != 3 || d != 5 {
		t.Fatalf("written %d dead-lettered %d; want 3 and 5", w, d)
	}
	data, err := os.ReadFile(filepath.Join(dir, "_deadletter", topic, topic+"-p0-000000000001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 5 {
		t.Fatalf("dead-letter file has %d lines; want 5:\n%s", len(lines), data)
	}
	for _, want := range []string{`"offset":1`, `"offset":2`, `"offset":3`, `"offset":4`, `"offset":6`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("dead-letter file lacks %s:\n%s", want, data)
		}
	}
	if !strings.Contains(lines[0], `"topic":"tweets"`) || !strings.Contains(lines[0], `"reason"`) {
		t.Errorf("dead-letter line lacks topic or reason: %s", lines[0])
	}
}

// TestRecordsCheckedWhenFetched: every record reaches the archive already
// checked, with the reason the archive would give, so the writer does not
// check it while the next batch waits.
func TestRecordsCheckedWhenFetched(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	values := []string{`{"id":1}`, `not json`, "{\"a\":1}\n", `{"id":2}`}
	want := []string{"", archive.ReasonInvalidJSON, archive.ReasonLineBreak, ""}
	var msgs []kafka.Message
	for _, v := range values {
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		seen   int
		faults []string
	)
	arch := &memArchive{recs: map[string][]archive.Record{}, onAppend: func(recs []archive.Record) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			seen++
			if !r.Checked || r.Reason != want[r.Offset] {
				faults = append(faults, fmt.Sprintf("offset %d: Checked %v, Reason %q; want true, %q", r.Offset, r.Checked, r.Reason, want[r.Offset]))
			}
		}
	}}
	r := gateRunner(t, brokers, topic, arch)
	runUntil(t, r, 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return seen >= len(values) })
	mu.Lock()
	defer mu.Unlock()
	for _, f := range faults {
		t.Error(f)
	}
}

// TestRebalanceMidBatch: a second member joins while the first holds an
// open batch, then the first leaves; every message is archived once.
func TestRebalanceMidBatch(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 4)
	dir := t.TempDir()
	r1 := newRunner(t, brokers, topic, dir)
	// Batches stay open across the rebalance: a caught-up partition's batch
	// waits while its writer is busy, and a slow disk keeps it busy.
	r1.cfg.Batch.MaxWait = 2 * time.Second
	r1.arch = slowArchive{r1.arch, 500 * time.Millisecond}
	r2 := newRunner(t, brokers, topic, dir)

	ctx1, stop1 := context.WithCancel(context.Background())
	ctx2, stop2 := context.WithCancel(context.Background())
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- r1.Run(ctx1) }()
	produce(t, brokers, topic, 0, 500)
	time.Sleep(500 * time.Millisecond)
	go func() { done2 <- r2.Run(ctx2) }()
	produce(t, brokers, topic, 500, 500)
	time.Sleep(2 * time.Second)
	stop1()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, topic, 1000, 500)
	deadline := time.Now().Add(40 * time.Second)
	for len(outputIDs(t, dir, topic)) < 1500 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stop2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	ids := outputIDs(t, dir, topic)
	if len(ids) != 1500 {
		t.Fatalf("got %d distinct ids; want 1500", len(ids))
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("id %s written %d times; want once", id, c)
		}
	}
}

// TestRecordsDeletedUnreadReported: records Kafka deleted (retention, or a
// records deletion) while the consumer was stopped are past what it can
// archive; kafka-go's reader moves on to the partition's start without a
// word. The consumer counts them (Stats.DeletedUnread) and archives the
// rest.
func TestRecordsDeletedUnreadReported(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	dir := t.TempDir()
	produce(t, brokers, topic, 0, 30)
	r1 := newRunner(t, brokers, topic, dir)
	runUntil(t, r1, 30*time.Second, func() bool { return r1.Stats.Written.Load() == 30 && committed(t, brokers, topic, 1) == 30 })

	produce(t, brokers, topic, 30, 70) // offsets 30 to 99
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 60 // offsets 30 to 59 deleted unread
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("deleting records: error code %d", code)
	}

	r2 := newRunner(t, brokers, topic, dir)
	runUntil(t, r2, 30*time.Second, func() bool { return r2.Stats.Written.Load() == 40 })
	if got := r2.Stats.DeletedUnread.Load(); got != 30 {
		t.Errorf("deleted unread: got %d; want 30 (offsets 30 to 59)", got)
	}
	if ids := outputIDs(t, dir, topic); len(ids) != 70 {
		t.Errorf("got %d distinct ids in the archive; want 70 (0 to 29, 60 to 99)", len(ids))
	}
}

// TestCommitAheadOfFolderReadAgain: the group's offset moved past what a
// folder holds (here by a consumer of the same group writing another
// folder; a reset by hand does the same) is not taken by that folder's
// consumer: it reads the offsets between again, so that the folder holds
// every record once.
func TestCommitAheadOfFolderReadAgain(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	dirA, dirB := t.TempDir(), t.TempDir()
	produce(t, brokers, topic, 0, 10)
	a := newRunner(t, brokers, topic, dirA)
	runUntil(t, a, 30*time.Second, func() bool { return committed(t, brokers, topic, 1) == 10 })
	produce(t, brokers, topic, 10, 20)
	b := newRunner(t, brokers, topic, dirB)
	runUntil(t, b, 30*time.Second, func() bool { return committed(t, brokers, topic, 1) == 30 })

	again := newRunner(t, brokers, topic, dirA)
	runUntil(t, again, 30*time.Second, func() bool { return again.Stats.Written.Load() == 20 })
	eachOnce(t, dirA, topic, 30)
}

// TestAssignedStart: where a partition's owner starts, by the group's commit
// and the archive's checkpoint, and which cases are warned about.
func TestAssignedStart(t *testing.T) {
	for _, tc := range []struct {
		name            string
		committed, next int64
		want            int64
		warn            string
	}{
		{"in step", 30, 30, 30, ""},
		{"commit behind (failed, or moved back)", 10, 30, 30, ""},
		{"no commit", kafka.FirstOffset, 30, 30, ""},
		{"nothing anywhere", kafka.FirstOffset, -1, kafka.FirstOffset, ""},
		{"commit ahead of the archive", 30, 10, 10, "the group committed past what this archive holds"},
		{"empty archive, commit made", 30, -1, 30, "this archive holds nothing of the partition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := assignedStart(slog.New(slog.NewTextHandler(&logs, nil)), tc.committed, tc.next, "ckpt")
			if got != tc.want {
				t.Errorf("assignedStart(committed %d, next %d) = %d; want %d", tc.committed, tc.next, got, tc.want)
			}
			switch warned := strings.Contains(logs.String(), "level=WARN"); {
			case tc.warn == "" && warned:
				t.Errorf("warned: %s", logs.String())
			case tc.warn != "" && (!warned || !strings.Contains(logs.String(), tc.warn)):
				t.Errorf("logs %q; want a warning: %s", logs.String(), tc.warn)
			}
		})
	}
}

// produceStatuses sends n statuses (the kind=status header) keyed
// <prefix>-<i>.
func produceStatuses(t *testing.T, brokers []string, topic, prefix string, n int) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Balancer: &kafka.Murmur2Balancer{}}
	defer w.Close()
	status := []kafka.Header{{Key: contract.HeaderKind, Value: []byte(contract.KindStatus)}}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("%s-%d", prefix, i)), Value: []byte(fmt.Sprintf(`{"id":"%s-%d"}`, prefix, i)), Headers: status}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// runnerInGroup is newRunner with a group of its own.
func runnerInGroup(t *testing.T, brokers []string, topic, dir, group string) *Runner {
	t.Helper()
	r := newRunner(t, brokers, topic, dir)
	r.cfg.GroupID = group
	return r
}

// TestRecreatedTopicWithoutCommitNotSkipped: a topic deleted (Kafka drops
// the group's offsets with it) and created again, then filled past the
// archive's checkpoint, is not read from the checkpoint: its records there
// are not the archived ones, and its first ones would be skipped without a
// word. The partition is not consumed, with an ERROR, and counts as
// stopped. A group without offsets on the same topic (new, or its offsets
// expired) goes on from the checkpoint.
func TestRecreatedTopicWithoutCommitNotSkipped(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	produceStatuses(t, brokers, topic, "old", 10)
	dir := t.TempDir()
	first := newRunner(t, brokers, topic, dir)
	runUntil(t, first, 30*time.Second, func() bool { return first.Stats.Written.Load() == 10 })

	t.Run("same topic, new group", func(t *testing.T) {
		produceStatuses(t, brokers, topic, "more", 5)
		r := runnerInGroup(t, brokers, topic, dir, "expired-group")
		runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load() == 5 })
		if got := r.Stats.PartitionsStopped.Load(); got != 0 {
			t.Fatalf("stopped partitions = %d; want 0", got)
		}
		eachOnce(t, dir, topic, 15)
	})

	t.Run("topic created again", func(t *testing.T) {
		if err := recreateTopic(brokers, topic); err != nil {
			t.Fatal(err)
		}
		produceStatuses(t, brokers, topic, "new", 40)
		r := runnerInGroup(t, brokers, topic, dir, "after-delete-group")
		var logs syncBuffer
		r.log = slog.New(slog.NewTextHandler(&logs, nil))
		runUntil(t, r, 30*time.Second, func() bool {
			if r.Stats.PartitionsStopped.Load() == 1 {
				time.Sleep(2 * time.Second) // time to write what a skipping consumer would
				return true
			}
			return r.Stats.Written.Load() > 0
		})
		if got := r.Stats.Written.Load(); got != 0 {
			t.Fatalf("wrote %d records of the new topic from the old checkpoint; want none (its first 15 would be skipped)", got)
		}
		if !strings.Contains(logs.String(), "none of their keys is among those it wrote last") {
			t.Fatalf("logs:\n%s\nwant an ERROR asking whether the topic was created again", logs.String())
		}
	})
}

// TestHeartbeatIntervalBounded: a member heartbeats every fifth of the
// session timeout, but at least every 3 s, so that it hears of a rebalance
// within KAFKA_REBALANCE_TIMEOUT (30 s by default) however long the session
// timeout (up to 30 minutes) is.
func TestHeartbeatIntervalBounded(t *testing.T) {
	for _, tc := range []struct{ session, want time.Duration }{
		{6 * time.Second, 1200 * time.Millisecond},
		{10 * time.Second, 2 * time.Second},
		{15 * time.Second, 3 * time.Second},
		{2 * time.Minute, 3 * time.Second},
		{30 * time.Minute, 3 * time.Second},
	} {
		if got := heartbeatInterval(tc.session); got != tc.want {
			t.Errorf("KAFKA_SESSION_TIMEOUT=%s: heartbeat every %s; want %s", tc.session, got, tc.want)
		}
	}
}
