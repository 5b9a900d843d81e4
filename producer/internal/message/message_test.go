package message

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
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

// TestClassifyFixtures runs the real payloads: every line is classified, and
// the kinds add up to what the fixtures' README describes.
func TestClassifyFixtures(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "fixtures", "tweets")
	want := map[string]map[Kind]int{
		"python-twitter/lines.json":                    {KindStatus: 72},
		"python-twitter/streaming_extended_tweet.json": {KindStatus: 1},
		"Twitter4J/streamingapi-testcase.json":         {KindStatus: 3, KindDelete: 1, KindLimit: 1, KindScrubGeo: 1},
		"Twitter4J/stallwarning.json":                  {KindWarning: 1},
		"ast/test.json":                                {KindStatus: 95, KindDelete: 5},
	}
	for name, kinds := range want {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatalf("fixture missing (shared/ must sit beside the repository): %v", err)
			}
			defer f.Close()
			got := map[Kind]int{}
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
				m, err := Classify(line)
				if err != nil {
					t.Fatalf("line %q: %v", line[:min(len(line), 60)], err)
				}
				if m.Kind == KindStatus && (len(m.Key) == 0 || m.Time.IsZero()) {
					t.Errorf("status without key or time: %.80s", line)
				}
				got[m.Kind]++
			}
			if len(got) != len(kinds) {
				t.Fatalf("kinds = %v; want %v", got, kinds)
			}
			for k, n := range kinds {
				if got[k] != n {
					t.Errorf("%s: got %d; want %d", k, got[k], n)
				}
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	f, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "fixtures", "tweets", "python-twitter", "lines.json"))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(f), []byte("\n"))
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
