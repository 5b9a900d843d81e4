package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole frees the blocks of f's bytes [off, off+n) in place; the file
// keeps its size and reads zeros there.
func punchHole(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	if err := rc.Control(func(fd uintptr) {
		perr = unix.Fallocate(int(fd), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}); err != nil {
		return err
	}
	return perr
}
