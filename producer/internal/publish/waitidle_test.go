package publish

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// TestStopWhileWaitingForIdle: the stop (SHUTDOWN_TIMEOUT) comes while
// Run's loop waits for the last flight to land, to drain the spool after
// it, and Kafka has just acknowledged that flight. The loop must return,
// and the flight's record be acknowledged once: landed, or spooled by the
// stop. (The loop used to hold in-flight tokens while it waited, and gave
// back the acker's too on a stop: the acker then blocked for ever on its
// token and the producer never exited. The loop now counts the flights it
// owns; there are no tokens.) The real loop and acker race here, 200 times.
func TestStopWhileWaitingForIdle(t *testing.T) {
	hangs := 0
	for trial := range 200 {
		sp, err := spool.Open(t.TempDir(), spool.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig([]string{"127.0.0.1:1"})
		cfg.Spool = sp
		p, err := New(cfg, nil, quiet())
		if err != nil {
			t.Fatal(err)
		}
		var acks atomic.Int32
		fl := &flight{items: []item{{drop: true, ack: func() { acks.Add(1) }}}, slots: make([]slot, 1), done: make(chan struct{}), started: time.Now()}
		close(fl.done) // Kafka took it

		ctx, cancel := context.WithCancel(context.Background())
		l := p.newLoop(ctx)
		go p.acker(l.work, l.flights, l.landings)
		l.unlanded = append(l.unlanded, fl)
		l.flights <- fl
		ran := make(chan struct{})
		go func() {
			l.run(spooling, nil)
			l.finish()
			close(ran)
		}()
		cancel()
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			hangs++
			t.Logf("trial %d: the loop or the acker blocked for ever", trial)
		}
		sp.Close()
		if got := acks.Load(); got != 1 {
			t.Fatalf("trial %d: the flight's record was acknowledged %d times; want once", trial, got)
		}
	}
	if hangs > 0 {
		t.Fatalf("%d of 200 stops hung", hangs)
	}
}
