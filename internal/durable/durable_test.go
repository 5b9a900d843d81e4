package durable

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name string
		temp string // relative to the directory; "" lets WriteFile pick
		mode os.FileMode
	}{
		{name: "named temporary file", temp: "state.tmp", mode: 0o640},
		{name: "fresh temporary name", temp: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state")
			if err := os.WriteFile(path, []byte("old contents, longer than the new"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := Replace{Mode: tt.mode}
			if tt.temp != "" {
				r.Temp = filepath.Join(dir, tt.temp)
			}
			var points []string
			r.Reach = func(p string) { points = append(points, p) }
			renamed, err := WriteFile(path, []byte("new"), r)
			if err != nil || !renamed {
				t.Fatalf("WriteFile: got renamed %v, err %v; want true, nil", renamed, err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "new" {
				t.Errorf("contents: got %q; want %q", got, "new")
			}
			if want := []string{"atomic: temp file written", "atomic: renamed"}; !slices.Equal(points, want) {
				t.Errorf("crash points: got %q; want %q", points, want)
			}
			if tt.mode != 0 {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != tt.mode {
					t.Errorf("mode: got %v; want %v", fi.Mode().Perm(), tt.mode)
				}
			}
			names := dirNames(t, dir)
			if !slices.Equal(names, []string{"state"}) {
				t.Errorf("directory: got %q; want only %q", names, "state")
			}
		})
	}
}

func TestWriteFileFailedRenameKeepsOld(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory cannot be replaced by a file: the rename fails.
	path := filepath.Join(dir, "state")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o750); err != nil {
		t.Fatal(err)
	}
	var points []string
	renamed, err := WriteFile(path, []byte("new"), Replace{Reach: func(p string) { points = append(points, p) }})
	if err == nil || renamed {
		t.Fatalf("WriteFile over a directory: got renamed %v, err %v; want false and an error", renamed, err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"state"}) {
		t.Errorf("directory after a failed rename: got %q; want only %q (the temporary file removed)", names, "state")
	}
	if want := []string{"atomic: temp file written"}; !slices.Equal(points, want) {
		t.Errorf("crash points: got %q; want %q", points, want)
	}
}

func TestSyncDirs(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := SyncDirs(deep, root); err != nil {
		t.Errorf("SyncDirs: got %v; want nil", err)
	}
	if err := SyncDir(filepath.Join(root, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir of a missing directory: got %v; want an error wrapping os.ErrNotExist", err)
	}
}

func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	first, err := TryLock(path, 0o640)
	if err != nil {
		t.Fatalf("first TryLock: got %v; want nil", err)
	}
	if _, err := TryLock(path, 0o640); !errors.Is(err, ErrLocked) {
		t.Errorf("TryLock while held: got %v; want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := TryLock(path, 0o640)
	if err != nil {
		t.Fatalf("TryLock after release: got %v; want nil", err)
	}
	_ = again.Close()
}

// dirNames lists every name in dir, hidden ones (a fresh temporary file's)
// included, in order.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}
