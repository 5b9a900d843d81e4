package group

import (
	"context"
	"sync"
	"time"
)

// minEarlyGap is the shortest time between the end of one write and an
// early hand-over (see writerGate): a partition that receives one message at
// a time fsyncs and checkpoints (and so commits) at most this often, about
// 100 times a second, rather than once per message.
const minEarlyGap = 10 * time.Millisecond

// writerGate lets a partition that is caught up (its last message was the
// last one the broker held) hand its batch to the writer as soon as the
// writer is idle, instead of waiting for the batch to fill or for
// BATCH_MAX_WAIT: waiting gains nothing when nothing more is there. While
// the writer is busy the batch keeps growing (a group commit), and the
// fetching goroutine is woken when the write is done. An early batch is not
// handed over before the last write's end plus as long as that write took
// (at least minEarlyGap), so a trickle of messages keeps the writer busy
// at most half the time. A full or due batch is handed over as before,
// whatever the gate says.
//
// The fetching goroutine calls early and handed, the writer written; the
// fields are shared by those two goroutines for a few lines each.
type writerGate struct {
	mu      sync.Mutex
	pending int                // batches handed over and not yet written
	readyAt time.Time          // no early hand-over before this
	wake    context.CancelFunc // ends the fetch that waits for the writer
}

// early reports whether a caught-up batch may go to the writer at now.
// When it may not because the writer is busy, wake is called once the
// writer is done; when the last write ended too recently, it returns when
// the batch may go.
func (g *writerGate) early(now time.Time, wake context.CancelFunc) (ok bool, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.pending > 0:
		g.wake = wake
		return false, time.Time{}
	case now.Before(g.readyAt):
		return false, g.readyAt
	}
	return true, time.Time{}
}

// handed counts a batch given to the writer.
func (g *writerGate) handed() {
	g.mu.Lock()
	g.pending++
	g.mu.Unlock()
}

// written counts a batch the writer is done with, whose write ran from
// start to end, and wakes the fetch waiting for it.
func (g *writerGate) written(start, end time.Time) {
	g.mu.Lock()
	g.pending--
	g.readyAt = end.Add(max(end.Sub(start), minEarlyGap))
	wake := g.wake
	g.wake = nil
	g.mu.Unlock()
	if wake != nil {
		wake()
	}
}
