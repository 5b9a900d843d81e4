package xv2

import (
	"sync/atomic"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
)

const numReasons = 5

// reasons lists every reconnect reason (twitter.Reason*), in a fixed order.
// ReasonDisconnect counts operational-disconnect messages.
func reasons() [numReasons]string {
	return [...]string{twitter.ReasonNetwork, twitter.ReasonStall, twitter.ReasonDisconnect, twitter.ReasonHTTP, twitter.ReasonRateLimit}
}

// Stats is a snapshot of the source's counters, for metrics and readiness.
// Counters only grow.
type Stats struct {
	Connected       bool             // a stream is open (readiness)
	Connections     int64            // streams opened (HTTP 200)
	Reconnects      map[string]int64 // by twitter.Reason*, every key present
	Stalls          int64            // connections closed for silence (also Reconnects[twitter.ReasonStall])
	Messages        int64            // lines emitted, posts and error objects alike
	Posts           int64            // lines with "data" emitted
	Errors          int64            // error objects emitted, operational-disconnect included
	Disconnects     int64            // operational-disconnect objects
	Backfills       int64            // connections that asked for backfill_minutes
	DroppedOversize int64            // lines over MaxMessageBytes, dropped
}

type counters struct {
	connected       atomic.Bool
	connections     atomic.Int64
	reconnects      [numReasons]atomic.Int64
	stalls          atomic.Int64
	messages        atomic.Int64
	posts           atomic.Int64
	errors          atomic.Int64
	disconnects     atomic.Int64
	backfills       atomic.Int64
	droppedOversize atomic.Int64
}

func (c *counters) reconnect(reason string) {
	for i, r := range reasons() {
		if r == reason {
			c.reconnects[i].Add(1)
		}
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Connected:       c.connected.Load(),
		Connections:     c.connections.Load(),
		Reconnects:      make(map[string]int64, numReasons),
		Stalls:          c.stalls.Load(),
		Messages:        c.messages.Load(),
		Posts:           c.posts.Load(),
		Errors:          c.errors.Load(),
		Disconnects:     c.disconnects.Load(),
		Backfills:       c.backfills.Load(),
		DroppedOversize: c.droppedOversize.Load(),
	}
	for i, r := range reasons() {
		s.Reconnects[r] = c.reconnects[i].Load()
	}
	return s
}
