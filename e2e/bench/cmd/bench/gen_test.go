package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
)

// TestGeneratedStatuses draws statuses from the project's sample, and from
// the shared real captures where they are (the templates make bench uses).
func TestGeneratedStatuses(t *testing.T) {
	t.Run("testdata", func(t *testing.T) { generatedStatuses(t, corpus.Path(t, "v1.1/sample.jsonl")) })
	t.Run("shared", func(t *testing.T) {
		generatedStatuses(t, filepath.Join(corpus.Shared(t), "python-twitter", "lines.json"))
	})
}

func generatedStatuses(t *testing.T, templates string) {
	ts, err := loadTemplates(templates)
	if err != nil {
		t.Fatal(err)
	}
	g := newGenerator(ts, 1)
	at := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for i := range 2000 {
		line := g.status(at)
		var s struct {
			ID          int64  `json:"id"`
			IDStr       string `json:"id_str"`
			TimestampMs string `json:"timestamp_ms"`
			CreatedAt   string `json:"created_at"`
			User        struct {
				ID    int64  `json:"id"`
				IDStr string `json:"id_str"`
			} `json:"user"`
		}
		if err := json.Unmarshal(line, &s); err != nil {
			t.Fatalf("status %d is not JSON: %v\n%s", i, err, line)
		}
		if got := statusKey(line); got != s.IDStr {
			t.Fatalf("statusKey = %q; want the top-level id_str %q", got, s.IDStr)
		}
		if seen[s.IDStr] {
			t.Fatalf("status %d repeats id %s", i, s.IDStr)
		}
		seen[s.IDStr] = true
		if want := at.UnixMilli(); s.TimestampMs != itoa(want) {
			t.Errorf("timestamp_ms = %s; want %d", s.TimestampMs, want)
		}
		if s.CreatedAt != at.Format(time.RubyDate) {
			t.Errorf("created_at = %s; want %s", s.CreatedAt, at.Format(time.RubyDate))
		}
		if itoa(s.ID) != s.IDStr || itoa(s.User.ID) != s.User.IDStr {
			t.Errorf("id and id_str disagree: %d %s, user %d %s", s.ID, s.IDStr, s.User.ID, s.User.IDStr)
		}
		if bytes.ContainsAny(line, "\n\r") || !isASCII(line) {
			t.Fatalf("status %d is not one line of ASCII (Twitter's escaping)", i)
		}
		at = at.Add(3 * time.Millisecond)
	}
}

func TestTwitterString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`a/b "c" \`, `"a\/b \"c\" \\"`},
		{"<a>&", `"\u003ca\u003e\u0026"`},
		{"é😀\n", `"\u00e9\ud83d\ude00\n"`},
	} {
		got := string(appendTwitterString(nil, c.in))
		if got != c.want {
			t.Errorf("appendTwitterString(%q) = %s; want %s", c.in, got, c.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != c.in {
			t.Errorf("%s decodes to %q, %v; want %q", got, back, err, c.in)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(ds, c.q); got != c.want {
			t.Errorf("percentile(%v) = %v; want %v", c.q, got, c.want)
		}
	}
}

func TestStatusKeyIgnoresNested(t *testing.T) {
	line := []byte(`{"user":{"id_str":"1"},"text":"\"id_str\":\"2\"","id_str":"3"}`)
	if got := statusKey(line); got != "3" {
		t.Errorf("statusKey = %q; want 3", got)
	}
	if !strings.Contains(string(line), "id_str") {
		t.Fatal("bad fixture")
	}
}

// BenchmarkStatus is the generator's cost per status.
func BenchmarkStatus(b *testing.B) {
	ts, err := loadTemplates(corpus.Path(b, "v1.1/sample.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	g := newGenerator(ts, 1)
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		b.SetBytes(int64(len(g.status(at))))
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
