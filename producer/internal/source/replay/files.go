package replay

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files lists what path names, in name order: a file, every file below a
// directory, or what a glob matches. From directories and globs it takes
// .json and .jsonl files, plain or with .gz, .bz2 or .zst, and .tar,
// .tar.gz, .tgz and .zip archives.
func Files(path string) ([]string, error) {
	info, err := os.Stat(path)
	switch {
	case err == nil && !info.IsDir():
		return []string{path}, nil
	case err == nil:
		var files []string
		err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isInput(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("REPLAY_PATH: listing %s: %w", path, err)
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("REPLAY_PATH: no .json or .jsonl files (plain, .gz, .bz2 or .zst) nor .tar, .tar.gz, .tgz or .zip archives under %s", path)
		}
		return files, nil
	}
	matches, gerr := filepath.Glob(path)
	if gerr != nil {
		return nil, fmt.Errorf("REPLAY_PATH: bad pattern %q: %w", path, gerr)
	}
	var files []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && !fi.IsDir() && isInput(m) {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("REPLAY_PATH: %s: no such file, directory or matching .json/.jsonl files or .tar/.tar.gz/.tgz/.zip archives", path)
	}
	slices.Sort(files)
	return files, nil
}

func isInput(p string) bool { return isStreamFile(p) || isArchive(p) }

func isStreamFile(p string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(p, ".gz"), ".bz2"), ".zst")
	return strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".jsonl")
}
