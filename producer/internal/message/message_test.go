package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		wantKind Kind
		wantKey  string
		wantTime time.Time
		wantErr  error
	}{
		{"status with id_str and timestamp_ms",
			`{"created_at":"Wed Mar 07 12:00:00 +0000 2018","id":971726741583605760,"id_str":"971726741583605760","text":"hi","user":{"id":1},"timestamp_ms":"1520424000123"}`,
			KindStatus, "971726741583605760", time.UnixMilli(1520424000123).UTC(), nil},
		{"pre-v1.1 status: no id_str, no retweet_count, created_at only",
			`{"text":"New blog post","created_at":"Mon Apr 19 17:52:00 +0000 2010","user":{"id":5},"id":12476305734}`,
			KindStatus, "12476305734", time.Date(2010, 4, 19, 17, 52, 0, 0, time.UTC), nil},
		{"extended status with full_text",
			`{"id_str":"5","full_text":"long","user":{}}`, KindStatus, "5", time.Time{}, nil},
		{"delete", `{"delete":{"status":{"id":6832057002,"user_id":18378841},"timestamp_ms":"1520424000000"}}`,
			KindDelete, "6832057002", time.UnixMilli(1520424000000).UTC(), nil},
		{"delete with id_str", `{"delete":{"status":{"id":1,"id_str":"1234567890123456789","user_id":2}}}`,
			KindDelete, "1234567890123456789", time.Time{}, nil},
		{"scrub_geo", `{"scrub_geo":{"user_id":14090452,"user_id_str":"14090452","up_to_status_id":23260136625}}`,
			KindScrubGeo, "14090452", time.Time{}, nil},
		{"limit with trailing space", `{"limit":{"track":121564}} `, KindLimit, "", time.Time{}, nil},
		{"status_withheld", `{"status_withheld":{"id":1234567890,"user_id":123,"withheld_in_countries":["DE"]}}`,
			KindStatusWithheld, "1234567890", time.Time{}, nil},
		{"user_withheld", `{"user_withheld":{"id":123,"withheld_in_countries":["DE"]}}`, KindUserWithheld, "123", time.Time{}, nil},
		{"disconnect", `{"disconnect":{"code":4,"stream_name":"x","reason":"duplicate stream"}}`, KindDisconnect, "", time.Time{}, nil},
		{"warning", `{"warning":{"code":"FALLING_BEHIND","message":"m","percent_full":60}}`, KindWarning, "", time.Time{}, nil},
		{"friends", `{"friends":[1,2,3]}`, KindFriends, "", time.Time{}, nil},
		{"event", `{"event":"favorite","created_at":"Mon Apr 19 17:52:00 +0000 2010","source":{},"target":{}}`, KindEvent, "", time.Date(2010, 4, 19, 17, 52, 0, 0, time.UTC), nil},
		{"unknown object", `{"something":"else"}`, KindUnknown, "", time.Time{}, nil},
		{"object with a field of an unexpected type", `{"limit":{"track":"many"}}`, KindLimit, "", time.Time{}, nil},
		{"array", `[1,2]`, "", "", time.Time{}, ErrNotObject},
		{"truncated object", `{"text":"cut`, "", "", time.Time{}, ErrNotObject},
		{"empty", ``, "", "", time.Time{}, ErrNotObject},
		{"not JSON", `hello`, "", "", time.Time{}, ErrNotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Classify([]byte(tt.raw))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if !bytes.Equal(m.Value, []byte(tt.raw)) {
				t.Errorf("value = %q; want the raw bytes %q", m.Value, tt.raw)
			}
			if err != nil {
				return
			}
			if m.Kind != tt.wantKind {
				t.Errorf("kind = %q; want %q", m.Kind, tt.wantKind)
			}
			if string(m.Key) != tt.wantKey {
				t.Errorf("key = %q; want %q", m.Key, tt.wantKey)
			}
			if !m.Time.Equal(tt.wantTime) {
				t.Errorf("time = %v; want %v", m.Time, tt.wantTime)
			}
		})
	}
}

// TestClassifyCorpus classifies every line of the project's own payloads:
// each kind of v1.1 message, raw and escaped Devanagari and emoji, U+2028,
// CRLF lines, statuses without id_str and one over 64 KiB. A status is keyed
// by its id_str (else its id) and timed by timestamp_ms (else created_at),
// as read here with encoding/json; the value is the line, unchanged.
func TestClassifyCorpus(t *testing.T) {
	big := corpus.BigStatus("1399614700000000000", 70<<10)
	tests := []struct {
		name  string
		lines [][]byte
		want  map[Kind]int
	}{
		{"v1.1/sample.jsonl", corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl")), map[Kind]int{KindStatus: 12}},
		{"v1.1/notices.jsonl", corpus.Lines(t, corpus.Path(t, "v1.1/notices.jsonl")), map[Kind]int{
			KindStatus: 2, KindDelete: 1, KindScrubGeo: 1, KindLimit: 2, KindStatusWithheld: 1,
			KindUserWithheld: 1, KindWarning: 1, KindDisconnect: 1}},
		{"v1.1/legacy-2010.json", corpus.Lines(t, corpus.Path(t, "v1.1/legacy-2010.json")), map[Kind]int{KindStatus: 8, KindDelete: 2}},
		{"a status over 64 KiB", [][]byte{big}, map[Kind]int{KindStatus: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkKinds(t, tt.lines, tt.want)
		})
	}
}

// TestClassifyBadLines: every line of bad/lines.txt is refused as not an
// object, its bytes kept for the log.
func TestClassifyBadLines(t *testing.T) {
	data, err := os.ReadFile(corpus.Path(t, "bad/lines.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != 9 {
		t.Fatalf("bad/lines.txt holds %d lines; want 9", len(lines))
	}
	for _, line := range lines {
		m, err := Classify(line)
		if !errors.Is(err, ErrNotObject) {
			t.Errorf("Classify(%q) = %q, %v; want ErrNotObject", line, m.Kind, err)
		}
		if !bytes.Equal(m.Value, line) {
			t.Errorf("value = %q; want the raw bytes %q", m.Value, line)
		}
	}
}

// TestClassifySharedFixtures runs the real payloads beside the repository,
// where they are: the kinds add up to what the fixtures' README describes.
func TestClassifySharedFixtures(t *testing.T) {
	dir := corpus.Shared(t)
	want := map[string]map[Kind]int{
		"python-twitter/lines.json":                    {KindStatus: 72},
		"python-twitter/streaming_extended_tweet.json": {KindStatus: 1},
		"Twitter4J/streamingapi-testcase.json":         {KindStatus: 3, KindDelete: 1, KindLimit: 1, KindScrubGeo: 1},
		"Twitter4J/stallwarning.json":                  {KindWarning: 1},
		"ast/test.json":                                {KindStatus: 95, KindDelete: 5},
	}
	for name, kinds := range want {
		t.Run(name, func(t *testing.T) {
			checkKinds(t, corpus.Lines(t, filepath.Join(dir, filepath.FromSlash(name))), kinds)
		})
	}
}

// checkKinds classifies lines and compares the kinds with want; each
// status must have the key and time its own fields give.
func checkKinds(t *testing.T, lines [][]byte, want map[Kind]int) {
	t.Helper()
	got := map[Kind]int{}
	for _, line := range lines {
		m, err := Classify(line)
		if err != nil {
			t.Fatalf("line %.60q: %v", line, err)
		}
		if !bytes.Equal(m.Value, line) {
			t.Errorf("value = %.60q; want the raw bytes %.60q", m.Value, line)
		}
		if m.Kind == KindStatus {
			key, at := statusKeyAndTime(t, line)
			if string(m.Key) != key || !m.Time.Equal(at) {
				t.Errorf("status %.60q: key %q, time %v; want %q, %v", line, m.Key, m.Time, key, at)
			}
		}
		got[m.Kind]++
	}
	if len(got) != len(want) {
		t.Fatalf("kinds = %v; want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: got %d; want %d", k, got[k], n)
		}
	}
}

// statusKeyAndTime reads a status's key and time with encoding/json: id_str
// or else id as written; timestamp_ms or else created_at.
func statusKeyAndTime(t *testing.T, line []byte) (string, time.Time) {
	t.Helper()
	var s struct {
		IDStr       string      `json:"id_str"`
		ID          json.Number `json:"id"`
		TimestampMs string      `json:"timestamp_ms"`
		CreatedAt   string      `json:"created_at"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("status %.60q: %v", line, err)
	}
	key := s.IDStr
	if key == "" {
		key = s.ID.String()
	}
	if s.TimestampMs != "" {
		ms, err := strconv.ParseInt(s.TimestampMs, 10, 64)
		if err != nil {
			t.Fatalf("timestamp_ms %q: %v", s.TimestampMs, err)
		}
		return key, time.UnixMilli(ms).UTC()
	}
	at, err := time.Parse(time.RubyDate, s.CreatedAt)
	if err != nil {
		t.Fatalf("created_at %q: %v", s.CreatedAt, err)
	}
	return key, at.UTC()
}

// BenchmarkClassify classifies the project's sample statuses, and the
// shared real ones where they are (the figures docs/performance-history.md quotes).
// CLASSIFY_BENCH_DATA set to a file of statuses (bench gen's, as many
// lines as it has; a few thousand are enough) adds that file.
func BenchmarkClassify(b *testing.B) {
	b.Run("testdata", func(b *testing.B) { benchmarkClassify(b, corpus.Path(b, "v1.1/sample.jsonl")) })
	b.Run("shared", func(b *testing.B) {
		benchmarkClassify(b, filepath.Join(corpus.Shared(b), "python-twitter", "lines.json"))
	})
	if f := os.Getenv("CLASSIFY_BENCH_DATA"); f != "" {
		b.Run(filepath.Base(f), func(b *testing.B) { benchmarkClassify(b, f) })
	}
}

func benchmarkClassify(b *testing.B, path string) {
	lines := corpus.Lines(b, path)
	var total int
	for _, l := range lines {
		total += len(l)
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Classify(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
