//go:build unix

package archive

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWritevShortWrites: whatever writev takes per call (a few bytes, part
// of a buffer, an interruption), more buffers than one call may carry are
// written whole and in order, no call carrying more than writeChunk bytes
// unless it is one buffer larger than that.
func TestWritevShortWrites(t *testing.T) {
	for _, tc := range []struct {
		limit int // bytes the fake writev takes per call; 0: 3 bytes of the first buffer
		big   bool
	}{{0, false}, {1, false}, {7, false}, {4096, true}, {1 << 30, true}} {
		t.Run(fmt.Sprintf("limit=%d", tc.limit), func(t *testing.T) {
			var l lines
			var want []byte
			n := 3000 // 6000 buffers: several writev calls
			if !tc.big {
				n = 1200
			}
			for i := range n {
				v := fmt.Appendf(nil, `{"id":%d,"text":"%s"}`, i, bytes.Repeat([]byte("é"), i%17))
				if tc.big {
					v = fmt.Appendf(nil, `{"id":%d,"text":"%s"}`, i, bytes.Repeat([]byte("é"), i%17+(i%5)*200))
					if i == 1500 {
						v = bytes.Repeat([]byte("x"), 3<<19) // larger than writeChunk: written alone
					}
				}
				l.add(v)
				want = append(append(want, v...), '\n')
			}
			if l.size != int64(len(want)) {
				t.Fatalf("size %d; want %d", l.size, len(want))
			}
			calls, interrupted := 0, false
			sysWritev = func(fd int, iovs [][]byte) (int, error) {
				calls++
				if len(iovs) > iovMax {
					t.Fatalf("writev with %d buffers; at most %d", len(iovs), iovMax)
				}
				if size := len(bytes.Join(iovs, nil)); size > writeChunk && len(iovs) > 1 {
					t.Fatalf("writev of %d bytes in %d buffers; at most %d unless one buffer", size, len(iovs), writeChunk)
				}
				if !interrupted {
					interrupted = true
					return 0, syscall.EINTR
				}
				if tc.limit == 0 {
					return syscall.Write(fd, iovs[0][:min(len(iovs[0]), 3)]) // less than one buffer
				}
				n := 0
				for _, v := range iovs {
					k := min(len(v), tc.limit-n)
					w, err := syscall.Write(fd, v[:k])
					n += w
					if err != nil || w < len(v) || n >= tc.limit {
						return n, err
					}
				}
				return n, nil
			}
			t.Cleanup(func() { sysWritev = unixWritev })
			path := filepath.Join(t.TempDir(), "data")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := writev(f, append([][]byte(nil), l.vecs...)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, want) {
				t.Fatalf("file holds %d bytes, want %d; equal prefix %d", len(got), len(want), commonPrefix(got, want))
			}
			if calls < 3 {
				t.Fatalf("%d writev calls for %d buffers", calls, len(l.vecs))
			}
		})
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// TestWritevNamesTheFile: a failed write (here a full disk) names the file
// written to, for the log.
func TestWritevNamesTheFile(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full to stand for a full disk")
	}
	defer f.Close()
	err = writev(f, [][]byte{[]byte(`{"n":1}`), []byte("\n")})
	if err == nil || !strings.Contains(err.Error(), "writev /dev/full: no space left on device") {
		t.Fatalf("got %v; want an error naming /dev/full", err)
	}
}
