package twitter

import (
	"sync/atomic"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// Stats is a snapshot of the source's counters, for metrics and readiness.
// Counters only grow. Reconnects holds every stream.Reasons key; Messages
// counts statuses and notices alike.
type Stats struct {
	stream.Stats
	// LimitTrack is the number of statuses the server reported as withheld
	// by rate limiting (limit notices carry a running total per connection;
	// this adds up its increases over all connections).
	LimitTrack    int64
	LimitNotices  int64
	StallWarnings int64 // warning messages (FALLING_BEHIND)
	Disconnects   int64 // disconnect messages
}

type counters struct {
	stream.Counters
	limitTrack    atomic.Int64
	limitNotices  atomic.Int64
	stallWarnings atomic.Int64
	disconnects   atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Stats:         c.Snapshot(stream.Reasons()),
		LimitTrack:    c.limitTrack.Load(),
		LimitNotices:  c.limitNotices.Load(),
		StallWarnings: c.stallWarnings.Load(),
		Disconnects:   c.disconnects.Load(),
	}
}
