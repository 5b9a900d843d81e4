package corpus

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSharedVerdict(t *testing.T) {
	const dir = "/src/shared/fixtures/tweets"
	missing := &fs.PathError{Op: "stat", Path: dir, Err: fs.ErrNotExist}
	denied := &fs.PathError{Op: "stat", Path: dir, Err: fs.ErrPermission}
	tests := []struct {
		name     string
		statErr  error
		ci       string
		wantFail bool
		wantMsg  string // a part of the message; "" means use the folder
	}{
		{"present", nil, "", false, ""},
		{"present in CI", nil, "true", false, ""},
		{"missing on a user's machine", missing, "", false, "no shared real payloads at " + dir},
		{"missing, CI=false", missing, "false", false, "skipped; the tests on testdata/tweets still run"},
		{"missing in CI", missing, "true", true, "CI=true and the shared real payloads are missing: want them at " + dir},
		{"missing, CI=1", missing, "1", true, "are missing"},
		{"unreadable", denied, "", true, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, fail := sharedVerdict(dir, tt.statErr, tt.ci)
			if fail != tt.wantFail {
				t.Errorf("fail = %v; want %v (message %q)", fail, tt.wantFail, msg)
			}
			if tt.wantMsg == "" && msg != "" || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q; want one containing %q", msg, tt.wantMsg)
			}
		})
	}
}

// TestDirFromAPackageFolder: the corpus is found from this package's folder,
// as from any other, without anything beside the repository.
func TestDirFromAPackageFolder(t *testing.T) {
	dir := Dir(t)
	for _, name := range []string{"v1.1/sample.jsonl", "v1.1/notices.jsonl", "v1.1/legacy-2010.json", "jetstream/events.jsonl", "bad/lines.txt"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if want, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "tweets")); dir != want {
		t.Errorf("Dir = %s; want %s", dir, want)
	}
}

func TestLinesKeepsBytesDropsLineEnds(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.json")
	if err := os.WriteFile(p, []byte("{\"a\":\"x\u2028y\"}\r\n\r\n{\"b\":1} \n{\"c\":2}"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := Lines(t, p)
	want := []string{"{\"a\":\"x\u2028y\"}", `{"b":1} `, `{"c":2}`}
	if len(got) != len(want) {
		t.Fatalf("got %d lines %q; want %q", len(got), got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("line %d = %q; want %q", i, got[i], want[i])
		}
	}
}

func TestBigStatus(t *testing.T) {
	a, b := BigStatus("1399614700000000000", 70<<10), BigStatus("1399614700000000000", 70<<10)
	if string(a) != string(b) {
		t.Fatal("BigStatus differs between two calls with the same arguments")
	}
	if len(a) < 70<<10 {
		t.Fatalf("got %d bytes; want at least %d", len(a), 70<<10)
	}
	var s struct {
		IDStr    string `json:"id_str"`
		Extended struct {
			FullText string `json:"full_text"`
		} `json:"extended_tweet"`
	}
	if err := json.Unmarshal(a, &s); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if s.IDStr != "1399614700000000000" || !strings.Contains(s.Extended.FullText, "पूरा पढ़ो") {
		t.Errorf("got id_str %q, full_text %.40q; want the id and Devanagari text", s.IDStr, s.Extended.FullText)
	}
}
