package e2e

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readmeBlock returns the first ```sh block of README.md after the heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no heading %q", heading)
	}
	s = s[i:]
	start := strings.Index(s, "\n```sh\n")
	if start < 0 {
		t.Fatalf("README.md has no ```sh block after %q", heading)
	}
	s = s[start+len("\n```sh\n"):]
	end := strings.Index(s, "\n```")
	if end < 0 {
		t.Fatalf("README.md's block after %q does not end", heading)
	}
	return s[:end+1]
}

// TestReadmeDeletionRecipe runs the README's "Honouring deletions" commands,
// as written, on a folder laid out as the consumer writes it: the deleted
// posts go, every other line stays byte for byte, the lines jq cannot parse
// and the lines with no id among them. deleted.txt ends with a newline, so
// the recipe must not take the empty string for a deleted id.
func TestReadmeDeletionRecipe(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "zcat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's recipe needs %s: %v", tool, err)
		}
	}
	recipe := readmeBlock(t, "### Honouring deletions")
	dir := t.TempDir()
	write := func(rel string, lines []string, gz bool) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(strings.Join(lines, "\n") + "\n")
		if gz {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			data = b.Bytes()
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deletedStatus := `{"created_at":"Wed Dec 02 10:00:00 +0000 2026","id":101,"id_str":"101","text":"gone"}`
	deletedOld := `{"created_at":"Wed Dec 02 10:00:01 +0000 2010","id":7,"text":"old and gone"}`
	deletedCommit := `{"did":"did:plc:abc","kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3k1","record":{"text":"gone"}}}`
	kept := []string{
		`{"created_at":"Wed Dec 02 10:00:02 +0000 2026","id":102,"id_str":"102","text":"नमस्ते, kept"}`,
		`{"did":"did:plc:abc","kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3k2","record":{"text":"kept"}}}`,
		`{"data":{"id":"103","text":"an X v2 post, kept"}}`,
		// jq stops at a lone first half of a surrogate pair: matched by
		// its first id_str, and here it has none.
		`{"id":5,"text":"a lone \ud83d half, kept"}`,
		// parsed, with no id at all
		`{"limit":{"track":3}}`,
	}
	write("data/tweets/2026-12-02/10/tweets-p0-000000000000.jsonl", []string{deletedStatus, kept[0], kept[1]}, false)
	write("data/tweets/2026-12-02/11/tweets-p1-000000000000.jsonl.gz", []string{kept[2], deletedOld, kept[3], deletedCommit, kept[4]}, true)
	write("data/tweets.control/2026-12-02/12/tweets.control-p0-000000000000.jsonl", []string{
		`{"delete":{"status":{"id":101,"id_str":"101","user_id":1,"user_id_str":"1"},"timestamp_ms":"1796205600000"}}`,
		`{"delete":{"status":{"id":7,"user_id":1}}}`,
		`{"did":"did:plc:abc","kind":"commit","commit":{"operation":"delete","collection":"app.bsky.feed.post","rkey":"3k1"}}`,
	}, false)

	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", recipe)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's recipe failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out, err := os.ReadFile(filepath.Join(dir, "tweets-without-deleted.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := slices.Clone(kept)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the recipe kept\n%s\nwant\n%s\n(stdout: %s; stderr: %s)", strings.Join(got, "\n"), strings.Join(want, "\n"), stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "3 deletions") || !strings.Contains(stdout.String(), "5 posts kept") {
		t.Errorf("the recipe printed %q; want 3 deletions and 5 posts kept", stdout.String())
	}
	if !strings.Contains(stderr.String(), "kept a line this jq cannot parse") {
		t.Errorf("the recipe did not name the line jq cannot parse on stderr: %q", stderr.String())
	}
}
