//go:build !linux

package archive

import "os"

// dropCached leaves the page cache to the kernel where posix_fadvise is
// not used (cache.go).
func dropCached(*os.File, int64, int64) {}
