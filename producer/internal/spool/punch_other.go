//go:build !linux

package spool

import (
	"errors"
	"os"
)

// punchHole is Linux's fallocate(FALLOC_FL_PUNCH_HOLE); elsewhere it
// reports that it cannot.
func punchHole(*os.File, int64, int64) error { return errors.ErrUnsupported }
