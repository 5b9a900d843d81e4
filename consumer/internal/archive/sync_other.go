//go:build !linux

package archive

import "os"

// syncData makes f's contents durable (fdatasync on Linux).
func syncData(f *os.File) error { return f.Sync() }
