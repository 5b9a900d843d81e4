package archive

import (
	"errors"
	"io/fs"
	"os"
)

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
