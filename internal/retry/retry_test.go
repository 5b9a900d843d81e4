package retry

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestBackoffNext(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name   string
		b      Backoff
		rand   float64
		n      int
		want   []time.Duration
		resetN int // Next calls after a Reset
		wantR  []time.Duration
	}{
		{"doubles to the ceiling", Backoff{Initial: 100 * ms, Max: 1000 * ms}, 0, 6,
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}, 2, []time.Duration{100 * ms, 200 * ms}},
		{"a ceiling below the start is the start", Backoff{Initial: 500 * ms, Max: 100 * ms}, 0, 3,
			[]time.Duration{500 * ms, 500 * ms, 500 * ms}, 1, []time.Duration{500 * ms}},
		{"jitter takes its fraction off at most", Backoff{Initial: 100 * ms, Max: 400 * ms, Jitter: 0.2}, 0.5, 4,
			[]time.Duration{90 * ms, 180 * ms, 360 * ms, 360 * ms}, 1, []time.Duration{90 * ms}},
		{"jitter above 1 never makes a wait negative", Backoff{Initial: 100 * ms, Max: 100 * ms, Jitter: 3}, 0.99, 1,
			[]time.Duration{1 * ms}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			b.rand = func() float64 { return tt.rand }
			var got []time.Duration
			for range tt.n {
				got = append(got, b.Next())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
			b.Reset()
			got = nil
			for range tt.resetN {
				got = append(got, b.Next())
			}
			if !slices.Equal(got, tt.wantR) {
				t.Errorf("after Reset got %v; want %v", got, tt.wantR)
			}
		})
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: time.Second, Jitter: 0.25}
	for range 1000 {
		if d := b.Next(); d > time.Second || d < 750*time.Millisecond {
			t.Fatalf("got %v; want 750ms to 1s", d)
		}
	}
}

func TestWait(t *testing.T) {
	if !Wait(context.Background(), time.Millisecond) {
		t.Errorf("Wait with a live context = false; want true")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Wait(ctx, time.Hour) {
		t.Errorf("Wait with an ended context = true; want false")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Wait with an ended context took %v; want at once", took)
	}
}
