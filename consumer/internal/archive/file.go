package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// syncDir fsyncs a directory, making the names it holds (files created,
// renamed or removed in it) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory to sync: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}

// syncDirs fsyncs dir and each of its parents up to and including root, so
// that directories MkdirAll just created are durable too.
func syncDirs(dir, root string) error {
	for {
		if err := syncDir(dir); err != nil {
			return err
		}
		parent := filepath.Dir(dir)
		if dir == root || parent == dir {
			return nil
		}
		dir = parent
	}
}

// writeFileAtomic replaces path with data: it writes path+".tmp", fsyncs it,
// renames it over path and fsyncs the directory. renamed reports whether the
// rename happened; if it did, readers see the new contents even when err
// (from the directory fsync) is not nil.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (renamed bool, err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		crashPoint("atomic: temp file written")
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort; an old temp file is overwritten next time
		return false, err
	}
	crashPoint("atomic: renamed")
	return true, syncDir(filepath.Dir(path))
}

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
