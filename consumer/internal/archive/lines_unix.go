//go:build unix

package archive

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysWritev is unix.Writev; tests replace it to write less than asked.
var sysWritev = unixWritev

var unixWritev = unix.Writev

// iovMax is how many buffers one writev takes (IOV_MAX on Linux and the
// BSDs).
const iovMax = 1024

// writev writes vecs to f in as few writev calls as IOV_MAX allows,
// carrying on after short writes.
func writev(f *os.File, vecs [][]byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		werr = writevFD(int(fd), vecs)
		return true
	}); err != nil {
		return err
	}
	return werr
}

func writevFD(fd int, vecs [][]byte) error {
	for len(vecs) > 0 {
		batch := vecs[:min(len(vecs), iovMax)]
		n, err := sysWritev(fd, batch)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "writev", Path: "data file", Err: err}
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		// Drop what was written; a partly written buffer keeps its rest.
		for n > 0 {
			if n >= len(vecs[0]) {
				n -= len(vecs[0])
				vecs = vecs[1:]
				continue
			}
			vecs[0] = vecs[0][n:]
			n = 0
		}
	}
	return nil
}
