package e2e

// Interop with Kafka clients nobody on this project wrote, both from
// Debian's packages: kcat (librdkafka) and kafka-python. They need a real
// Apache Kafka broker; `make test-kafka` starts one and sets KAFKA_BROKERS.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/contract"
)

// systemPython is Debian's interpreter: python3-kafka installs kafka-python
// for it, not for whatever python3 comes first on PATH.
const systemPython = "/usr/bin/python3"

// realBroker returns the real broker named by KAFKA_BROKERS, or skips the
// test with the reason: kfake is a Go re-implementation, and these tests are
// about clients built against the real thing.
func realBroker(t *testing.T) string {
	t.Helper()
	if os.Getenv("KAFKA_BROKERS") == "" {
		t.Skip("interop with kcat and kafka-python needs a real Apache Kafka broker: set KAFKA_BROKERS; make test-kafka starts a broker")
	}
	return broker(t)
}

// needKcat fails unless Debian's kcat is installed with every codec the
// tests use.
func needKcat(t *testing.T) {
	t.Helper()
	out, err := exec.Command("kcat", "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat is missing (%v): install it with `apt-get install -y kcat`", err)
	}
	for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
		if !bytes.Contains(out, []byte(codec)) {
			t.Fatalf("this kcat's librdkafka lacks %s (want it in builtin.features):\n%s", codec, out)
		}
	}
}

// needKafkaPython fails unless kafka-python and the codecs it needs to read
// compressed batches are installed for the system Python.
func needKafkaPython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import kafka, zstandard, lz4.frame, snappy").CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-python with its zstd, lz4 and snappy codecs is missing for %s (%v: %s): "+
			"install them with `apt-get install -y python3-kafka python3-zstandard python3-lz4 python3-snappy`",
			systemPython, err, bytes.TrimSpace(out))
	}
}

// fixtureMessage is a fixture line and what the message contract says a
// reader sees for it.
type fixtureMessage struct {
	value  []byte
	status bool   // on the tweets topic; otherwise on the control topic
	kind   string // the kind header
	key    []byte // statuses: id_str, else id
	ts     int64  // record timestamp in ms from timestamp_ms or created_at; -1: the time it was sent
}

// fixtureMessages reads every fixture line and works out, independently of
// the producer's code, the key, kind and timestamp the contract promises.
func fixtureMessages(t *testing.T, dir string) []fixtureMessage {
	t.Helper()
	// The kinds of control message, by the top-level field that marks them.
	kinds := []string{"delete", "scrub_geo", "limit", "status_withheld", "user_withheld",
		"disconnect", "warning", "friends", "event", "direct_message"}
	var msgs []fixtureMessage
	for _, f := range payloadFiles(t, dir) {
		for _, l := range fileLines(t, f) {
			m := fixtureMessage{value: l, ts: -1, status: isStatus(t, l)}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(l, &fields); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var env struct {
				IDStr       string      `json:"id_str"`
				ID          json.Number `json:"id"`
				TimestampMs string      `json:"timestamp_ms"`
				CreatedAt   string      `json:"created_at"`
				Delete      struct {
					TimestampMs string `json:"timestamp_ms"`
				} `json:"delete"`
			}
			dec := json.NewDecoder(bytes.NewReader(l))
			dec.UseNumber()
			if err := dec.Decode(&env); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if env.TimestampMs == "" {
				env.TimestampMs = env.Delete.TimestampMs // a delete notice carries its own, inside "delete"
			}
			switch {
			case env.TimestampMs != "":
				n, err := strconv.ParseInt(env.TimestampMs, 10, 64)
				if err != nil {
					t.Fatalf("%s: timestamp_ms %q: %v", f, env.TimestampMs, err)
				}
				m.ts = n
			case env.CreatedAt != "":
				ct, err := time.Parse(time.RubyDate, env.CreatedAt)
				if err != nil {
					t.Fatalf("%s: created_at %q: %v", f, env.CreatedAt, err)
				}
				m.ts = ct.UnixMilli()
			}
			if m.status {
				m.kind = contract.KindStatus
				m.key = []byte(env.IDStr)
				if env.IDStr == "" {
					m.key = []byte(env.ID.String())
				}
			} else {
				m.kind = "unknown"
				for _, k := range kinds {
					if _, ok := fields[k]; ok {
						m.kind = k
						break
					}
				}
			}
			msgs = append(msgs, m)
		}
	}
	return msgs
}

// readRecord is one record as an outside client saw it.
type readRecord struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       []byte `json:"key"` // nil: no key
	Value     []byte `json:"value"`
	Headers   []struct {
		Key   string `json:"key"`
		Value []byte `json:"value"`
	} `json:"headers"`
	Timestamp     int64 `json:"timestamp"`
	TimestampType int   `json:"timestamp_type"` // 0: CreateTime
	// JavaPartition is where the Java client's partitioner (murmur2 of the
	// key, as kafka-python implements it) puts the key; nil when unknown.
	JavaPartition *int `json:"java_partition"`
}

// kafkaPythonReader prints, as one JSON object a line, every record of the
// topics named on its command line, from the first offset to the end.
// Byte fields are base64.
const kafkaPythonReader = `
import base64, json, sys, time
import kafka
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import DefaultPartitioner

def b64(b):
    return None if b is None else base64.b64encode(b).decode("ascii")

brokers, topics = sys.argv[1].split(","), sys.argv[2:]
consumer = KafkaConsumer(bootstrap_servers=brokers, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", client_id="tweetpipe-interop")
java_partition = DefaultPartitioner()
partitions, assigned = {}, []
for topic in topics:
    ids = consumer.partitions_for_topic(topic)
    if not ids:
        sys.exit("kafka-python: topic %s does not exist" % topic)
    partitions[topic] = sorted(ids)
    assigned += [TopicPartition(topic, p) for p in sorted(ids)]
consumer.assign(assigned)
consumer.seek_to_beginning()
end = consumer.end_offsets(assigned)
deadline = time.time() + 60
n = 0
while any(consumer.position(tp) < end[tp] for tp in assigned):
    if time.time() > deadline:
        sys.exit("kafka-python: timed out at %s; end offsets %s" % ({str(tp): consumer.position(tp) for tp in assigned}, end))
    for tp, records in consumer.poll(timeout_ms=1000).items():
        for r in records:
            rec = {"topic": r.topic, "partition": r.partition, "offset": r.offset,
                   "key": b64(r.key), "value": b64(r.value),
                   "headers": [{"key": k, "value": b64(v)} for k, v in r.headers],
                   "timestamp": r.timestamp, "timestamp_type": r.timestamp_type}
            if r.key is not None:
                rec["java_partition"] = java_partition(r.key, partitions[r.topic], partitions[r.topic])
            print(json.dumps(rec))
            n += 1
consumer.close()
print("kafka-python %s read %d records" % (kafka.__version__, n), file=sys.stderr)
`

// readWithKafkaPython runs kafkaPythonReader on the topics.
func readWithKafkaPython(t *testing.T, brokers string, topics ...string) []readRecord {
	t.Helper()
	script := filepath.Join(t.TempDir(), "read.py")
	if err := os.WriteFile(script, []byte(kafkaPythonReader), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, append([]string{script, brokers}, topics...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kafka-python reader: %v\n%s", err, stderr.String())
	}
	t.Logf("%s", bytes.TrimSpace(stderr.Bytes()))
	var recs []readRecord
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var r readRecord
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("kafka-python reader printed %.200q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// readWithKcat reads every record of the topics with `kcat -C -J`.
func readWithKcat(t *testing.T, brokers string, topics ...string) []readRecord {
	t.Helper()
	var recs []readRecord
	for _, topic := range topics {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-J")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("kcat -C -t %s: %v\n%s", topic, err, stderr.String())
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var m struct {
				Topic     string   `json:"topic"`
				Partition int      `json:"partition"`
				Offset    int64    `json:"offset"`
				TSType    string   `json:"tstype"`
				TS        int64    `json:"ts"`
				Headers   []string `json:"headers"`
				Key       *string  `json:"key"`
				Payload   *string  `json:"payload"`
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("kcat -J printed %.200q: %v", sc.Bytes(), err)
			}
			r := readRecord{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Timestamp: m.TS, TimestampType: -1}
			if m.TSType == "create" {
				r.TimestampType = 0
			}
			if m.Key != nil {
				r.Key = []byte(*m.Key)
			}
			if m.Payload != nil {
				r.Value = []byte(*m.Payload)
			}
			for i := 0; i+1 < len(m.Headers); i += 2 {
				r.Headers = append(r.Headers, struct {
					Key   string `json:"key"`
					Value []byte `json:"value"`
				}{m.Headers[i], []byte(m.Headers[i+1])})
			}
			recs = append(recs, r)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("kcat read %d records", len(recs))
	return recs
}

// checkContract compares what a reader saw with the fixtures: every
// message once, on its topic, value byte-identical, key, headers and
// timestamp as the message contract promises. Messages without a time of
// their own must carry one from the window [from, to] of the producer's run.
func checkContract(t *testing.T, recs []readRecord, want []fixtureMessage, topic, control string, from, to time.Time) {
	t.Helper()
	type slot struct {
		msg  fixtureMessage
		left int
	}
	expect := map[string]*slot{} // topic + "\x00" + value
	topics := contract.Topics{Status: topic, Control: control}
	for _, m := range want {
		tp := topics.For(m.kind)
		k := tp + "\x00" + string(m.value)
		if s, ok := expect[k]; ok {
			s.left++
		} else {
			expect[k] = &slot{msg: m, left: 1}
		}
	}
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	statuses, partitioned := 0, 0
	for _, r := range recs {
		where := fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
		s, ok := expect[r.Topic+"\x00"+string(r.Value)]
		switch {
		case !ok:
			fail("%s: value is not a fixture line published to that topic: %.120q", where, r.Value)
			continue
		case s.left == 0:
			fail("%s: read a fixture line once more than it was published: %.120q", where, r.Value)
			continue
		}
		s.left--
		m := s.msg
		headers := map[string]string{}
		for _, h := range r.Headers {
			if _, dup := headers[h.Key]; dup {
				fail("%s: header %q twice", where, h.Key)
			}
			headers[h.Key] = string(h.Value)
		}
		if want := map[string]string{contract.HeaderSource: "replay", contract.HeaderKind: m.kind}; !maps.Equal(headers, want) {
			fail("%s: headers %v; want %v", where, headers, want)
		}
		if r.TimestampType != 0 {
			fail("%s: timestamp type %d; want 0 (CreateTime)", where, r.TimestampType)
		}
		if m.ts >= 0 {
			if r.Timestamp != m.ts {
				fail("%s: timestamp %d (%s); want %d (%s) from the post", where, r.Timestamp,
					time.UnixMilli(r.Timestamp).UTC(), m.ts, time.UnixMilli(m.ts).UTC())
			}
		} else if ts := time.UnixMilli(r.Timestamp); ts.Before(from.Add(-time.Second)) || ts.After(to.Add(time.Second)) {
			fail("%s: timestamp %s of a %s message; want the time it was sent, within %s..%s", where, ts.UTC(), m.kind, from.UTC(), to.UTC())
		}
		if !m.status {
			continue
		}
		statuses++
		if !bytes.Equal(r.Key, m.key) {
			fail("%s: key %q; want %q (id_str, else id)", where, r.Key, m.key)
		}
		if r.JavaPartition != nil {
			partitioned++
			if r.Partition != *r.JavaPartition {
				fail("%s: key %q is on partition %d; the Java client's murmur2 partitioner puts it on %d", where, r.Key, r.Partition, *r.JavaPartition)
			}
		}
	}
	for _, s := range expect {
		if s.left > 0 {
			fail("never read (%d time(s) missing) on its topic: %.120q", s.left, s.msg.value)
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more mismatches", bad-10)
	}
	if bad == 0 {
		msg := fmt.Sprintf("%d records (%d statuses, %d control) match the message contract", len(recs), statuses, len(recs)-statuses)
		if partitioned > 0 {
			msg += fmt.Sprintf("; %d statuses on the partition of the Java client's partitioner", partitioned)
		}
		t.Log(msg)
	}
}

// TestInteropReadersSeeMessageContract replays the fixtures through the
// producer with each KAFKA_COMPRESSION (zstd is the default) and reads both
// topics back with kafka-python and with kcat: every message is there once,
// value byte-identical to its fixture line, with the key, the source and
// kind headers and the timestamp the message contract (docs/architecture.md)
// promises, and each status on the partition the Java client's partitioner
// picks.
func TestInteropReadersSeeMessageContract(t *testing.T) {
	brokers := realBroker(t)
	needKafkaPython(t)
	needKcat(t)
	eachPayloads(t, func(t *testing.T, p payloadSet) {
		dir := p.dir
		want := fixtureMessages(t, dir)

		for _, codec := range []string{"zstd", "lz4", "snappy", "gzip", "none"} {
			t.Run(codec, func(t *testing.T) {
				topic := unique("tweets-" + codec)
				control := topic + ".control"
				from := time.Now()
				// STATE_DIR of its own: the replay source resumes from a saved
				// position, and every run here must send the whole fixture set.
				prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=replay", "REPLAY_PATH="+dir,
					"STATE_DIR="+t.TempDir(), "KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+control, "KAFKA_COMPRESSION="+codec)
				prod.wait(t, 60*time.Second)
				to := time.Now()

				t.Run("kafka-python", func(t *testing.T) {
					checkContract(t, readWithKafkaPython(t, brokers, topic, control), want, topic, control, from, to)
				})
				t.Run("kcat", func(t *testing.T) {
					checkContract(t, readWithKcat(t, brokers, topic, control), want, topic, control, from, to)
				})
			})
		}
	})
}

// TestInteropKcatMessagesArchived publishes the fixture lines, and statuses
// re-encoded with raw multibyte UTF-8 (Arabic, Japanese, Korean, emoji),
// with kcat: unkeyed and uncompressed, and keyed by status id with each
// codec librdkafka offers. The consumer archives every one of them
// byte-for-byte, each exactly once.
func TestInteropKcatMessagesArchived(t *testing.T) {
	brokers := realBroker(t)
	needKcat(t)
	eachPayloads(t, func(t *testing.T, p payloadSet) {
		dir := p.dir

		var lines [][]byte
		var keys []string
		for _, m := range fixtureMessages(t, dir) {
			lines = append(lines, m.value)
			keys = append(keys, string(m.key))
		}
		multibyte := 0
		for _, l := range fileLines(t, p.escaped) {
			raw := rawUTF8(t, l)
			if bytes.Equal(raw, l) || !hasMultibyte(raw) {
				continue
			}
			lines = append(lines, raw)
			keys = append(keys, statusID(t, raw))
			multibyte++
		}
		if multibyte == 0 || !slices.ContainsFunc(lines, hasFourByteRune) {
			t.Fatalf("want statuses with raw multibyte UTF-8, including a 4-byte rune (emoji); got %d", multibyte)
		}

		base := unique("kcat")
		type run struct {
			topic string
			args  []string
			keyed bool
		}
		runs := []run{{topic: base + "-plain"}}
		for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
			runs = append(runs, run{topic: base + "-keyed-" + codec, args: []string{"-K:", "-z", codec}, keyed: true})
		}
		var topics []string
		for _, r := range runs {
			topics = append(topics, r.topic)
		}
		createTopics(t, brokers, 3, topics...)

		for _, r := range runs {
			var in bytes.Buffer
			for i, l := range lines {
				if r.keyed {
					in.WriteString(keys[i] + ":")
				}
				in.Write(l)
				in.WriteByte('\n')
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			args := append([]string{"-P", "-b", brokers, "-t", r.topic}, r.args...)
			cmd := exec.CommandContext(ctx, "kcat", args...)
			cmd.Stdin = &in
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if len(bytes.TrimSpace(out)) > 0 {
				t.Logf("kcat %s said: %s", strings.Join(args, " "), bytes.TrimSpace(out))
			}
		}

		out := t.TempDir()
		cons := start(t, "consumer", "KAFKA_BROKERS="+brokers, "KAFKA_TOPICS="+strings.Join(topics, ","),
			"KAFKA_GROUP_ID="+unique("archiver"), "OUTPUT_DIR="+out, "BATCH_MAX_WAIT=100ms",
			"KAFKA_SESSION_TIMEOUT=6s", "PARTITION_WATCH_INTERVAL=500ms")
		for _, topic := range topics {
			eventually(t, 60*time.Second, fmt.Sprintf("%d lines of %s in the output", len(lines), topic), func() bool {
				return countLines(t, out, topic) >= len(lines)
			})
		}
		cons.stop(t, 15*time.Second)

		want := sortedStrings(lines)
		for _, r := range runs {
			got := sortedStrings(readOutput(t, out, r.topic))
			if !slices.Equal(got, want) {
				var missing, extra int
				for _, l := range want {
					if !slices.Contains(got, l) {
						missing++
					}
				}
				for _, l := range got {
					if !slices.Contains(want, l) {
						extra++
					}
				}
				t.Errorf("%s (kcat %s): archived %d lines; want the %d lines kcat sent, byte-for-byte (%d missing, %d not sent)",
					r.topic, strings.Join(r.args, " "), len(got), len(want), missing, extra)
			}
		}
		t.Logf("%d topics written by kcat (plain; keyed with gzip, snappy, lz4, zstd), %d lines each (%d with raw multibyte UTF-8), archived byte-for-byte",
			len(runs), len(lines), multibyte)
	})
}

// createTopics creates topics the way an operator would before pointing
// kcat at them (the broker does not auto-create topics).
func createTopics(t *testing.T, brokers string, partitions int, topics ...string) {
	t.Helper()
	req := &kafka.CreateTopicsRequest{}
	for _, name := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kafkaClient(t, brokers).CreateTopics(ctx, req)
	if err != nil {
		t.Fatalf("creating topics %v: %v", topics, err)
	}
	for name, err := range resp.Errors {
		if err != nil {
			t.Fatalf("creating topic %s: %v", name, err)
		}
	}
}

// rawUTF8 re-encodes a JSON line with every \u escape of a non-ASCII
// character written as raw UTF-8 (numbers kept exactly as written).
func rawUTF8(t *testing.T, line []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding a fixture line: %v", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func hasMultibyte(b []byte) bool {
	return utf8.Valid(b) && slices.ContainsFunc(b, func(c byte) bool { return c >= utf8.RuneSelf })
}

func hasFourByteRune(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r > 0xFFFF {
			return true
		}
		b = b[n:]
	}
	return false
}

// TestInteropReplayedPostsSurviveRetention replays the fixtures (posts from
// 2009 to 2018) into topics the producer creates, and checks that Apache
// Kafka will keep them. The contract stamps each record with the post's own
// time, and Kafka's time-based retention compares record timestamps with
// the clock: under a finite retention.ms, every post older than that is
// deleted at the broker's next retention check (log.retention.check.interval.ms,
// 5 min by default, the first 30 s after the broker starts), whether the
// archiver has read it or not.
func TestInteropReplayedPostsSurviveRetention(t *testing.T) {
	brokers := realBroker(t)
	eachPayloads(t, func(t *testing.T, p payloadSet) {
		dir := p.dir
		want := fixtureMessages(t, dir)
		topic := unique("tweets-retention")
		control := topic + ".control"
		prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=replay", "REPLAY_PATH="+dir,
			"STATE_DIR="+t.TempDir(), "KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+control)
		prod.wait(t, 60*time.Second)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := kafkaClient(t, brokers).DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
			Resources: []kafka.DescribeConfigRequestResource{
				{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"retention.ms", "message.timestamp.type"}},
			},
		})
		if err != nil {
			t.Fatalf("describing the configuration of %s: %v", topic, err)
		}
		configs := map[string]string{}
		for _, r := range resp.Resources {
			if r.Error != nil {
				t.Fatalf("describing the configuration of %s: %v", topic, r.Error)
			}
			for _, e := range r.ConfigEntries {
				configs[e.ConfigName] = e.ConfigValue
			}
		}
		retention, err := strconv.ParseInt(configs["retention.ms"], 10, 64)
		if err != nil {
			t.Fatalf("retention.ms of %s is %q: %v", topic, configs["retention.ms"], err)
		}
		t.Logf("topic %s: retention.ms=%d message.timestamp.type=%s", topic, retention, configs["message.timestamp.type"])
		if retention < 0 || configs["message.timestamp.type"] == "LogAppendTime" {
			return
		}
		cutoff := time.Now().Add(-time.Duration(retention) * time.Millisecond).UnixMilli()
		doomed, oldest := 0, int64(0)
		for _, m := range want {
			if m.ts >= 0 && m.ts < cutoff {
				doomed++
				if oldest == 0 || m.ts < oldest {
					oldest = m.ts
				}
			}
		}
		if doomed > 0 {
			t.Errorf("%d of the %d replayed messages carry post times older than the topic's retention.ms=%d (%s), the oldest %s: "+
				"Apache Kafka deletes them at its next retention check, read or not; topics the producer creates must keep them "+
				"(the broker logs \"Deleting segment ... due to log retention time %dms breach based on the largest record timestamp in the segment\")",
				doomed, len(want), retention, time.Duration(retention)*time.Millisecond, time.UnixMilli(oldest).UTC(), retention)
		}
	})
}
