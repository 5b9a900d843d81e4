package archive

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badAt returns a record at offset o that is dead-lettered.
func badAt(o int64) Record { return Record{Offset: o, Time: t0(), Value: []byte("not json")} }

// deadLetterOffsets returns which offsets the dead-letter lines hold, in order.
func deadLetterOffsets(t *testing.T, lines []string) []string {
	t.Helper()
	var got []string
	for _, l := range lines {
		i := strings.Index(l, `"offset":`)
		if i < 0 {
			t.Fatalf("dead letter %q has no offset", l)
		}
		got = append(got, strings.SplitN(l[i+len(`"offset":`):], ",", 2)[0])
	}
	return got
}

// TestDeadLetterFileRemovedOrMoved: a user who deletes or moves a
// dead-letter file (while the consumer runs, or while it is stopped) loses
// only what that file held: later dead letters go to a new file on disk,
// and the partition keeps flowing.
func TestDeadLetterFileRemovedOrMoved(t *testing.T) {
	for _, tt := range []struct {
		name    string
		running bool // done while the partition is open
		move    bool // moved aside rather than removed
	}{
		{"removed while running", true, false},
		{"moved while running", true, true},
		{"removed while stopped", false, false},
		{"moved while stopped", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, []Record{recs(0, 0, t0())[0], badAt(1)})
			files := dataFiles(t, filepath.Join(dir, deadLetterDirName), "tweets")
			if len(files) != 1 {
				t.Fatalf("dead-letter files: got %v; want 1", files)
			}
			old := filepath.Join(dir, deadLetterDirName, files[0])
			aside := filepath.Join(t.TempDir(), "kept.jsonl")
			if !tt.running {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			if tt.move {
				err = os.Rename(old, aside)
			} else {
				err = os.Remove(old)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.running {
				p = openPartition(t, a, "tweets", 0)
			}

			mustAppend(t, p, []Record{recs(2, 2, t0())[0], badAt(3)})
			if got, want := deadLetterOffsets(t, deadLetters(t, dir, "tweets")), []string{"3"}; !slices.Equal(got, want) {
				t.Errorf("dead letters on disk: got offsets %v; want %v", got, want)
			}
			if tt.move {
				if got, want := deadLetterOffsets(t, readLines(t, aside)), []string{"1"}; !slices.Equal(got, want) {
					t.Errorf("moved file: got offsets %v; want %v", got, want)
				}
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			p = openPartition(t, a, "tweets", 0)
			if got := p.NextOffset(); got != 4 {
				t.Errorf("NextOffset after a restart: got %d; want 4", got)
			}
			if got := allLines(t, dir, "tweets"); !slices.Equal(got, []string{value(0), value(2)}) {
				t.Errorf("data lines: got %q", got)
			}
		})
	}
}

// TestDeadLettersRotate: dead-letter files rotate like data files, by size
// and by age, so a user can ship or remove the complete ones. Each dead
// letter is in exactly one file.
func TestDeadLettersRotate(t *testing.T) {
	dir := t.TempDir()
	clk := newClock(t0())
	a := testArchive(t, Config{Dir: dir, RotateMaxBytes: 200, RotateInterval: time.Hour, Now: clk.Now})
	p := openPartition(t, a, "tweets", 0)
	var want []string
	for o := int64(0); o < 6; o++ {
		mustAppend(t, p, []Record{badAt(o)})
		want = append(want, strconv.FormatInt(o, 10))
	}
	bySize := dataFiles(t, filepath.Join(dir, deadLetterDirName), "tweets")
	if len(bySize) < 2 {
		t.Errorf("dead-letter files after %d bytes of dead letters: got %v; want more than one", 6*100, bySize)
	}
	clk.Set(t0().Add(time.Hour))
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p, []Record{badAt(6)})
	want = append(want, "6")
	files := dataFiles(t, filepath.Join(dir, deadLetterDirName), "tweets")
	if len(files) != len(bySize)+1 || files[len(files)-1] != DeadLetterPath("tweets", 0, 6)[len(deadLetterDirName)+1:] {
		t.Errorf("dead-letter files after an hour: got %v; want those before and one starting at offset 6", files)
	}
	if got := deadLetterOffsets(t, deadLetters(t, dir, "tweets")); !slices.Equal(got, want) {
		t.Errorf("dead letters: got offsets %v; want %v", got, want)
	}
}

// TestRecordTimeOutOfRange: a record whose timestamp is at or past the
// year 10000 (a producer's bug, or a hostile client) is archived as if read
// now: in the current hour's file, its dead letter stamped now, and the
// partition goes on and reopens. Such a time cannot be written in RFC 3339.
func TestRecordTimeOutOfRange(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -3600)), // 10000 in UTC
		time.UnixMilli(1<<62 - 1),
	} {
		t.Run(ts.String(), func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir})
			p := openPartition(t, a, "tweets", 0)
			batch := []Record{
				{Offset: 0, Time: ts, Value: []byte(value(0))},
				{Offset: 1, Time: ts, Value: []byte("not json")},
				{Offset: 2, Time: t0(), Value: []byte(value(2))},
			}
			res, err := p.Append(batch)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if want := (Result{Written: 2, DeadLettered: 1, Bytes: 16}); res != want {
				t.Errorf("Result: got %+v; want %+v", res, want)
			}
			if got, want := dataFiles(t, dir, "tweets"), []string{DataPath("tweets", 0, 0, t0())}; !slices.Equal(got, want) {
				t.Errorf("data files: got %v; want %v", got, want)
			}
			dl := deadLetters(t, dir, "tweets")
			if len(dl) != 1 || !strings.Contains(dl[0], `"time":"2024-03-09T10:15:00Z"`) {
				t.Errorf("dead letters: got %q; want one stamped with the read time", dl)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			p = openPartition(t, a, "tweets", 0)
			if got := p.NextOffset(); got != 3 {
				t.Errorf("NextOffset after a restart: got %d; want 3", got)
			}
			if got := allLines(t, dir, "tweets"); !slices.Equal(got, []string{value(0), value(2)}) {
				t.Errorf("lines: got %q", got)
			}
		})
	}
}
