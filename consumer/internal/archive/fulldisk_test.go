package archive

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
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
