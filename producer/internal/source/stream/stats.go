package stream

import (
	"slices"
	"sync/atomic"
)

// Reasons for a reconnect, the keys of Stats.Reconnects.
const (
	ReasonNetwork    = "network"    // connect failed, connection cut or closed by the server
	ReasonStall      = "stall"      // nothing from the server for the stall timeout
	ReasonDisconnect = "disconnect" // the server sent a disconnect message
	ReasonHTTP       = "http_error" // an HTTP status worth retrying (5xx, ...)
	ReasonRateLimit  = "rate_limit" // 420 or 429
)

const numReasons = 5

// Reasons lists every reconnect reason, in a fixed order.
func Reasons() []string {
	return []string{ReasonNetwork, ReasonStall, ReasonDisconnect, ReasonHTTP, ReasonRateLimit}
}

// Stats is a snapshot of the counters every stream source keeps; each
// source's Stats embeds it. Counters only grow.
type Stats struct {
	Connected       bool             // a stream is open (readiness)
	Connections     int64            // streams opened
	Reconnects      map[string]int64 // by Reason*, every key the source reports present
	Stalls          int64            // connections closed for silence (also Reconnects[ReasonStall])
	Messages        int64            // messages emitted, of every kind
	DroppedOversize int64            // messages over the maximum size, dropped
}

// Counters are the counters behind Stats, safe for concurrent use. The
// source counts connections, messages and drops; Reconnect counts the
// reconnects and stalls.
type Counters struct {
	Connected       atomic.Bool
	Connections     atomic.Int64
	Messages        atomic.Int64
	DroppedOversize atomic.Int64

	reconnects [numReasons]atomic.Int64 // in the order of Reasons
	stalls     atomic.Int64
}

// reconnect counts a reconnect for reason, and a stall when it is one.
func (c *Counters) reconnect(reason string) {
	for i, r := range Reasons() {
		if r == reason {
			c.reconnects[i].Add(1)
		}
	}
	if reason == ReasonStall {
		c.stalls.Add(1)
	}
}

// Snapshot returns the counters, with a Reconnects key for each of reasons
// (a subset of Reasons: those the source can report).
func (c *Counters) Snapshot(reasons []string) Stats {
	s := Stats{
		Connected:       c.Connected.Load(),
		Connections:     c.Connections.Load(),
		Reconnects:      make(map[string]int64, len(reasons)),
		Stalls:          c.stalls.Load(),
		Messages:        c.Messages.Load(),
		DroppedOversize: c.DroppedOversize.Load(),
	}
	for i, r := range Reasons() {
		if slices.Contains(reasons, r) {
			s.Reconnects[r] = c.reconnects[i].Load()
		}
	}
	return s
}
