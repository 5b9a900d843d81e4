//go:build unix

package archive

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFileModes: everything the archive creates, data and compressed
// files, dead letters, checkpoints, key files, locks and folders, is for
// the owner and the group only (0640, folders 0750) unless the user widens
// it. The umask is cleared so that only the archive's modes count.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, tt := range []struct {
		name          string
		mode          os.FileMode
		wantFile, dir os.FileMode
	}{
		{"default", 0, 0o640, 0o750},
		{"widened", 0o644, 0o644, 0o755},
		{"owner only", 0o600, 0o600, 0o700},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "out")
			a := testArchive(t, Config{Dir: dir, FileMode: tt.mode, Compression: CompressionGzip, RotateMaxBytes: 40, DedupWindow: 10})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, append(keyed(0, "a", "b", "c", "d", "e", "f"), badAt(6)))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want := tt.wantFile
				if d.IsDir() {
					want = tt.dir
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s: got mode %#o; want %#o", path, got, want)
				}
				seen[filepath.Ext(path)] = true
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, ext := range []string{".jsonl", ".gz", ".checkpoint", ".lock", ".0"} {
				if !seen[ext] {
					t.Errorf("no %s file was created to check", ext)
				}
			}
		})
	}
}

func TestFileModeRejected(t *testing.T) {
	for _, mode := range []os.FileMode{0o440, 0o4755, 0o200} {
		if _, err := Open(Config{Dir: t.TempDir(), FileMode: mode}, nil); err == nil {
			t.Errorf("Open with file mode %#o: got nil error; want one", mode)
		}
	}
}
