//go:build !unix

package durable

import (
	"errors"
	"os"
)

// TryLock needs flock, which only unix systems have; the services ship as
// Linux containers.
func TryLock(string, os.FileMode) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
