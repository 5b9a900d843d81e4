package e2e

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// earlyReader matches a pipe into a reader that may exit before its input
// ends: head, grep -q or grep -m (and their long forms). Its writer then
// dies of SIGPIPE when it writes more, and under `set -o pipefail` the
// pipeline fails with 141 although the reader found what it looked for.
var earlyReader = regexp.MustCompile(`\|\s*(head\b|grep\s+(-[A-Za-z]*[qm]|--quiet|--silent|--max-count))`)

// TestScriptsReadPipesToTheEnd checks that no script that sets pipefail
// pipes into a reader that stops early. A `docker logs | grep -m1` in
// scripts/docker-test.sh failed the Docker suite that way once the
// consumer's log outgrew one write: the line was there, the pipeline's
// status was 141 and `set -e` ended the script. Read the whole input
// instead (`sed -n 1p`, `grep ... >/dev/null`, `[[ $(...) == *x* ]]`).
func TestScriptsReadPipesToTheEnd(t *testing.T) {
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, ".ci", "run"))
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "pipefail") {
			continue
		}
		checked++
		rel, _ := filepath.Rel(root, f)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if m := earlyReader.FindString(line); m != "" {
				t.Errorf("%s:%d pipes into %q, which may exit before its input ends (SIGPIPE, 141 under pipefail):\n\t%s",
					rel, n, m, strings.TrimSpace(line))
			}
			if m := grepIntoPipe.FindString(line); m != "" {
				t.Errorf("%s:%d substitutes %q: grep finding nothing exits 1, under pipefail the assignment fails and set -e ends the script without a word; "+
					"count with grep -c ... || true, or filter with sed -n:\n\t%s", rel, n, m, strings.TrimSpace(line))
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d scripts set pipefail; expected scripts/*.sh and .ci/run", checked)
	}
}

// grepIntoPipe matches a command substitution that starts with grep and
// pipes its output on: make tail's check in scripts/docker-test.sh counted
// `==> ` headers that way, and when make tail stopped printing them the
// Docker suite ended there with status 1 and no message.
// The same holds for a substitution whose last command is grep
// (`$(cmd | grep x)`) unless `|| ...` follows it.
var grepIntoPipe = regexp.MustCompile(`\$\(\s*grep\b[^)|]*\|[^|][^)]*|\$\([^)]*[^|]\|\s*grep\b[^|)]*\)`)

// TestGrepIntoPipePattern keeps that pattern honest.
func TestGrepIntoPipePattern(t *testing.T) {
	for _, c := range []struct {
		line  string
		match bool
	}{
		{`files=$(grep '^==> ' "$WORK/tail.log" | sort -u | wc -l)`, true},
		{`x=$( grep -v a f | sed 1d)`, true},
		{`lines=$(grep -c '^{' "$WORK/tail.log" || true)`, false},
		{`n=$(sed -n 's/a/b/p' f | wc -l)`, false},
		{`ok=$(grep -q x f && echo yes)`, false},
		{`x=$(docker logs c 2>&1 | grep bucket)`, true},
		{`x=$(docker logs c 2>&1 | grep bucket || true)`, false},
	} {
		if got := grepIntoPipe.MatchString(c.line); got != c.match {
			t.Errorf("grepIntoPipe on %q = %v; want %v", c.line, got, c.match)
		}
	}
}

// TestEarlyReaderPattern keeps the pattern honest: it must catch the forms
// that fail and leave alone the ones that read to the end.
func TestEarlyReaderPattern(t *testing.T) {
	for _, c := range []struct {
		line  string
		match bool
	}{
		{`docker logs "$cc" 2>&1 | grep -m1 'bucket checked' | sed 's/^/x/'`, true},
		{`tr '\0' ' ' <f | grep -q 'kafka\.Kafka '`, true},
		{`sed -nE 's/a/b/p' f | head -n1`, true},
		{`  | grep -v security | head -n1)"`, true},
		{`x | grep -qF "$s"`, true},
		{`x | grep --max-count=1 y`, true},
		{`x | sed -n 1p`, false},
		{`x | grep -v security | sed -n 1p`, false},
		{`grep -q foo file`, false},
		{`x | grep 'bucket checked' >/dev/null`, false},
	} {
		if got := earlyReader.MatchString(c.line); got != c.match {
			t.Errorf("earlyReader on %q: %v, want %v", c.line, got, c.match)
		}
	}
}

// TestMakeTestWithoutCCompiler checks that make test runs where Go finds no
// C compiler: the race detector needs cgo, so there every go test line goes
// without -race and make says why; with one, every line has -race. Go turns
// cgo off by itself without a compiler; CGO_ENABLED=0 stands in for that.
func TestMakeTestWithoutCCompiler(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not found: %v", err)
	}
	for _, cgo := range []string{"0", "1"} {
		cmd := exec.Command("make", "--no-print-directory", "-n", "test")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("CGO_ENABLED=%s make -n test: %v\n%s", cgo, err, out)
		}
		var tests int
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.Contains(line, "go test") {
				continue
			}
			tests++
			if race := strings.Contains(line, "-race"); race != (cgo == "1") {
				t.Errorf("CGO_ENABLED=%s: make test runs\n%s\nwith -race %v; want %v", cgo, line, race, cgo == "1")
			}
		}
		if tests == 0 {
			t.Errorf("CGO_ENABLED=%s make -n test runs no go test:\n%s", cgo, out)
		}
		if said := strings.Contains(string(out), "without -race"); said != (cgo == "0") {
			t.Errorf("CGO_ENABLED=%s: make test says it runs without -race: %v; want %v\n%s", cgo, said, cgo == "0", out)
		}
	}
}

// TestBenchStopsWithoutRoomOnTheDisk checks that make bench stops at once,
// naming BENCH_DIR and the setting that sizes the run, when the disk has
// less room than the run needs: a broker whose disk fills stops taking
// records, and the run used to wait there without an error. A size class
// of nearly 10¹² statuses needs more room than any disk here has; the check comes
// before anything is built or generated. A count bash cannot compute with
// (1e6, 08, or past 12 digits, where its arithmetic wraps) stops it too,
// naming the setting.
func TestBenchStopsWithoutRoomOnTheDisk(t *testing.T) {
	for _, tt := range []struct {
		sizeN string
		want  []string
	}{
		{"999999999999", []string{"has ", "free on its disk", "BENCH_SIZE_N=999999999999", "BENCH_DISK_CHECK=0"}},
		{"1e6", []string{"BENCH_SIZE_N=1e6: accepts a whole number"}},
		{"100000000000000", []string{"BENCH_SIZE_N=100000000000000: accepts a whole number"}},
		{"08", []string{"BENCH_SIZE_N=08: accepts a whole number"}},
	} {
		t.Run(tt.sizeN, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bench")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(t), "scripts", "bench.sh"))
			// Its own process group: were the check gone, what the run
			// started (go build, the broker) goes with it at the timeout.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			cmd.WaitDelay = 10 * time.Second
			cmd.Env = append(os.Environ(), "BENCH_DIR="+dir, "KCAT=true", "BENCH_SIZE_N="+tt.sizeN, "BENCH_SIZES=jetstream v1.1-1k v1.1-5k",
				"BENCH_DISK_CHECK=", "KAFKA_BROKERS=", "BENCH_QUICK=", "BENCH_N=", "BENCH_BACKLOG=", "BENCH_RSS_PARTITIONS=",
				"BENCH_RSS_PARTITIONS_N=", "BENCH_RSS_ON=", "BENCH_TEMPLATES=")
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("bench.sh ran for %v without stopping:\n%s", 2*time.Minute, out)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("bench.sh with BENCH_SIZE_N=%s: %v, want it to stop with an error\n%s", tt.sizeN, err, out)
			}
			for _, want := range append([]string{"bench.sh: error: "}, tt.want...) {
				if !strings.Contains(string(out), want) {
					t.Errorf("bench.sh's output lacks %q:\n%s", want, out)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "bin")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("bench.sh built into %s before it stopped (stat: %v):\n%s", dir, err, out)
			}
		})
	}
}
