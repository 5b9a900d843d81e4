package twitter

import "sync/atomic"

// Reasons for a reconnect, the keys of Stats.Reconnects.
const (
	ReasonNetwork    = "network"    // connect failed, connection cut or closed by the server
	ReasonStall      = "stall"      // no byte for StallTimeout
	ReasonDisconnect = "disconnect" // the server sent a disconnect message
	ReasonHTTP       = "http_error" // an HTTP status worth retrying (5xx, ...)
	ReasonRateLimit  = "rate_limit" // 420 or 429
)

const numReasons = 5

// reasons lists every reconnect reason, in a fixed order.
func reasons() [numReasons]string {
	return [...]string{ReasonNetwork, ReasonStall, ReasonDisconnect, ReasonHTTP, ReasonRateLimit}
}

// Stats is a snapshot of the source's counters, for metrics and readiness.
// Counters only grow.
type Stats struct {
	Connected   bool             // a stream is open (readiness)
	Connections int64            // streams opened (HTTP 200)
	Reconnects  map[string]int64 // by Reason*, every key present
	Stalls      int64            // connections closed for silence (also Reconnects[ReasonStall])
	Messages    int64            // messages emitted, statuses and notices alike
	// LimitTrack is the number of statuses the server reported as withheld
	// by rate limiting (limit notices carry a running total per connection;
	// this adds up its increases over all connections).
	LimitTrack      int64
	LimitNotices    int64
	StallWarnings   int64 // warning messages (FALLING_BEHIND)
	Disconnects     int64 // disconnect messages
	DroppedOversize int64 // messages over MaxMessageBytes, dropped
}

type counters struct {
	connected       atomic.Bool
	connections     atomic.Int64
	reconnects      [numReasons]atomic.Int64
	stalls          atomic.Int64
	messages        atomic.Int64
	limitTrack      atomic.Int64
	limitNotices    atomic.Int64
	stallWarnings   atomic.Int64
	disconnects     atomic.Int64
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
		LimitTrack:      c.limitTrack.Load(),
		LimitNotices:    c.limitNotices.Load(),
		StallWarnings:   c.stallWarnings.Load(),
		Disconnects:     c.disconnects.Load(),
		DroppedOversize: c.droppedOversize.Load(),
	}
	for i, r := range reasons() {
		s.Reconnects[r] = c.reconnects[i].Load()
	}
	return s
}
