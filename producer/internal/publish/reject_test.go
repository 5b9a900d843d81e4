package publish

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/producer/internal/deadletter"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// refusingBroker is a kfake broker that refuses batches as Apache Kafka
// does: INVALID_TIMESTAMP for a record more than an hour ahead of its clock
// (Kafka 4's message.timestamp.after.max.ms), and INVALID_RECORD for a
// batch holding the bytes "poison" (uncompressed batches only). It counts
// the batches it refused.
func refusingBroker(t *testing.T) ([]string, *atomic.Int32) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), refuse(c)
}

// refuse makes c refuse batches as refusingBroker says, and counts them.
func refuse(c *kfake.Cluster) *atomic.Int32 {
	return refuseWith(c, func(records []byte) int16 {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(records); err == nil && rb.MaxTimestamp > time.Now().Add(time.Hour).UnixMilli() {
			return kerr.InvalidTimestamp.Code
		}
		if bytes.Contains(records, []byte("poison")) {
			return kerr.InvalidRecord.Code
		}
		return 0
	})
}

// refuseWith makes c answer each partition's batch of a produce request
// with the error code refusal gives its records (0: taken), and counts the
// batches refused.
func refuseWith(c *kfake.Cluster, refusal func(records []byte) int16) *atomic.Int32 {
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		refuse := false
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				if sp.ErrorCode = refusal(rp.Records); sp.ErrorCode != 0 {
					refuse = true
					refused.Add(1)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		if !refuse {
			return nil, nil, false
		}
		// The batches of this request that are fine were not stored: a
		// retriable error makes kafka-go send them again.
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = kerr.NotEnoughReplicas.Code
				}
			}
		}
		return resp, nil, true
	})
	return &refused
}

// emitAll emits values, each with an Ack that records its index, and
// returns the acknowledged indexes once Run returned.
func emitAll(t *testing.T, p *Publisher, values [][]byte, timeout time.Duration) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var mu sync.Mutex
	var acked []int
	for i, v := range values {
		if err := p.Emit(context.Background(), source.Record{Value: v, Ack: func() {
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
		}}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return acked
}

func checkAcksInOrder(t *testing.T, acked []int, n int) {
	t.Helper()
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(acked, want) {
		t.Fatalf("%d acknowledgements, first %v; want all %d, each once, in order", len(acked), acked[:min(len(acked), 10)], n)
	}
}

// TestTimestampAheadOfBroker: one status timed two hours ahead among 200,
// against a broker that refuses timestamps more than an hour ahead. It is
// delivered with the time it was read as its timestamp and its own time in
// the post_time header, every other status keeps its own time, and every
// record is acknowledged in order: nothing waits behind it. Either before
// sending (KAFKA_MAX_TIMESTAMP_AHEAD) or once the broker refused it (0).
func TestTimestampAheadOfBroker(t *testing.T) {
	for _, tc := range []struct {
		name         string
		maxAhead     time.Duration
		wantRefusals bool
	}{
		{"before sending", 55 * time.Minute, false},
		{"after the broker refused it", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers, refused := refusingBroker(t)
			ensure(t, brokers, "tweets", "tweets.control")
			cfg := testConfig(brokers)
			cfg.RetimeAhead = tc.maxAhead
			p, err := New(cfg, nil, quiet())
			if err != nil {
				t.Fatal(err)
			}
			const n, ahead = 200, 100
			past := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
			future := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
			values := make([][]byte, n)
			for i := range values {
				at := past
				if i == ahead {
					at = future
				}
				values[i] = []byte(fmt.Sprintf(`{"id_str":"%d","text":"t","user":{},"timestamp_ms":"%d"}`, i, at.UnixMilli()))
			}
			before := time.Now().Truncate(time.Millisecond)
			acked := emitAll(t, p, values, 30*time.Second)
			after := time.Now()
			checkAcksInOrder(t, acked, n)

			got := readAll(t, brokers, "tweets", 3)
			if len(got) != n {
				t.Fatalf("got %d statuses in Kafka; want %d", len(got), n)
			}
			for _, m := range got {
				if string(m.Key) == fmt.Sprint(ahead) {
					if m.Time.Before(before) || m.Time.After(after) {
						t.Errorf("the status ahead has timestamp %s; want the time it was read, between %s and %s", m.Time, before, after)
					}
					if got, want := header(m, PostTimeHeader), future.UTC().Format("2006-01-02T15:04:05.000Z07:00"); got != want {
						t.Errorf("its %s header = %q; want %q", PostTimeHeader, got, want)
					}
					if !bytes.Equal(m.Value, values[ahead]) {
						t.Errorf("its value = %s; want the bytes read, %s", m.Value, values[ahead])
					}
					continue
				}
				if !m.Time.Equal(past) || header(m, PostTimeHeader) != "" {
					t.Fatalf("status %s has timestamp %s, %s header %q; want its own time %s and no header", m.Key, m.Time, PostTimeHeader, header(m, PostTimeHeader), past)
				}
			}
			if got := p.Stats.Retimed.Load(); got != 1 {
				t.Errorf("retimed = %d; want 1", got)
			}
			if (refused.Load() > 0) != tc.wantRefusals {
				t.Errorf("the broker refused %d batches; want refusals: %v", refused.Load(), tc.wantRefusals)
			}
		})
	}
}

// TestRefusedRecordDeadLettered: a record the broker refuses for good
// (INVALID_RECORD) goes to the dead-letter file with its reason and its
// bytes, is counted, and is acknowledged in order; the records of its
// batch and behind it are delivered.
func TestRefusedRecordDeadLettered(t *testing.T) {
	brokers, refused := refusingBroker(t)
	ensure(t, brokers, "tweets", "tweets.control")
	dir := t.TempDir()
	dl := deadletter.New(filepath.Join(dir, "deadletter"))
	defer dl.Close()
	cfg := testConfig(brokers)
	cfg.Compression = "none" // the broker looks for "poison" in the batch's bytes
	cfg.DeadLetter = dl
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	const n, bad = 300, 120
	values := make([][]byte, n)
	for i := range values {
		values[i] = status(i)
	}
	values[bad] = []byte(fmt.Sprintf(`{"id_str":"%d","text":"poison","user":{}}`, bad))
	acked := emitAll(t, p, values, 30*time.Second)
	checkAcksInOrder(t, acked, n)
	if refused.Load() == 0 {
		t.Fatal("the broker refused no batch: the test tested nothing")
	}

	checkInKafkaOnceBut(t, brokers, n, bad)

	f, err := os.Open(dl.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 1 {
		t.Fatalf("the dead-letter file holds %d lines; want 1", len(lines))
	}
	if l := lines[0]; l["value"] != string(values[bad]) || l["reason"] != "invalid_record" || l["topic"] != "tweets" || l["key"] != fmt.Sprint(bad) {
		t.Fatalf("dead letter = %v; want the refused record's bytes, reason invalid_record, topic tweets, key %d", l, bad)
	}
	counts := map[string]int64{}
	p.Stats.EachDeadLettered(func(reason string, n int64) { counts[reason] = n })
	if counts["invalid_record"] != 1 || len(counts) != 1 {
		t.Fatalf("dead-lettered counts = %v; want invalid_record: 1", counts)
	}
	if got := p.Stats.Statuses.Load(); got != n-1 {
		t.Fatalf("statuses = %d; want %d", got, n-1)
	}
}

// TestRefusedRecordInSpoolDeadLettered: the same for a record the spool
// held while Kafka was down, refused when the spool drains.
func TestRefusedRecordInSpoolDeadLettered(t *testing.T) {
	b := newStoppableBroker(t)
	p, sp := newSpoolingPublisher(t, b, spool.Options{})
	p.cfg.Compression = "none"
	p.sw.Compression, p.one.Compression = 0, 0 // the broker looks for "poison" in the batch's bytes
	dl := deadletter.New(filepath.Join(t.TempDir(), "deadletter"))
	defer dl.Close()
	p.cfg.DeadLetter = dl
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	const n, bad = 200, 150
	for i := range n {
		v := status(i)
		if i == bad {
			v = []byte(fmt.Sprintf(`{"id_str":"%d","text":"poison","user":{}}`, i))
		}
		if err := p.Emit(context.Background(), source.Record{Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if sp.Len() < n-bad {
		t.Fatalf("the spool holds %d records; want at least the last %d", sp.Len(), n-bad)
	}
	b.start()
	refused := refuse(b.c)
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if refused.Load() == 0 {
		t.Fatal("the broker refused no batch: the test tested nothing")
	}
	keys := map[string]bool{}
	for _, m := range readAll(t, b.addr(), "tweets", 3) {
		keys[string(m.Key)] = true
	}
	if len(keys) != n-1 || keys[fmt.Sprint(bad)] {
		t.Fatalf("got %d distinct statuses in Kafka, the refused one: %v; want %d, not it", len(keys), keys[fmt.Sprint(bad)], n-1)
	}
	data, err := os.ReadFile(dl.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"reason":"invalid_record"`)) || bytes.Count(data, []byte("\n")) != 1 {
		t.Fatalf("dead-letter file:\n%s\nwant one line, reason invalid_record", data)
	}
	if !sp.Empty() {
		t.Fatalf("the spool holds %d records after draining; want 0", sp.Len())
	}
}

// deadLetterLines reads the dead-letter file at path, a map a line.
func deadLetterLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// sizeLimitedBroker refuses, as Kafka does for a topic's max.message.bytes,
// every partition batch whose record bytes exceed limit with
// MESSAGE_TOO_LARGE, and counts the batches refused.
func sizeLimitedBroker(t *testing.T, limit int) ([]string, *atomic.Int32) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), refuseWith(c, func(records []byte) int16 {
		if len(records) > limit {
			return kerr.MessageTooLarge.Code
		}
		return 0
	})
}

// TestBatchOverTopicLimitWrittenAlone: a topic whose max.message.bytes is
// below the producer's batches refuses each batch whole with
// MESSAGE_TOO_LARGE. Its records are written alone: every one that fits is
// in Kafka once, in order of acknowledgement, and the one too large even
// alone goes to the dead-letter file with its value (before, the whole
// batch was dropped).
func TestBatchOverTopicLimitWrittenAlone(t *testing.T) {
	brokers, refused := sizeLimitedBroker(t, 4000)
	ensure(t, brokers, "tweets", "tweets.control")
	dl := deadletter.New(filepath.Join(t.TempDir(), "deadletter"))
	defer dl.Close()
	cfg := testConfig(brokers)
	cfg.Compression = "none" // the limit is on the batch's bytes as sent
	cfg.DeadLetter = dl
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	const n, huge = 200, 77
	values := make([][]byte, n)
	for i := range values {
		values[i] = status(i)
	}
	values[huge] = []byte(fmt.Sprintf(`{"id_str":"%d","text":"%s","user":{}}`, huge, strings.Repeat("x", 5000)))
	acked := emitAll(t, p, values, 60*time.Second)
	checkAcksInOrder(t, acked, n)
	if refused.Load() == 0 {
		t.Fatal("the broker refused no batch: the test tested nothing")
	}
	checkInKafkaOnceBut(t, brokers, n, huge)
	lines := deadLetterLines(t, dl.Path())
	if len(lines) != 1 || lines[0]["value"] != string(values[huge]) || lines[0]["reason"] != "message_too_large" {
		t.Fatalf("dead letters %v; want the huge status's bytes, reason message_too_large", lines)
	}
}

// checkInKafkaOnceBut checks that the statuses 0 to n-1 but missing are in
// the tweets topic once each, and missing not at all.
func checkInKafkaOnceBut(t *testing.T, brokers []string, n, missing int) {
	t.Helper()
	keys := map[string]int{}
	for _, m := range readAll(t, brokers, "tweets", 3) {
		keys[string(m.Key)]++
	}
	if len(keys) != n-1 || keys[fmt.Sprint(missing)] != 0 {
		t.Fatalf("got %d distinct statuses in Kafka, %d of status %d; want %d, none of it", len(keys), keys[fmt.Sprint(missing)], missing, n-1)
	}
	for k, c := range keys {
		if c != 1 {
			t.Fatalf("status %s is in Kafka %d times; want once", k, c)
		}
	}
}
