//go:build !linux

package pagecache

import "os"

// Drop is posix_fadvise's POSIX_FADV_DONTNEED on Linux; elsewhere the page
// cache is left to the system.
func Drop(*os.File, int64, int64) {}
