package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

func TestAppendWritesValuesUnchanged(t *testing.T) {
	vals := []string{
		`{"id":1,"text":"hi"}`,
		`[1,2]`,
		`"a string"`,
		` {"spaced": true}	`,
		`{"u":"héllo 🐦 \u2028"}`,
		`{"escaped":"a\nb"}`,
	}
	a := testArchive(t, Config{})
	p := openPartition(t, a, "tweets", 0)
	if got := p.NextOffset(); got != -1 {
		t.Errorf("NextOffset before any write: got %d; want -1", got)
	}
	var rs []Record
	var want Result
	for i, v := range vals {
		rs = append(rs, Record{Offset: int64(100 + i), Time: t0(), Value: []byte(v)})
		want.Written++
		want.Bytes += int64(len(v)) + 1
	}

	if got := mustAppend(t, p, rs); got != want {
		t.Errorf("Result: got %+v; want %+v", got, want)
	}
	files := dataFiles(t, a.cfg.Dir, "tweets")
	wantFiles := []string{DataPath("tweets", 0, 100, t0())}
	if !slices.Equal(files, wantFiles) {
		t.Fatalf("files: got %v; want %v", files, wantFiles)
	}
	got, err := os.ReadFile(filepath.Join(a.cfg.Dir, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if wantBytes := strings.Join(vals, "\n") + "\n"; string(got) != wantBytes {
		t.Errorf("file contents: got %q; want %q", got, wantBytes)
	}
	if got, want := p.NextOffset(), int64(100+len(vals)); got != want {
		t.Errorf("NextOffset: got %d; want %d", got, want)
	}
}

func TestRotateBySize(t *testing.T) {
	// Every test line is 8 bytes ({"n":0} and \n); with a 20-byte limit the
	// third line crosses it, so files hold three lines.
	const limit = 20
	big := Record{Offset: 3, Time: t0(), Value: []byte(`{"big":"` + strings.Repeat("x", 30) + `"}`)}
	tests := []struct {
		name        string
		batches     [][]Record
		wantFiles   map[int64][]string // first offset -> lines
		wantRotated []int64            // first offsets of rotated files
	}{
		{
			name:    "one batch",
			batches: [][]Record{recs(0, 9, t0())},
			wantFiles: map[int64][]string{
				0: values(0, 2), 3: values(3, 5), 6: values(6, 8), 9: values(9, 9),
			},
			wantRotated: []int64{0, 3, 6},
		},
		{
			name: "one record per Append",
			batches: func() [][]Record {
				var bs [][]Record
				for o := range int64(10) {
					bs = append(bs, recs(o, o, t0()))
				}
				return bs
			}(),
			wantFiles: map[int64][]string{
				0: values(0, 2), 3: values(3, 5), 6: values(6, 8), 9: values(9, 9),
			},
			wantRotated: []int64{0, 3, 6},
		},
		{
			name:    "record larger than the limit gets a file of its own",
			batches: [][]Record{append(append(recs(0, 2, t0()), big), recs(4, 4, t0())...)},
			wantFiles: map[int64][]string{
				0: values(0, 2), 3: {string(big.Value)}, 4: values(4, 4),
			},
			wantRotated: []int64{0, 3},
		},
		{
			name:        "exactly at the limit rotates",
			batches:     [][]Record{{{Offset: 0, Time: t0(), Value: []byte(`"` + strings.Repeat("y", limit-3) + `"`)}}},
			wantFiles:   map[int64][]string{0: {`"` + strings.Repeat("y", limit-3) + `"`}},
			wantRotated: []int64{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rot rotations
			a := testArchive(t, Config{RotateMaxBytes: limit, OnRotate: rot.add})
			p := openPartition(t, a, "tweets", 0)
			for _, b := range tt.batches {
				mustAppend(t, p, b)
			}

			var wantFiles []string
			for first := range tt.wantFiles {
				wantFiles = append(wantFiles, DataPath("tweets", 0, first, t0()))
			}
			slices.Sort(wantFiles)
			if got := dataFiles(t, a.cfg.Dir, "tweets"); !slices.Equal(got, wantFiles) {
				t.Fatalf("files: got %v; want %v", got, wantFiles)
			}
			for first, want := range tt.wantFiles {
				path := filepath.Join(a.cfg.Dir, DataPath("tweets", 0, first, t0()))
				if got := readLines(t, path); !slices.Equal(got, want) {
					t.Errorf("%s: got lines %q; want %q", path, got, want)
				}
			}
			var wantRotated []string
			for _, first := range tt.wantRotated {
				wantRotated = append(wantRotated, filepath.Join(a.cfg.Dir, DataPath("tweets", 0, first, t0())))
			}
			if got := rot.get(); !slices.Equal(got, wantRotated) {
				t.Errorf("OnRotate: got %v; want %v", got, wantRotated)
			}
		})
	}
}

func TestRotateBySizeAfterRestartWithSmallerLimit(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir}), "tweets", 0)
	mustAppend(t, p, recs(0, 2, t0()))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	var rot rotations
	p = openPartition(t, testArchive(t, Config{Dir: dir, RotateMaxBytes: 10, OnRotate: rot.add}), "tweets", 0)
	mustAppend(t, p, recs(3, 3, t0()))

	want := []string{DataPath("tweets", 0, 0, t0()), DataPath("tweets", 0, 3, t0())}
	if got := dataFiles(t, dir, "tweets"); !slices.Equal(got, want) {
		t.Errorf("files: got %v; want %v", got, want)
	}
	if got := len(rot.get()); got != 1 {
		t.Errorf("rotations: got %d; want 1 (the old file, over the new limit, before the record)", got)
	}
}

func TestRotateCompressed(t *testing.T) {
	tests := []struct {
		compression string
		ext         string
	}{
		{CompressionGzip, ".gz"},
		{CompressionZstd, ".zst"},
	}
	for _, tt := range tests {
		t.Run(tt.compression, func(t *testing.T) {
			var rot rotations
			a := testArchive(t, Config{RotateMaxBytes: 64 << 10, Compression: tt.compression, OnRotate: rot.add})
			p := openPartition(t, a, "tweets", 0)
			var rs []Record
			var want []string
			for o := range int64(2000) {
				v := fmt.Sprintf(`{"id":%d,"text":"tweet number %d says %s"}`, o, o, strings.Repeat("la ", int(o%50)))
				rs = append(rs, Record{Offset: o, Time: t0(), Value: []byte(v)})
				want = append(want, v)
			}
			for b := range slices.Chunk(rs, 300) {
				mustAppend(t, p, b)
			}

			files := dataFiles(t, a.cfg.Dir, "tweets")
			var rotated []string
			for _, f := range files[:len(files)-1] {
				if !strings.HasSuffix(f, ".jsonl"+tt.ext) {
					t.Errorf("rotated file %s: want suffix .jsonl%s", f, tt.ext)
				}
				rotated = append(rotated, filepath.Join(a.cfg.Dir, f))
			}
			if last := files[len(files)-1]; !strings.HasSuffix(last, ".jsonl") {
				t.Errorf("active file %s: want a plain .jsonl", last)
			}
			if len(rotated) < 2 {
				t.Fatalf("got %d rotated files; want several", len(rotated))
			}
			if got := rot.get(); !slices.Equal(got, rotated) {
				t.Errorf("OnRotate: got %v; want %v", got, rotated)
			}
			if got := allLines(t, a.cfg.Dir, "tweets"); !slices.Equal(got, want) {
				t.Errorf("decompressed lines differ: got %d lines; want %d", len(got), len(want))
			}
		})
	}
}

func TestRotateByHour(t *testing.T) {
	day := func(h, m int) time.Time { return time.Date(2024, 3, 9, h, m, 0, 0, time.UTC) }
	type file struct {
		first int64
		hour  time.Time
		lines []string
	}
	tests := []struct {
		name  string
		times []time.Time // record i has offset i and time times[i]
		want  []file
	}{
		{
			name:  "later hour starts a file in its directory",
			times: []time.Time{day(10, 15), day(10, 59), day(11, 0), day(11, 30)},
			want:  []file{{0, day(10, 0), values(0, 1)}, {2, day(11, 0), values(2, 3)}},
		},
		{
			name:  "late arrival stays in the active file",
			times: []time.Time{day(10, 15), day(11, 0), day(10, 59), day(11, 1)},
			want:  []file{{0, day(10, 0), values(0, 0)}, {1, day(11, 0), values(1, 3)}},
		},
		{
			name:  "hours without records are skipped",
			times: []time.Time{day(10, 15), day(13, 5)},
			want:  []file{{0, day(10, 0), values(0, 0)}, {1, day(13, 0), values(1, 1)}},
		},
		{
			name:  "next day",
			times: []time.Time{day(23, 59), day(24, 0)},
			want:  []file{{0, day(23, 0), values(0, 0)}, {1, day(24, 0), values(1, 1)}},
		},
		{
			name:  "missing timestamps use the clock (10:15)",
			times: []time.Time{{}, time.UnixMilli(-1), day(11, 0)},
			want:  []file{{0, day(10, 0), values(0, 1)}, {2, day(11, 0), values(2, 2)}},
		},
	}
	for _, tt := range tests {
		for _, mode := range []string{"one batch", "one record per Append"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var rot rotations
				a := testArchive(t, Config{OnRotate: rot.add}) // clock at 10:15
				p := openPartition(t, a, "tweets", 0)
				var rs []Record
				for i, ts := range tt.times {
					rs = append(rs, Record{Offset: int64(i), Time: ts, Value: []byte(value(int64(i)))})
				}
				if mode == "one batch" {
					mustAppend(t, p, rs)
				} else {
					for _, r := range rs {
						mustAppend(t, p, []Record{r})
					}
				}

				var wantFiles []string
				for _, f := range tt.want {
					path := DataPath("tweets", 0, f.first, f.hour)
					wantFiles = append(wantFiles, path)
					if got := readLines(t, filepath.Join(a.cfg.Dir, path)); !slices.Equal(got, f.lines) {
						t.Errorf("%s: got lines %q; want %q", path, got, f.lines)
					}
				}
				slices.Sort(wantFiles)
				if got := dataFiles(t, a.cfg.Dir, "tweets"); !slices.Equal(got, wantFiles) {
					t.Errorf("files: got %v; want %v", got, wantFiles)
				}
				if got, want := len(rot.get()), len(tt.want)-1; got != want {
					t.Errorf("rotations: got %d; want %d", got, want)
				}
			})
		}
	}
}

func TestRotateByInterval(t *testing.T) {
	clk := newClock(t0()) // 10:15
	var rot rotations
	a := testArchive(t, Config{RotateInterval: 10 * time.Minute, Compression: CompressionZstd, Now: clk.Now, OnRotate: rot.add})
	p := openPartition(t, a, "tweets", 0)
	at := func(m, s int) time.Time { return time.Date(2024, 3, 9, 10, m, s, 0, time.UTC) }
	plain := func(first int64) string { return DataPath("tweets", 0, first, t0()) }

	steps := []struct {
		name      string
		now       time.Time
		append    []Record // nil: call Tick
		wantFiles []string
	}{
		{"first records start a file", at(15, 0), recs(0, 2, at(15, 0)), []string{plain(0)}},
		{"tick before the interval keeps it", at(24, 59), nil, []string{plain(0)}},
		{"tick at the interval rotates with no new data", at(25, 0), nil, []string{plain(0) + ".zst"}},
		{"tick with no active file does nothing", at(40, 0), nil, []string{plain(0) + ".zst"}},
		{"next records start a new file", at(41, 0), recs(3, 4, at(41, 0)), []string{plain(0) + ".zst", plain(3)}},
		{"Append past the interval rotates first", at(51, 0), recs(5, 5, at(51, 0)), []string{plain(0) + ".zst", plain(3) + ".zst", plain(5)}},
	}
	for _, s := range steps {
		clk.Set(s.now)
		if s.append != nil {
			mustAppend(t, p, s.append)
		} else if err := p.Tick(); err != nil {
			t.Fatalf("%s: Tick: %v", s.name, err)
		}
		if got := dataFiles(t, a.cfg.Dir, "tweets"); !slices.Equal(got, s.wantFiles) {
			t.Fatalf("%s: files: got %v; want %v", s.name, got, s.wantFiles)
		}
	}
	if got := allLines(t, a.cfg.Dir, "tweets"); !slices.Equal(got, values(0, 5)) {
		t.Errorf("lines: got %q; want %q", got, values(0, 5))
	}
	if got := len(rot.get()); got != 2 {
		t.Errorf("rotations: got %d; want 2", got)
	}
}

// TestRecovery simulates crashes at each point of an Append: bytes written
// (or half written) after the last checkpoint, a checkpoint naming a file
// not created yet. Reopening must cut the files back to the checkpoint and
// report the right NextOffset, and handing all records over again must leave
// each line exactly once.
func TestRecovery(t *testing.T) {
	fileA := DataPath("tweets", 0, 0, t0())
	fileB := DataPath("tweets", 0, 5, t0())
	dlFile := DeadLetterPath("tweets", 0, 10)
	// moveToB writes the checkpoint a rotation then a new file would: A is
	// complete, B is named with size 0.
	moveToB := func(t *testing.T, dir string) {
		c := checkpoint{
			Topic: "tweets", Partition: 0, NextOffset: 5,
			Active: fileB, ActiveHour: t0().Truncate(time.Hour), ActiveCreated: t0(),
		}
		data, err := encodeCheckpoint(c)
		if err != nil {
			t.Fatal(err)
		}
		writeCheckpointJSON(t, dir, data)
	}
	tests := []struct {
		name      string
		crash     func(t *testing.T, dir string)
		wantFiles []string
	}{
		{
			name:      "clean restart",
			crash:     func(*testing.T, string) {},
			wantFiles: []string{fileA},
		},
		{
			name: "half a line past the checkpoint",
			crash: func(t *testing.T, dir string) {
				appendBytes(t, filepath.Join(dir, fileA), []byte(`{"n":5}`+"\n"+`{"n"`))
			},
			wantFiles: []string{fileA},
		},
		{
			name: "whole lines written, checkpoint not",
			crash: func(t *testing.T, dir string) {
				appendBytes(t, filepath.Join(dir, fileA), []byte(strings.Join(values(5, 7), "\n")+"\n"))
			},
			wantFiles: []string{fileA},
		},
		{
			name: "dead letters written, checkpoint not",
			crash: func(t *testing.T, dir string) {
				// The checkpoint names a new dead-letter file before it is created.
				editCheckpoint(t, dir, func(c *checkpoint) { c.DeadLetter, c.DeadLetterCreated = dlFile, t0() })
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dlFile)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, dlFile), []byte(`{"offset":10}`+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantFiles: []string{fileA},
		},
		{
			name:      "new file checkpointed, not created",
			crash:     moveToB,
			wantFiles: []string{fileA, fileB},
		},
		{
			name: "new file checkpointed, lines written to it",
			crash: func(t *testing.T, dir string) {
				moveToB(t, dir)
				if err := os.WriteFile(filepath.Join(dir, fileB), []byte(strings.Join(values(5, 6), "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantFiles: []string{fileA, fileB},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, recs(0, 4, t0()))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			tt.crash(t, dir)

			p = openPartition(t, a, "tweets", 0)
			if got := p.NextOffset(); got != 5 {
				t.Errorf("NextOffset after reopen: got %d; want 5", got)
			}
			// The group loop may hand over everything again, plus a bad value.
			again := append(recs(0, 9, t0()), Record{Offset: 10, Time: t0(), Value: []byte("not json")})
			res := mustAppend(t, p, again)
			if want := (Result{Written: 5, DeadLettered: 1, Skipped: 5, Bytes: 5 * 8}); res != want {
				t.Errorf("Result: got %+v; want %+v", res, want)
			}
			if got := dataFiles(t, dir, "tweets"); !slices.Equal(got, tt.wantFiles) {
				t.Errorf("files: got %v; want %v", got, tt.wantFiles)
			}
			if got := allLines(t, dir, "tweets"); !slices.Equal(got, values(0, 9)) {
				t.Errorf("lines: got %q; want %q", got, values(0, 9))
			}
			dl := readLines(t, filepath.Join(dir, dlFile))
			if len(dl) != 1 || !strings.Contains(dl[0], `"offset":10,`) {
				t.Errorf("dead letters: got %q; want one line for offset 10", dl)
			}
		})
	}
}

// TestRecoveryAfterInterruptedRotation reopens a partition whose checkpoint
// still names a file that a rotation was compressing when the process died.
func TestRecoveryAfterInterruptedRotation(t *testing.T) {
	fileA := DataPath("tweets", 0, 0, t0())
	fileB := DataPath("tweets", 0, 5, t0())
	// compress does what a rotation does up to the compressed file's name:
	// the file, and the checkpoint naming it with its size.
	compress := func(ext, compression string) func(t *testing.T, plain string) {
		return func(t *testing.T, plain string) {
			if err := compressTo(plain+ext, plain, compression, 0o640, false); err != nil {
				t.Fatal(err)
			}
			markRotated(t, filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(plain)))), plain+ext)
		}
	}
	remove := func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		crash     func(t *testing.T, plain string)
		wantFiles []string
	}{
		{
			name:      "compressed renamed, plain not removed",
			crash:     compress(".gz", CompressionGzip),
			wantFiles: []string{fileA + ".gz", fileB},
		},
		{
			name: "compressed renamed, plain removed",
			crash: func(t *testing.T, plain string) {
				compress(".gz", CompressionGzip)(t, plain)
				remove(t, plain)
			},
			wantFiles: []string{fileA + ".gz", fileB},
		},
		{
			name: "compressed with the other codec, plain removed",
			crash: func(t *testing.T, plain string) {
				compress(".zst", CompressionZstd)(t, plain)
				remove(t, plain)
			},
			wantFiles: []string{fileA + ".zst", fileB},
		},
		{
			name: "compression interrupted",
			crash: func(t *testing.T, plain string) {
				if err := os.WriteFile(plain+".gz.tmp", []byte("\x1f\x8b partial"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantFiles: []string{fileA}, // A is still active and takes the new records
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir, Compression: CompressionGzip})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, recs(0, 4, t0()))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			tt.crash(t, filepath.Join(dir, fileA))

			p = openPartition(t, a, "tweets", 0)
			if got := p.NextOffset(); got != 5 {
				t.Errorf("NextOffset: got %d; want 5", got)
			}
			mustAppend(t, p, recs(5, 9, t0()))
			if got := dataFiles(t, dir, "tweets"); !slices.Equal(got, tt.wantFiles) {
				t.Errorf("files: got %v; want %v", got, tt.wantFiles)
			}
			if got := allLines(t, dir, "tweets"); !slices.Equal(got, values(0, 9)) {
				t.Errorf("lines: got %q; want %q", got, values(0, 9))
			}
		})
	}
}

// editCheckpoint changes the checkpoint of tweets partition 0 in dir.
func editCheckpoint(t *testing.T, dir string, edit func(c *checkpoint)) {
	t.Helper()
	name := filepath.Join(dir, slotsPath("tweets", 0))
	c, err := decodeCheckpoint(name, readCheckpointJSON(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	edit(&c)
	data, err := encodeCheckpoint(c)
	if err != nil {
		t.Fatal(err)
	}
	writeCheckpointJSON(t, dir, data)
}

// markRotated edits the checkpoint of tweets partition 0 in dir as a
// rotation into compressed writes it before giving the file its name.
func markRotated(t *testing.T, dir, compressed string) {
	t.Helper()
	fi, err := os.Stat(compressed)
	if err != nil {
		t.Fatal(err)
	}
	editCheckpoint(t, dir, func(c *checkpoint) {
		c.Rotated, c.RotatedSize = strings.TrimPrefix(compressed, dir+"/"), fi.Size()
	})
}

// TestCompressedCopyBesideActiveFile: a compressed copy of the active file
// made by someone else (gzip -k, zstd, a cron job) is not a finished
// rotation. Recovery keeps the plain file and every line written after the
// copy; the rotation leaves the copy alone and the data file plain.
func TestCompressedCopyBesideActiveFile(t *testing.T) {
	fileA := DataPath("tweets", 0, 0, t0())
	for _, tt := range []struct{ ext, compression string }{
		{".gz", CompressionGzip},
		{".zst", CompressionZstd},
	} {
		t.Run(tt.ext, func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir, Compression: tt.compression, RotateMaxBytes: 100})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, recs(0, 2, t0()))
			plain := filepath.Join(dir, fileA)
			if err := compressTo(plain+tt.ext, plain, tt.compression, 0o640, false); err != nil {
				t.Fatal(err)
			}
			copied, err := os.ReadFile(plain + tt.ext)
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, p, recs(3, 4, t0()))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			p = openPartition(t, a, "tweets", 0)
			if got, want := readLines(t, plain), values(0, 4); !slices.Equal(got, want) {
				t.Fatalf("after recovery, %s: got %q; want %q", fileA, got, want)
			}
			mustAppend(t, p, recs(5, 19, t0())) // past RotateMaxBytes: A rotates
			if got := readLines(t, plain); len(got) < 5 || !slices.Equal(got, values(0, int64(len(got)-1))) {
				t.Errorf("after rotation, %s: got %q; want offsets 0 to at least 4, plain", fileA, got)
			}
			if got, err := os.ReadFile(plain + tt.ext); err != nil || string(got) != string(copied) {
				t.Errorf("the copy %s changed: got %d bytes, %v; want the %d bytes made", fileA+tt.ext, len(got), err, len(copied))
			}
			var lines []string
			for _, f := range dataFiles(t, dir, "tweets") {
				if f != fileA+tt.ext {
					lines = append(lines, readLines(t, filepath.Join(dir, f))...)
				}
			}
			if got := len(dataFiles(t, dir, "tweets")); got < 3 {
				t.Errorf("got %d data files, the copy included; want the copy and at least 2 (A rotated)", got)
			}
			if !slices.Equal(lines, values(0, 19)) {
				t.Errorf("lines: got %q; want %q", lines, values(0, 19))
			}
		})
	}
}

// TestRecoveryRefusesBadCheckpoint: a checkpoint that cannot be read, or
// that is another partition's, stops the partition with an error naming
// it. (A file the checkpoint counts that someone removed or cut short is
// left to them: TestFileNotAsWrittenLeftAlone.)
func TestRecoveryRefusesBadCheckpoint(t *testing.T) {
	ckptFile := slotsPath("tweets", 0)
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		wantErrs []string // substrings of the error
	}{
		{
			name: "corrupt checkpoint",
			damage: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, ckptFile), []byte(`{"version":1,`), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErrs: []string{ckptFile, "corrupt"},
		},
		{
			name: "checkpoint of another partition",
			damage: func(t *testing.T, dir string) {
				data := readCheckpointJSON(t, dir)
				writeCheckpointJSON(t, dir, []byte(strings.ReplaceAll(string(data), "tweets", "other")))
			},
			wantErrs: []string{ckptFile, "is for other partition 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, append(recs(0, 4, t0()), Record{Offset: 5, Value: nil}))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			tt.damage(t, dir)

			_, err := a.Partition(context.Background(), "tweets", 0)
			if err == nil {
				t.Fatalf("Partition: got nil error; want one containing %q", tt.wantErrs)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Partition: got error %q; want it to contain %q", err, want)
				}
			}
			// A failed open releases the lock.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := a.Partition(ctx, "tweets", 0); errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("second Partition: got %v; want the lock to be free", err)
			}
		})
	}
}

func TestSkipsWrittenOffsets(t *testing.T) {
	tests := []struct {
		name        string
		batches     [][]int64
		wantResults []Result // Bytes left out: every line is 8 bytes
		wantLines   []string
		wantNext    int64
	}{
		{
			name:        "batch handed over again",
			batches:     [][]int64{{0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}},
			wantResults: []Result{{Written: 5}, {Skipped: 5}},
			wantLines:   values(0, 4),
			wantNext:    5,
		},
		{
			name:        "overlapping batch",
			batches:     [][]int64{{0, 1, 2, 3, 4}, {3, 4, 5, 6, 7}},
			wantResults: []Result{{Written: 5}, {Written: 3, Skipped: 2}},
			wantLines:   values(0, 7),
			wantNext:    8,
		},
		{
			name:        "duplicate inside a batch",
			batches:     [][]int64{{0, 1, 1, 2}},
			wantResults: []Result{{Written: 3, Skipped: 1}},
			wantLines:   values(0, 2),
			wantNext:    3,
		},
		{
			name:        "gaps are kept as gaps",
			batches:     [][]int64{{0, 5}, {9}},
			wantResults: []Result{{Written: 2}, {Written: 1}},
			wantLines:   []string{value(0), value(5), value(9)},
			wantNext:    10,
		},
		{
			name:        "first offset need not be zero",
			batches:     [][]int64{{2, 3}},
			wantResults: []Result{{Written: 2}},
			wantLines:   values(2, 3),
			wantNext:    4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testArchive(t, Config{})
			p := openPartition(t, a, "tweets", 0)
			for i, offsets := range tt.batches {
				var rs []Record
				for _, o := range offsets {
					rs = append(rs, recs(o, o, t0())...)
				}
				got := mustAppend(t, p, rs)
				want := tt.wantResults[i]
				want.Bytes = int64(want.Written) * 8
				if got != want {
					t.Errorf("batch %d: got %+v; want %+v", i, got, want)
				}
			}
			if got := allLines(t, a.cfg.Dir, "tweets"); !slices.Equal(got, tt.wantLines) {
				t.Errorf("lines: got %q; want %q", got, tt.wantLines)
			}
			if got := p.NextOffset(); got != tt.wantNext {
				t.Errorf("NextOffset: got %d; want %d", got, tt.wantNext)
			}
		})
	}
}

func TestAppendRejectsNegativeOffset(t *testing.T) {
	p := openPartition(t, testArchive(t, Config{}), "tweets", 0)
	if _, err := p.Append([]Record{{Offset: -1, Value: []byte("{}")}}); err == nil {
		t.Fatal("got nil error; want one for the negative offset")
	}
	// The partition recovers and goes on.
	if got := mustAppend(t, p, recs(0, 0, t0())); got.Written != 1 {
		t.Errorf("Append after the error: got %+v; want 1 written", got)
	}
}

func TestDeadLetters(t *testing.T) {
	tests := []struct {
		name       string
		value      string
		wantReason string // "" means written to the data file
		wantBase64 string // for invalid UTF-8
	}{
		{"object", `{"ok":true}`, "", ""},
		{"array accepted", `[1,2]`, "", ""},
		{"string accepted", `"text"`, "", ""},
		{"number accepted", `7`, "", ""},
		{"empty", ``, ReasonEmpty, ""},
		{"not JSON", `hello`, ReasonInvalidJSON, ""},
		{"truncated JSON", `{"a":`, ReasonInvalidJSON, ""},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", ReasonInvalidUTF8, "eyJhIjoi/yJ9"},
		{"embedded newline", "{\"a\":1,\n\"b\":2}", ReasonLineBreak, ""},
		{"embedded carriage return", "{\"a\":1}\r", ReasonLineBreak, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir})
			p := openPartition(t, a, "tweets", 1)
			batch := []Record{
				{Offset: 0, Time: t0(), Value: []byte(`{"before":1}`)},
				{Offset: 1, Time: t0(), Value: []byte(tt.value)},
				{Offset: 2, Time: t0(), Value: []byte(`{"after":1}`)},
			}
			res := mustAppend(t, p, batch)

			wantLines := []string{`{"before":1}`, `{"after":1}`}
			want := Result{Written: 2, DeadLettered: 1, Bytes: 13 + 12}
			if tt.wantReason == "" {
				wantLines = []string{`{"before":1}`, tt.value, `{"after":1}`}
				want = Result{Written: 3, Bytes: 13 + int64(len(tt.value)) + 1 + 12}
			}
			if res != want {
				t.Errorf("Result: got %+v; want %+v", res, want)
			}
			if got := allLines(t, dir, "tweets"); !slices.Equal(got, wantLines) {
				t.Errorf("data lines: got %q; want %q", got, wantLines)
			}
			if got := p.NextOffset(); got != 3 {
				t.Errorf("NextOffset: got %d; want 3", got)
			}

			dlPath := filepath.Join(dir, DeadLetterPath("tweets", 1, 1))
			if tt.wantReason == "" {
				if _, err := os.Stat(dlPath); !os.IsNotExist(err) {
					t.Errorf("dead-letter file: got stat error %v; want it not to exist", err)
				}
				return
			}
			dl := readLines(t, dlPath)
			if len(dl) != 1 {
				t.Fatalf("dead letters: got %d lines %q; want 1", len(dl), dl)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(dl[0]), &got); err != nil {
				t.Fatalf("dead letter %q is not JSON: %v", dl[0], err)
			}
			wantDL := map[string]any{
				"topic": "tweets", "partition": 1.0, "offset": 1.0,
				"time": "2024-03-09T10:15:00Z", "reason": tt.wantReason,
			}
			if tt.wantBase64 != "" {
				wantDL["value_base64"] = tt.wantBase64
			} else {
				wantDL["value"] = tt.value
			}
			if !maps.Equal(got, wantDL) {
				t.Errorf("dead letter: got %v; want %v", got, wantDL)
			}

			// Handed over again: nothing new in either file.
			if got := mustAppend(t, p, batch); got != (Result{Skipped: 3}) {
				t.Errorf("second Append: got %+v; want all skipped", got)
			}
			if got := readLines(t, dlPath); len(got) != 1 {
				t.Errorf("dead letters after second Append: got %d lines; want 1", len(got))
			}
		})
	}
}

func TestOnlyDeadLettersCreateNoDataFile(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir}), "tweets", 0)
	mustAppend(t, p, []Record{{Offset: 7, Value: []byte("x")}, {Offset: 8, Value: nil}})
	if got := dataFiles(t, dir, "tweets"); len(got) != 0 {
		t.Errorf("data files: got %v; want none", got)
	}
	if got := p.NextOffset(); got != 9 {
		t.Errorf("NextOffset: got %d; want 9", got)
	}
}

// TestNewFilesSyncTheirFolder: each file a checkpoint counts bytes of (a
// data file, a dead-letter file, a dedup key file) has its folder fsynced
// after it was created and before the checkpoint that counts them, or a
// power loss could take its name with it.
func TestNewFilesSyncTheirFolder(t *testing.T) {
	dir := t.TempDir()
	// synced holds the files seen in each folder fsynced.
	var synced []string
	syncDirs = func(d, root string) error {
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			synced = append(synced, filepath.Join(d, e.Name()))
		}
		return durable.SyncDirs(d, root)
	}
	t.Cleanup(func() { syncDirs = durable.SyncDirs })

	p := openPartition(t, testArchive(t, Config{Dir: dir, DedupWindow: 2}), "tweets", 0)
	rs := append(keyed(0, "a"), Record{Offset: 1, Time: t0(), Value: []byte("not json")})
	mustAppend(t, p, append(rs, keyed(2, "b", "c")...)) // key generations 0 and 1
	for _, tt := range []struct{ name, rel string }{
		{"data file", p.ckpt.Active},
		{"dead-letter file", p.ckpt.DeadLetter},
		{"key file", keysPath("tweets", 0, 0)},
		{"key file of the next generation", keysPath("tweets", 0, 1)},
	} {
		if path := filepath.Join(dir, tt.rel); !slices.Contains(synced, path) {
			t.Errorf("%s %s: its folder was not fsynced once it was created", tt.name, path)
		}
	}
}

// TestStateFolderRemovedWhileRunning: _state removed while the partition
// is open (it is created at Open) is created again, with a WARN, by the
// next write there (a checkpoint, or a dedup key file of a new
// generation): the batch is archived, not refused until a restart, and
// after a restart the partition goes on from its checkpoint, each record
// once.
func TestStateFolderRemovedWhileRunning(t *testing.T) {
	for _, tt := range []struct {
		name   string
		window int
	}{
		{"checkpoint first", 0},
		{"key file of a new generation first", 2}, // the second generation starts after "b"
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var log strings.Builder
			cfg := Config{Dir: dir, DedupWindow: tt.window, Now: newClock(t0()).Now}
			a, err := Open(cfg, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			p, err := a.Partition(t.Context(), "tweets", 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			mustAppend(t, p, keyed(0, "a", "b"))
			state := filepath.Join(dir, stateDirName)
			if err := os.RemoveAll(state); err != nil {
				t.Fatal(err)
			}

			if _, err := p.Append(keyed(2, "c", "d")); err != nil {
				t.Fatalf("Append after %s was removed: %v", state, err)
			}
			if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), state) {
				t.Errorf("log: got %q; want a WARN naming %s", log.String(), state)
			}
			if _, err := os.Stat(filepath.Join(dir, slotsPath("tweets", 0))); err != nil {
				t.Errorf("checkpoint: %v", err)
			}
			// The partition holds its lock again: another consumer of
			// the folder cannot take the partition.
			if f, err := durable.TryLock(filepath.Join(dir, lockPath("tweets", 0)), 0o600); !errors.Is(err, durable.ErrLocked) {
				if err == nil {
					f.Close()
				}
				t.Errorf("locking the partition from outside after %s was removed: %v; want it held (durable.ErrLocked)", state, err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			p, err = a.Partition(t.Context(), "tweets", 0)
			if err != nil {
				t.Fatalf("opening the partition again: %v", err)
			}
			if got := p.NextOffset(); got != 4 {
				t.Errorf("NextOffset after a restart: got %d; want 4", got)
			}
			mustAppend(t, p, keyed(4, "e"))
			if got, want := ids(t, dir), []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
				t.Errorf("archived ids %q; want %q", got, want)
			}
		})
	}
}

// TestStateFolderRemovedAndLockTaken: when _state is removed and another
// process locks the partition's new lock file first, the partition writes
// nothing more (ErrFenced, naming the lock): neither its data file nor the
// other process's key file and checkpoint, recovery included; it still
// closes cleanly.
func TestStateFolderRemovedAndLockTaken(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir, DedupWindow: 10, Now: newClock(t0()).Now}), "tweets", 0)
	mustAppend(t, p, keyed(0, "a"))
	if err := os.RemoveAll(filepath.Join(dir, stateDirName)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, stateDirName), 0o750); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, lockPath("tweets", 0))
	other, err := durable.TryLock(lock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// The other process's window and checkpoint, as it writes them, and
	// the data file as it stands.
	theirs := map[string][]byte{
		keysPath("tweets", 0, 0): []byte("b3RoZXIx\nb3RoZXIy\n"),
		slotsPath("tweets", 0):   bytes.Repeat([]byte{7}, 2*slotSize),
	}
	for rel, b := range theirs {
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data := ids(t, dir)
	for i := range 3 {
		_, err := p.Append(keyed(1, "b"))
		if err == nil || !strings.Contains(err.Error(), lock) || !errors.Is(err, ErrFenced) {
			t.Errorf("Append %d with the partition's new lock held by another: %v; want ErrFenced naming %s", i+1, err, lock)
		}
	}
	for rel, want := range theirs {
		if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s, the other process's: %d bytes, %v; want it untouched (%d bytes)", rel, len(got), err, len(want))
		}
	}
	if got := ids(t, dir); !slices.Equal(got, data) {
		t.Errorf("archived ids %q after the fenced appends; want %q, nothing written", got, data)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close of the fenced partition: %v; want the files closed and the lock released without an error", err)
	}
}

func TestLockBlocksSecondPartition(t *testing.T) {
	dir := t.TempDir()
	// Two Archives on one directory stand for two processes sharing a volume.
	first := testArchive(t, Config{Dir: dir})
	second := testArchive(t, Config{Dir: dir})
	held, err := first.Partition(context.Background(), "tweets", 0)
	if err != nil {
		t.Fatal(err)
	}

	// Another partition of the same topic is not blocked.
	openPartition(t, second, "tweets", 1)

	// Waiting gives up when ctx is done.
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	_, err = second.Partition(ctx, "tweets", 0)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), lockPath("tweets", 0)) {
		t.Fatalf("Partition while locked: got %v; want a deadline error naming the lock file", err)
	}

	type result struct {
		p   *Partition
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := second.Partition(context.Background(), "tweets", 0)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("second Partition returned (%v) while the first holds the lock", r.err)
	case <-time.After(300 * time.Millisecond):
	}

	mustAppend(t, held, recs(0, 4, t0()))
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("second Partition after Close: %v", r.err)
		}
		defer r.p.Close()
		if got := r.p.NextOffset(); got != 5 {
			t.Errorf("NextOffset seen by the second owner: got %d; want 5", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second Partition still blocked 5s after Close")
	}
}

func TestCloseKeepsActiveFile(t *testing.T) {
	dir := t.TempDir()
	var rot rotations
	a := testArchive(t, Config{Dir: dir, Compression: CompressionGzip, OnRotate: rot.add})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(0, 4, t0()))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(recs(5, 5, t0())); err == nil {
		t.Error("Append after Close: got nil error; want one")
	}

	p = openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(5, 9, t0()))
	want := []string{DataPath("tweets", 0, 0, t0())}
	if got := dataFiles(t, dir, "tweets"); !slices.Equal(got, want) {
		t.Errorf("files: got %v; want %v", got, want)
	}
	if got := allLines(t, dir, "tweets"); !slices.Equal(got, values(0, 9)) {
		t.Errorf("lines: got %q; want %q", got, values(0, 9))
	}
	if got := rot.get(); len(got) != 0 {
		t.Errorf("rotations: got %v; want none", got)
	}
}

func TestPartitionRejectsBadNames(t *testing.T) {
	a := testArchive(t, Config{})
	tests := []struct {
		topic     string
		partition int
	}{
		{"../escape", 0},
		{"_state", 0},
		{"", 0},
		{"tweets", -1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d", tt.topic, tt.partition), func(t *testing.T) {
			if _, err := a.Partition(context.Background(), tt.topic, tt.partition); err == nil {
				t.Error("got nil error; want one")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(base, "read-only")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cfg      Config
		wantErr  string
		skipRoot bool
	}{
		{"directory under a file", Config{Dir: filepath.Join(file, "out")}, filepath.Join(file, "out"), false},
		{"read-only directory", Config{Dir: readOnly}, readOnly + " is not writable", true},
		{"no directory", Config{}, "output directory is not set", false},
		{"unknown compression", Config{Dir: base, Compression: "lz4"}, `compression "lz4"`, false},
		{"negative size", Config{Dir: base, RotateMaxBytes: -1}, "negative", false},
		{"negative interval", Config{Dir: base, RotateInterval: -time.Second}, "negative", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipRoot && os.Geteuid() == 0 {
				t.Skip("running as root, which can write to a read-only directory; run the tests as a normal user to cover this case")
			}
			_, err := Open(tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestAppendErrorThenRetry makes writes fail part way through an Append
// (by putting a file where a directory must go, which fails even as root),
// then retries the same batch as the group loop does: nothing is lost and
// nothing is written twice.
func TestAppendErrorThenRetry(t *testing.T) {
	hour11 := time.Date(2024, 3, 9, 11, 5, 0, 0, time.UTC)
	// block puts a regular file at rel, restore removes it.
	block := func(t *testing.T, dir, rel string) func() {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name      string
		batch     []Record
		fault     func(t *testing.T, dir string) (restore func())
		wantErr   string
		wantRetry Result
		wantDL    int
	}{
		{
			name:  "new hour directory cannot be created",
			batch: append(recs(5, 6, t0()), recs(7, 9, hour11)...),
			fault: func(t *testing.T, dir string) func() {
				return block(t, dir, "tweets/2024-03-09/11")
			},
			wantErr:   "tweets/2024-03-09/11",
			wantRetry: Result{Written: 3, Skipped: 2, Bytes: 24}, // 5 and 6 were committed before the rotation
		},
		{
			name:  "checkpoint cannot be written after the data",
			batch: recs(5, 9, t0()),
			fault: func(t *testing.T, dir string) func() {
				state := filepath.Join(dir, stateDirName)
				if err := os.Rename(state, state+".moved"); err != nil {
					t.Fatal(err)
				}
				restore := block(t, dir, stateDirName)
				return func() {
					restore()
					if err := os.Rename(state+".moved", state); err != nil {
						t.Fatal(err)
					}
				}
			},
			wantErr:   "_state",
			wantRetry: Result{Written: 5, Bytes: 40},
		},
		{
			name:  "dead-letter directory cannot be created",
			batch: append(recs(5, 6, t0()), Record{Offset: 7, Value: []byte("bad")}, Record{Offset: 8, Time: t0(), Value: []byte(value(8))}),
			fault: func(t *testing.T, dir string) func() {
				return block(t, dir, "_deadletter/tweets")
			},
			wantErr:   "_deadletter/tweets",
			wantRetry: Result{Written: 3, DeadLettered: 1, Bytes: 24},
			wantDL:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := testArchive(t, Config{Dir: dir})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, recs(0, 4, t0()))

			restore := tt.fault(t, dir)
			_, err := p.Append(tt.batch)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Append with the fault: got error %v; want one naming %q", err, tt.wantErr)
			}
			// Retrying while the fault is still there fails again, harmlessly.
			if _, err := p.Append(tt.batch); err == nil {
				t.Fatalf("second Append with the fault: got nil error; want one")
			}
			restore()

			res, err := p.Append(tt.batch)
			if err != nil {
				t.Fatalf("Append after the fault is gone: %v", err)
			}
			if res != tt.wantRetry {
				t.Errorf("Result of the retry: got %+v; want %+v", res, tt.wantRetry)
			}
			var wantLines []string
			for o := range int64(10) {
				if o < 5 || slices.ContainsFunc(tt.batch, func(r Record) bool { return r.Offset == o && checkValue(r.Value) == "" }) {
					wantLines = append(wantLines, value(o))
				}
			}
			if got := allLines(t, dir, "tweets"); !slices.Equal(got, wantLines) {
				t.Errorf("lines: got %q; want %q", got, wantLines)
			}
			if tt.wantDL > 0 {
				if got := deadLetters(t, dir, "tweets"); len(got) != tt.wantDL {
					t.Errorf("dead letters: got %d; want %d", len(got), tt.wantDL)
				}
			}

			// And a restart agrees with what the partition reported.
			next := p.NextOffset()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			p = openPartition(t, a, "tweets", 0)
			if got := p.NextOffset(); got != next {
				t.Errorf("NextOffset after restart: got %d; want %d", got, next)
			}
			if got := allLines(t, dir, "tweets"); !slices.Equal(got, wantLines) {
				t.Errorf("lines after restart: got %q; want %q", got, wantLines)
			}
		})
	}
}

// TestEmptyActiveFileIsDropped covers the file a crash can leave empty: a
// checkpoint named it with size 0 and its bytes were cut at recovery. When it
// rotates before getting a line, it is removed rather than archived.
func TestEmptyActiveFileIsDropped(t *testing.T) {
	dir := t.TempDir()
	var rot rotations
	a := testArchive(t, Config{Dir: dir, Compression: CompressionGzip, OnRotate: rot.add})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(0, 4, t0()))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// A crash just after the first bytes of file B: its checkpoint says 0.
	fileB := DataPath("tweets", 0, 5, t0())
	c := checkpoint{
		Topic: "tweets", Partition: 0, NextOffset: 5,
		Active: fileB, ActiveHour: t0().Truncate(time.Hour), ActiveCreated: t0(),
	}
	data, err := encodeCheckpoint(c)
	if err != nil {
		t.Fatal(err)
	}
	writeCheckpointJSON(t, dir, data)
	if err := os.WriteFile(filepath.Join(dir, fileB), []byte(`{"n":5}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	p = openPartition(t, a, "tweets", 0)
	hour11 := time.Date(2024, 3, 9, 11, 0, 0, 0, time.UTC)
	mustAppend(t, p, recs(5, 6, hour11))

	want := []string{DataPath("tweets", 0, 0, t0()), DataPath("tweets", 0, 5, hour11)}
	if got := dataFiles(t, dir, "tweets"); !slices.Equal(got, want) {
		t.Errorf("files: got %v; want %v", got, want)
	}
	if got := allLines(t, dir, "tweets"); !slices.Equal(got, values(0, 6)) {
		t.Errorf("lines: got %q; want %q", got, values(0, 6))
	}
	if got := rot.get(); len(got) != 0 {
		t.Errorf("OnRotate: got %v; want no call for an empty file", got)
	}
}
