package group

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestStalledBeforeFirstMessage: a partition with no commit and no
// checkpoint starts at kafka.FirstOffset; a reader stuck before its first
// message is noticed like one stuck later, and an empty partition is not
// taken for a stuck one.
func TestStalledBeforeFirstMessage(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 2)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return 0 })}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Value: []byte(`{"id":1}`)}, kafka.Message{Value: []byte(`{"id":2}`)}); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, brokers, topic, t.TempDir())
	for _, tt := range []struct {
		partition int
		next      int64
		want      bool
	}{
		{0, kafka.FirstOffset, true}, // holds two messages, none fetched
		{0, 0, true},
		{0, 2, false},                 // all fetched
		{1, kafka.FirstOffset, false}, // empty
	} {
		l := loop{r: r, log: r.log, topic: topic, partition: tt.partition, next: tt.next}
		if got := l.stalled(context.Background()); got != tt.want {
			t.Errorf("partition %d, next offset %d: stalled() = %v; want %v", tt.partition, tt.next, got, tt.want)
		}
	}
}

// TestTopicCreatedWhileMetadataFailed: the broker did not answer the
// partition counts when Run started (so there is no baseline), and the
// topic is created later. It is still picked up: Run waits for a topic
// without joining the group, and joins once the broker answers with one.
func TestTopicCreatedWhileMetadataFailed(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	var refuse atomic.Bool
	refuse.Store(true)
	c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if refuse.Load() {
			return nil, fmt.Errorf("metadata refused"), true
		}
		return nil, nil, false
	})
	r := newRunner(t, brokers, "later", t.TempDir())
	r.cfg.WatchInterval = 2 * time.Second // the topic is created before the watcher's first read
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(time.Second) // Run's read of the partition counts has failed
	refuse.Store(false)
	// Fresh transports: the default one may hold the refused metadata.
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{}}
	if _, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: "later", NumPartitions: 2, ReplicationFactor: 1}},
	}); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "later", RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	defer w.Close()
	var msgs []kafka.Message
	for i := range 50 {
		msgs = append(msgs, kafka.Message{Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
	}
	for try := 0; ; try++ { // the new topic's metadata may take a moment
		err := w.WriteMessages(context.Background(), msgs...)
		if err == nil {
			break
		}
		if try == 20 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(20 * time.Second)
	for r.Stats.Written.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := r.Stats.Written.Load(); got != 50 {
		t.Fatalf("written %d of 50 within 20 s of the topic's creation (partitions owned: %d)", got, r.Stats.Partitions.Load())
	}
}

// countingArchive counts the partitions opened.
type countingArchive struct {
	Archive
	opened atomic.Int32
}

func (a *countingArchive) Partition(ctx context.Context, topic string, partition int) (Partition, error) {
	a.opened.Add(1)
	return a.Archive.Partition(ctx, topic, partition)
}

// TestEndedGenerationStartsNothing: kafka-go still runs a function given to
// Start after the generation ended (the group lost its coordinator while
// Run was starting the partitions), and no longer waits for it before the
// next generation. Such a function must neither open the partition's
// archive, which the next generation owns, nor change the watcher's
// baseline.
func TestEndedGenerationStartsNothing(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	r := newRunner(t, brokers, topic, t.TempDir())
	arch := &countingArchive{Archive: r.arch}
	r.arch = arch
	g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: "test-group", Brokers: brokers, Topics: []string{topic},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gen, err := g.Next(ctx)
	if err != nil {
		t.Fatalf("joining: %v", err)
	}
	if err := g.Close(); err != nil { // ends the generation
		t.Fatal(err)
	}
	if len(gen.Assignments[topic]) != 1 {
		t.Fatalf("assignments %v; want the topic's one partition", gen.Assignments)
	}
	baseline := map[string]int{topic: 7}
	r.baseline = baseline
	ran := make(chan struct{}, 2)
	for _, a := range gen.Assignments[topic] {
		gen.Start(func(gctx context.Context) { r.partition(ctx, gctx, gen, topic, a, r.cfg.limits(1)); ran <- struct{}{} })
	}
	gen.Start(func(gctx context.Context) {
		r.watch(ctx, gctx, baseline, []string{topic}, func() {})
		ran <- struct{}{}
	})
	for range 2 {
		select {
		case <-ran:
		case <-ctx.Done():
			t.Fatal("the functions started on the ended generation did not return")
		}
	}
	if n := arch.opened.Load(); n != 0 {
		t.Errorf("partition archive opened %d times by an ended generation; want 0", n)
	}
	if r.baseline[topic] != 7 || len(r.baseline) != 1 {
		t.Errorf("baseline = %v after an ended generation's watcher; want it unchanged (%s: 7)", r.baseline, topic)
	}
}

// TestMissingTopicDoesNotBlockOthers: with the default KAFKA_TOPICS, a
// producer run with KAFKA_CONTROL_TOPIC empty never creates the control
// topic. The group archives the topic that exists, and takes the other
// once it appears.
func TestMissingTopicDoesNotBlockOthers(t *testing.T) {
	const topic, control = "tweets", "tweets.control"
	brokers := cluster(t, topic, 2)
	produce(t, brokers, topic, 0, 100)
	dir := t.TempDir()
	r := newRunner(t, brokers, topic, dir)
	r.cfg.Topics = []string{topic, control}
	r = New(r.cfg, r.arch, r.log) // New names the topics in its metadata requests
	go func() {
		for deadline := time.Now().Add(20 * time.Second); r.Stats.Written.Load() < 100; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%s: %d of 100 written while %s did not exist; want all", topic, r.Stats.Written.Load(), control)
				break
			}
		}
		cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
		if _, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: control, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
			t.Errorf("creating topic: %v", err)
			return
		}
		produce(t, brokers, control, 1000, 10)
	}()
	runUntil(t, r, 30*time.Second, func() bool { return r.Stats.Written.Load() == 110 })
	if ids := outputIDs(t, dir, topic); len(ids) != 100 {
		t.Errorf("%s: got %d ids; want 100", topic, len(ids))
	}
	if ids := outputIDs(t, dir, control); len(ids) != 10 {
		t.Errorf("%s: got %d ids; want 10", control, len(ids))
	}
}

// TestTopicRecreatedWhileRunning: a topic deleted and created again while
// the consumer reads it starts its offsets at 0. The consumer must not wait
// at its old offset and go on once the new topic grows past it, silently
// skipping the new topic's first messages: it stops the partition, says
// why, and writes nothing more of it.
func TestTopicRecreatedWhileRunning(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 1)
	produce(t, brokers, topic, 0, 300)
	dir := t.TempDir()
	r := newRunner(t, brokers, topic, dir)
	var logs syncBuffer
	r.log = slog.New(slog.NewTextHandler(&logs, nil))
	var stage atomic.Int32
	go func() {
		for r.Stats.Written.Load() < 300 {
			time.Sleep(20 * time.Millisecond)
		}
		if err := recreateTopic(brokers, topic); err != nil {
			t.Error(err)
		}
		produce(t, brokers, topic, 1000, 100)
		// The partition checks its end while idle, at each RotateCheck,
		// and stops once it saw it below its next offset twice: wait for
		// that (a fixed wait was too short on a loaded machine) before
		// the new topic grows past the old offsets.
		for deadline := time.Now().Add(20 * time.Second); r.Stats.PartitionsStopped.Load() == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the partition did not stop within 20 s of the topic created again with fewer records")
				break
			}
		}
		produce(t, brokers, topic, 1100, 250)
		stage.Store(1)
	}()
	runUntil(t, r, 30*time.Second, func() bool {
		if stage.Load() == 1 {
			time.Sleep(3 * time.Second) // time to write what a skipping consumer would
			return true
		}
		return false
	})
	if got := r.Stats.Written.Load(); got != 300 {
		t.Errorf("written %d; want the first topic's 300 and nothing of the new one (its offsets 0-299 would be skipped)", got)
	}
	if ids := outputIDs(t, dir, topic); len(ids) != 300 {
		t.Errorf("got %d ids in the files; want 300", len(ids))
	}
	if !strings.Contains(logs.String(), "deleted and created again") {
		t.Errorf("log does not say the topic was created again:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer for a logger that several goroutines use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
