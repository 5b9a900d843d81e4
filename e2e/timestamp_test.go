package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPostAheadOfBrokerArchived: Apache Kafka 4 refuses a record timed more
// than an hour ahead of its clock (message.timestamp.after.max.ms). A
// replay holding one status two hours ahead is still archived whole: that
// status goes with the time it was read as its Kafka timestamp, the ones
// behind it are not held up, and every status reaches the output once.
// Both with the producer's own limit (the default) and without it, where
// the broker refuses the record first.
func TestPostAheadOfBrokerArchived(t *testing.T) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		t.Skip("the timestamp limit is Apache Kafka's: set KAFKA_BROKERS to a Kafka 4 broker (make test-kafka starts one)")
	}
	for _, tc := range []struct{ name, maxAhead string }{
		{"before sending", "55m"},
		{"after the broker refused it", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n, ahead = 200, 100
			now := time.Now()
			var lines []string
			for i := range n {
				at := now.Add(-time.Minute)
				if i == ahead {
					at = now.Add(2 * time.Hour)
				}
				lines = append(lines, fmt.Sprintf(`{"created_at":%q,"id":%d,"id_str":"%d","text":"status %d","user":{},"timestamp_ms":"%d"}`,
					at.UTC().Format(time.RubyDate), 9000+i, 9000+i, i, at.UnixMilli()))
			}
			input := filepath.Join(t.TempDir(), "ahead.jsonl")
			if err := os.WriteFile(input, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			topic := unique("tweets-ahead")
			out := t.TempDir()
			prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=replay", "REPLAY_PATH="+input,
				"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+topic+".control", "KAFKA_MAX_TIMESTAMP_AHEAD="+tc.maxAhead,
				"SHUTDOWN_TIMEOUT=10s")
			prod.wait(t, 60*time.Second)
			totals := lastLine(prod.out.String(), "producer totals")
			if !strings.Contains(totals, "statuses=200") || !strings.Contains(totals, "retimed=1") || !strings.Contains(totals, "unacknowledged=0") {
				t.Fatalf("producer totals: %s; want statuses=200, retimed=1, unacknowledged=0", totals)
			}
			cons := start(t, "consumer", consumerEnv(brokers, topic, unique("archiver"), out)...)
			eventually(t, 60*time.Second, "every status in the output", func() bool {
				return countLines(t, out, topic) >= n
			})
			cons.stop(t, 15*time.Second)
			var got []string
			for _, l := range readOutput(t, out, topic) {
				got = append(got, string(l))
			}
			slices.Sort(got)
			slices.Sort(lines)
			if !slices.Equal(got, lines) {
				t.Fatalf("the output holds %d lines; want the %d statuses replayed, each once, bytes unchanged", len(got), n)
			}
			t.Logf("%d statuses archived once, one of them two hours ahead; producer: %s", n, totals)
		})
	}
}
