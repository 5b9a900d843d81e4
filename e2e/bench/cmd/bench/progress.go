package main

import (
	"context"
	"sync"
	"time"
)

// steady samples a run's progress (messages in Kafka, or bytes in the
// output) every 10 ms and keeps when it first reached 10% and 90% of the
// total: the rate in between is the run's steady state, free of what only
// the ends cost (start-up and joining on one side; on the other, the last
// partial batches). Every program is measured this way by
// the same observer: the broker's end offsets for producers, the output's
// size for consumers.
type steady struct {
	total    int64
	progress func(context.Context) (int64, error)

	mu       sync.Mutex
	t10, t90 time.Time
	stop     context.CancelFunc
	done     chan struct{}
}

func watchSteady(ctx context.Context, total int64, progress func(context.Context) (int64, error)) *steady {
	ctx, cancel := context.WithCancel(ctx)
	s := &steady{total: total, progress: progress, stop: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s
}

func (s *steady) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := s.progress(ctx)
		if err != nil {
			continue
		}
		now := time.Now()
		s.mu.Lock()
		if s.t10.IsZero() && v*10 >= s.total {
			s.t10 = now
		}
		if s.t90.IsZero() && v*10 >= s.total*9 {
			s.t90 = now
		}
		reached := !s.t90.IsZero()
		s.mu.Unlock()
		if reached {
			return
		}
	}
}

// rate stops the sampling and returns the messages per second between 10%
// and 90% of the run (0 when it did not see both).
func (s *steady) rate(msgs int64) float64 {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t10.IsZero() || s.t90.IsZero() || !s.t90.After(s.t10) {
		return 0
	}
	return 0.8 * float64(msgs) / s.t90.Sub(s.t10).Seconds()
}
