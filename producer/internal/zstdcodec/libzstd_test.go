//go:build cgo && libzstd

package zstdcodec

import (
	"bytes"
	"strings"
	"testing"

	"github.com/DataDog/zstd"
)

// TestLibInstalled: a libzstd build installs the libzstd codec and names it.
func TestLibInstalled(t *testing.T) {
	c, _ := install(t, 0)
	if _, ok := c.(*libCodec); !ok || !strings.Contains(Encoder, "libzstd") {
		t.Fatalf("Install put %T in the table, Encoder %q; want *libCodec and libzstd", c, Encoder)
	}
}

// TestLibFrames: a batch's frame is libzstd's one-shot frame of the batch
// at the level, level 0 being zstd's default, 3 (librdkafka's and kcat's),
// gathered from kafka-go's small writes intact; a compressor reused for a
// smaller batch writes the same frame as a new one.
func TestLibFrames(t *testing.T) {
	for _, level := range []int{0, 1, 3, 19} {
		c, _ := install(t, level)
		want := level
		if level == 0 {
			want = 3
		}
		for _, n := range []int{0, 100, 700 << 10, 1536 << 10, 100 << 10} {
			data := statuses(t, n)
			exp, err := zstd.CompressLevel(nil, data, want)
			if err != nil {
				t.Fatal(err)
			}
			if got := frame(t, c, data, 37); !bytes.Equal(got, exp) {
				t.Fatalf("level %d, %d bytes: a frame of %d bytes; want libzstd's at level %d, %d bytes", level, n, len(got), want, len(exp))
			}
		}
	}
}

// TestLibBigBatchNotKept: the buffers of a batch beyond keepBuffer are
// dropped with it, not held for the next batch.
func TestLibBigBatchNotKept(t *testing.T) {
	c, _ := install(t, 0)
	lc := c.(*libCodec)
	frame(t, c, statuses(t, keepBuffer+1), 1<<20)
	frame(t, c, statuses(t, 1000), 1<<20)
	lc.idle.mu.Lock()
	defer lc.idle.mu.Unlock()
	for i, s := range lc.idle.free {
		if cap(s.in) > keepBuffer || cap(s.out) > keepBuffer {
			t.Fatalf("idle compressor %d holds buffers of %d and %d bytes; want at most %d", i, cap(s.in), cap(s.out), keepBuffer)
		}
	}
	if len(lc.idle.free) == 0 {
		t.Fatal("no idle compressor kept")
	}
}
