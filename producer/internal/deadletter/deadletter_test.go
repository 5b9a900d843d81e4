package deadletter

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWrite: each record is one line that gives back its value exactly
// (a JSON string when UTF-8, base64 otherwise), with its reason; a line a
// crash left half written does not swallow the next one.
func TestWrite(t *testing.T) {
	w := New(filepath.Join(t.TempDir(), "deadletter"))
	if err := os.MkdirAll(filepath.Dir(w.Path()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.Path(), []byte(`{"topic":"half`), 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	recs := []Record{
		{Topic: "tweets", Key: []byte("42"), Time: at, Reason: "invalid_timestamp", Error: "[32] Invalid Timestamp",
			Headers: []Header{{Key: "post_time", Value: []byte("2026-03-07T14:00:00.000Z")}}, Value: []byte(`{"id_str":"42","text":"नमस्ते <b>"}`)},
		{Topic: "tweets.control", Time: at, Reason: "invalid_record", Error: "x", Value: []byte{0xff, 0x00, '{'}},
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 || lines[0] != `{"topic":"half` {
		t.Fatalf("got lines %q; want the half line, then one line per record", lines)
	}
	for i, tc := range []struct {
		value, base64 string
		reason, key   string
	}{
		{value: string(recs[0].Value), reason: "invalid_timestamp", key: "42"},
		{base64: "/wB7", reason: "invalid_record"},
	} {
		var l line
		if err := json.Unmarshal([]byte(lines[i+1]), &l); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, lines[i+1])
		}
		var gotValue, gotBase64 string
		if l.Value != nil {
			gotValue = *l.Value
		}
		if l.ValueBase64 != nil {
			gotBase64 = *l.ValueBase64
		}
		if gotValue != tc.value || gotBase64 != tc.base64 || l.Reason != tc.reason || l.Key != tc.key || !l.Time.Equal(at) {
			t.Errorf("line %d = %s; want value %q, value_base64 %q, reason %s, key %q, time %s", i+1, lines[i+1], tc.value, tc.base64, tc.reason, tc.key, at)
		}
	}
}

// TestWriteMakesDirectory: nothing is made before the first record, and
// the first record makes the directory (it may not exist at start).
func TestWriteMakesDirectory(t *testing.T) {
	w := New(filepath.Join(t.TempDir(), "state", "deadletter"))
	defer w.Close()
	if _, err := os.Stat(filepath.Dir(w.Path())); !os.IsNotExist(err) {
		t.Fatalf("stat of the directory before any record: %v; want it not to exist", err)
	}
	if err := w.Write(Record{Topic: "tweets", Reason: "invalid_record", Value: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")); n != 1 {
		t.Fatalf("the file holds %d lines; want 1", n)
	}
}
