package manifest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/internal/pagecache/cachetest"
)

// TestDroppedFilesReadAroundThePageCache: where the archive drops its pages
// (OUTPUT_PAGE_CACHE=drop), the hour's manifest reads its files around the
// page cache, and the pages stay out of it; read through the cache, they
// come back, the kernel reading them from the disk (skipped where the file
// system keeps them: tmpfs, ramfs, overlayfs).
func TestDroppedFilesReadAroundThePageCache(t *testing.T) {
	for _, uncached := range []bool{true, false} {
		fx := newFixture(t, 1, archive.Config{DropPageCache: true})
		fx.cfg.Uncached = uncached
		fx.write(0, 0, 99_999, h10)
		fx.clk.Set(h10.Add(3 * time.Hour))
		fx.tick()
		names, err := filepath.Glob(filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10), "tweets-p*"))
		if err != nil || len(names) != 1 {
			t.Fatalf("data files of 10:00: %v, %v; want one", names, err)
		}
		if !cachetest.TakesDirect(names[0]) {
			t.Skip("the file system does not take O_DIRECT")
		}
		// The archive dropped every page but the last, partly written.
		if n, pages := cachetest.ResidentFile(t, names[0]); n > 1 {
			if keeps, typ := cachetest.KeepsPages(names[0]); keeps {
				t.Skipf("file system type %#x keeps the pages (%d of %d)", typ, n, pages)
			}
			t.Fatalf("%d of %d pages in the page cache before the manifest; the archive drops all but the last", n, pages)
		}
		if got := fx.pass(fx.finalizer()); len(got) != 1 {
			t.Fatalf("uncached %v: manifests written %v; want the one of 10:00", uncached, got)
		}
		n, pages := cachetest.ResidentFile(t, names[0])
		switch {
		case uncached && n > 1:
			t.Errorf("read uncached: %d of %d pages in the page cache after the manifest; want at most 1", n, pages)
		case !uncached && n != pages:
			t.Errorf("read through the cache: %d of %d pages in the page cache after the manifest; want all", n, pages)
		}
		fx.check(h10)
	}
}
