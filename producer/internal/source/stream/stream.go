// Package stream holds what the streaming sources (twitter, xv2,
// jetstream) share: the reconnect schedule of Twitter's streaming guidelines
// and the loop that follows it, the sorting of refused requests into
// back-off classes and fatal *StatusError, the stall watchdog of HTTP
// streams, the counters every source keeps, and config checks.
package stream

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// UserAgent identifies the producer to the servers.
const UserAgent = "tweetpipe"

// Client returns the HTTP client of a stream source, over rt or, when rt is
// nil, a clone of http.DefaultTransport (proxy from the environment). It has
// no timeout: a stream is one endless response; a Watchdog bounds each wait
// instead. It follows only the redirects CheckRedirect allows.
func Client(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &http.Client{Transport: rt, CheckRedirect: CheckRedirect}
}

// Logger returns log, or a logger that discards when log is nil, with the
// source's name under the key "source".
func Logger(log *slog.Logger, name string) *slog.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return log.With("source", name)
}

// Ending says why a connection ended and how to back off before the next.
type Ending struct {
	Class  Class
	Reason string        // one of Reason*
	Err    error         // what happened, for the log
	Wait   time.Duration // the least wait the server asked for (ServerWait); 0: none
}

// Broken is the Ending of a connection that failed below HTTP: refused,
// cut, or closed by the server.
func Broken(err error) Ending { return Ending{Class: ClassNetwork, Reason: ReasonNetwork, Err: err} }

// Stalled is the Ending of a connection closed for silence.
func Stalled(err error) Ending { return Ending{Class: ClassNetwork, Reason: ReasonStall, Err: err} }

// Reconnect calls connect, which makes one connection and reads it to its
// end, again and again: after each Ending it counts the reconnect in stats,
// logs the wait and waits as the schedule says. connect calls Opened on the Backoff
// it is given when a stream opens. Reconnect returns nil once ctx is done,
// or the error connect returns (emit failed, or a *StatusError).
func Reconnect(ctx context.Context, schedule Schedule, stats *Counters, log *slog.Logger, connect func(*Backoff) (Ending, error)) error {
	backoff := Backoff{Schedule: schedule}
	for {
		end, err := connect(&backoff)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		wait := backoff.After(end)
		stats.reconnect(end.Reason)
		attrs := []any{"reason", end.Reason, "wait", wait}
		if end.Wait > 0 {
			attrs = append(attrs, "server_asked", end.Wait)
		}
		log.Warn("waiting to reconnect", append(attrs, "error", end.Err)...)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
