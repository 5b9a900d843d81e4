package pagecache

import (
	"os"

	"golang.org/x/sys/unix"
)

// Drop asks the kernel to drop n bytes of f from offset off from the page
// cache (posix_fadvise POSIX_FADV_DONTNEED); n 0 is to the end of the
// file. The kernel drops only clean pages, and only whole folios in the
// range. An error is not returned: the advice changes no data.
func Drop(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.Fadvise(int(fd), off, n, unix.FADV_DONTNEED)
	})
}
