package archive

import (
	"os"
	"syscall"
)

// syncData makes f's contents durable with fdatasync: the checkpoint file
// is written in place, within its size, so the metadata a full fsync would
// also write (its times) is not needed to read it back.
func syncData(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fdatasync(int(fd)); serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
