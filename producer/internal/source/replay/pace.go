package replay

import (
	"context"
	"time"
)

// pacer spaces records by the posts' own times, divided by speed.
type pacer struct {
	speed     float64
	firstPost time.Time
	firstWall time.Time
	timer     *time.Timer
}

func (p *pacer) wait(ctx context.Context, line []byte) error {
	if p.speed <= 0 {
		return nil
	}
	m, err := Classify(line)
	if err != nil || m.Time.IsZero() {
		return nil // no time to pace by: send at once
	}
	if p.firstPost.IsZero() {
		p.firstPost, p.firstWall = m.Time, time.Now()
		return nil
	}
	offset := time.Duration(float64(m.Time.Sub(p.firstPost)) / p.speed)
	wait := time.Until(p.firstWall.Add(offset))
	if wait <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(wait)
	} else {
		p.timer.Reset(wait)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.timer.C:
		return nil
	}
}
