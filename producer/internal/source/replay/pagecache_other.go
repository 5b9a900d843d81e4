//go:build !linux

package replay

import "os"

// dropCached is posix_fadvise's POSIX_FADV_DONTNEED on Linux; elsewhere the
// page cache is left to the system.
func dropCached(*os.File, int64, int64) {}
