package replay

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
)

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

// pageCacheInput is a file to replay and the lines it holds.
type pageCacheInput struct {
	file  []byte
	lines int
}

// pageCacheInputs are the names of newPageCacheInput's files.
var pageCacheInputs = []string{"plain.jsonl", "grab.tar", "reversed/grab.tar", "grab.tar.gz", "grab.zip", "reversed/grab.zip"}

// newPageCacheInput returns size bytes of lines as the file name: a plain
// file, a Stream Grab tar of four minute files stored in time order, the
// same stored in the reverse order, that tar gzipped, or a zip of the
// same minute files in time order or the reverse. The gzip files are
// stored, not compressed (gzip.NoCompression), so each but the zips is of
// about size bytes; a zip deflates one of its four members (writeZip), so
// is of about seven eighths of it.
func newPageCacheInput(t *testing.T, name string, size int) pageCacheInput {
	t.Helper()
	lines := randomLines(t, size)
	var members []grabMember
	for m, rest := 0, lines; m < 4; m++ {
		cut := len(rest)
		if m < 3 {
			cut = bytes.IndexByte(rest[len(lines)/4:], '\n') + len(lines)/4 + 1
		}
		members = append(members, grabMember{name: fmt.Sprintf("2010/04/19/17/%02d.json.gz", m), data: stored(t, rest[:cut])})
		rest = rest[cut:]
	}
	tarred := func(order []int) []byte {
		var b bytes.Buffer
		writeTar(t, &b, "", members, order)
		return b.Bytes()
	}
	zipped := func(order []int) []byte {
		var b bytes.Buffer
		writeZip(t, &b, "", members, order)
		return b.Bytes()
	}
	n := bytes.Count(lines, []byte("\n"))
	switch name {
	case "plain.jsonl":
		return pageCacheInput{lines, n}
	case "grab.tar":
		return pageCacheInput{tarred([]int{0, 1, 2, 3}), n}
	case "reversed/grab.tar":
		return pageCacheInput{tarred([]int{3, 2, 1, 0}), n}
	case "grab.tar.gz":
		return pageCacheInput{stored(t, tarred([]int{0, 1, 2, 3})), n}
	case "grab.zip":
		return pageCacheInput{zipped([]int{0, 1, 2, 3}), n}
	case "reversed/grab.zip":
		return pageCacheInput{zipped([]int{3, 2, 1, 0}), n}
	}
	t.Fatalf("no input %q", name)
	return pageCacheInput{}
}

// stored is data in a gzip stream without compression.
func stored(t *testing.T, data []byte) []byte {
	return gzipLevel(t, data, gzip.NoCompression)
}

// dropCall is one drop of a file's pages: off and n as given to pagecache.Drop.
type dropCall struct{ off, n int64 }

// TestReplayDropsAsItReads: with REPLAY_PAGE_CACHE=drop (the default) the
// replay drops a file's pages each time it has read dropEvery bytes more,
// always from the file's start (a drop of only the range since the last
// one would leave the large folio across its start) to the furthest byte
// read, and the whole file when done. A tar whose members are stored in
// the reverse of time order is read from its end backwards (its furthest
// byte is the file's end from the first read), and is dropped as it goes
// all the same. A .tar.gz's listing, which reads the whole file, drops as
// it reads too; a .tar's (its headers) and a .zip's (its central
// directory, at its end) drop nothing, and a zip's directory, read before
// its members, does not count as read: a zip stored in time order is
// dropped behind its reading, not ahead of it. With keep nothing is
// dropped.
func TestReplayDropsAsItReads(t *testing.T) {
	for _, name := range pageCacheInputs {
		data := newPageCacheInput(t, name, 20<<20)
		for _, cache := range []string{PageCacheDrop, PageCacheKeep} {
			t.Run(name+"/"+cache, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), name)
				write(t, path, data.file)
				var (
					mu    sync.Mutex
					calls []dropCall
				)
				cfg := Config{Path: path, PageCache: cache}
				cfg.dropPages = func(f *os.File, off, n int64) {
					if f.Name() != path {
						t.Errorf("dropped %s's pages; want only %s's", f.Name(), path)
					}
					mu.Lock()
					calls = append(calls, dropCall{off, n})
					mu.Unlock()
				}
				if got := collect(t, New(cfg, quiet())); len(got) != data.lines {
					t.Fatalf("replayed %d lines; want %d", len(got), data.lines)
				}
				if cache == PageCacheKeep {
					if len(calls) > 0 {
						t.Errorf("keep: dropped %v; want nothing dropped", calls)
					}
					return
				}
				// Listing: a .tar.gz's as it is read, then the whole
				// file; a .tar's is left to the replay's drops.
				replay := calls
				if name == "grab.tar.gz" {
					i := slices.Index(calls, dropCall{0, 0}) // the whole file's
					if i < 0 {
						t.Fatalf("drops %v: none of the whole file after the listing", calls)
					}
					replay = calls[i+1:]
				}
				if len(replay) == 0 || replay[len(replay)-1] != (dropCall{0, 0}) {
					t.Fatalf("drops while replayed %v; want the whole file's (0, 0) last", replay)
				}
				size := int64(len(data.file))
				var last int64
				for _, c := range replay[:len(replay)-1] {
					if c.off != 0 || c.n < last || c.n <= 0 || c.n > size {
						t.Fatalf("drops while replayed %v: each must be from 0 to the furthest byte read (as far as the last, or further), within the file's %d bytes", replay, size)
					}
					last = c.n
				}
				// Stored in time order, it is read from its start: the
				// first drop, once dropEvery bytes are read, is of those
				// (and a read's worth, headers, a tar's padding), not of
				// the whole file.
				if first := replay[0].n; !strings.HasPrefix(name, "reversed/") && len(replay) > 1 && first > dropEvery+1<<20 {
					t.Errorf("drops while replayed %v: the first reaches byte %d of %d, ahead of the reading (at about %d)", replay, first, size, dropEvery)
				}
				// Its data is read once (a tar's headers and padding are
				// not): a drop each dropEvery bytes of it.
				if want := int(size*9/10) / dropEvery; len(replay)-1 < want {
					t.Errorf("%d drops while %d bytes were replayed; want at least %d (one each %d bytes): %v", len(replay)-1, size, want, dropEvery, replay)
				}
			})
		}
	}
}
