//go:build cgo && libzstd

package zstdcodec

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	for i, b := range lc.idle.free {
		if cap(b.in) > keepBuffer {
			t.Fatalf("idle batch %d holds a buffer of %d bytes; want at most %d", i, cap(b.in), keepBuffer)
		}
	}
	if len(lc.idle.free) == 0 {
		t.Fatal("no idle batch kept")
	}
	for range cap(lc.ctxs) {
		x := <-lc.ctxs
		defer func() { lc.ctxs <- x }()
		if cap(x.out) > keepBuffer {
			t.Fatalf("a compression context holds a frame buffer of %d bytes; want at most %d", cap(x.out), keepBuffer)
		}
	}
}

// TestLibContextsBounded: batches gathered at once, as kafka-go gathers one
// for each partition it writes, share GOMAXPROCS compression contexts (C
// memory Go's limit does not see) rather than making one each, and no more
// than that many compress at once; every frame is still libzstd's frame of
// its batch.
func TestLibContextsBounded(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // a set of 2, fewer than the batches
	var made, running, most atomic.Int32
	defer func(f func() zstd.Ctx) { newZstdCtx = f }(newZstdCtx)
	newZstdCtx = func() zstd.Ctx {
		made.Add(1)
		return &countingCtx{Ctx: zstd.NewCtx(), running: &running, most: &most}
	}
	c, _ := install(t, 0)
	const batches = 16
	data := make([][]byte, batches)
	out := make([]bytes.Buffer, batches)
	ws := make([]io.WriteCloser, batches)
	for i := range batches {
		data[i] = statuses(t, 50<<10+i*1000)
		ws[i] = c.NewWriter(&out[i])
		if _, err := ws[i].Write(data[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range batches {
		wg.Go(func() {
			if err := ws[i].Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := made.Load(); n > 2 {
		t.Fatalf("%d compression contexts made for %d batches gathered at once; want at most GOMAXPROCS, 2", n, batches)
	}
	if m := most.Load(); m < 1 || m > 2 {
		t.Fatalf("at most %d batches compressing at once; want 1 or 2 (GOMAXPROCS)", m)
	}
	for i := range batches {
		exp, err := zstd.CompressLevel(nil, data[i], libDefaultLevel)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out[i].Bytes(), exp) {
			t.Fatalf("batch %d: a frame of %d bytes; want libzstd's, %d bytes", i, out[i].Len(), len(exp))
		}
	}
}

// countingCtx counts its calls to CompressLevel running at once, across
// contexts, and keeps the most.
type countingCtx struct {
	zstd.Ctx
	running, most *atomic.Int32
}

func (c *countingCtx) CompressLevel(dst, src []byte, level int) ([]byte, error) {
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	time.Sleep(time.Millisecond) // long enough for the others to come in
	return c.Ctx.CompressLevel(dst, src, level)
}
