package publish

import (
	"context"
	"testing"
	"time"
)

// TestStopWhileWaitingForIdle: the stop (SHUTDOWN_TIMEOUT) comes while
// Run's loop waits in waitIdle for a flight, to drain the spool after it,
// and Kafka has just acknowledged that flight. waitIdle must give back only
// the in-flight tokens it took: taking the flight's too left the acker
// blocked for ever on its token (or waitIdle on a token the acker took
// meanwhile), and the producer never exited. The real acker and waitIdle
// race here, 200 times.
func TestStopWhileWaitingForIdle(t *testing.T) {
	hangs := 0
	for trial := range 200 {
		p, err := New(testConfig([]string{"127.0.0.1:1"}), nil, quiet())
		if err != nil {
			t.Fatal(err)
		}
		fl := &flight{items: []item{{drop: true}}, slots: make([]slot, 1), done: make(chan struct{}), started: time.Now()}
		close(fl.done) // Kafka took it
		p.inflight <- struct{}{}
		p.unlanded = append(p.unlanded, fl)
		p.flights <- fl

		ctx, cancel := context.WithCancel(context.Background())
		acked := make(chan struct{})
		go func() { p.acker(ctx); close(acked) }()
		idle := make(chan error, 1)
		go func() { idle <- p.waitIdle(ctx) }()
		cancel()
		select {
		case <-idle:
		case <-time.After(5 * time.Second):
			hangs++
			t.Logf("trial %d: waitIdle blocked for ever", trial)
			continue
		}
		close(p.flights) // as Run does once its loop returned
		select {
		case <-acked:
		case <-time.After(5 * time.Second):
			hangs++
			t.Logf("trial %d: the acker blocked for ever on its in-flight token", trial)
		}
	}
	if hangs > 0 {
		t.Fatalf("%d of 200 stops hung", hangs)
	}
}
