//go:build unix

package archive

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWritevShortWrites: whatever writev takes per call (a few bytes, part
// of a buffer, an interruption), more buffers than one call may carry are
// written whole and in order.
func TestWritevShortWrites(t *testing.T) {
	var l lines
	var want []byte
	for i := range 3000 { // 6000 buffers: several writev calls
		v := fmt.Appendf(nil, `{"id":%d,"text":"%s"}`, i, bytes.Repeat([]byte("é"), i%17))
		l.add(v)
		want = append(append(want, v...), '\n')
	}
	for _, limit := range []int{0, 1, 7, 4096, 1 << 30} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			calls, interrupted := 0, false
			sysWritev = func(fd int, iovs [][]byte) (int, error) {
				calls++
				if len(iovs) > iovMax {
					t.Fatalf("writev with %d buffers; at most %d", len(iovs), iovMax)
				}
				if !interrupted {
					interrupted = true
					return 0, syscall.EINTR
				}
				if limit == 0 {
					return syscall.Write(fd, iovs[0][:min(len(iovs[0]), 3)]) // less than one buffer
				}
				n := 0
				for _, v := range iovs {
					k := min(len(v), limit-n)
					w, err := syscall.Write(fd, v[:k])
					n += w
					if err != nil || w < len(v) || n >= limit {
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
			vecs := append([][]byte(nil), l.vecs...)
			if err := writev(f, vecs); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, want) {
				t.Fatalf("file holds %d bytes, want %d; equal prefix %d", len(got), len(want), commonPrefix(got, want))
			}
			if calls < 2 {
				t.Fatalf("%d writev calls for %d buffers", calls, len(vecs))
			}
		})
	}
	if l.size != int64(len(want)) {
		t.Fatalf("size %d; want %d", l.size, len(want))
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
