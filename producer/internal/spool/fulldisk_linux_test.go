package spool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallDisk mounts a tmpfs of size bytes on a new directory and returns it,
// or skips the test where mounting is not allowed (not root, no
// CAP_SYS_ADMIN).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("needs a small file system: mount -t tmpfs failed (root with CAP_SYS_ADMIN can): %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// drain peeks and removes 100 records at a time until s is empty, and
// checks that they are rec(from) .. rec(to-1), in order.
func drain(t *testing.T, s *Spool, from, to int) {
	t.Helper()
	got := from
	for !s.Empty() {
		batch, err := s.Peek(100, 0)
		if err != nil {
			t.Fatalf("Peek on a full disk after record %d: %v", got, err)
		}
		checkRecords(t, batch, got, got+len(batch))
		if err := s.Remove(len(batch)); err != nil {
			t.Fatalf("Remove on a full disk after record %d: %v", got, err)
		}
		got += len(batch)
	}
	if got != to {
		t.Fatalf("drained up to record %d; want %d", got, to)
	}
}

// TestDrainOnFullDisk: with the spool's file system full (Kafka came back
// after something else took the rest of the disk), the spool still drains:
// Remove writes nothing new, and the space comes back: consumed segments
// are deleted, and a last segment, with no room for an empty one, has its
// records freed in place.
func TestDrainOnFullDisk(t *testing.T) {
	for _, tt := range []struct {
		name    string
		segment int64
	}{{"many segments", 16 << 10}, {"one segment", DefaultSegmentBytes}} {
		t.Run(tt.name, func(t *testing.T) {
			disk := smallDisk(t, "1m")
			dir := filepath.Join(disk, "spool")
			s := open(t, dir, Options{SegmentBytes: tt.segment})
			defer func() { _ = s.Close() }() // before the unmount, whatever happens
			appendEach(t, s, 0, 2000)
			fill(t, disk)
			if err := s.Append(recs(2000, 2100)...); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Append on a full disk = %v; want ENOSPC", err)
			}
			drain(t, s, 0, 2000)
			var st syscall.Statfs_t
			if err := syscall.Statfs(disk, &st); err != nil {
				t.Fatal(err)
			}
			if free := int64(st.Bavail) * st.Bsize; free < 64<<10 {
				t.Errorf("%d bytes free after draining; want the consumed records' space back", free)
			}
			closeSpool(t, s)
			s = open(t, dir, Options{SegmentBytes: tt.segment})
			if !s.Empty() {
				t.Errorf("reopened after draining on a full disk: %d records; want none", len(peekAll(t, s)))
			}
		})
	}
}
