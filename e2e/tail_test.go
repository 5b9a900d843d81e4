package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

// bsdShims writes, into a folder to put first in PATH, wrappers of find,
// stat, sort, tail, xargs and date that refuse the GNU-only options (as
// macOS and the BSDs do) and otherwise run the real command.
func bsdShims(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	refused := map[string]string{
		"find":  "-printf|-fprintf|-regextype|-readable|-executable|--*",
		"stat":  "-c|--*",
		"sort":  "-z|-V|--*",
		"tail":  "--*",
		"xargs": "-r|-d|--*",
		"date":  "-d|--*",
	}
	for cmd, opts := range refused {
		real, err := exec.LookPath(cmd)
		if err != nil {
			t.Fatalf("%s is not in PATH: %v", cmd, err)
		}
		script := "#!/bin/sh\nfor a in \"$@\"; do case $a in " + opts + ") echo \"" + cmd + ": illegal option $a\" >&2; exit 1;; esac; done\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, cmd), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startTail runs scripts/tail.sh on dir, with env when given (else this
// process's), until the test ends, and returns what it prints.
func startTail(t *testing.T, dir string, env ...string) *logbuf.Buffer {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "scripts", "tail.sh"), dir)
	cmd.Env = env
	got := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = got, got
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // tail.sh starts tail: stop both
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting scripts/tail.sh: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return got
}

// waitPrinted waits until what make tail printed (got) holds every one of
// lines, failing t after within.
func waitPrinted(t *testing.T, got *logbuf.Buffer, within time.Duration, lines ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := got.String()
		missing := ""
		for _, l := range lines {
			if !strings.Contains(s, l) {
				missing = l
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("make tail printed, within %s:\n%s\ngot no %s; want every line of %q", within, s, missing, lines)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTailWithoutGNUTools: make tail, where find, stat, sort and tail have
// no GNU extensions (macOS, the BSDs), shows the last lines of each
// partition's active file, and moves to a partition's new file when the
// consumer starts one.
func TestTailWithoutGNUTools(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tweets")
	write := func(rel, content string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	write("2026-12-02/13/tweets-p0-000000000000.jsonl", "{\"id_str\":\"closed\"}\n", now)
	// The active file of partition 0, older by its time than the closed one
	// (a copied folder, a clock step): the offset in the name decides.
	write("2026-12-02/14/tweets-p0-000000000010.jsonl", "{\"id_str\":\"p0-a\"}\n{\"id_str\":\"p0-b\"}\n", now.Add(-time.Hour))
	write("2026-12-02/13/tweets-p1-000000000000.jsonl", "{\"id_str\":\"p1-a\"}\n", now)

	got := startTail(t, out, "PATH="+bsdShims(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	waitFor := func(within time.Duration, lines ...string) {
		t.Helper()
		waitPrinted(t, got, within, lines...)
	}
	waitFor(10*time.Second, `"p0-a"`, `"p0-b"`, `"p1-a"`)
	if s := got.String(); strings.Contains(s, `"closed"`) {
		t.Fatalf("make tail printed the closed file of partition 0:\n%s", s)
	}
	write("2026-12-02/15/tweets-p0-000000000012.jsonl", "{\"id_str\":\"p0-next\"}\n", now)
	waitFor(20*time.Second, `"p0-next"`)
}

// TestTailRotationSkipsNoLine: when the consumer rotates, make tail prints
// the closed file's last lines, written just before, and the new file from
// its first line, however many it already holds; and says nothing of the
// closed file being compressed and removed.
func TestTailRotationSkipsNoLine(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tweets")
	old := filepath.Join(out, "2026-12-02/14/tweets-p0-000000000000.jsonl")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("{\"id_str\":\"first\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := startTail(t, out)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(got.String(), `"first"`) {
		if time.Now().After(deadline) {
			t.Fatalf("make tail printed, within 10s:\n%s\nwant the active file's line", got.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The rotation: the last line into the old file, the old file closed
	// (compressed, removed), the new one already 20 lines long.
	f, err := os.OpenFile(old, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("{\"id_str\":\"last-of-old\"}\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var next strings.Builder
	for i := range 20 {
		fmt.Fprintf(&next, "{\"id_str\":\"new-%02d\"}\n", i)
	}
	if err := os.WriteFile(filepath.Join(out, "2026-12-02/14/tweets-p0-000000000002.jsonl"), []byte(next.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(old, old+".gz"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(old + ".gz"); err != nil {
		t.Fatal(err)
	}
	want := []string{`"last-of-old"`}
	for i := range 20 {
		want = append(want, fmt.Sprintf(`"new-%02d"`, i))
	}
	waitPrinted(t, got, 20*time.Second, want...) // the old file's last line and all 20 of the new one
	if s := got.String(); strings.Contains(s, "inaccessible") || strings.Contains(s, "No such file") {
		t.Fatalf("make tail printed an error at the rotation:\n%s", s)
	}
}

// TestTailFolderWithGlobCharacters: a folder whose name holds [ ] is
// followed as named, not as a pattern that matches a folder beside it.
func TestTailFolderWithGlobCharacters(t *testing.T) {
	base := t.TempDir()
	const rel = "2026-12-02/14/tweets-p0-000000000000.jsonl"
	for dir, id := range map[string]string{"out [x]": "wanted", "out x": "beside"} {
		p := filepath.Join(base, dir, "tweets", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"id_str":"`+id+`"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := startTail(t, filepath.Join(base, "out [x]", "tweets"))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(got.String(), `"wanted"`) && !strings.Contains(got.String(), `"beside"`) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let tail print everything it follows
	if s := got.String(); !strings.Contains(s, `"wanted"`) || strings.Contains(s, `"beside"`) {
		t.Fatalf("tail.sh \"out [x]/tweets\" printed:\n%s\nwant the line of out [x] only, not of out x", s)
	}
}

// TestTailHiveLayout: make tail follows the active files of the hive layout
// (OUTPUT_LAYOUT=hive: dt=<date>/hr=<hour> folders) as it does the dated one.
func TestTailHiveLayout(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tweets")
	for rel, id := range map[string]string{
		"dt=2026-12-02/hr=13/tweets-p0-000000000000.jsonl.gz": "", // rotated: not followed
		"dt=2026-12-02/hr=14/tweets-p0-000000000010.jsonl":    "p0-active",
		"dt=2026-12-02/hr=14/_manifest.json":                  "", // not a data file
		"dt=2026-12-02/hr=13/tweets-p1-000000000000.jsonl":    "p1-active",
	} {
		p := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content := `{"files":[]}` + "\n"
		if id != "" {
			content = `{"id_str":"` + id + `"}` + "\n"
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := startTail(t, out)
	deadline := time.Now().Add(10 * time.Second)
	for !(strings.Contains(got.String(), `"p0-active"`) && strings.Contains(got.String(), `"p1-active"`)) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let tail print everything it follows
	if s := got.String(); !strings.Contains(s, `"p0-active"`) || !strings.Contains(s, `"p1-active"`) || strings.Contains(s, `"files"`) {
		t.Fatalf("tail.sh on the hive layout printed:\n%s\nwant the lines of both active files, and not the manifest", s)
	}
}

// makeTail runs `make tail args...` in a copy of the project holding file
// (relative to it) with one line, line, and .env with env when not empty,
// and waits for make tail to print the line.
func makeTail(t *testing.T, file, line, env string, args ...string) {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	copyProject(t, root, dir)
	tail := filepath.Join(dir, "scripts", "tail.sh")
	if err := os.WriteFile(tail, []byte(readFile(t, filepath.Join(root, "scripts", "tail.sh"))), 0o755); err != nil {
		t.Fatal(err)
	}
	if env != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", append([]string{"--no-print-directory", "tail"}, args...)...)
	cmd.Dir = dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "KAFKA_TOPIC=") || strings.HasPrefix(kv, "OUTPUT_DIR=")
	})
	got := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = got, got
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	waitPrinted(t, got, 10*time.Second, line)
}

// TestMakeTailFolderWithSpaces: make tail follows an OUTPUT_DIR whose name
// holds spaces (make passed it unquoted, split in two).
func TestMakeTailFolderWithSpaces(t *testing.T) {
	makeTail(t, "my archive/tweets/2026-12-02/14/tweets-p0-000000000000.jsonl", `{"id_str":"spaced"}`, "", "OUTPUT_DIR=./my archive")
}

// TestMakeTailTopicFromEnvFile checks that make tail follows the topic .env
// names, as it follows the output folder .env names: with KAFKA_TOPIC=posts
// there, the files are under data/posts.
func TestMakeTailTopicFromEnvFile(t *testing.T) {
	makeTail(t, "data/posts/2026-12-02/14/posts-p0-000000000000.jsonl", `{"id_str":"from-posts"}`, "KAFKA_TOPIC=posts # the producer's topic\n")
}
