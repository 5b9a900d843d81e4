//go:build !linux

package archive

import (
	"io"
	"os"
)

// dropCached leaves the page cache to the kernel where posix_fadvise is
// not used (cache.go).
func dropCached(*os.File, int64, int64) {}

// ReadUncached returns f: reads go through the page cache where O_DIRECT is
// not used (cache.go).
func ReadUncached(f *os.File) io.Reader { return f }
