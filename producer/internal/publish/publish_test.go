package publish

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/internal/logbuf"
	"github.com/tweetpipe/tweetpipe/producer/internal/deadletter"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig(brokers []string) Config {
	return Config{
		Brokers: brokers, Topics: contract.Topics{Status: "tweets", Control: "tweets.control"}, SourceName: "test",
		Batching: Batching{Compression: "zstd", BatchSize: 100, BatchBytes: 1 << 20, BatchTimeout: time.Millisecond,
			WriteTimeout: 5 * time.Second},
		Holding: Holding{PendingMax: 1000},
	}
}

func startCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func ensure(t *testing.T, brokers []string, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	if err := EnsureTopics(ctx, client, topics, TopicSpec{Partitions: 3, ReplicationFactor: 1, RetentionBytes: -1}, nil, quiet()); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every message of every partition of topic.
func readAll(t *testing.T, brokers []string, topic string, partitions int) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	for p := range partitions {
		resp, err := client.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{
			Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p)}}})
		if err != nil {
			t.Fatal(err)
		}
		last := resp.Topics[topic][0].LastOffset
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= last {
				break
			}
		}
		r.Close()
	}
	return out
}

// TestRoutingAndContract: statuses and control messages reach their topics
// with the key, value, time and headers of the message contract; a line
// that is not a JSON object is counted, not sent; acks come in order.
func TestRoutingAndContract(t *testing.T) {
	brokers := startCluster(t)
	ensure(t, brokers, "tweets", "tweets.control")
	p, err := New(testConfig(brokers), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`{"created_at":"Wed Mar 07 12:00:00 +0000 2018","id":971726741583605760,"id_str":"971726741583605760","text":"नमस्ते 🙏","user":{},"timestamp_ms":"1520424000123"}`,
		`{"delete":{"status":{"id":42,"id_str":"42","user_id":1}}}`,
		`not json at all`,
		`{"limit":{"track":7}} `,
		`{"text":"old","created_at":"Mon Apr 19 17:52:00 +0000 2010","user":{},"id":12476305734}`,
	}
	var mu sync.Mutex
	var acked []int
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	for i, l := range lines {
		err := p.Emit(context.Background(), source.Record{Value: []byte(l), Ack: func() {
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(acked, want) {
		t.Fatalf("acks = %v; want %v (every record, in order)", acked, want)
	}
	if got := p.Stats.Invalid.Load(); got != 1 {
		t.Errorf("invalid = %d; want 1", got)
	}
	if got := p.Stats.Statuses.Load(); got != 2 {
		t.Errorf("statuses = %d; want 2", got)
	}
	if got := p.Stats.Control.Load(); got != 2 {
		t.Errorf("control = %d; want 2", got)
	}

	statuses := readAll(t, brokers, "tweets", 3)
	if len(statuses) != 2 {
		t.Fatalf("got %d messages on tweets; want 2", len(statuses))
	}
	byKey := map[string]kafka.Message{}
	for _, m := range statuses {
		byKey[string(m.Key)] = m
	}
	m := byKey["971726741583605760"]
	if string(m.Value) != lines[0] {
		t.Errorf("value = %q; want the raw line %q", m.Value, lines[0])
	}
	if !m.Time.Equal(time.UnixMilli(1520424000123)) {
		t.Errorf("time = %v; want timestamp_ms", m.Time)
	}
	if header(m, contract.HeaderKind) != contract.KindStatus || header(m, contract.HeaderSource) != "test" {
		t.Errorf("headers = %v; want kind=status source=test", m.Headers)
	}
	old := byKey["12476305734"]
	if !old.Time.Equal(time.Date(2010, 4, 19, 17, 52, 0, 0, time.UTC)) {
		t.Errorf("time = %v; want created_at", old.Time)
	}

	control := readAll(t, brokers, "tweets.control", 3)
	kinds := map[string]string{}
	for _, m := range control {
		kinds[header(m, contract.HeaderKind)] = string(m.Value)
	}
	if kinds["delete"] != lines[1] || kinds["limit"] != lines[3] {
		t.Fatalf("control topic = %v; want the delete and the limit (trailing space kept)", kinds)
	}
}

// TestNoControlTopic: with KAFKA_CONTROL_TOPIC empty, control messages are
// counted and dropped, and still acknowledged in order.
func TestNoControlTopic(t *testing.T) {
	brokers := startCluster(t)
	ensure(t, brokers, "tweets")
	cfg := testConfig(brokers)
	cfg.Topics.Control = ""
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	acks := 0
	for _, l := range []string{`{"delete":{"status":{"id":1}}}`, `{"id_str":"9","text":"x","user":{}}`} {
		if err := p.Emit(context.Background(), source.Record{Value: []byte(l), Ack: func() { acks++ }}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if acks != 2 || p.Stats.ControlDropped.Load() != 1 || p.Stats.Statuses.Load() != 1 {
		t.Fatalf("acks=%d dropped=%d statuses=%d; want 2, 1, 1", acks, p.Stats.ControlDropped.Load(), p.Stats.Statuses.Load())
	}
}

// TestManyMessagesAllDelivered: a burst larger than the queue is delivered
// whole after Close (the shutdown flush).
func TestManyMessagesAllDelivered(t *testing.T) {
	brokers := startCluster(t)
	ensure(t, brokers, "tweets", "tweets.control")
	cfg := testConfig(brokers)
	cfg.PendingMax = 50
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	const n = 5000
	for i := range n {
		v := fmt.Sprintf(`{"id_str":"%d","text":"t","user":{}}`, i)
		if err := p.Emit(context.Background(), source.Record{Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := readAll(t, brokers, "tweets", 3)
	seen := map[string]bool{}
	for _, m := range got {
		seen[string(m.Key)] = true
	}
	if len(got) != n || len(seen) != n {
		t.Fatalf("got %d messages, %d distinct keys; want %d", len(got), len(seen), n)
	}
	if p.Stats.Pending.Load() != 0 {
		t.Fatalf("pending = %d after Run; want 0", p.Stats.Pending.Load())
	}
}

// TestEnsureTopicsWaitsForBroker: the producer starts before Kafka; it
// retries until the broker is up, then creates the topics.
func TestEnsureTopicsWaitsForBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)

	go func() {
		time.Sleep(1500 * time.Millisecond)
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
		if err != nil {
			t.Errorf("starting kfake late: %v", err)
			return
		}
		t.Cleanup(c.Close)
	}()
	start := time.Now()
	ensure(t, []string{addr}, "tweets", "tweets.control")
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("EnsureTopics returned after %s, before the broker existed", waited)
	}
	client := &kafka.Client{Addr: kafka.TCP(addr)}
	md, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{"tweets", "tweets.control"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		if tp.Error != nil || len(tp.Partitions) != 3 {
			t.Errorf("topic %s: err %v, %d partitions; want 3", tp.Name, tp.Error, len(tp.Partitions))
		}
	}
}

// TestEnsureTopicsSaysWhyUnreachable: with nothing listening at the
// address, the error says so (kafka-go's CreateTopics alone gives "Broker
// Not Available"), and EnsureTopics gives up when its context ends.
func TestEnsureTopicsSaysWhyUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: time.Second}
	err = EnsureTopics(ctx, client, []string{"tweets"}, TopicSpec{Partitions: 1, ReplicationFactor: 1, RetentionBytes: -1}, nil, quiet())
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v; want the refused connection to %s", err, addr)
	}
}

// TestInvalidLineNamesWhereItWasRead: a line that is not a JSON object is
// logged with the file and line number its source read it from.
func TestInvalidLineNamesWhereItWasRead(t *testing.T) {
	var log logbuf.Buffer
	p, err := New(testConfig([]string{"127.0.0.1:9"}), nil, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Emit(context.Background(), source.Record{Value: []byte("not json"), From: "archive/2018.jsonl.gz", Line: 42}); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); !strings.Contains(got, "line is not a JSON object, skipped") ||
		!strings.Contains(got, "file=archive/2018.jsonl.gz line_number=42") {
		t.Fatalf("log:\n%s\nwant the skipped line with file=archive/2018.jsonl.gz line_number=42", got)
	}
}

func TestCompressionNames(t *testing.T) {
	for _, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		if _, err := Compression(name); err != nil {
			t.Errorf("Compression(%q): %v", name, err)
		}
	}
	if _, err := Compression("brotli"); err == nil {
		t.Error("Compression(brotli): want an error")
	}
}

// TestTooLargeDeadLettered: a message larger than a batch may be
// (KAFKA_BATCH_BYTES), which no request can carry, goes to the dead-letter
// file with its value; the messages around it are delivered.
func TestTooLargeDeadLettered(t *testing.T) {
	brokers := startCluster(t)
	ensure(t, brokers, "tweets", "tweets.control")
	cfg := testConfig(brokers)
	cfg.BatchBytes = 4096
	dl := deadletter.New(filepath.Join(t.TempDir(), "deadletter"))
	defer dl.Close()
	cfg.DeadLetter = dl
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	big := fmt.Sprintf(`{"id_str":"big","text":"%s","user":{}}`, strings.Repeat("x", 10000))
	for _, v := range []string{`{"id_str":"1","text":"a","user":{}}`, big, `{"id_str":"2","text":"b","user":{}}`} {
		if err := p.Emit(context.Background(), source.Record{Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range readAll(t, brokers, "tweets", 3) {
		keys[string(m.Key)] = true
	}
	if len(keys) != 2 || !keys["1"] || !keys["2"] {
		t.Fatalf("delivered %v; want statuses 1 and 2", keys)
	}
	lines := deadLetterLines(t, dl.Path())
	if len(lines) != 1 || lines[0]["value"] != big || lines[0]["reason"] != "too_large" || lines[0]["key"] != "big" {
		t.Fatalf("dead letters %v; want the big status's bytes, reason too_large", lines)
	}
}

// TestFailedRequestsWrittenAgain: produce requests the broker refuses after
// kafka-go's own attempts (an error kafka-go does not retry, but that an
// operator cures, such as a missing ACL, on a few requests, while later
// batches are in flight) are written again; every message is in Kafka once
// and every record is acknowledged once, in order.
func TestFailedRequestsWrittenAgain(t *testing.T) {
	c, brokers := newKfake(t, "tweets", "tweets.control")
	var requests, refused atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if requests.Add(1)%4 != 0 || refused.Load() >= 5 {
			return nil, nil, false
		}
		refused.Add(1)
		req := kreq.(*kmsg.ProduceRequest)
		return refusedAll(req, kerr.TopicAuthorizationFailed.Code), nil, true
	})

	cfg := testConfig(brokers)
	cfg.PendingMax = 400 // four flights of 100
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	const n = 3000
	var mu sync.Mutex
	var acked []int
	for i := range n {
		v := fmt.Sprintf(`{"id_str":"%d","text":"t","user":{}}`, i)
		if err := p.Emit(context.Background(), source.Record{Value: []byte(v), Ack: func() {
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
		}}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if refused.Load() == 0 {
		t.Fatal("the broker refused no produce request: the test tested nothing")
	}
	got := readAll(t, brokers, "tweets", 3)
	count := map[string]int{}
	for _, m := range got {
		count[string(m.Key)]++
	}
	if len(got) != n || len(count) != n {
		t.Fatalf("got %d messages, %d distinct keys; want %d of each", len(got), len(count), n)
	}
	inOrder := len(acked) == n
	for i := 0; inOrder && i < n; i++ {
		inOrder = acked[i] == i
	}
	if !inOrder {
		t.Fatalf("acknowledgements not each once in order: %d of them, first %v", len(acked), acked[:min(len(acked), 20)])
	}
	if p.Stats.Retries.Load() == 0 || p.Stats.WriteErrors.Load() == 0 {
		t.Fatalf("retries = %d, write errors = %d; want both > 0", p.Stats.Retries.Load(), p.Stats.WriteErrors.Load())
	}
	t.Logf("%d produce requests, %d refused; %d messages written again", requests.Load(), refused.Load(), p.Stats.Retries.Load())
}

// TestKafkaMessageHeaders: every record carries its source and kind headers,
// statuses with no allocation for them, and a retimed record's post_time
// header stays on that record alone.
func TestKafkaMessageHeaders(t *testing.T) {
	cfg := testConfig([]string{"127.0.0.1:1"})
	cfg.RetimeAhead = time.Hour
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	read := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		m    message.Message
		want string // the headers as key=value, in order
	}{
		{"status", message.Message{Kind: message.KindStatus, Key: []byte("1"), Time: read}, "source=test kind=status"},
		{"retimed status", message.Message{Kind: message.KindStatus, Key: []byte("2"), Time: read.Add(48 * time.Hour)},
			"source=test kind=status " + PostTimeHeader + "=" + read.Add(48*time.Hour).Format(postTimeLayout)},
		{"status after a retimed one", message.Message{Kind: message.KindStatus, Key: []byte("3"), Time: read}, "source=test kind=status"},
		{"delete", message.Message{Kind: message.KindDelete}, "source=test kind=delete"},
		{"status after a delete", message.Message{Kind: message.KindStatus, Key: []byte("4")}, "source=test kind=status"},
	}
	var built []kafka.Message
	for _, tt := range tests {
		built = append(built, p.kafkaMessage("tweets", tt.m, read))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, h := range built[i].Headers {
				got = append(got, h.Key+"="+string(h.Value))
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("got headers %q; want %q", g, tt.want)
			}
		})
	}

	status := message.Message{Kind: message.KindStatus, Key: []byte("5"), Value: []byte(`{}`), Time: read}
	out := make([]kafka.Message, 1)
	if got := testing.AllocsPerRun(100, func() { out[0] = p.kafkaMessage("tweets", status, read) }); got != 0 {
		t.Errorf("got %v allocations to build a status's record; want 0", got)
	}
}

// BenchmarkKafkaMessage is the building of one status's Kafka record.
func BenchmarkKafkaMessage(b *testing.B) {
	p, err := New(testConfig([]string{"127.0.0.1:1"}), nil, quiet())
	if err != nil {
		b.Fatal(err)
	}
	read := time.Now()
	m := message.Message{Kind: message.KindStatus, Key: []byte("971726741583605760"), Value: []byte(`{}`), Time: read}
	out := make([]kafka.Message, 1)
	b.ReportAllocs()
	for b.Loop() {
		out[0] = p.kafkaMessage("tweets", m, read)
	}
}

// BenchmarkPublish is a status's way from Emit until Kafka (kfake, in this
// process) acknowledged it to its source: the memory queue, the flights and
// the acknowledgements. Its allocations count kfake's too.
func BenchmarkPublish(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "tweets", "tweets.control"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p, err := New(testConfig(c.ListenAddrs()), nil, quiet())
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	v := []byte(`{"id_str":"971726741583605760","text":"t","user":{},"timestamp_ms":"1520424000123"}`)
	var acked atomic.Int64
	ack := func() { acked.Add(1) }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := p.Emit(context.Background(), source.Record{Value: v, Ack: ack}); err != nil {
			b.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := acked.Load(); got != int64(b.N) {
		b.Fatalf("%d acknowledgements; want %d", got, b.N)
	}
}

// TestEmitTakesTheSourcesClassification: a record its source classified
// (Record.Classified) is routed, keyed and timed as that says, with the
// record's own bytes, without the classifier; a record without one is
// classified, and one it refuses is counted invalid, not sent.
func TestEmitTakesTheSourcesClassification(t *testing.T) {
	brokers := startCluster(t)
	ensure(t, brokers, "tweets", "tweets.control")
	cfg := testConfig(brokers)
	var classified []string
	cfg.Classify = func(raw []byte) (message.Message, error) {
		classified = append(classified, string(raw))
		return message.Classify(raw)
	}
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	at := time.Date(2024, 9, 9, 19, 46, 2, 329000000, time.UTC) // Kafka keeps milliseconds
	records := []source.Record{
		{Value: []byte(`{"vouched":"status"}`), Classified: message.Message{Kind: message.KindStatus, Key: []byte("k1"), Time: at, Value: []byte("ignored")}},
		{Value: []byte(`{"vouched":"delete"}`), Classified: message.Message{Kind: message.KindDelete, Key: []byte("k2"), Time: at}},
		{Value: []byte(`{"id_str":"7","text":"t","user":{},"timestamp_ms":"1520424000123"}`)},
		{Value: []byte(`not json`)},
	}
	for _, r := range records {
		if err := p.Emit(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := []string{`{"id_str":"7","text":"t","user":{},"timestamp_ms":"1520424000123"}`, `not json`}; !slices.Equal(classified, want) {
		t.Errorf("the classifier read %q; want %q (only the records without a classification)", classified, want)
	}
	if got := p.Stats.Invalid.Load(); got != 1 {
		t.Errorf("invalid = %d; want 1", got)
	}
	statuses := readAll(t, brokers, "tweets", 3)
	slices.SortFunc(statuses, func(a, b kafka.Message) int { return strings.Compare(string(a.Key), string(b.Key)) })
	if len(statuses) != 2 {
		t.Fatalf("got %d statuses; want 2", len(statuses))
	}
	if s := statuses[1]; string(s.Key) != "k1" || string(s.Value) != `{"vouched":"status"}` || !s.Time.Equal(at) {
		t.Errorf("got status key %q value %s time %v; want k1 {\"vouched\":\"status\"} %v", s.Key, s.Value, s.Time, at)
	}
	if s := statuses[0]; string(s.Key) != "7" || s.Time.UnixMilli() != 1520424000123 {
		t.Errorf("got status key %q time %v; want 7 at 1520424000123 ms", s.Key, s.Time)
	}
	control := readAll(t, brokers, "tweets.control", 3)
	if len(control) != 1 {
		t.Fatalf("got %d control messages; want 1", len(control))
	}
	if c := control[0]; string(c.Key) != "k2" || string(c.Value) != `{"vouched":"delete"}` || !c.Time.Equal(at) || header(c, contract.HeaderKind) != "delete" {
		t.Errorf("got control key %q value %s time %v kind %q; want k2 {\"vouched\":\"delete\"} %v delete", c.Key, c.Value, c.Time, header(c, contract.HeaderKind), at)
	}
}

// refusedAll answers a produce request with code for every partition in it.
func refusedAll(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// TestDeletedTopicHinted: records for a topic deleted while the producer
// runs are retried (kept in memory, or the spool), and the retry warning
// says that the topic does not exist and what to do; it said only
// "Unknown Topic Or Partition", and the spool's warning that Kafka was
// unreachable.
func TestDeletedTopicHinted(t *testing.T) {
	brokers := startCluster(t)
	ensure(t, brokers, "gone", "gone.control")
	cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
	if _, err := cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{"gone"}}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(brokers)
	cfg.Topics.Status, cfg.Topics.Control = "gone", "gone.control"
	var logs logbuf.Buffer
	p, err := New(cfg, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := p.Emit(ctx, source.Record{Value: []byte(`{"id_str":"9","text":"x","user":{}}`)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "kafka write failed; retrying") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(logs.String(), "the topic does not exist in Kafka: was it deleted?") {
		t.Fatalf("logs:\n%s\nwant the retry warning to say the topic does not exist", logs.String())
	}
}

// TestEmitTakesTheSourcesReadTime: a record the source dated when it read it
// (Record.Read) keeps that time as the time it was read: a status without
// its own time is sent with it; a record without Read gets the clock's.
func TestEmitTakesTheSourcesReadTime(t *testing.T) {
	p, err := New(testConfig([]string{"127.0.0.1:1"}), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	read := time.Date(2024, 9, 9, 19, 46, 2, 0, time.UTC)
	v := []byte(`{"id_str":"1","text":"t","user":{}}`)
	before := time.Now()
	for _, r := range []source.Record{{Value: v, Read: read}, {Value: v}} {
		if err := p.Emit(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if it := <-p.queue; !it.read.Equal(read) || !it.msg.Time.Equal(read) {
		t.Errorf("with Read: read %s, Kafka timestamp %s; want both %s", it.read, it.msg.Time, read)
	}
	if it := <-p.queue; it.read.Before(before) || !it.msg.Time.Equal(it.read) {
		t.Errorf("without Read: read %s (Emit called after %s), Kafka timestamp %s; want the clock's time for both", it.read, before, it.msg.Time)
	}
}
