//go:build !unix

package spool

import (
	"errors"
	"os"
)

// lockFile needs flock, which only unix systems have; the producer ships as
// a Linux container.
func lockFile(string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
