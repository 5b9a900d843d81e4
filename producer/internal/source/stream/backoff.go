package stream

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// The reconnect schedule of Twitter's streaming guidelines ("Connecting to a
// streaming endpoint"), which every stream source follows. The guidelines
// give no ceiling for 420; doubling stops at 16 minutes, past the 15-minute
// rate-limit window.
const (
	DefaultNetworkBackoffStep      = 250 * time.Millisecond
	DefaultNetworkBackoffMax       = 16 * time.Second
	DefaultHTTPBackoffInitial      = 5 * time.Second
	DefaultHTTPBackoffMax          = 320 * time.Second
	DefaultRateLimitBackoffInitial = time.Minute
	DefaultRateLimitBackoffMax     = 16 * time.Minute
	// DefaultStableAfter is how long a stream must stay open for the
	// schedule to start over: a server that takes each connection and ends
	// it at once is retried on the growing schedule, not every 250 ms.
	DefaultStableAfter = 30 * time.Second
)

// Class is what kind of failure ended a connection attempt; each class has
// its own back-off.
type Class int

const (
	// ClassNetwork is a TCP/IP-level failure: refused, reset, cut, stalled,
	// closed by the server, or a disconnect message. Linear back-off.
	ClassNetwork Class = iota
	// ClassHTTP is an HTTP error worth retrying (5xx and unlisted codes).
	// Exponential back-off.
	ClassHTTP
	// ClassRateLimit is 420 Enhance Your Calm or 429 Too Many Requests.
	// Exponential back-off from a longer start.
	ClassRateLimit
	// ClassFatal is a status that retrying cannot fix: the source stops.
	ClassFatal
)

func (c Class) String() string {
	switch c {
	case ClassNetwork:
		return "network"
	case ClassHTTP:
		return "http"
	case ClassRateLimit:
		return "rate_limit"
	case ClassFatal:
		return "fatal"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// ClassifyStatus sorts a non-200 HTTP status into its class, as the v1.1
// guidelines do: 420 and 429 are rate limits; 401, 403, 404, 406, 410, 413
// and 416 are fatal, and so is any code in fatal (a source whose server
// answers 400 for a bad parameter passes it); the rest are retried.
func ClassifyStatus(code int, fatal ...int) Class {
	if slices.Contains(fatal, code) {
		return ClassFatal
	}
	switch code {
	case 420, http.StatusTooManyRequests:
		return ClassRateLimit
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusNotAcceptable, http.StatusGone, http.StatusRequestEntityTooLarge,
		http.StatusRequestedRangeNotSatisfiable:
		return ClassFatal
	}
	return ClassHTTP
}

// Schedule is the reconnect schedule as a source's Config holds it; zero
// fields take the guideline numbers (Default*). Tests shorten them.
type Schedule struct {
	NetworkBackoffStep      time.Duration // added per attempt: 250ms, 500ms, ...
	NetworkBackoffMax       time.Duration
	HTTPBackoffInitial      time.Duration // doubled per attempt: 5s, 10s, ...
	HTTPBackoffMax          time.Duration
	RateLimitBackoffInitial time.Duration // doubled per attempt: 1m, 2m, ...
	RateLimitBackoffMax     time.Duration
	StableAfter             time.Duration // a stream open this long starts the schedule over
}

// scheduleField is one field of a Schedule with its default and its name
// in messages.
type scheduleField struct {
	v    *time.Duration
	def  time.Duration
	name string
}

// fields lists s's fields, each with its default: the one table of them.
func (s *Schedule) fields() []scheduleField {
	return []scheduleField{
		{&s.NetworkBackoffStep, DefaultNetworkBackoffStep, "the network back-off step"},
		{&s.NetworkBackoffMax, DefaultNetworkBackoffMax, "the network back-off maximum"},
		{&s.HTTPBackoffInitial, DefaultHTTPBackoffInitial, "the HTTP back-off start"},
		{&s.HTTPBackoffMax, DefaultHTTPBackoffMax, "the HTTP back-off maximum"},
		{&s.RateLimitBackoffInitial, DefaultRateLimitBackoffInitial, "the rate-limit back-off start"},
		{&s.RateLimitBackoffMax, DefaultRateLimitBackoffMax, "the rate-limit back-off maximum"},
		{&s.StableAfter, DefaultStableAfter, "the time a stream must stay open to start the back-off over"},
	}
}

// filled returns s with its zero fields set to their defaults.
func (s Schedule) filled() Schedule {
	for _, f := range s.fields() {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return s
}

// WithDefaults checks s and returns it with the zero fields filled in: every
// field must be positive and every maximum at least its start.
func (s Schedule) WithDefaults() (Schedule, error) {
	var errs []error
	for _, f := range s.fields() {
		errs = append(errs, Positive(f.v, f.def, f.name))
	}
	for _, p := range []struct {
		start, ceiling time.Duration
		name           string
	}{
		{s.NetworkBackoffStep, s.NetworkBackoffMax, "network"},
		{s.HTTPBackoffInitial, s.HTTPBackoffMax, "HTTP"},
		{s.RateLimitBackoffInitial, s.RateLimitBackoffMax, "rate-limit"},
	} {
		if p.ceiling < p.start {
			errs = append(errs, fmt.Errorf("the %s back-off maximum %s is below its start %s", p.name, p.ceiling, p.start))
		}
	}
	return s, errors.Join(errs...)
}

// Backoff is the reconnect schedule in use. Each class counts its own
// attempts; a stream that stayed open StableAfter (Opened) starts every
// class over. The zero value uses the guideline delays.
type Backoff struct {
	Schedule

	network, http, rateLimit int
	opened                   time.Time        // set by Opened, taken by the next Next
	now                      func() time.Time // nil: time.Now (tests set it)
}

func (b *Backoff) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// Opened says that a stream opened (200, or the websocket's 101): if it
// stays open StableAfter, the failure that ends it starts the schedule over.
func (b *Backoff) Opened() { b.opened = b.clock() }

// Next returns the wait before the next attempt after a failure of class c
// and counts the attempt. It returns 0 for ClassFatal, which is not retried.
func (b *Backoff) Next(c Class) time.Duration {
	s := b.Schedule.filled()
	if !b.opened.IsZero() {
		if b.clock().Sub(b.opened) >= s.StableAfter {
			b.network, b.http, b.rateLimit = 0, 0, 0
		}
		b.opened = time.Time{}
	}
	switch c {
	case ClassNetwork:
		b.network++
		return linear(s.NetworkBackoffStep, s.NetworkBackoffMax, b.network)
	case ClassHTTP:
		b.http++
		return exponential(s.HTTPBackoffInitial, s.HTTPBackoffMax, b.http)
	case ClassRateLimit:
		b.rateLimit++
		return exponential(s.RateLimitBackoffInitial, s.RateLimitBackoffMax, b.rateLimit)
	}
	return 0
}

// After returns the wait before the next attempt after end, and counts the
// attempt (Next): the schedule's wait for end's class, or longer when the
// server asked for longer (end.Wait), but never past that class's maximum.
// A server that names when its rate-limit window starts over is not asked
// again before then, and one that asks for hours does not stop the source.
func (b *Backoff) After(end Ending) time.Duration {
	d := b.Next(end.Class)
	if end.Wait <= d {
		return d
	}
	s := b.Schedule.filled()
	switch end.Class {
	case ClassNetwork:
		return min(end.Wait, s.NetworkBackoffMax)
	case ClassHTTP:
		return min(end.Wait, s.HTTPBackoffMax)
	case ClassRateLimit:
		return min(end.Wait, s.RateLimitBackoffMax)
	}
	return d
}

// linear returns step*attempt, at most ceiling.
func linear(step, ceiling time.Duration, attempt int) time.Duration {
	if time.Duration(attempt) > ceiling/step {
		return ceiling
	}
	return min(step*time.Duration(attempt), ceiling)
}

// exponential returns initial*2^(attempt-1), at most ceiling.
func exponential(initial, ceiling time.Duration, attempt int) time.Duration {
	d := initial
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}
