package twitter

import (
	"fmt"
	"net/http"
	"time"
)

// The reconnect schedule of Twitter's streaming guidelines ("Connecting to a
// streaming endpoint"). The guidelines give no ceiling for 420; doubling stops
// at 16 minutes, past the 15-minute rate-limit window.
const (
	DefaultNetworkBackoffStep      = 250 * time.Millisecond
	DefaultNetworkBackoffMax       = 16 * time.Second
	DefaultHTTPBackoffInitial      = 5 * time.Second
	DefaultHTTPBackoffMax          = 320 * time.Second
	DefaultRateLimitBackoffInitial = time.Minute
	DefaultRateLimitBackoffMax     = 16 * time.Minute
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

// ClassifyStatus sorts a non-200 HTTP status into its class.
func ClassifyStatus(code int) Class {
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

// Backoff is the reconnect schedule. Each class counts its own attempts; a
// successful connection (Reset) starts every class over. The zero value uses
// the guideline delays.
type Backoff struct {
	NetworkStep      time.Duration // added per attempt: 250ms, 500ms, ...
	NetworkMax       time.Duration
	HTTPInitial      time.Duration // doubled per attempt: 5s, 10s, ...
	HTTPMax          time.Duration
	RateLimitInitial time.Duration // doubled per attempt: 1m, 2m, ...
	RateLimitMax     time.Duration

	network, http, rateLimit int
}

// Next returns the wait before the next attempt after a failure of class c
// and counts the attempt. It returns 0 for ClassFatal, which is not retried.
func (b *Backoff) Next(c Class) time.Duration {
	switch c {
	case ClassNetwork:
		b.network++
		return linear(orDefault(b.NetworkStep, DefaultNetworkBackoffStep), orDefault(b.NetworkMax, DefaultNetworkBackoffMax), b.network)
	case ClassHTTP:
		b.http++
		return exponential(orDefault(b.HTTPInitial, DefaultHTTPBackoffInitial), orDefault(b.HTTPMax, DefaultHTTPBackoffMax), b.http)
	case ClassRateLimit:
		b.rateLimit++
		return exponential(orDefault(b.RateLimitInitial, DefaultRateLimitBackoffInitial), orDefault(b.RateLimitMax, DefaultRateLimitBackoffMax), b.rateLimit)
	}
	return 0
}

// Reset starts the schedule over, after a successful connection.
func (b *Backoff) Reset() { b.network, b.http, b.rateLimit = 0, 0, 0 }

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

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// StatusError is a status the source does not retry (ClassFatal). Run
// returns it; Error says what the server answered and what to fix.
type StatusError struct {
	Code int
	Body string // the server's body on one line, shortened, credentials redacted
	Fix  string
}

func (e *StatusError) Error() string {
	body := e.Body
	if body == "" {
		body = "(empty)"
	}
	return fmt.Sprintf("twitter stream answered HTTP %d %s, body %s: %s",
		e.Code, http.StatusText(e.Code), body, e.Fix)
}

// fixFor says what to do about a fatal status.
func fixFor(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "the credentials were refused: check TWITTER_CONSUMER_KEY, TWITTER_CONSUMER_SECRET, " +
			"TWITTER_ACCESS_TOKEN and TWITTER_ACCESS_SECRET (or their _FILE forms), and that this " +
			"host's clock is right (OAuth1 signatures carry a timestamp)"
	case http.StatusForbidden:
		return "the app or account may not use this endpoint (access level, suspension): " +
			"check the app's permissions, or use another source"
	case http.StatusNotFound:
		return "no stream at this address: check TWITTER_STREAM_BASE_URL (default " + DefaultBaseURL + ")"
	case http.StatusNotAcceptable:
		return "a filter parameter was refused: check TWITTER_TRACK (phrases of at most 60 bytes), " +
			"TWITTER_FOLLOW (numeric user ids), TWITTER_LOCATIONS (south-west lon,lat then north-east " +
			"lon,lat per box) and TWITTER_LANGUAGE (BCP 47 codes)"
	case http.StatusGone:
		return "the endpoint is retired (Twitter shut the v1.1 streams down): use another source such as " +
			"SOURCE=replay, xv2 or jetstream, or point TWITTER_STREAM_BASE_URL at a compatible service"
	case http.StatusRequestEntityTooLarge:
		return "the filter is too large: shorten TWITTER_TRACK (at most 400 phrases), TWITTER_FOLLOW " +
			"(at most 5000 ids) or TWITTER_LOCATIONS (at most 25 boxes)"
	case http.StatusRequestedRangeNotSatisfiable:
		return "the server refused a range or count parameter this source does not send: check that " +
			"TWITTER_STREAM_BASE_URL is a v1.1 streaming service"
	}
	return "the server refuses the request"
}
