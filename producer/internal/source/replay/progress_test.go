package replay

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

func TestMeasure(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name              string
		start, prev, cur  sample
		percent, linesPer float64
		eta               time.Duration
	}{
		{
			name: "nothing emitted yet: no ETA",
			prev: sample{At: at(0)},
			cur:  sample{At: at(10), Read: 0, Total: 1000, FilesTotal: 4},
			eta:  -1,
			//
		},
		{
			name:    "steady: rate over the interval, ETA from the start",
			start:   sample{At: at(0)},
			prev:    sample{At: at(10), Lines: 1000, Read: 100, Total: 1000},
			cur:     sample{At: at(20), Lines: 3000, Read: 250, Total: 1000},
			percent: 25, linesPer: 200, eta: 60 * time.Second, // 750 left at 12.5 B/s
		},
		{
			name:    "a resume skipped 600 bytes before the first line: not counted in the rate",
			start:   sample{At: at(5), Read: 600},
			prev:    sample{At: at(5), Read: 600},
			cur:     sample{At: at(15), Lines: 10, Read: 700, Total: 1000},
			percent: 70, linesPer: 1, eta: 30 * time.Second,
		},
		{
			name:    "all read",
			start:   sample{At: at(0)},
			prev:    sample{At: at(0)},
			cur:     sample{At: at(4), Lines: 8, Read: 1000, Total: 1000},
			percent: 100, linesPer: 2, eta: 0,
		},
		{
			name:    "read a little past the total (archive read-ahead): capped",
			start:   sample{At: at(0)},
			prev:    sample{At: at(0)},
			cur:     sample{At: at(1), Read: 1010, Total: 1000},
			percent: 100, eta: 0,
		},
		{
			name:    "no bytes at all (empty files): done when all files are",
			prev:    sample{At: at(0)},
			cur:     sample{At: at(1), FilesDone: 2, FilesTotal: 2},
			percent: 100, eta: 0,
		},
		{
			name:    "no time passed: no rate",
			start:   sample{At: at(3)},
			prev:    sample{At: at(3)},
			cur:     sample{At: at(3), Lines: 5, Read: 10, Total: 100},
			percent: 10, eta: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := measure(tt.start, tt.prev, tt.cur)
			if got.Percent != tt.percent || got.LinesPerSec != tt.linesPer || got.ETA != tt.eta {
				t.Fatalf("got %.1f%%, %.1f lines/s, ETA %s; want %.1f%%, %.1f lines/s, ETA %s",
					got.Percent, got.LinesPerSec, got.ETA, tt.percent, tt.linesPer, tt.eta)
			}
		})
	}
}

func TestShort(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.0k", 12345: "12.3k", 4_500_000: "4.5M", 2_000_000_000: "2.0G"} {
		if got := short(n); got != want {
			t.Errorf("short(%d) = %q; want %q", n, got, want)
		}
	}
}

// logRecords keeps the records a logger handled.
type logRecords struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, m)
	l.mu.Unlock()
	return nil
}

func (l *logRecords) named(msg string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// TestProgressLog: while a Stream Grab archive is replayed, progress lines
// come at the interval with growing counts, and the summary accounts for
// every member, line and byte of the archive.
func TestProgressLog(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members, want := g.members, g.want
		path := filepath.Join(t.TempDir(), "grab.tar")
		tarFile(t, path, "", members, shuffled)
		logs := &logRecords{}
		s := New(Config{Path: path, ProgressInterval: 20 * time.Millisecond}, slog.New(logs))
		pause := max(time.Millisecond, 100*time.Millisecond/time.Duration(len(want)))
		n := 0
		err := s.Run(context.Background(), func(context.Context, source.Record) error {
			n++
			time.Sleep(pause) // a slow Kafka, so that the interval passes
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		progress := logs.named("replay progress")
		if len(progress) < 2 {
			t.Fatalf("%d progress lines in %d records; want at least 2", len(progress), n)
		}
		last := -1.0
		for _, p := range progress {
			pct, _ := strconv.ParseFloat(p["percent"], 64)
			if pct < last || p["files_total"] != "8" {
				t.Fatalf("progress %v after %.1f%%; want percent growing and files_total 8", p, last)
			}
			last = pct
		}
		end := logs.named("replay finished")
		if len(end) != 1 {
			t.Fatalf("%d summary lines; want 1", len(end))
		}
		bytes := 0
		for _, l := range want {
			bytes += len(l)
		}
		sum := end[0]
		total := strconv.FormatInt(fileSize(t, path), 10)
		if sum["files"] != "8" || sum["lines"] != strconv.Itoa(len(want)) || sum["bytes"] != strconv.Itoa(bytes) ||
			sum["percent"] != "100.0" || sum["read_bytes"] != total || sum["total_bytes"] != total {
			t.Fatalf("summary %v; want 8 files, %d lines, %d bytes, 100.0%% of %s bytes", sum, len(want), bytes, total)
		}
	})
}

// TestStoppedFileNotDone: a plain file stopped part-way (Ctrl-C) is not
// counted among the files done in the summary; one read to its end is.
func TestStoppedFileNotDone(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jsonl"), []byte("{\"n\":1}\n"))
	write(t, filepath.Join(dir, "b.jsonl"), []byte("{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n"))
	logs := &logRecords{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := 0
	err := New(Config{Path: dir}, slog.New(logs)).Run(ctx, func(ctx context.Context, r source.Record) error {
		if seen++; seen == 2 {
			cancel() // stopped at b.jsonl's first line
		}
		return ctx.Err()
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	stopped := logs.named("replay stopped")
	if len(stopped) != 1 || stopped[0]["files"] != "1" || stopped[0]["files_total"] != "2" {
		t.Fatalf("summary %v; want files=1 of files_total=2", stopped)
	}
}
