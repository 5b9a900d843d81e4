package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// isStatus is the test's own oracle, independent of the producer's
// classifier: a top-level object with a user and a text is a status.
func isStatus(t *testing.T, line []byte) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("fixture line is not a JSON object: %v: %.80s", err, line)
	}
	_, text := m["text"]
	_, full := m["full_text"]
	_, user := m["user"]
	return (text || full) && user
}

func sortedStrings(lines [][]byte) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	slices.Sort(out)
	return out
}

// TestReplayFixtures sends every payload of testdata/tweets/v1.1 and a
// status over 64 KiB, then every real payload of shared/fixtures where they
// are, through the producer, the broker and the consumer: the statuses come
// out byte-identical, each exactly once, and every other message is on the
// control topic.
func TestReplayFixtures(t *testing.T) {
	eachPayloads(t, replayFixtures)
}

func replayFixtures(t *testing.T, p payloadSet) {
	brokers := broker(t)
	dir := p.dir
	topic := unique("tweets")
	control := topic + ".control"
	out := t.TempDir()

	var wantStatuses, wantControl [][]byte
	seen := map[string]bool{}
	for _, f := range payloadFiles(t, dir) {
		for _, l := range fileLines(t, f) {
			if isStatus(t, l) {
				// The fixtures hold one status twice (python-twitter's
				// lines.json, lines 32 and 55): sent twice, it is archived
				// once, by the consumer's dedup window.
				if !seen[string(l)] {
					wantStatuses = append(wantStatuses, l)
				}
				seen[string(l)] = true
			} else {
				wantControl = append(wantControl, l)
			}
		}
	}

	prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=replay", "REPLAY_PATH="+dir,
		"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+control)
	prod.wait(t, 60*time.Second)
	if !strings.Contains(prod.out.String(), "producer totals") {
		t.Fatalf("producer did not log its totals:\n%s", prod.out.String())
	}

	cons := start(t, "consumer", "KAFKA_BROKERS="+brokers, "KAFKA_TOPICS="+topic+","+control,
		"KAFKA_GROUP_ID="+unique("archiver"), "OUTPUT_DIR="+out, "BATCH_MAX_WAIT=100ms",
		"KAFKA_SESSION_TIMEOUT=6s", "PARTITION_WATCH_INTERVAL=500ms")
	eventually(t, 60*time.Second, "every fixture line in the output", func() bool {
		return countLines(t, out, topic) >= len(wantStatuses) && countLines(t, out, control) >= len(wantControl)
	})
	cons.stop(t, 15*time.Second)

	gotStatuses := readOutput(t, out, topic)
	if got, want := sortedStrings(gotStatuses), sortedStrings(wantStatuses); !slices.Equal(got, want) {
		t.Fatalf("statuses in the output differ from the fixtures: got %d lines; want %d", len(got), len(want))
	}
	gotControl := readOutput(t, out, control)
	if got, want := sortedStrings(gotControl), sortedStrings(wantControl); !slices.Equal(got, want) {
		t.Fatalf("control messages differ: got %d lines %q; want %d lines %q", len(got), got, len(want), want)
	}
	kinds := map[string]int{}
	for _, l := range gotControl {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(l, &m)
		for _, k := range []string{"delete", "limit", "scrub_geo", "warning"} {
			if _, ok := m[k]; ok {
				kinds[k]++
			}
		}
	}
	for _, k := range []string{"delete", "limit", "scrub_geo", "warning"} {
		if kinds[k] == 0 {
			t.Errorf("no %s message on the control topic; got kinds %v", k, kinds)
		}
	}
	t.Logf("fixtures: %d statuses and %d control messages archived exactly once (%v)", len(gotStatuses), len(gotControl), kinds)
}

// TestSyntheticPipeline starts the consumer before the topic exists, then
// the producer on the synthetic source: every generated status is archived
// once, every line valid JSON.
func TestSyntheticPipeline(t *testing.T) {
	brokers := broker(t)
	topic := unique("tweets")
	out := t.TempDir()
	const count = 3000

	cons := start(t, "consumer", "KAFKA_BROKERS="+brokers, "KAFKA_TOPICS="+topic,
		"KAFKA_GROUP_ID="+unique("archiver"), "OUTPUT_DIR="+out, "BATCH_MAX_WAIT=100ms",
		"KAFKA_SESSION_TIMEOUT=6s", "PARTITION_WATCH_INTERVAL=500ms")
	prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=synthetic", "SYNTHETIC_RATE=0",
		"SYNTHETIC_COUNT=3000", "SYNTHETIC_SEED=7", "KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+topic+".control")
	prod.wait(t, 60*time.Second)
	eventually(t, 60*time.Second, "3000 statuses in the output", func() bool {
		return countLines(t, out, topic) >= count
	})
	cons.stop(t, 15*time.Second)

	lines := readOutput(t, out, topic)
	ids := map[string]bool{}
	for _, l := range lines {
		id := statusID(t, l)
		if ids[id] {
			t.Fatalf("status %s written twice", id)
		}
		ids[id] = true
	}
	if len(ids) != count {
		t.Fatalf("got %d distinct statuses; want %d", len(ids), count)
	}
	entries, err := os.ReadDir(filepath.Join(out, topic))
	if err != nil || len(entries) == 0 {
		t.Fatalf("want date folders under %s: %v", filepath.Join(out, topic), err)
	}
}
