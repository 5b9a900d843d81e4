package e2e

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	return freeAddrs(t, 1)[0]
}

// freeAddrs returns n distinct loopback addresses nothing listens on now.
// It holds every listener open until it has all n: one closed at once would
// let the kernel hand the same port out again, and two services given one
// address fail to start.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs
}

// TestFreeAddrsDistinct: the addresses given to services started together
// never repeat. Ports listened on and closed one at a time repeat within a
// few hundred on Linux (the ephemeral range is about 28,000 ports).
func TestFreeAddrsDistinct(t *testing.T) {
	seen := make(map[string]bool)
	for _, a := range freeAddrs(t, 1000) {
		if seen[a] {
			t.Fatalf("freeAddrs gave %s twice", a)
		}
		seen[a] = true
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHealthReadyMetrics: each service is alive at once, ready only once
// Kafka answers (and for the consumer, once it joined the group), and
// exposes its counters on /metrics; -healthcheck probes /healthz.
func TestHealthReadyMetrics(t *testing.T) {
	// Kafka that is not there yet: alive, not ready.
	addrs := freeAddrs(t, 3)
	dead, paddr, caddr := addrs[0], addrs[1], addrs[2]
	prod := start(t, "producer", "KAFKA_BROKERS="+dead, "HTTP_ADDR="+paddr, "SYNTHETIC_RATE=200")
	cons := start(t, "consumer", "KAFKA_BROKERS="+dead, "HTTP_ADDR="+caddr, "OUTPUT_DIR="+t.TempDir())
	for _, addr := range []string{paddr, caddr} {
		eventually(t, 10*time.Second, "/healthz on "+addr, func() bool {
			code, _ := get(t, "http://"+addr+"/healthz")
			return code == 200
		})
		if code, body := get(t, "http://"+addr+"/readyz"); code != 503 {
			t.Fatalf("/readyz on %s with no Kafka: %d %q; want 503", addr, code, body)
		}
	}
	prod.stop(t, 15*time.Second)
	cons.stop(t, 15*time.Second)

	// With Kafka: ready, and counting.
	brokers := broker(t)
	topic := unique("tweets")
	addrs = freeAddrs(t, 2)
	paddr, caddr = addrs[0], addrs[1]
	prod = start(t, "producer", "KAFKA_BROKERS="+brokers, "HTTP_ADDR="+paddr, "SYNTHETIC_RATE=500", "KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+topic+".control")
	cons = start(t, "consumer", "KAFKA_BROKERS="+brokers, "HTTP_ADDR="+caddr, "OUTPUT_DIR="+t.TempDir(),
		"KAFKA_TOPICS="+topic, "KAFKA_GROUP_ID="+unique("g"), "BATCH_MAX_WAIT=100ms", "PARTITION_WATCH_INTERVAL=500ms")
	for _, addr := range []string{paddr, caddr} {
		eventually(t, 30*time.Second, "/readyz 200 on "+addr, func() bool {
			code, _ := get(t, "http://"+addr+"/readyz")
			return code == 200
		})
	}
	eventually(t, 30*time.Second, "statuses counted on both /metrics", func() bool {
		_, pm := get(t, "http://"+paddr+"/metrics")
		_, cm := get(t, "http://"+caddr+"/metrics")
		return strings.Contains(pm, `tweetpipe_producer_messages_sent_total{kind="status",topic="`+topic+`"}`) &&
			strings.Contains(cm, `tweetpipe_consumer_messages_written_total{topic="`+topic+`"}`) &&
			strings.Contains(cm, "tweetpipe_consumer_batch_duration_seconds_count")
	})
	_, pm := get(t, "http://"+paddr+"/metrics")
	for _, want := range []string{"tweetpipe_producer_messages_received_total", "tweetpipe_producer_batch_duration_seconds_bucket",
		"tweetpipe_producer_kafka_connected 1", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(pm, want) {
			t.Errorf("producer /metrics lacks %s", want)
		}
	}
	_, cm := get(t, "http://"+caddr+"/metrics")
	for _, want := range []string{"tweetpipe_consumer_lag_messages{", "tweetpipe_consumer_group_member 1", "tweetpipe_consumer_files_rotated_total"} {
		if !strings.Contains(cm, want) {
			t.Errorf("consumer /metrics lacks %s", want)
		}
	}

	// The image HEALTHCHECK: the binary probes its own /healthz.
	for svc, addr := range map[string]string{"producer": paddr, "consumer": caddr} {
		probe := startArgs(t, svc, []string{"-healthcheck"}, "HTTP_ADDR="+addr)
		probe.wait(t, 10*time.Second)
		bad := startArgs(t, svc, []string{"-healthcheck"}, "HTTP_ADDR="+dead)
		<-bad.done
		if bad.err == nil {
			t.Errorf("%s -healthcheck against nothing exited 0; want 1", svc)
		}
	}
	prod.stop(t, 15*time.Second)
	cons.stop(t, 15*time.Second)
}

// TestInvalidConfigurationLoggedAsAsked: a value that does not parse stops
// a service with exit 2 and one line naming the variable, in the
// LOG_FORMAT asked for, though the configuration stopped being read before
// LOG_FORMAT.
func TestInvalidConfigurationLoggedAsAsked(t *testing.T) {
	for _, svc := range []string{"producer", "consumer"} {
		t.Run(svc, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(binDir, svc))
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LOG_FORMAT=text", "KAFKA_STARTUP_TIMEOUT=soon"}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("%s exited with %v; want exit 2\n%s", svc, err, out)
			}
			line := strings.TrimSpace(string(out))
			if !strings.HasPrefix(line, "time=") || !strings.Contains(line, `level=ERROR msg="invalid configuration"`) ||
				!strings.Contains(line, `KAFKA_STARTUP_TIMEOUT=\"soon\": not a duration`) {
				t.Fatalf("output:\n%s\nwant one text line: level=ERROR msg=\"invalid configuration\" naming KAFKA_STARTUP_TIMEOUT", out)
			}
		})
	}
}

// TestMisspelledSettingWarned: a variable one letter off a setting is not
// read; each service says so, naming the setting, instead of leaving it at
// its default without a word.
func TestMisspelledSettingWarned(t *testing.T) {
	for _, svc := range []string{"producer", "consumer"} {
		t.Run(svc, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(binDir, svc))
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LOG_FORMAT=text", "HTTP_ADDR=", "SYNTHETC_RATE=5",
				"KAFKA_BROKERS=" + freeAddr(t), "KAFKA_STARTUP_TIMEOUT=1s", "STATE_DIR=" + t.TempDir(), "OUTPUT_DIR=" + t.TempDir()}
			out, _ := cmd.CombinedOutput()
			if !strings.Contains(string(out), `msg="SYNTHETC_RATE is not a setting, so it is not read: is it SYNTHETIC_RATE misspelled?"`) {
				t.Fatalf("%s logged:\n%s\nwant a warning naming SYNTHETC_RATE and SYNTHETIC_RATE", svc, out)
			}
		})
	}
}

// TestReplayPathCheckedBeforeKafka: a REPLAY_PATH that names nothing stops
// the producer at once, naming it, even while Kafka does not answer (with
// KAFKA_STARTUP_TIMEOUT=0 it would otherwise wait for Kafka for ever).
func TestReplayPathCheckedBeforeKafka(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-archive")
	cmd := exec.Command(filepath.Join(binDir, "producer"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LOG_FORMAT=text", "HTTP_ADDR=", "SOURCE=replay", "REPLAY_PATH=" + missing,
		"KAFKA_BROKERS=" + freeAddr(t), "KAFKA_STARTUP_TIMEOUT=0", "STATE_DIR=" + t.TempDir()}
	out := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("the producer exited 0; want a failure naming REPLAY_PATH\n%s", out.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the producer still runs 20 s after start with REPLAY_PATH=%s; want it stopped at once\n%s", missing, out.String())
	}
	if !strings.Contains(out.String(), "REPLAY_PATH: "+missing) {
		t.Errorf("the producer logged:\n%s\nwant an error naming REPLAY_PATH and %s", out.String(), missing)
	}
}
