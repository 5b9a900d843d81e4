//go:build unix

package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// lockRetry is how often a busy partition lock is tried again.
const lockRetry = 100 * time.Millisecond

// lockFile takes an exclusive flock on path, creating the file if needed,
// and returns the open file that holds it; closing the file releases it.
// While another process (or another open of the file) holds the lock it
// retries every lockRetry until ctx is done.
func lockFile(ctx context.Context, path string, mode os.FileMode, log *slog.Logger) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, mode)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	var retry *time.Ticker
	for {
		err := flock(f)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if retry == nil {
			log.Info("waiting for the partition lock held by another process", "path", path)
			retry = time.NewTicker(lockRetry)
			defer retry.Stop()
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, context.Cause(ctx))
		case <-retry.C:
		}
	}
}

// flock tries once to take an exclusive lock on f without blocking.
func flock(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
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
	if err != nil {
		return err
	}
	return lockErr
}
