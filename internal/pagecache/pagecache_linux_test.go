package pagecache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tweetpipe/tweetpipe/internal/pagecache/cachetest"
)

// TestDropLeavesThePageCache: the pages of a written, fsynced file are
// in the page cache, and Drop takes them all out (skipped on a file
// system that keeps them: tmpfs, ramfs, overlayfs).
func TestDropLeavesThePageCache(t *testing.T) {
	const size = 1 << 20
	f := cachetest.WriteSynced(t, filepath.Join(t.TempDir(), "data"), make([]byte, size))
	pages := size / os.Getpagesize()
	if got := cachetest.Resident(t, f, size); got != pages {
		t.Skipf("%d of %d pages in the page cache right after writing; the file system does not keep them there as a disk's does", got, pages)
	}
	Drop(f, 0, size)
	got := cachetest.Resident(t, f, size)
	if got == 0 {
		return
	}
	if keeps, typ := cachetest.KeepsPages(f.Name()); keeps {
		t.Skipf("file system type %#x keeps the pages (%d of %d after Drop)", typ, got, pages)
	}
	t.Errorf("after Drop: %d of %d pages still in the page cache; want none", got, pages)
}
