package archive

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestFileNotAsWrittenLeftAlone: an active data file that someone removed,
// moved, replaced or cut short, while the consumer had it open or while it
// was stopped, is left as they made it, and the lines after go to a new
// file: none is lost (before, lines went on into the removed file, where no
// path reaches them, or the partition refused to open). After a restart
// the partition goes on from the right offset.
func TestFileNotAsWrittenLeftAlone(t *testing.T) {
	fileA := DataPath("tweets", 0, 0, t0())
	for _, tt := range []struct {
		name    string
		running bool // done while the partition is open
		damage  func(t *testing.T, path, aside string)
		kept    func(t *testing.T, path, aside string) // what the damage left, checked at the end
	}{
		{"removed while running", true, remove, nil},
		{"moved while running", true, moveAside, keptAside},
		{"replaced while running", true, replace, keptReplacement},
		{"cut short while running", true, cutShort, keptCut},
		{"compressed by hand while running (gzip without -k)", true, gzipByHand, keptGzipped},
		{"removed while stopped", false, remove, nil},
		{"cut short while stopped", false, cutShort, keptCut},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, aside := filepath.Join(dir, fileA), filepath.Join(t.TempDir(), "aside.jsonl")
			a := testArchive(t, Config{Dir: dir})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, recs(0, 4, t0()))
			if !tt.running {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}
			tt.damage(t, path, aside)
			if !tt.running {
				p = openPartition(t, a, "tweets", 0)
			}
			mustAppend(t, p, recs(5, 9, t0()))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			p = openPartition(t, a, "tweets", 0)
			if got := p.NextOffset(); got != 10 {
				t.Fatalf("NextOffset after a restart: got %d; want 10", got)
			}
			mustAppend(t, p, recs(10, 12, t0()))
			var lines []string
			for _, f := range dataFiles(t, dir, "tweets") {
				if f != fileA && f != fileA+".gz" {
					lines = append(lines, readLines(t, filepath.Join(dir, f))...)
				}
			}
			if want := values(5, 12); !slices.Equal(lines, want) {
				t.Errorf("lines in the new files: got %q; want %q", lines, want)
			}
			if tt.kept != nil {
				tt.kept(t, path, aside)
			} else if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s: got %v; want it still removed", fileA, err)
			}
		})
	}
}

func remove(t *testing.T, path, _ string) {
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func moveAside(t *testing.T, path, aside string) {
	if err := os.Rename(path, aside); err != nil {
		t.Fatal(err)
	}
}

func keptAside(t *testing.T, _, aside string) {
	if got, want := readLines(t, aside), values(0, 4); !slices.Equal(got, want) {
		t.Errorf("the moved file: got %q; want %q", got, want)
	}
}

const replacement = "{\"edited\":true}\n"

func replace(t *testing.T, path, _ string) {
	tmp := path + ".edit"
	if err := os.WriteFile(tmp, []byte(replacement), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func keptReplacement(t *testing.T, path, _ string) {
	if got, err := os.ReadFile(path); err != nil || string(got) != replacement {
		t.Errorf("the replacing file: got %q, %v; want %q", got, err, replacement)
	}
}

func cutShort(t *testing.T, path, _ string) {
	if err := os.Truncate(path, 3); err != nil {
		t.Fatal(err)
	}
}

func keptCut(t *testing.T, path, _ string) {
	if fi, err := os.Stat(path); err != nil || fi.Size() != 3 {
		t.Errorf("the file cut short: got %v, %v; want it left at 3 bytes", fi, err)
	}
}

func gzipByHand(t *testing.T, path, _ string) {
	if err := compressTo(path+".gz", path, CompressionGzip, 0o640, false); err != nil {
		t.Fatal(err)
	}
	remove(t, path, "")
}

func keptGzipped(t *testing.T, path, _ string) {
	if _, err := os.Stat(path + ".gz"); err != nil {
		t.Errorf("the file compressed by hand: %v", err)
	}
}

// TestActiveFileGoneBeforeRotation: a rotation finds the active file gone
// (removed by hand, then the hour ends with no new line): nothing to
// compress, no error, no retry loop; the next line starts a new file.
func TestActiveFileGoneBeforeRotation(t *testing.T) {
	dir := t.TempDir()
	clk := newClock(t0())
	a := testArchive(t, Config{Dir: dir, Compression: CompressionGzip, Now: clk.Now})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(0, 4, t0()))
	remove(t, filepath.Join(dir, DataPath("tweets", 0, 0, t0())), "")
	clk.Set(t0().Add(2 * time.Hour))
	if err := p.Tick(); err != nil {
		t.Fatalf("Tick: %v", err)
	}
	if p.active != nil || p.ckpt.Active != "" {
		t.Fatalf("after the rotation: active %v, checkpoint names %q; want none", p.active, p.ckpt.Active)
	}
	mustAppend(t, p, recs(5, 6, t0().Add(2*time.Hour)))
	if got, want := allLines(t, dir, "tweets"), values(5, 6); !slices.Equal(got, want) {
		t.Errorf("lines: got %q; want %q", got, want)
	}
}

// TestDeadLetterFileCutShortLeftAlone: as a data file, a dead-letter file
// cut short while the consumer was stopped is left as it is, and the next
// dead letter starts a new file.
func TestDeadLetterFileCutShortLeftAlone(t *testing.T) {
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, []Record{recs(0, 0, t0())[0], badAt(1)})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, DeadLetterPath("tweets", 0, 1))
	cutShort(t, old, "")
	p = openPartition(t, a, "tweets", 0)
	mustAppend(t, p, []Record{recs(2, 2, t0())[0], badAt(3)})
	keptCut(t, old, "")
	var offsets []string
	for _, f := range dataFiles(t, filepath.Join(dir, deadLetterDirName), "tweets") {
		if filepath.Join(dir, deadLetterDirName, f) != old {
			offsets = append(offsets, deadLetterOffsets(t, readLines(t, filepath.Join(dir, deadLetterDirName, f)))...)
		}
	}
	if want := []string{"3"}; !slices.Equal(offsets, want) {
		t.Errorf("dead letters in the new file: got offsets %v; want %v", offsets, want)
	}
}
