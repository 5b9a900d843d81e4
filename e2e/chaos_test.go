package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// chaosCount is how many statuses a chaos test sends: CHAOS_STATUSES, else
// 200,000 against a real broker (the real-broker suite of CI) and a tenth
// of that on the in-process one (make test).
func chaosCount(t *testing.T, def int) int {
	if os.Getenv("KAFKA_BROKERS") == "" && os.Getenv("CHAOS_STATUSES") == "" {
		def /= 10
	}
	if s := os.Getenv("CHAOS_STATUSES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			t.Fatalf("CHAOS_STATUSES=%q: want a number of at least 1000", s)
		}
		return n
	}
	return def
}

// replaySpeed makes a replay of n generated statuses (1 ms apart) last
// about ten seconds, so kills land while the producer is still sending.
func replaySpeed(n int) string { return strconv.Itoa(max(1, n/10_000)) }

// genStatuses writes n v1.1-shaped statuses, one per line, to a file and
// returns its path and the lines by id. Sizes vary like real payloads;
// timestamp_ms advances 1 ms per status, so REPLAY_SPEED=1 is 1000/s.
func genStatuses(t *testing.T, n int, seed uint64) (string, map[string][]byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	words := []string{"chai", "yaar", "मौसम", "बहुत", "अच्छा", "traffic", "match", "🔥", "😂", "Kafka", "monsoon", "dilli", "ज़िंदगी", "awesome"}
	byID := make(map[string][]byte, n)
	var buf bytes.Buffer
	base := int64(1700000000000)
	for i := range n {
		id := strconv.FormatInt(1_600_000_000_000_000_000+int64(seed)*1_000_000_000+int64(i), 10)
		var text strings.Builder
		for range 5 + rng.IntN(30) {
			text.WriteString(words[rng.IntN(len(words))])
			text.WriteByte(' ')
		}
		desc := strings.Repeat("x", rng.IntN(1500))
		line, err := json.Marshal(map[string]any{
			"created_at":   time.UnixMilli(base + int64(i)).UTC().Format(time.RubyDate),
			"id":           json.Number(id),
			"id_str":       id,
			"text":         text.String(),
			"user":         map[string]any{"id": i % 5000, "screen_name": fmt.Sprintf("u%d", i%5000), "description": desc},
			"lang":         "hi",
			"timestamp_ms": strconv.FormatInt(base+int64(i), 10),
		})
		if err != nil {
			t.Fatal(err)
		}
		byID[id] = line
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "statuses.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, byID
}

// outputBytes is the size of every data file under dir/topic: a cheap
// progress measure while the output is still growing.
func outputBytes(dir, topic string) int64 {
	var total int64
	_ = filepath.WalkDir(filepath.Join(dir, topic), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "_manifest.json" {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// waitForAllStatuses waits, up to five minutes, until the output under
// dir/topic is as large as the statuses in want, one line each.
func waitForAllStatuses(t *testing.T, dir, topic string, want map[string][]byte) {
	t.Helper()
	total := wantBytes(want)
	deadline := time.Now().Add(5 * time.Minute)
	for outputBytes(dir, topic) < total {
		if time.Now().After(deadline) {
			fatalf(t, "timed out after 5m waiting for every status in the output: %s", outputReport(t, dir, topic, want))
		}
		time.Sleep(time.Second)
	}
}

// outputReport says what the output under dir/topic holds against want:
// lines, statuses missing and written twice, and the partitions'
// checkpoints.
func outputReport(t *testing.T, dir, topic string, want map[string][]byte) string {
	t.Helper()
	lines := readOutput(t, dir, topic)
	count := make(map[string]int, len(lines))
	for _, l := range lines {
		count[idOf(l)]++
	}
	missing, twice := missingAndTwice(want, count)
	var ckpts []string
	files, _ := filepath.Glob(filepath.Join(dir, "_state", topic+"-*.checkpoint"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			ckpts = append(ckpts, newestCheckpoint(data))
		}
	}
	slices.Sort(ckpts)
	return fmt.Sprintf("%d lines for %d statuses sent; %d missing %v; %d written more than once %v; checkpoints' next offsets %v",
		len(lines), len(want), len(missing), missing[:min(len(missing), 10)], len(twice), twice[:min(len(twice), 10)], ckpts)
}

// newestCheckpoint returns "p<partition>=<next offset>" from the bytes of a
// checkpoint file: two slots of 4096 bytes, each a line "ckpt <sequence>
// <length> <CRC-32C>" (hex) and that many bytes of JSON, the higher
// sequence the newer (docs/architecture.md). For a report: the checksum
// is not checked.
func newestCheckpoint(data []byte) string {
	best, bestSeq := "?", int64(-1)
	for off := 0; off+4096 <= len(data); off += 4096 {
		head, rest, ok := bytes.Cut(data[off:off+4096], []byte("\n"))
		f := strings.Fields(string(head))
		if !ok || len(f) != 4 || f[0] != "ckpt" {
			continue
		}
		seq, err1 := strconv.ParseInt(f[1], 16, 64)
		n, err2 := strconv.ParseInt(f[2], 16, 64)
		var c struct {
			Partition  int   `json:"partition"`
			NextOffset int64 `json:"next_offset"`
		}
		if err1 != nil || err2 != nil || n > int64(len(rest)) || json.Unmarshal(rest[:n], &c) != nil || seq <= bestSeq {
			continue
		}
		best, bestSeq = fmt.Sprintf("p%d=%d", c.Partition, c.NextOffset), seq
	}
	return best
}

// missingAndTwice returns the statuses of want that count, how many times
// each status is in the output, has none of and more than one of, sorted.
func missingAndTwice(want map[string][]byte, count map[string]int) (missing, twice []string) {
	for id := range want {
		switch {
		case count[id] == 0:
			missing = append(missing, id)
		case count[id] > 1:
			twice = append(twice, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(twice)
	return missing, twice
}

// verifyExactlyOnce checks that the output holds every input status once,
// byte-identical, and nothing else.
func verifyExactlyOnce(t *testing.T, dir, topic string, want map[string][]byte) {
	t.Helper()
	lines := readOutput(t, dir, topic)
	seen := make(map[string]bool, len(lines))
	for _, l := range lines {
		id := statusID(t, l)
		if seen[id] {
			fatalf(t, "status %s is in the output twice: %s", id, outputReport(t, dir, topic, want))
		}
		seen[id] = true
		in, ok := want[id]
		if !ok {
			t.Fatalf("status %s in the output was never sent", id)
		}
		if !bytes.Equal(in, l) {
			t.Fatalf("status %s differs from the input:\n got %.200s\nwant %.200s", id, l, in)
		}
	}
	if len(seen) != len(want) {
		fatalf(t, "output holds %d of the %d statuses sent: %s", len(seen), len(want), outputReport(t, dir, topic, want))
	}
}

// chaosDir is the output folder of a chaos test: kept after the test when
// CHAOS_KEEP is set, for a post-mortem.
func chaosDir(t *testing.T) string {
	if os.Getenv("CHAOS_KEEP") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "chaos-out-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("output kept in %s", dir)
	return dir
}

func wantBytes(want map[string][]byte) int64 {
	var n int64
	for _, l := range want {
		n += int64(len(l)) + 1
	}
	return n
}

func consumerEnv(brokers, topic, group, out string) []string {
	return []string{"KAFKA_BROKERS=" + brokers, "KAFKA_TOPICS=" + topic, "KAFKA_GROUP_ID=" + group,
		"OUTPUT_DIR=" + out, "BATCH_MAX_WAIT=200ms", "KAFKA_SESSION_TIMEOUT=6s",
		"KAFKA_REBALANCE_TIMEOUT=10s", "PARTITION_WATCH_INTERVAL=500ms", "PROGRESS_INTERVAL=5s"}
}

// TestChaosConsumerKills: statuses flow while one consumer is SIGKILLed at
// random moments and restarted at least 20 times, and a second consumer
// joins and leaves; the output is every status exactly once.
func TestChaosConsumerKills(t *testing.T) {
	brokers := broker(t)
	n := chaosCount(t, 200_000)
	input, want := genStatuses(t, n, 1)
	topic := unique("chaos")
	group := unique("archiver")
	out := chaosDir(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))

	prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=replay", "REPLAY_PATH="+input,
		"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC=", "KAFKA_PARTITIONS=6", "REPLAY_SPEED="+replaySpeed(n))
	env := consumerEnv(brokers, topic, group, out)
	a := start(t, "consumer", env...)
	var b *proc
	const kills = 20
	for i := 1; i <= kills; i++ {
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		a.kill()
		a = start(t, "consumer", env...)
		switch i {
		case 5:
			b = start(t, "consumer", env...)
		case 15:
			b.stop(t, 30*time.Second)
		}
	}
	t.Logf("consumer SIGKILLed and restarted %d times; a second consumer joined and left", kills)
	prod.wait(t, 5*time.Minute)
	waitForAllStatuses(t, out, topic, want)
	a.stop(t, 30*time.Second)
	verifyExactlyOnce(t, out, topic, want)
	t.Logf("%d statuses in, %d out, each once, byte-identical, after %d kills", n, len(want), kills)
}

// TestChaosProducerRestarts: the producer on the replay source is killed
// with SIGKILL and restarted three times before it finishes; what it sent
// again is dropped by the consumer's deduplication window.
func TestChaosProducerRestarts(t *testing.T) {
	brokers := broker(t)
	n := chaosCount(t, 200_000)
	input, want := genStatuses(t, n, 2)
	topic := unique("chaos")
	out := t.TempDir()
	state := t.TempDir()
	penv := []string{"KAFKA_BROKERS=" + brokers, "SOURCE=replay", "REPLAY_PATH=" + input, "STATE_DIR=" + state,
		"KAFKA_TOPIC=" + topic, "KAFKA_CONTROL_TOPIC=", "KAFKA_PARTITIONS=6", "REPLAY_SPEED=" + replaySpeed(n)}
	cons := start(t, "consumer", append(consumerEnv(brokers, topic, unique("archiver"), out), "DEDUP_WINDOW=100000")...)
	for i := range 3 {
		p := start(t, "producer", penv...)
		time.Sleep(time.Duration(2+i) * time.Second)
		p.kill()
	}
	last := start(t, "producer", penv...)
	last.wait(t, 5*time.Minute)
	waitForAllStatuses(t, out, topic, want)
	time.Sleep(2 * time.Second) // any duplicate still in flight gets its chance to show
	cons.stop(t, 30*time.Second)
	verifyExactlyOnce(t, out, topic, want)
	t.Logf("producer killed 3 times: %d statuses out of %d sent, each once; consumer: %s", n, n, lastLine(cons.out.String(), "consumer totals"))
}

func lastLine(s, containing string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], containing) {
			return lines[i]
		}
	}
	return ""
}

// restartableBroker is a broker the test can crash and bring back: the
// real Kafka through scripts/kafka-local.sh (KAFKA_LOCAL_SCRIPT), or an
// in-process kfake that keeps its data on disk.
type restartableBroker struct {
	addr    string
	restart func(t *testing.T, down time.Duration)
}

func newRestartableBroker(t *testing.T) restartableBroker {
	t.Helper()
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		script := os.Getenv("KAFKA_LOCAL_SCRIPT")
		if script == "" {
			t.Skip("KAFKA_BROKERS names a broker this test cannot restart; set KAFKA_LOCAL_SCRIPT=scripts/kafka-local.sh (make test-kafka does)")
		}
		run := func(t *testing.T, arg string) {
			cmd := exec.Command(script, arg)
			out, err := cmd.CombinedOutput()
			t.Logf("kafka-local.sh %s: %s", arg, strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatalf("kafka-local.sh %s: %v", arg, err)
			}
		}
		return restartableBroker{addr: b, restart: func(t *testing.T, down time.Duration) {
			run(t, "kill")
			time.Sleep(down)
			run(t, "resume")
		}}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return restartableBroker{addr: c.ListenAddrs()[0], restart: func(t *testing.T, down time.Duration) {
		c.Close()
		time.Sleep(down)
		var err error
		for range 50 { // the port may take a moment to be free again
			if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir)); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("restarting kfake: %v", err)
	}}
}

// TestChaosBrokerRestarts: the broker goes down twice while statuses flow;
// both services wait, retry and lose nothing.
func TestChaosBrokerRestarts(t *testing.T) {
	br := newRestartableBroker(t)
	n := chaosCount(t, 200_000) / 2
	input, want := genStatuses(t, n, 3)
	topic := unique("chaos")
	out := t.TempDir()
	prod := start(t, "producer", "KAFKA_BROKERS="+br.addr, "SOURCE=replay", "REPLAY_PATH="+input,
		"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC=", "KAFKA_PARTITIONS=6", "REPLAY_SPEED="+replaySpeed(n))
	cons := start(t, "consumer", consumerEnv(br.addr, topic, unique("archiver"), out)...)
	for i := range 2 {
		time.Sleep(3 * time.Second)
		br.restart(t, 2*time.Second)
		t.Logf("broker restart %d done", i+1)
	}
	prod.wait(t, 5*time.Minute)
	waitForAllStatuses(t, out, topic, want)
	cons.stop(t, 30*time.Second)
	verifyExactlyOnce(t, out, topic, want)
	t.Logf("broker restarted twice: %d statuses in, %d out, each once; producer: %s", n, len(want), lastLine(prod.out.String(), "producer totals"))
}
