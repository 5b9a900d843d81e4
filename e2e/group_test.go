package e2e

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestTwoConsumersSharePartitions runs two consumers in one group on one
// output directory (the shared volume of a scaled-out deployment) while the
// producer publishes to six partitions. Halfway through, one consumer is
// stopped with SIGTERM: it must exit 0, the other must take over all six
// partitions, and the archive must end up holding every status exactly once.
func TestTwoConsumersSharePartitions(t *testing.T) {
	brokers := broker(t)
	topic := unique("tweets")
	group := unique("archiver")
	out := t.TempDir()
	const (
		count      = 20000
		partitions = 6
	)

	consumerEnv := []string{"KAFKA_BROKERS=" + brokers, "KAFKA_TOPICS=" + topic, "KAFKA_GROUP_ID=" + group,
		"OUTPUT_DIR=" + out, "BATCH_MAX_WAIT=100ms", "BATCH_MAX_RECORDS=500",
		"KAFKA_SESSION_TIMEOUT=6s", "PARTITION_WATCH_INTERVAL=500ms"}
	a := start(t, "consumer", consumerEnv...)
	b := start(t, "consumer", consumerEnv...)
	a.name, b.name = "consumer A", "consumer B"
	// Both are up before the producer creates the topic; they join the
	// group once it exists (joining earlier would let a broker that creates
	// topics on request make it with its own defaults).
	for _, c := range []*proc{a, b} {
		eventually(t, 60*time.Second, c.name+" waiting for the topic", func() bool {
			return strings.Contains(c.out.String(), `msg="waiting for the topics to exist`)
		})
	}

	// 20,000 statuses at 2,500/s: the run spans about 8 s, so the stop
	// below lands while messages are still arriving on every partition.
	prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=synthetic", "SYNTHETIC_RATE=2500",
		"SYNTHETIC_COUNT="+strconv.Itoa(count), "SYNTHETIC_SEED=11", "KAFKA_PARTITIONS="+strconv.Itoa(partitions),
		"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+topic+".control")

	// Both members must own partitions of the topic before one is stopped,
	// or nothing is shared and nothing taken over.
	for _, c := range []*proc{a, b} {
		eventually(t, 60*time.Second, c.name+" owning partitions of "+topic, func() bool {
			return strings.Contains(c.out.String(), `msg="partition assigned" topic=`+topic+" ")
		})
	}
	// A member that joins while the other owns every partition gets its
	// share at the next rebalance, a few seconds on: by then the output
	// can be past halfway (once in CI, consumer A was stopped with 0
	// written). It is stopped only once it has written some of its share.
	wroteSome := regexp.MustCompile(`msg=progress written=[1-9]`)
	eventually(t, 60*time.Second, "consumer A writing statuses", func() bool {
		return wroteSome.MatchString(a.out.String())
	})
	eventually(t, 60*time.Second, "half of the statuses in the output", func() bool {
		return countLines(t, out, topic) >= count/2
	})
	if isClosed(prod.done) {
		t.Fatalf("the producer finished before the halfway stop; the test no longer exercises a takeover (raise SYNTHETIC_COUNT or lower SYNTHETIC_RATE)")
	}
	ownsAll := regexp.MustCompile(`msg="joined consumer group" [^\n]* partitions=` + strconv.Itoa(partitions) + ` `)
	generationsBefore := len(ownsAll.FindAllString(b.out.String(), -1))
	halfway := countLines(t, out, topic)
	a.stop(t, 30*time.Second)
	writtenA := totalWritten(t, a)
	t.Logf("halfway: stopped consumer A with SIGTERM at %d lines in the output; it exited 0 having written %d", halfway, writtenA)
	if writtenA <= 0 || writtenA >= count {
		t.Fatalf("consumer A wrote %d statuses before its stop; want some but not all of %d", writtenA, count)
	}
	eventually(t, 60*time.Second, "consumer B taking over all "+strconv.Itoa(partitions)+" partitions", func() bool {
		return len(ownsAll.FindAllString(b.out.String(), -1)) > generationsBefore
	})

	prod.wait(t, 120*time.Second)
	eventually(t, 120*time.Second, "every status in the output", func() bool {
		return countLines(t, out, topic) >= count
	})
	b.stop(t, 30*time.Second)
	writtenB := totalWritten(t, b)

	lines := readOutput(t, out, topic)
	ids := make(map[string]bool, count)
	for _, l := range lines {
		id := statusID(t, l)
		if ids[id] {
			t.Fatalf("status %s written twice", id)
		}
		ids[id] = true
	}
	if len(ids) != count {
		t.Fatalf("got %d distinct statuses in %d lines; want %d", len(ids), len(lines), count)
	}
	if writtenA+writtenB != count {
		t.Errorf("consumer totals: A wrote %d and B wrote %d, %d in all; want %d", writtenA, writtenB, writtenA+writtenB, count)
	}
	t.Logf("%d statuses archived exactly once by two consumers (A wrote %d before its stop, B %d)", len(ids), writtenA, writtenB)
}

// TestProducerCreatesTopics starts the producer against a broker that does
// not have its topics: it creates both the status and the control topic
// with KAFKA_PARTITIONS partitions, and a second run finds them and leaves
// them as they are.
func TestProducerCreatesTopics(t *testing.T) {
	brokers := broker(t)
	topic := unique("tweets")
	control := topic + ".control"
	const partitions = 5 // not the default (3), so the setting is what counts
	for name, n := range topicPartitions(t, brokers, topic, control) {
		if n >= 0 {
			t.Fatalf("topic %s exists before the producer ran (%d partitions); want it absent", name, n)
		}
	}

	for run := 1; run <= 2; run++ {
		prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=synthetic", "SYNTHETIC_RATE=0",
			"SYNTHETIC_COUNT=40", "KAFKA_PARTITIONS="+strconv.Itoa(partitions),
			"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+control)
		prod.wait(t, 60*time.Second)
		created := strings.Count(prod.out.String(), `msg="created topic"`)
		if want := map[int]int{1: 2, 2: 0}[run]; created != want {
			t.Errorf("run %d: the producer logged %d topic creations; want %d:\n%s", run, created, want, prod.out.String())
		}
		for name, n := range topicPartitions(t, brokers, topic, control) {
			if n != partitions {
				t.Errorf("run %d: topic %s has %d partitions; want KAFKA_PARTITIONS=%d", run, name, n, partitions)
			}
		}
		if got, want := messagesIn(t, brokers, topic, partitions), int64(40*run); got != want {
			t.Errorf("run %d: topic %s holds %d messages; want %d", run, topic, got, want)
		}
	}
	t.Logf("the producer created %s and %s with %d partitions; a second run kept them", topic, control, partitions)
}

// kafkaClient returns a kafka-go client with a transport of its own: the
// shared default transport answers Metadata from a cache (kafka-go's
// MetadataTTL, 6 s), which would hide a topic created since.
func kafkaClient(t *testing.T, brokers string) *kafka.Client {
	t.Helper()
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Timeout: 10 * time.Second, Transport: tr}
}

// topicPartitions returns each topic's partition count from the broker's
// metadata, or -1 for a topic that does not exist.
func topicPartitions(t *testing.T, brokers string, topics ...string) map[string]int {
	t.Helper()
	client := kafkaClient(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		t.Fatalf("metadata of %v: %v", topics, err)
	}
	got := make(map[string]int, len(topics))
	for _, name := range topics {
		got[name] = -1
	}
	for _, tp := range resp.Topics {
		switch {
		case tp.Error == nil:
			got[tp.Name] = len(tp.Partitions)
		case errors.Is(tp.Error, kafka.UnknownTopicOrPartition):
		default:
			t.Fatalf("metadata of topic %s: %v", tp.Name, tp.Error)
		}
	}
	return got
}

// messagesIn returns how many messages the topic's partitions hold (the sum
// of their end offsets; every topic in these tests starts empty).
func messagesIn(t *testing.T, brokers, topic string, partitions int) int64 {
	t.Helper()
	client := kafkaClient(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		t.Fatalf("listing offsets of %s: %v", topic, err)
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("listing offsets of %s partition %d: %v", topic, po.Partition, po.Error)
		}
		n += po.LastOffset
	}
	return n
}

// countLines counts the complete lines in the plain data files under
// dir/topic. Unlike readOutput it may run while consumers write: a line
// being written is not counted yet.
func countLines(t *testing.T, dir, topic string) int {
	t.Helper()
	n := 0
	root := filepath.Join(dir, topic)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".jsonl") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n += bytes.Count(data, []byte("\n"))
		return nil
	})
	if err != nil {
		t.Fatalf("counting output lines: %v", err)
	}
	return n
}

// totalWritten returns the lines a stopped consumer says it wrote.
func totalWritten(t *testing.T, p *proc) int {
	t.Helper()
	m := regexp.MustCompile(`msg="consumer totals" [^\n]*\bwritten=(\d+)`).FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("%s did not log its totals:\n%s", p.name, p.out.String())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
