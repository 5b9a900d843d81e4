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
// in the page cache, and dropCached takes them all out (skipped on a file
// system that keeps them: tmpfs, ramfs, overlayfs).
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
	got := resident(t, f, size)
	if got == 0 {
		return
	}
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) == nil {
		switch st.Type {
		case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC, unix.OVERLAYFS_SUPER_MAGIC:
			t.Skipf("file system type %#x keeps the pages (%d of %d after dropCached)", st.Type, got, pages)
		}
	}
	t.Errorf("after dropCached: %d of %d pages still in the page cache; want none", got, pages)
}
