package archive

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of f that mincore reports in the page cache.
func resident(t *testing.T, f *os.File, size int) int {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (size+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestDropCachedLeavesThePageCache: the pages of a written, fsynced file are
// in the page cache, and dropCached takes them out (on a file system that
// keeps its files in the page cache only, tmpfs, it cannot: skipped).
func TestDropCachedLeavesThePageCache(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "data.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 1 << 20
	if _, err := f.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	pages := size / os.Getpagesize()
	if got := resident(t, f, size); got != pages {
		t.Skipf("%d of %d pages in the page cache right after writing; the file system does not keep them there as a disk's does", got, pages)
	}
	dropCached(f, 0, size)
	if got := resident(t, f, size); got == pages {
		var st unix.Statfs_t
		if unix.Fstatfs(int(f.Fd()), &st) == nil && st.Type == unix.TMPFS_MAGIC {
			t.Skip("tmpfs keeps its files in the page cache")
		}
		t.Errorf("after dropCached: %d of %d pages still in the page cache; want fewer", got, pages)
	}
}
