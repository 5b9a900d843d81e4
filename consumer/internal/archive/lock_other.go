//go:build !unix

package archive

import (
	"context"
	"errors"
	"log/slog"
	"os"
)

// lockFile needs flock, which only unix systems have; the consumer ships as a
// Linux container.
func lockFile(context.Context, string, os.FileMode, *slog.Logger) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
