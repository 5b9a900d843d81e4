//go:build unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on path, creating the file if needed,
// and returns the open file that holds it; closing the file releases it.
// A directory another process (or another Open) holds is an error at once:
// two writers would interleave their segments.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	var lockErr error
	err = rc.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(lockErr, syscall.EINTR) {
				return
			}
		}
	})
	if err == nil {
		err = lockErr
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		err = errors.New("in use by another process")
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}
