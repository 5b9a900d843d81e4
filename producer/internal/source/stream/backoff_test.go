package stream

import (
	"fmt"
	"testing"
	"time"
)

const (
	ms  = time.Millisecond
	sec = time.Second
	mn  = time.Minute
)

// The guideline numbers: TCP/IP errors +250 ms per attempt up to 16 s; HTTP
// errors from 5 s doubling up to 320 s; 420 from 1 minute doubling (to our
// 16-minute ceiling).
func TestBackoffSchedule(t *testing.T) {
	tests := []struct {
		name  string
		class Class
		want  []time.Duration
	}{
		{"network", ClassNetwork, []time.Duration{250 * ms, 500 * ms, 750 * ms, 1 * sec, 1250 * ms, 1500 * ms}},
		{"http", ClassHTTP, []time.Duration{5 * sec, 10 * sec, 20 * sec, 40 * sec, 80 * sec, 160 * sec, 320 * sec, 320 * sec, 320 * sec}},
		{"rate limit", ClassRateLimit, []time.Duration{1 * mn, 2 * mn, 4 * mn, 8 * mn, 16 * mn, 16 * mn}},
		{"fatal", ClassFatal, []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Backoff
			for i, want := range tt.want {
				if got := b.Next(tt.class); got != want {
					t.Errorf("attempt %d: got %v; want %v", i+1, got, want)
				}
			}
		})
	}
}

// TestBackoffAfterServerWait: a server's asked wait lengthens the
// schedule's, up to the class's maximum, and never shortens it; the
// attempt counts either way.
func TestBackoffAfterServerWait(t *testing.T) {
	var b Backoff
	if got := b.After(Ending{Class: ClassRateLimit, Wait: 5 * mn}); got != 5*mn {
		t.Errorf("429 asking 5m at the first attempt (schedule 1m): waited %v; want 5m", got)
	}
	if got := b.After(Ending{Class: ClassRateLimit, Wait: 30 * sec}); got != 2*mn {
		t.Errorf("429 asking 30s at the second attempt (schedule 2m): waited %v; want 2m", got)
	}
	if got := b.After(Ending{Class: ClassRateLimit, Wait: 3 * time.Hour}); got != 16*mn {
		t.Errorf("429 asking 3h: waited %v; want the rate-limit maximum, 16m", got)
	}
	if got := b.After(Ending{Class: ClassHTTP, Wait: time.Hour}); got != 320*sec {
		t.Errorf("503 asking 1h: waited %v; want the HTTP maximum, 320s", got)
	}
	if got := b.After(Ending{Class: ClassHTTP}); got != 10*sec {
		t.Errorf("503 asking nothing at the second HTTP attempt: waited %v; want the schedule's 10s", got)
	}
	if got := b.After(Ending{Class: ClassFatal, Wait: time.Minute}); got != 0 {
		t.Errorf("a fatal status: waited %v; want 0 (not retried)", got)
	}
}

func TestBackoffNetworkCeiling(t *testing.T) {
	var b Backoff
	var got time.Duration
	for attempt := 1; attempt <= 100; attempt++ {
		got = b.Next(ClassNetwork)
		want := min(time.Duration(attempt)*250*ms, 16*sec)
		if got != want {
			t.Fatalf("attempt %d: got %v; want %v", attempt, got, want)
		}
	}
	if got != 16*sec {
		t.Errorf("got %v after 100 attempts; want 16s", got)
	}
}

func TestBackoffResetAndIndependentClasses(t *testing.T) {
	clock := time.Unix(0, 0)
	b := Backoff{now: func() time.Time { return clock }}
	steps := []struct {
		class Class // ClassFatal here means "a stream that stayed open DefaultStableAfter"
		want  time.Duration
	}{
		{ClassHTTP, 5 * sec},
		{ClassHTTP, 10 * sec},
		{ClassNetwork, 250 * ms}, // each class counts its own attempts
		{ClassRateLimit, 1 * mn},
		{ClassHTTP, 20 * sec},
		{ClassNetwork, 500 * ms},
		{ClassRateLimit, 2 * mn},
		{ClassFatal, 0}, // connected: everything starts over
		{ClassHTTP, 5 * sec},
		{ClassNetwork, 250 * ms},
		{ClassRateLimit, 1 * mn},
	}
	for i, s := range steps {
		if s.class == ClassFatal {
			b.Opened()
			clock = clock.Add(DefaultStableAfter)
			continue
		}
		if got := b.Next(s.class); got != s.want {
			t.Errorf("step %d (%v): got %v; want %v", i, s.class, got, s.want)
		}
	}
}

// TestBackoffGrowsOverShortStreams: streams that open and end before
// DefaultStableAfter (a server that takes each connection and closes it) do not
// start the schedule over: the waits grow as if the streams never opened.
func TestBackoffGrowsOverShortStreams(t *testing.T) {
	clock := time.Unix(0, 0)
	b := Backoff{now: func() time.Time { return clock }}
	var got []time.Duration
	for range 4 {
		b.Opened()
		clock = clock.Add(DefaultStableAfter - time.Second)
		got = append(got, b.Next(ClassNetwork))
	}
	want := []time.Duration{250 * ms, 500 * ms, 750 * ms, 1 * sec}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

func TestBackoffConfiguredBases(t *testing.T) {
	b := Backoff{Schedule: Schedule{NetworkBackoffStep: 1 * ms, NetworkBackoffMax: 3 * ms, HTTPBackoffInitial: 2 * ms, HTTPBackoffMax: 7 * ms, RateLimitBackoffInitial: 5 * ms, RateLimitBackoffMax: 20 * ms}}
	var got []time.Duration
	for range 4 {
		got = append(got, b.Next(ClassNetwork), b.Next(ClassHTTP), b.Next(ClassRateLimit))
	}
	want := []time.Duration{1 * ms, 2 * ms, 5 * ms, 2 * ms, 4 * ms, 10 * ms, 3 * ms, 7 * ms, 20 * ms, 3 * ms, 7 * ms, 20 * ms}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		code int
		want Class
	}{
		{401, ClassFatal}, {403, ClassFatal}, {404, ClassFatal}, {406, ClassFatal},
		{410, ClassFatal}, {413, ClassFatal}, {416, ClassFatal},
		{420, ClassRateLimit}, {429, ClassRateLimit},
		{500, ClassHTTP}, {502, ClassHTTP}, {503, ClassHTTP}, {504, ClassHTTP}, {400, ClassHTTP}, {302, ClassHTTP},
	}
	for _, tt := range tests {
		if got := ClassifyStatus(tt.code); got != tt.want {
			t.Errorf("ClassifyStatus(%d): got %v; want %v", tt.code, got, tt.want)
		}
	}
}
