package archive

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/tweetpipe/tweetpipe/internal/pagecache"
	"github.com/tweetpipe/tweetpipe/internal/pagecache/cachetest"
)

// writeSynced writes data to a new file in a temporary folder and fsyncs
// it; the file is open for reading and writing at its end.
func writeSynced(t *testing.T, data []byte) *os.File {
	t.Helper()
	return cachetest.WriteSynced(t, filepath.Join(t.TempDir(), "data.jsonl"), data)
}

// TestReadUncached: ReadUncached gives a file's bytes as they are, whatever
// its size against the reader's aligned chunks and whatever the caller's
// reads, and where the file system takes direct I/O it leaves the pages it
// read out of the page cache.
func TestReadUncached(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, directAlign - 1, directAlign, directAlign + 1, uncachedChunk, uncachedChunk + directAlign + 3, 3*uncachedChunk - 1} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		f := writeSynced(t, data)
		direct := cachetest.TakesDirect(f.Name())
		for _, how := range []string{"whole", "a byte at a time"} {
			r, err := os.Open(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			pagecache.Drop(r, 0, int64(size))
			// Where the pages left and direct I/O is taken, they must stay
			// out; on tmpfs, which takes O_DIRECT since Linux 6.6, they
			// never leave.
			watch := size >= 64*directAlign && cachetest.Resident(t, f, size) <= 1
			src := ReadUncached(r)
			if direct && !hasDirect(t, r) {
				t.Fatalf("%d bytes, %s: the file system takes O_DIRECT; ReadUncached did not set it", size, how)
			}
			if how == "a byte at a time" {
				src = iotest.OneByteReader(src)
			}
			got, err := io.ReadAll(src)
			_ = r.Close()
			if err != nil {
				t.Fatalf("%d bytes, %s: %v", size, how, err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%d bytes, %s: read %d bytes, not the file's", size, how, len(got))
			}
			if !watch || !direct {
				continue
			}
			// All but the last, partly written page, which the kernel
			// may keep.
			if n := cachetest.Resident(t, f, size); n > 1 {
				t.Errorf("%d bytes, %s: %d pages in the page cache after reading around it; want at most 1", size, how, n)
			}
		}
	}
}

// TestReadUncachedFallsBack: a direct read the file system refuses (here at
// an offset not aligned, where ext4 and XFS refuse it) is done again through
// the page cache, from where it was: no byte is lost or read twice.
func TestReadUncachedFallsBack(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*uncachedChunk/16+5)
	f := writeSynced(t, data)
	r, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seek(1, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(ReadUncached(r))
	if err != nil {
		t.Fatalf("read from offset 1: %v", err)
	}
	if !bytes.Equal(got, data[1:]) {
		t.Errorf("read from offset 1: %d bytes, not the file's %d after its first", len(got), len(data)-1)
	}
}

// hasDirect reports whether f reads with O_DIRECT.
func hasDirect(t *testing.T, f *os.File) bool {
	t.Helper()
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.O_DIRECT != 0
}

// TestCompressReadsUncached: with the archive dropping its pages, the
// rotated file is compressed from a read around the page cache, which
// leaves its dropped pages out, and the compressed file's pages are dropped
// once fsynced; with keep both stay in the cache.
func TestCompressReadsUncached(t *testing.T) {
	data := bytes.Repeat([]byte(`{"id":1,"text":"a line of the archive"}`+"\n"), 60_000)
	for _, uncached := range []bool{true, false} {
		f := writeSynced(t, data)
		pagecache.Drop(f, 0, int64(len(data)))
		if !cachetest.TakesDirect(f.Name()) || cachetest.Resident(t, f, len(data)) > 1 {
			t.Skip("the file system keeps the pages or refuses O_DIRECT")
		}
		if err := compressTo(f.Name()+".gz", f.Name(), CompressionGzip, 0o640, uncached); err != nil {
			t.Fatal(err)
		}
		n, pages := cachetest.Resident(t, f, len(data)), cachetest.Pages(len(data))
		if uncached && n > 1 {
			t.Errorf("uncached: %d of %d pages of the plain file in the page cache after compressing it; want at most 1", n, pages)
		}
		if !uncached && n != pages {
			t.Errorf("through the cache: %d of %d pages in the page cache after compressing; want all", n, pages)
		}
		zf, err := os.Open(f.Name() + ".gz")
		if err != nil {
			t.Fatal(err)
		}
		zi, err := zf.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if n, zpages := cachetest.Resident(t, zf, int(zi.Size())), cachetest.Pages(int(zi.Size())); uncached && n != 0 {
			t.Errorf("uncached: %d of %d pages of the compressed file in the page cache; want none", n, zpages)
		} else if !uncached && n != zpages {
			t.Errorf("through the cache: %d of %d pages of the compressed file in the page cache; want all", n, zpages)
		}
		zr, err := gzip.NewReader(zf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		_ = zf.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("uncached %v: the compressed file holds %d bytes (%v); want the %d written", uncached, len(got), err, len(data))
		}
	}
}
