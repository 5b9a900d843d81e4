package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// lockRetry is how often a busy partition lock is tried again.
const lockRetry = 100 * time.Millisecond

// lockFile takes an exclusive flock on path, creating the file if needed,
// and returns the open file that holds it; closing the file releases it.
// While another process (or another open of the file) holds the lock it
// retries every lockRetry until ctx is done. It needs flock, which only
// unix systems have; the consumer ships as a Linux container.
func lockFile(ctx context.Context, path string, mode os.FileMode, log *slog.Logger) (*os.File, error) {
	var retry *time.Ticker
	for {
		f, err := durable.TryLock(path, mode)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, durable.ErrLocked) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if retry == nil {
			log.Info("waiting for the partition lock held by another process", "path", path)
			retry = time.NewTicker(lockRetry)
			defer retry.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock %s: %w", path, context.Cause(ctx))
		case <-retry.C:
		}
	}
}
