// Package retry waits between the attempts of something that fails for a
// while (a broker not up yet, a full disk, a refused commit): a wait that
// doubles from a first one to a ceiling, with jitter, cut short when a
// context ends. Every hand-written retry loop of both services uses it.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a doubling schedule: Initial, 2×Initial, ... up to Max. The
// zero value of the schedule's position starts at Initial; Reset starts it
// over.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	// Jitter takes a random part, up to this fraction, off each wait (0:
	// none), so that retriers that failed together do not all come back
	// at the same instant. A wait is never longer than the schedule's.
	Jitter float64

	next time.Duration
	// rand returns a number in [0, 1); nil is math/rand/v2's. Tests set it.
	rand func() float64
}

// Next returns the wait before the next attempt and doubles the one after,
// up to Max.
func (b *Backoff) Next() time.Duration {
	if b.next <= 0 {
		b.next = b.Initial
	}
	d := b.next
	b.next = min(2*b.next, max(b.Max, b.Initial))
	if b.Jitter > 0 {
		r := b.rand
		if r == nil {
			r = rand.Float64
		}
		d -= time.Duration(min(b.Jitter, 1) * r() * float64(d))
	}
	return d
}

// Reset starts the schedule over at Initial, after a success.
func (b *Backoff) Reset() { b.next = 0 }

// Wait sleeps for d, or until ctx ends; it reports whether the whole wait
// passed (false: ctx ended first).
func Wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
