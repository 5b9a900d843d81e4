package xv2

import (
	"sync/atomic"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// Stats is a snapshot of the source's counters, for metrics and readiness.
// Counters only grow. Reconnects holds every stream.Reasons key
// (ReasonDisconnect counts operational-disconnect messages); Messages
// counts posts and error objects alike.
type Stats struct {
	stream.Stats
	Posts       int64 // lines with "data" emitted
	Errors      int64 // error objects emitted, operational-disconnect included
	Disconnects int64 // operational-disconnect objects
	Backfills   int64 // connections that asked for backfill_minutes
}

type counters struct {
	stream.Counters
	posts       atomic.Int64
	errors      atomic.Int64
	disconnects atomic.Int64
	backfills   atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Stats:       c.Snapshot(stream.Reasons()),
		Posts:       c.posts.Load(),
		Errors:      c.errors.Load(),
		Disconnects: c.disconnects.Load(),
		Backfills:   c.backfills.Load(),
	}
}
