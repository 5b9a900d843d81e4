package zstdcodec

import (
	"runtime"
	"sync"
)

// freeList holds what a codec keeps between batches (each codec has its
// own): Codec's idle encoders, libCodec's idle batch buffers. The one used
// last is on top: its memory is the likeliest to be in the CPU's caches.
// One is taken for each batch being gathered or compressed (kafka-go
// compresses a produce request's batches as it writes the request, on the
// goroutine of the connection that sends it); at most GOMAXPROCS + 1 are
// kept, and those made when more batches than that were in hand at once
// are dropped. A garbage collection does not empty it, as it does a
// sync.Pool.
type freeList[T any] struct {
	mu   sync.Mutex
	free []T
	max  int
}

func newFreeList[T any](first T) *freeList[T] {
	return &freeList[T]{free: []T{first}, max: runtime.GOMAXPROCS(0) + 1}
}

// get takes what was put back last, if anything is idle.
func (f *freeList[T]) get() (T, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var x T
	n := len(f.free)
	if n == 0 {
		return x, false
	}
	x = f.free[n-1]
	f.free = f.free[:n-1]
	return x, true
}

// put keeps x for the next batch unless max are idle already.
func (f *freeList[T]) put(x T) {
	f.mu.Lock()
	if len(f.free) < f.max {
		f.free = append(f.free, x)
	}
	f.mu.Unlock()
}
