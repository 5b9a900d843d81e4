// Package corpus finds the payloads the tests and the bench read: the
// project's own under testdata/tweets at the repository root, always there,
// and the real captures in shared/fixtures/tweets beside the repository, an
// extra check that exists only where the project is developed and in CI.
// Only tests import it; it sits in the shared module so that the producer's
// and the end-to-end tests use the one copy.
package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Dir is testdata/tweets at the root of the repository, found from the
// working directory of the test (its package's folder).
func Dir(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "tweets")
}

// Path is a file of the project's corpus, named with slashes
// ("v1.1/sample.jsonl").
func Path(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(Dir(t), filepath.FromSlash(name))
}

// Shared is shared/fixtures/tweets beside the repository. Where it is
// missing the test is skipped, saying so; with CI=true it fails instead,
// since CI must run the real payloads.
func Shared(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "fixtures", "tweets")
	_, err = os.Stat(dir)
	msg, fail := sharedVerdict(dir, err, os.Getenv("CI"))
	switch {
	case fail:
		t.Fatal(msg)
	case msg != "":
		t.Skip(msg)
	}
	return dir
}

// sharedVerdict says what a test does about the shared payloads at dir,
// given what os.Stat returned for it and $CI: run on them (msg ""), skip
// with msg, or fail with msg.
func sharedVerdict(dir string, statErr error, ci string) (msg string, fail bool) {
	if statErr == nil {
		return "", false
	}
	required, _ := strconv.ParseBool(ci)
	if !errors.Is(statErr, fs.ErrNotExist) {
		return fmt.Sprintf("reading the shared real payloads: %v", statErr), true
	}
	if required {
		return fmt.Sprintf("CI=%s and the shared real payloads are missing: want them at %s (shared/ beside the repository)", ci, dir), true
	}
	return fmt.Sprintf("no shared real payloads at %s (they sit beside the repository only where the project is developed): skipped; the tests on testdata/tweets still run", dir), false
}

// repoRoot is the nearest folder above the working directory that holds
// go.work and testdata/tweets.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isRoot(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no folder above %s holds go.work and testdata/tweets: run the tests inside the repository", wd)
		}
	}
}

func isRoot(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "go.work")); err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, "testdata", "tweets"))
	return err == nil && fi.IsDir()
}

// Lines reads a file of one JSON message per line, "\n" or "\r\n", and
// returns each line without its end; blank lines are left out.
func Lines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading test payloads: %v", err)
	}
	var lines [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if line = bytes.TrimSuffix(line, []byte("\r")); len(line) > 0 {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("%s holds no messages", path)
	}
	return lines
}

// BigStatus is a v1.1 status of at least size bytes, the same for the same
// arguments: a long extended_tweet of Hindi-English text, raw UTF-8, as a
// status quoting a long thread reaches. Larger than 64 KiB it is longer
// than a bufio.Scanner's default line.
func BigStatus(id string, size int) []byte {
	const word = "लंबा thread है yaar, पूरा पढ़ो 🧵 "
	var text strings.Builder
	for text.Len() < size {
		text.WriteString(word)
	}
	return fmt.Appendf(nil, `{"created_at":"Tue Jun 01 06:32:10 +0000 2021","id":%s,"id_str":"%s","text":"लंबा thread है yaar\u2026","truncated":true,`+
		`"user":{"id":3344556677,"id_str":"3344556677","name":"अमित","screen_name":"amit_fit"},"extended_tweet":{"full_text":"%s"},`+
		`"lang":"hi","timestamp_ms":"1622529130000"}`, id, id, text.String())
}
