package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

// TestDevstackReplayWritesEverything: `SOURCE=replay make run` returns once
// the replay has ended, and by then the consumer has written every status
// the producer published, each once, byte-identical.
func TestDevstackReplayWritesEverything(t *testing.T) {
	const n = 2000
	input, want := genStatuses(t, n, 7)
	dir := t.TempDir()
	devstack := filepath.Join(dir, "devstack")
	build := exec.Command("go", append(append([]string{"build"}, raceFlags...), "-o", devstack, "./cmd/devstack")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building devstack: %v", err)
	}
	out := filepath.Join(dir, "data")
	cmd := exec.Command(devstack, "-port", "0", "-bin", binDir, "-out", out, "-state", filepath.Join(dir, "kafka"),
		"-producer-http", "127.0.0.1:0", "-consumer-http", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SOURCE=replay", "REPLAY_PATH=" + input,
		"STATE_DIR=" + filepath.Join(dir, "state"), "LOG_LEVEL=info",
		// Batches of one: the consumer trails the producer by seconds, as it
		// does on a slow disk or a busy machine.
		"BATCH_MAX_RECORDS=1"}
	logs := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting devstack: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("devstack: %v\n%s", err, logs)
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Signal(os.Interrupt)
		<-done
		t.Fatalf("devstack still running 3m after a replay of %d statuses:\n%s", n, logs)
	}
	if got := len(readOutput(t, out, "tweets")); got != n {
		t.Logf("devstack's output:\n%s", logs)
	}
	verifyExactlyOnce(t, out, "tweets", want)
}
