package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

// binDir holds the producer and consumer binaries built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tweetpipe-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, svc := range []string{"producer", "consumer"} {
		// The tag the Makefile builds with: the producer's libzstd codec.
		args := append(append([]string{"build"}, raceFlags...), "-tags", "libzstd", "-o", filepath.Join(dir, svc), ".")
		cmd := exec.Command("go", args...)
		cmd.Dir = filepath.Join("..", svc)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", svc, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// broker returns the bootstrap address of the broker under test: the real
// Kafka named by KAFKA_BROKERS, or an in-process kfake cluster.
func broker(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		t.Logf("using the real Kafka broker at %s", b)
		return b
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// unique returns a name no earlier run used, so tests can share a real broker.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// payloadSet is a folder of v1.1 payloads to replay.
type payloadSet struct {
	dir     string // the REPLAY_PATH
	escaped string // a file in dir of statuses with \u-escaped multibyte text
}

// eachPayloads runs f on the project's own v1.1 payloads, and on the shared
// real captures beside the repository where they are (skipped where
// missing, failing if CI=true).
func eachPayloads(t *testing.T, f func(t *testing.T, p payloadSet)) {
	t.Run("testdata", func(t *testing.T) {
		dir := projectPayloads(t)
		f(t, payloadSet{dir: dir, escaped: filepath.Join(dir, "sample.jsonl")})
	})
	t.Run("shared", func(t *testing.T) {
		dir := corpus.Shared(t)
		f(t, payloadSet{dir: dir, escaped: filepath.Join(dir, "python-twitter", "lines.json")})
	})
}

// projectPayloads is a folder holding testdata/tweets/v1.1 and a status over
// 64 KiB (longer than a bufio.Scanner's default line).
func projectPayloads(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := corpus.Path(t, "v1.1")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := append(corpus.BigStatus("1399614700000000000", 70<<10), '\n')
	if err := os.WriteFile(filepath.Join(dir, "big.jsonl"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// payloadFiles are the files a replay of dir reads: .json and .jsonl, at
// any depth.
func payloadFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".jsonl")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .json or .jsonl files in %s", dir)
	}
	return files
}

// proc is a service binary running under test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *logbuf.Buffer
	done chan struct{}
	err  error
}

// start runs a service with env (KEY=VALUE ...) added to a clean environment.
func start(t *testing.T, svc string, env ...string) *proc {
	t.Helper()
	return startArgs(t, svc, nil, env...)
}

// startArgs is start with command-line arguments.
func startArgs(t *testing.T, svc string, args []string, env ...string) *proc {
	t.Helper()
	logs := logsOf(t) // before the cleanup below, so that it prints after the process is stopped
	cmd := exec.Command(filepath.Join(binDir, svc), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LOG_FORMAT=text", "LOG_LEVEL=info", "PROGRESS_INTERVAL=1s", "HTTP_ADDR=127.0.0.1:0", "STATE_DIR=" + t.TempDir()}, env...)
	p := &proc{name: svc, cmd: cmd, out: &logbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", svc, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	logs.add(p)
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// testLogs are the services one test started and the summary of its
// failure. When the test fails, their logs are printed once every service
// has stopped, and the summary after them: the end of a long CI log, where
// an excerpt that ends at the failure shows it.
type testLogs struct {
	mu    sync.Mutex
	procs []*proc
	notes []string
}

var logsByTest sync.Map // *testing.T -> *testLogs

// logsOf returns t's logs, registering the cleanup that prints them.
func logsOf(t *testing.T) *testLogs {
	if v, ok := logsByTest.Load(t); ok {
		return v.(*testLogs)
	}
	l := &testLogs{}
	logsByTest.Store(t, l)
	t.Cleanup(func() {
		logsByTest.Delete(t)
		if t.Failed() {
			l.print(t)
		}
	})
	return l
}

func (l *testLogs) add(p *proc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.procs = append(l.procs, p)
}

// fatalf fails the test with a message that is also repeated after the
// services' logs.
func fatalf(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	l := logsOf(t)
	l.mu.Lock()
	l.notes = append(l.notes, msg)
	l.mu.Unlock()
	t.Fatal(msg)
}

// print logs each service's output, whole with E2E_FULL_LOGS=1 and
// otherwise its last lines (about 300 lines in all), then the notes.
func (l *testLogs) print(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := max(20, 300/max(1, len(l.procs)))
	if os.Getenv("E2E_FULL_LOGS") != "" {
		keep = -1
	}
	for i, p := range l.procs {
		lines := strings.Split(strings.TrimRight(p.out.String(), "\n"), "\n")
		head := fmt.Sprintf("--- %s #%d output (%d lines) ---", p.name, i+1, len(lines))
		if keep >= 0 && len(lines) > keep {
			head = fmt.Sprintf("--- %s #%d output: last %d of %d lines (E2E_FULL_LOGS=1 prints all) ---", p.name, i+1, keep, len(lines))
			lines = lines[len(lines)-keep:]
		}
		t.Logf("%s\n%s", head, strings.Join(lines, "\n"))
		if keep >= 0 {
			for j, r := range raceReports(p.out.String()) {
				t.Logf("--- %s #%d data race report %d, whole ---\n%s", p.name, i+1, j+1, r)
			}
		}
	}
	for _, n := range l.notes {
		t.Logf("--- failed: %s", n)
	}
}

// raceReports returns the race detector's reports in a service's output
// (the services are built with -race when the tests are), which a tail of
// the log cuts.
func raceReports(out string) []string {
	const sep = "==================\n"
	var reports []string
	for {
		i := strings.Index(out, sep+"WARNING: DATA RACE")
		if i < 0 {
			return reports
		}
		out = out[i+len(sep):]
		end := strings.Index(out, sep)
		if end < 0 {
			end = len(out)
		}
		reports = append(reports, strings.TrimRight(out[:end], "\n"))
		out = out[end:]
	}
}

// wait waits for the process to exit on its own and fails unless it exits 0.
func (p *proc) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		fatalf(t, "%s did not exit within %s", p.name, within)
	}
	if p.err != nil {
		fatalf(t, "%s exited with %v; want exit 0", p.name, p.err)
	}
}

// stop sends SIGTERM and fails unless the process exits 0 within the bound.
func (p *proc) stop(t *testing.T, within time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, within)
}

// kill sends SIGKILL: a crash at an arbitrary instant.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// idOf returns the id_str of a status line, "" when the line is not one.
func idOf(line []byte) string {
	var s struct {
		IDStr string `json:"id_str"`
	}
	if json.Unmarshal(line, &s) != nil {
		return ""
	}
	return s.IDStr
}

// statusID returns the id_str of a status line, failing the test when the
// line is not a status (not JSON, or no id_str).
func statusID(t *testing.T, line []byte) string {
	t.Helper()
	id := idOf(line)
	if id == "" {
		t.Fatalf("line is not a status (no id_str): %.100s", line)
	}
	return id
}

// readOutput returns every line of every data file under dir/topic, plain
// or compressed, in no particular order.
func readOutput(t *testing.T, dir, topic string) [][]byte {
	t.Helper()
	var lines [][]byte
	root := filepath.Join(dir, topic)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		var r io.Reader
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		switch {
		case strings.HasSuffix(path, ".jsonl"):
			r = f
		case strings.HasSuffix(path, ".jsonl.gz"):
			zr, err := gzip.NewReader(f)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			r = zr
		case strings.HasSuffix(path, ".jsonl.zst"):
			zr, err := zstd.NewReader(f)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			defer zr.Close()
			r = zr
		case filepath.Base(path) == "_manifest.json":
			return nil // an hour's manifest (MANIFEST), not data
		case manifestTemp.MatchString(filepath.Base(path)):
			return nil // a manifest's temporary file, left by a kill mid-write; the finalizer removes it later
		default:
			return fmt.Errorf("unexpected file in the output: %s", path)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			return fmt.Errorf("%s ends in a partial line", path)
		}
		for _, l := range bytes.SplitAfter(data, []byte("\n")) {
			if len(l) > 0 {
				lines = append(lines, bytes.TrimSuffix(l, []byte("\n")))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading output: %v", err)
	}
	return lines
}

// manifestTemp matches the temporary name a consumer writes an hour's
// manifest through (consumer/internal/manifest).
var manifestTemp = regexp.MustCompile(`^\._manifest\.json\.[0-9]+-[0-9a-f]{16}\.tmp$`)

// fileLines returns the non-blank lines of a file, LF or CRLF ended.
func fileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		l := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls cond until it holds or the bound passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", within, what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
