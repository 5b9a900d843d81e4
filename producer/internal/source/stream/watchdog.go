package stream

import (
	"context"
	"errors"
	"io"
	"time"
)

// errStalled is the cause given to a connection closed for silence.
var errStalled = errors.New("no data from the server within the stall timeout")

// A Watchdog cancels an HTTP stream that waits longer than its timeout for
// the server: for the response, then inside each Read of the body. It never
// runs while emit blocks: a full pipeline is not a dead connection.
type Watchdog struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	timeout time.Duration
}

// Watch returns the context of one connection under ctx and its watchdog,
// armed for the wait for the response. Close releases both.
func Watch(ctx context.Context, timeout time.Duration) (context.Context, *Watchdog) {
	w := &Watchdog{timeout: timeout}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	w.timer = time.AfterFunc(timeout, func() { w.cancel(errStalled) })
	return w.ctx, w
}

// Stop disarms the watchdog: the response has come (or the request failed).
func (w *Watchdog) Stop() { w.timer.Stop() }

// Close disarms the watchdog and cancels the connection's context.
func (w *Watchdog) Close() {
	w.timer.Stop()
	w.cancel(nil)
}

// Body arms the watchdog for each Read of r, the response body.
func (w *Watchdog) Body(r io.Reader) io.Reader { return &watchedReader{r: r, w: w} }

// Broken is the Ending of a connection that failed below HTTP with err:
// refused, cut, closed, or stalled when the watchdog cancelled it.
func (w *Watchdog) Broken(err error) Ending {
	if errors.Is(context.Cause(w.ctx), errStalled) {
		return Stalled(errStalled)
	}
	return Broken(err)
}

// watchedReader arms the watchdog for each read: a read that waits longer
// than the timeout for a byte gets the connection cancelled.
type watchedReader struct {
	r io.Reader
	w *Watchdog
}

func (r *watchedReader) Read(p []byte) (int, error) {
	r.w.timer.Reset(r.w.timeout)
	n, err := r.r.Read(p)
	r.w.timer.Stop()
	return n, err
}
