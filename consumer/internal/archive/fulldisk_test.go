package archive

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRotationOnFullDisk: a rotation that finds no space to compress the
// file leaves it uncompressed and goes on, rather than fail, and compress
// the whole file again at every retry while the disk stays full.
func TestRotationOnFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to stand for a full disk")
	}
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, Compression: CompressionGzip, RotateMaxBytes: 40})
	p := openPartition(t, a, "tweets", 0)
	fileA := DataPath("tweets", 0, 0, t0())
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, fileA)), 0o755); err != nil {
		t.Fatal(err)
	}
	// The compressed temp file is written to a device that is always full.
	if err := os.Symlink("/dev/full", filepath.Join(dir, fileA+".gz.tmp")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(recs(0, 9, t0())); err != nil {
		t.Fatalf("Append with the disk full for compression: %v", err)
	}
	files := dataFiles(t, dir, "tweets")
	if len(files) < 2 || files[0] != fileA {
		t.Fatalf("files: got %v; want %s rotated uncompressed, then others", files, fileA)
	}
	if got := allLines(t, dir, "tweets"); !slices.Equal(got, values(0, 9)) {
		t.Errorf("lines: got %q; want %q", got, values(0, 9))
	}
	if got := filepath.Ext(files[1]); got != ".gz" {
		t.Errorf("the next rotation, with space again: got %s; want it compressed", files[1])
	}
}

// TestTickBacksOffAfterFailedRotation: a rotation by age that fails (here
// its checkpoint meets a full disk after the file was compressed) is not
// tried again, compressing the whole file again, at every Tick: the next
// try waits, and then succeeds once there is space.
func TestTickBacksOffAfterFailedRotation(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to stand for a full disk")
	}
	dir := t.TempDir()
	clk := newClock(t0())
	a := testArchive(t, Config{Dir: dir, Compression: CompressionGzip, RotateInterval: time.Hour, Now: clk.Now})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(0, 4, t0()))
	ckpt := filepath.Join(dir, slotsPath("tweets", 0))
	full := ckpt + ".tmp"
	fill := func() {
		t.Helper()
		if err := os.Symlink("/dev/full", full); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		// A checkpoint written in place takes no space; one written
		// anew does. A copy in the file's place (a restore from a
		// backup) makes the archive write it anew, through the temp
		// file on the full disk.
		data, err := os.ReadFile(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ckpt+".copy", data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(ckpt+".copy", ckpt); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0().Add(time.Hour))
	fill()
	if err := p.Tick(); err == nil {
		t.Fatal("Tick with the disk full: got nil error; want one")
	}
	fill() // the failed write removed it
	for range 3 {
		if err := p.Tick(); err != nil {
			t.Errorf("Tick right after a failed rotation: got %v; want it to wait, not try again", err)
		}
	}
	if _, err := os.Lstat(full); err != nil {
		t.Errorf("the checkpoint was written again right after the failure: %v", err)
	}
	if err := os.Remove(full); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0().Add(time.Hour + time.Second))
	if err := p.Tick(); err != nil {
		t.Fatalf("Tick once the wait is over and there is space: %v", err)
	}
	if got, want := dataFiles(t, dir, "tweets"), []string{DataPath("tweets", 0, 0, t0()) + ".gz"}; !slices.Equal(got, want) {
		t.Errorf("files: got %v; want %v", got, want)
	}
	if got := allLines(t, dir, "tweets"); !slices.Equal(got, values(0, 4)) {
		t.Errorf("lines: got %q", got)
	}
}
