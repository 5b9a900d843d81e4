package durable

import "errors"

// ErrLocked is returned by TryLock while another process, or another open
// of the same file, holds the lock.
var ErrLocked = errors.New("in use by another process")
