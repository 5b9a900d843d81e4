package jetstream

import (
	"sync/atomic"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// reasons lists the reconnect reasons this source reports, in a fixed
// order. Jetstream has no disconnect message: a close frame is
// stream.ReasonNetwork.
func reasons() []string {
	return []string{stream.ReasonNetwork, stream.ReasonStall, stream.ReasonHTTP, stream.ReasonRateLimit}
}

// Stats is a snapshot of the source's counters, for metrics and readiness.
// Counters only grow. Connections counts websockets opened; Reconnects
// holds every key of reasons; Messages counts events of every kind.
type Stats struct {
	stream.Stats
	Posts    int64 // create and update commits emitted (the tweets topic)
	Filtered int64 // posts dropped by JETSTREAM_LANGS

	// AheadOfClock counts events whose time_us was more than MaxTimeAhead
	// ahead of this host's clock: emitted, but not taken as the position.
	AheadOfClock int64

	LastEventTimeUS int64 // time_us of the last event read that may be a position
	AckedTimeUS     int64 // the resume position: time_us of the last event Kafka acknowledged
	SavedTimeUS     int64 // the position in the state file
	StateWrites     int64 // state file writes
	StateFailures   int64 // state file writes that failed (logged)
}

type counters struct {
	stream.Counters
	posts     atomic.Int64
	filtered  atomic.Int64
	lastEvent atomic.Int64

	aheadOfClock atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Stats:           c.Snapshot(reasons()),
		Posts:           c.posts.Load(),
		Filtered:        c.filtered.Load(),
		LastEventTimeUS: c.lastEvent.Load(),
		AheadOfClock:    c.aheadOfClock.Load(),
	}
}
