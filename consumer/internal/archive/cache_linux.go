package archive

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uncachedChunk is how much ReadUncached asks the disk for at a time, and
// directAlign the alignment of its buffer: direct I/O wants the memory and
// the offsets aligned to the device's logical block, 4,096 bytes at most
// on nearly every disk.
const (
	uncachedChunk = 1 << 20
	directAlign   = 4096
)

// ReadUncached returns a reader of f, opened for reading at its start, that
// reads around the page cache (O_DIRECT) where the file system allows it,
// and f itself where it does not (cache.go). It changes f's flags: read f
// only through the reader, then close it.
func ReadUncached(f *os.File) io.Reader {
	if setDirect(f, true) != nil {
		return f
	}
	buf := make([]byte, uncachedChunk+directAlign)
	if off := int(uintptr(unsafe.Pointer(&buf[0])) % directAlign); off != 0 {
		buf = buf[directAlign-off:]
	}
	return &uncached{f: f, buf: buf[:uncachedChunk], direct: true}
}

// setDirect sets or clears f's O_DIRECT flag; a file system without direct
// I/O refuses to set it (EINVAL).
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		var fl int
		if fl, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0); ferr != nil {
			return
		}
		if on {
			fl |= unix.O_DIRECT
		} else {
			fl &^= unix.O_DIRECT
		}
		_, ferr = unix.FcntlInt(fd, unix.F_SETFL, fl)
	}); err != nil {
		return err
	}
	return ferr
}

// uncached reads a file in aligned chunks of its buffer.
type uncached struct {
	f      *os.File
	buf    []byte
	r, w   int // the bytes of buf not yet read
	direct bool
}

func (u *uncached) Read(p []byte) (int, error) {
	if u.r == u.w {
		n, err := u.f.Read(u.buf)
		if u.direct && errors.Is(err, unix.EINVAL) {
			// Direct I/O set but refused here (an alignment larger than
			// directAlign): the rest goes through the page cache.
			u.direct = false
			if err = setDirect(u.f, false); err != nil {
				return 0, err
			}
			n, err = u.f.Read(u.buf)
		}
		u.r, u.w = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, u.buf[u.r:u.w])
	u.r += n
	return n, nil
}
