package archive

import (
	"errors"
	"io/fs"
	"os"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// syncDirs is durable.SyncDirs, which makes the name of a file just
// created durable; tests replace it to see which folders are fsynced.
var syncDirs = durable.SyncDirs

// exists reports whether path exists. Errors other than "does not exist"
// (permissions, I/O) are returned, never taken for "no".
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}
