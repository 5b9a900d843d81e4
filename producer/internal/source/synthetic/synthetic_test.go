package synthetic

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

func run(t *testing.T, cfg Config) [][]byte {
	t.Helper()
	var out [][]byte
	if err := New(cfg).Run(context.Background(), func(_ context.Context, r source.Record) error {
		out = append(out, r.Value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := run(t, Config{Count: 200, Seed: 3, Start: start})
	b := run(t, Config{Count: 200, Seed: 3, Start: start})
	c := run(t, Config{Count: 200, Seed: 4, Start: start})
	if len(a) != len(b) {
		t.Fatalf("lengths %d, %d differ", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("record %d differs for the same seed:\n%s\n%s", i, a[i], b[i])
		}
	}
	if bytes.Equal(a[0], c[0]) {
		t.Fatal("seeds 3 and 4 made the same first post")
	}
}

// TestShape: Count statuses plus a delete every 20, each classified as the
// contract says, with unique ids, the v1.1 fields and code-mixed text.
func TestShape(t *testing.T) {
	recs := run(t, Config{Count: 1000, Seed: 1, Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	ids := map[string]bool{}
	var deletes, devanagari int
	for _, r := range recs {
		m, err := message.Classify(r)
		if err != nil {
			t.Fatalf("%v: %s", err, r)
		}
		switch m.Kind {
		case message.KindStatus:
			if ids[string(m.Key)] {
				t.Fatalf("id %s twice", m.Key)
			}
			ids[string(m.Key)] = true
			if m.Time.IsZero() {
				t.Fatalf("status without time: %s", r)
			}
			var s struct {
				Text     string         `json:"text"`
				Lang     string         `json:"lang"`
				User     map[string]any `json:"user"`
				Entities map[string]any `json:"entities"`
				Created  string         `json:"created_at"`
				Source   string         `json:"source"`
			}
			if err := json.Unmarshal(r, &s); err != nil {
				t.Fatal(err)
			}
			if s.Text == "" || s.Lang == "" || s.User["screen_name"] == nil || s.Entities["hashtags"] == nil || s.Created == "" {
				t.Fatalf("status lacks a v1.1 field: %s", r)
			}
			// The client link names no real address: .invalid never resolves.
			if !strings.Contains(s.Source, `href="https://tweetpipe.invalid/`) {
				t.Fatalf("source = %q; want a link under https://tweetpipe.invalid/", s.Source)
			}
			for _, c := range s.Text {
				if unicode.Is(unicode.Devanagari, c) {
					devanagari++
					break
				}
			}
		case message.KindDelete:
			deletes++
			if !ids[string(m.Key)] {
				t.Errorf("delete of %s, which was never posted", m.Key)
			}
		default:
			t.Fatalf("unexpected kind %s: %s", m.Kind, r)
		}
	}
	if len(ids) != 1000 || deletes != 50 {
		t.Fatalf("got %d statuses and %d deletes; want 1000 and 50", len(ids), deletes)
	}
	if devanagari == 0 {
		t.Fatal("no status has Devanagari text")
	}
}

// TestStopsOnCancel: an endless generator returns nil when stopped.
func TestStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := New(Config{Rate: 1000}).Run(ctx, func(context.Context, source.Record) error {
		n++
		if n == 10 {
			cancel()
		}
		return nil
	})
	if err != nil || n < 10 {
		t.Fatalf("Run = %v after %d records; want nil after at least 10", err, n)
	}
}

func BenchmarkStatus(b *testing.B) {
	g := NewGenerator(1, time.Time{})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		g.Status()
	}
}

// TestNeverTimedAhead: however fast a run goes, no post is timed after the
// moment it is emitted (posts used to be 20 ms apart whatever the rate, so
// a fast run drifted ahead, past what Kafka accepts).
func TestNeverTimedAhead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  float64
		count int64
	}{
		{"as fast as possible", 0, 20000},
		{"1000 a second", 1000, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var worst time.Duration
			n := 0
			err := New(Config{Rate: tc.rate, Count: tc.count, Seed: 1}).Run(context.Background(), func(_ context.Context, r source.Record) error {
				now := time.Now()
				m, err := message.Classify(r.Value)
				if err != nil {
					return err
				}
				if m.Kind == message.KindStatus {
					worst = max(worst, m.Time.Sub(now))
					n++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != int(tc.count) || worst > 0 {
				t.Fatalf("%d statuses, the furthest %s ahead of when it was emitted; want %d, none ahead", n, worst, tc.count)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // the error's lines; none means valid
	}{
		{"defaults", Config{Rate: 50, Seed: 1}, nil},
		{"as fast as possible, endless", Config{}, nil},
		{"negative rate", Config{Rate: -5}, []string{"SYNTHETIC_RATE=-5: accepts 0 (as fast as possible) or more"}},
		{"negative count", Config{Count: -1}, []string{"SYNTHETIC_COUNT=-1: accepts 0 (endless) or more"}},
		{"both", Config{Rate: -0.5, Count: -2}, []string{
			"SYNTHETIC_RATE=-0.5: accepts 0 (as fast as possible) or more",
			"SYNTHETIC_COUNT=-2: accepts 0 (endless) or more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
