package cachetest

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Resident counts the pages of f's first size bytes that mincore reports
// in the page cache.
func Resident(t testing.TB, f *os.File, size int) int {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, Pages(size))
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// ResidentFile counts the pages of the file at path in the page cache, and
// its pages in all.
func ResidentFile(t testing.TB, path string) (in, all int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := int(fi.Size())
	return Resident(t, f, size), Pages(size)
}

// WriteSynced writes data to a new file at path and fsyncs it, so that the
// kernel can drop its pages (it drops only clean ones); the file is open
// for reading and writing, at its end, until the test ends.
func WriteSynced(t testing.TB, path string, data []byte) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return f
}

// Pages is how many pages size bytes take, the last maybe in part.
func Pages(size int) int {
	page := os.Getpagesize()
	return (size + page - 1) / page
}

// TakesDirect reports whether the file system of path opens it with
// O_DIRECT.
func TakesDirect(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		return false
	}
	_ = f.Close()
	return true
}

// KeepsPages reports whether the file system of path keeps every page in
// memory whatever the kernel is told (tmpfs, ramfs, overlayfs over them),
// with its type.
func KeepsPages(path string) (bool, int64) {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return false, 0
	}
	switch st.Type {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC, unix.OVERLAYFS_SUPER_MAGIC:
		return true, st.Type
	}
	return false, st.Type
}
