// Package crashpoint lets a test stop a component at any point between two
// of its file operations, as a SIGKILL at that instant would, and then check
// what its recovery makes of the files left. The component calls Reach on
// its Hook between file operations; in production nothing arms the hook and
// Reach is a nil check. The archive (consumer) and the spool (producer)
// use it; their crash tests count the points a run passes, then run again
// crashing at each one, and at pairs close together (a crash during
// recovery).
//
// A crash is a panic that Try recovers. It leaves the files as a SIGKILL
// would only if the component holds nothing in user space that a SIGKILL
// would lose and the test then uses: both write with plain syscalls, and
// the tests reopen a copy of the directory, never the crashed objects.
package crashpoint

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Hook is a component's crash points. The zero value is disarmed.
type Hook struct {
	fn atomic.Pointer[func(point string)]
}

// Reach tells the hook that the component reached point.
func (h *Hook) Reach(point string) {
	if fn := h.fn.Load(); fn != nil {
		(*fn)(point)
	}
}

// set arms the hook with fn, or disarms it when fn is nil.
func (h *Hook) set(fn func(point string)) {
	if fn == nil {
		h.fn.Store(nil)
		return
	}
	h.fn.Store(&fn)
}

// crashed is the panic an armed hook raises.
type crashed struct{ point string }

// Arm makes Reach panic at the points whose numbers are in crashes,
// counting from 1 over every point reached until disarm is called; passed
// returns how many points were reached so far. Try recovers the panic.
func (h *Hook) Arm(crashes ...int) (passed func() int, disarm func()) {
	var mu sync.Mutex
	n := 0
	h.set(func(point string) {
		mu.Lock()
		n++
		crash := slices.Contains(crashes, n)
		mu.Unlock()
		if crash {
			panic(crashed{point})
		}
	})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}, func() { h.set(nil) }
}

// Record makes the hook note every point reached, by name, until disarm is
// called; seen returns them.
func (h *Hook) Record() (seen func() map[string]bool, disarm func()) {
	var mu sync.Mutex
	points := map[string]bool{}
	h.set(func(point string) {
		mu.Lock()
		points[point] = true
		mu.Unlock()
	})
	return func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(points)
	}, func() { h.set(nil) }
}

// Try runs f and returns the point where an armed hook crashed it, or ""
// when f ran through. Any other panic goes on.
func Try(f func()) (point string) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(crashed)
			if !ok {
				panic(r)
			}
			point = c.point
		}
	}()
	f()
	return ""
}
