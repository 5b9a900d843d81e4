package jetstream

import (
	"sync/atomic"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
)

const numReasons = 4

// reasons lists every reconnect reason (twitter.Reason*), in a fixed order.
// Jetstream has no disconnect message: a close frame is ReasonNetwork.
func reasons() [numReasons]string {
	return [...]string{twitter.ReasonNetwork, twitter.ReasonStall, twitter.ReasonHTTP, twitter.ReasonRateLimit}
}

// Stats is a snapshot of the source's counters, for metrics and readiness.
// Counters only grow.
type Stats struct {
	Connected       bool             // a websocket is open (readiness)
	Connections     int64            // websockets opened
	Reconnects      map[string]int64 // by twitter.Reason*, every key present
	Stalls          int64            // connections closed for silence (also Reconnects[twitter.ReasonStall])
	Messages        int64            // events emitted, of every kind
	Posts           int64            // create and update commits emitted (the tweets topic)
	Filtered        int64            // posts dropped by JETSTREAM_LANGS
	DroppedOversize int64            // messages over MaxMessageBytes, dropped

	LastEventTimeUS int64 // time_us of the last event read
	AckedTimeUS     int64 // the resume position: time_us of the last event Kafka acknowledged
	SavedTimeUS     int64 // the position in the state file
	StateWrites     int64 // state file writes
	StateFailures   int64 // state file writes that failed (logged)
}

type counters struct {
	connected       atomic.Bool
	connections     atomic.Int64
	reconnects      [numReasons]atomic.Int64
	stalls          atomic.Int64
	messages        atomic.Int64
	posts           atomic.Int64
	filtered        atomic.Int64
	droppedOversize atomic.Int64
	lastEvent       atomic.Int64
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
		Filtered:        c.filtered.Load(),
		DroppedOversize: c.droppedOversize.Load(),
		LastEventTimeUS: c.lastEvent.Load(),
	}
	for i, r := range reasons() {
		s.Reconnects[r] = c.reconnects[i].Load()
	}
	return s
}
