package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tweetpipe/tweetpipe/internal/pagecache"
	"github.com/tweetpipe/tweetpipe/internal/pagecache/cachetest"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// synced writes data to path and fsyncs it: the kernel drops only clean
// pages.
func synced(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	cachetest.WriteSynced(t, path, data)
}

// TestReplayDropsThePagesItRead: with REPLAY_PAGE_CACHE=drop (the default)
// a replayed file, plain, a Stream Grab tar or zip (its members stored in
// time order, and in the reverse) or a .tar.gz, read from the disk, leaves
// the page cache as it is read, and none of it stays once it is done
// (stored in the reverse, none but what the kernel is still reading ahead
// when the file is closed); with keep its pages stay where the kernel put
// them. While it is replayed
// what stays is what was read since the last drop and the kernel's
// read-ahead (up to twice read_ahead_kb, 8 MiB on the machine of
// docs/performance.md: 24 MiB in all there, 16 MiB seen), so for a 64 MiB
// file under three quarters of it (skipped where the disk reads ahead
// more than 16 MiB); without the drops as it is read it would be nearly
// all of it by the end. TestReplayDropsAsItReads
// checks the drops themselves.
func TestReplayDropsThePagesItRead(t *testing.T) {
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	synced(t, probe, make([]byte, 1<<20))
	cold(t, probe)
	if in, _ := cachetest.ResidentFile(t, probe); in > 0 {
		t.Skipf("this file system keeps its pages when told to drop them (%d of a fsynced file's pages stay): nothing to tell", in)
	}
	if b, err := os.ReadFile(probe); err != nil {
		t.Fatal(err)
	} else if in, _ := cachetest.ResidentFile(t, probe); in == 0 {
		t.Skipf("this file system reads around the page cache (none of %d bytes just read is in it): nothing to tell", len(b))
	}
	ra := readAhead(t, probe)
	if ra > 16<<20 {
		t.Skipf("the disk reads %d MiB ahead: the bound while replaying assumes at most 16", ra>>20)
	}
	if ra == 0 {
		ra = 16 << 20 // not said: the most the test runs with
	}
	// What the kernel may still be reading ahead when the replay closes
	// the file: pages under read are locked, and the last drop passes
	// them by.
	inFlight := cachetest.Pages(int(2 * ra))
	for _, name := range pageCacheInputs {
		data := newPageCacheInput(t, name, 64<<20)
		for _, cache := range []string{PageCacheDrop, PageCacheKeep} {
			t.Run(name+"/"+cache, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), name)
				synced(t, path, data.file)
				cold(t, path)
				s := New(Config{Path: path, PageCache: cache}, quiet())
				var n, most int
				err := s.Run(context.Background(), func(_ context.Context, r source.Record) error {
					if n++; n%1000 == 0 {
						in, _ := cachetest.ResidentFile(t, path)
						most = max(most, in)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if n != data.lines {
					t.Fatalf("replayed %d lines; want %d", n, data.lines)
				}
				in, all := cachetest.ResidentFile(t, path)
				t.Logf("%s: at most %d of %d pages in the page cache while replayed, %d after", cache, most, all, in)
				switch {
				case cache == PageCacheKeep && in < all*9/10:
					t.Errorf("keep: %d of %d pages in the page cache after the replay; want nearly all", in, all)
				case cache == PageCacheDrop && !strings.HasPrefix(name, "reversed/") && in != 0:
					t.Errorf("drop: %d of %d pages in the page cache after the replay; want none", in, all)
				case cache == PageCacheDrop && in > inFlight:
					// Read in time order but stored in the reverse, its
					// last member is read from the file's start, and the
					// kernel reads ahead past it, into what was read and
					// dropped before, while the file is closed.
					t.Errorf("drop: %d of %d pages in the page cache after the replay; want none but what the kernel was still reading ahead (up to %d)", in, all, inFlight)
				case cache == PageCacheDrop && most > all*3/4:
					t.Errorf("drop: up to %d of %d pages in the page cache while replayed; want under three quarters", most, all)
				}
			})
		}
	}
}

// readAhead is the read_ahead_kb, in bytes, of the disk holding the file
// at path, or 0 when /sys does not say.
func readAhead(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	for _, q := range []string{dev + "/queue/read_ahead_kb", dev + "/../queue/read_ahead_kb"} {
		if b, err := os.ReadFile(q); err == nil {
			var kb int64
			if _, err := fmt.Sscan(string(b), &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// cold drops the file at path from the page cache, as an archive read
// from the disk is.
func cold(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pagecache.Drop(f, 0, 0)
}
