package replay

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of the file at path in the page cache
// (mincore), and its pages in all.
func resident(t *testing.T, path string) (in, all int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	page := os.Getpagesize()
	vec := make([]byte, (len(data)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		in += int(v & 1)
	}
	return in, len(vec)
}

// synced writes data to path and fsyncs it: the kernel drops only clean
// pages.
func synced(t *testing.T, path string, data []byte) {
	t.Helper()
	write(t, path, data)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// randomLines returns lines of random hex, about size bytes in all.
func randomLines(t *testing.T, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	raw := make([]byte, 500)
	for i := 0; b.Len() < size; i++ {
		if _, err := rand.Read(raw); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "{\"n\":%d,\"r\":\"%s\"}\n", i, hex.EncodeToString(raw))
	}
	return b.Bytes()
}

// TestReplayDropsThePagesItRead: with REPLAY_PAGE_CACHE=drop (the default)
// a replayed file, plain, a Stream Grab tar or a .tar.gz, leaves the page
// cache once read; with keep its pages stay where the kernel put them. The
// files are 11 to 20 MiB, past one drop (dropEvery) and a remainder at
// the close, which drops the whole file: a tar's entries after its last
// minute file too, and the folios around each drop's end (read-ahead makes
// large folios, which a drop ending inside one leaves).
func TestReplayDropsThePagesItRead(t *testing.T) {
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	synced(t, probe, make([]byte, 1<<20))
	pf, err := os.Open(probe)
	if err != nil {
		t.Fatal(err)
	}
	dropCached(pf, 0, 0)
	pf.Close()
	if in, _ := resident(t, probe); in > 0 {
		t.Skipf("this file system keeps its pages when told to drop them (%d of a fsynced file's pages stay): nothing to tell", in)
	}

	lines := randomLines(t, 20<<20)
	var members []grabMember
	// Four minute files, 5 MiB of lines each before gzip (about 2.6 MiB
	// after: random hex halves).
	for m, rest := 0, lines; m < 4; m++ {
		cut := len(rest)
		if m < 3 {
			cut = bytes.IndexByte(rest[len(lines)/4:], '\n') + len(lines)/4 + 1
		}
		members = append(members, grabMember{name: fmt.Sprintf("2010/04/19/17/%02d.json.gz", m), data: gz(t, rest[:cut])})
		rest = rest[cut:]
	}
	order := []int{0, 1, 2, 3}
	inputs := map[string]func(path string){
		"plain.jsonl": func(path string) { synced(t, path, lines) },
		"grab.tar":    func(path string) { var b bytes.Buffer; writeTar(t, &b, "", members, order); synced(t, path, b.Bytes()) },
		"grab.tar.gz": func(path string) {
			var b bytes.Buffer
			writeTar(t, &b, "", members, order)
			synced(t, path, gz(t, b.Bytes()))
		},
	}
	for name, create := range inputs {
		for _, cache := range []string{PageCacheDrop, PageCacheKeep} {
			t.Run(name+"/"+cache, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), name)
				create(path)
				if in, all := resident(t, path); in != all {
					t.Fatalf("%d of %d pages in the page cache before the replay; want all (just written)", in, all)
				}
				got := collect(t, New(Config{Path: path, PageCache: cache}, quiet()))
				if want := bytes.Count(lines, []byte("\n")); len(got) != want {
					t.Fatalf("replayed %d lines; want %d", len(got), want)
				}
				in, all := resident(t, path)
				switch {
				case cache == PageCacheKeep && in != all:
					t.Errorf("keep: %d of %d pages in the page cache after the replay; want all", in, all)
				case cache == PageCacheDrop && in != 0:
					t.Errorf("drop: %d of %d pages in the page cache after the replay; want none", in, all)
				}
				t.Logf("%s: %d of %d pages in the page cache after the replay", cache, in, all)
			})
		}
	}
}
