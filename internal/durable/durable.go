// Package durable holds the file-system rules the stores that must survive a
// crash or a power loss follow (the consumer's archive, the producer's
// spool, the replay position and the Jetstream cursor): a directory is
// fsynced after the names in it change, a file is replaced by writing a
// temporary file, fsyncing it and renaming it over the old one, and a
// directory has one writer, held by an exclusive flock.
package durable

import (
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory, making the names it holds (files created,
// renamed or removed in it) durable.
func SyncDir(dir string) error {
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

// SyncDirs fsyncs dir and each of its parents up to and including root, so
// that directories os.MkdirAll just created are durable too.
func SyncDirs(dir, root string) error {
	for {
		if err := SyncDir(dir); err != nil {
			return err
		}
		parent := filepath.Dir(dir)
		if dir == root || parent == dir {
			return nil
		}
		dir = parent
	}
}

// Replace says how WriteFile writes its temporary file.
type Replace struct {
	// Temp is the temporary file's path, in the same directory as the
	// file replaced; it is created or truncated with Mode. "" means a
	// fresh name "."+base+".*.tmp" from os.CreateTemp (mode 0600), so
	// that two writers never share one.
	Temp string
	Mode os.FileMode
	// Reach, when not nil, is called with "atomic: temp file written"
	// once the temporary file is written, fsynced and closed, and with
	// "atomic: renamed" once it has the final name: the crash points
	// between the file operations (package crashpoint).
	Reach func(point string)
}

// WriteFile replaces path with data: it writes the temporary file, fsyncs
// it, renames it over path and fsyncs the directory. Readers see the old
// contents or the new, never a mix. renamed reports whether the rename
// happened; if it did, readers see the new contents even when err (from
// the directory fsync) is not nil. A temporary file is removed when the
// rename did not happen.
func WriteFile(path string, data []byte, r Replace) (renamed bool, err error) {
	reach := r.Reach
	if reach == nil {
		reach = func(string) {}
	}
	var f *os.File
	if r.Temp == "" {
		f, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	} else {
		f, err = os.OpenFile(r.Temp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, r.Mode)
	}
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		reach("atomic: temp file written")
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort; an old temp file is overwritten or swept later
		return false, err
	}
	reach("atomic: renamed")
	return true, SyncDir(filepath.Dir(path))
}
