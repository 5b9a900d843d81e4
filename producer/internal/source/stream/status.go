package stream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
)

// ErrorBodyLimit bounds how much of an error response is read and reported.
const ErrorBodyLimit = 1024

// StatusError is a status the source does not retry (ClassFatal). Run
// returns it; Error says which service answered what, and what to fix.
type StatusError struct {
	Service string // who answered: "twitter stream", "jetstream", ...
	Code    int
	Body    string // the server's body on one line, shortened, secrets redacted
	Fix     string
}

func (e *StatusError) Error() string {
	body := e.Body
	if body == "" {
		body = "(empty)"
	}
	return fmt.Sprintf("%s answered HTTP %d %s, body %s: %s",
		e.Service, e.Code, http.StatusText(e.Code), body, e.Fix)
}

// Refused turns a refused request of class (ClassifyStatus) into the Ending
// to back off from, with the wait its header h asks for (ServerWait), or,
// for ClassFatal, a *StatusError from service that says fix.
func Refused(service string, class Class, code int, h http.Header, body, fix string) (Ending, error) {
	if class == ClassFatal {
		return Ending{}, &StatusError{Service: service, Code: code, Body: body, Fix: fix}
	}
	rateLimited := class == ClassRateLimit
	reason := ReasonHTTP
	if rateLimited {
		reason = ReasonRateLimit
	}
	return Ending{Class: class, Reason: reason, Err: fmt.Errorf("HTTP %d: %s", code, body), Wait: ServerWait(h, time.Now(), rateLimited)}, nil
}

// ServerWait is how long a refusal's header h asks the client to wait from
// now: Retry-After (seconds, or an HTTP date: RFC 9110), else, for a rate
// limit, X's x-rate-limit-reset (the Unix time, in seconds, at which its
// rate-limit window starts over). X sends that one on every answer, so it
// says nothing about when to come back after another error. 0 when h asks
// for neither, for a time already past, in a form neither takes, or for a
// reset more than a day away (not X's 15-minute window: most likely a time
// in milliseconds).
func ServerWait(h http.Header, now time.Time, rateLimited bool) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			// Out of range: ParseInt gives the largest or smallest int64.
			return time.Duration(max(0, min(s, maxWaitSeconds))) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now))
		}
	}
	if !rateLimited {
		return 0
	}
	if v := strings.TrimSpace(h.Get("X-Rate-Limit-Reset")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			if d := time.Unix(s, 0).Sub(now); d > 0 && d <= maxResetWait {
				return d
			}
		}
	}
	return 0
}

// maxWaitSeconds bounds a Retry-After in seconds so that it cannot overflow
// a time.Duration; the schedule's maximum bounds the wait anyway.
const maxWaitSeconds = 1 << 32

// maxResetWait is the furthest x-rate-limit-reset taken as one.
const maxResetWait = 24 * time.Hour

// ErrorBody reads the start of an error response for the logs: at most
// ErrorBodyLimit bytes, on one line, with every non-empty secret replaced
// by "xxxxx" should the server echo it (envconf.ScrubSecrets: longest
// first, so a secret holding another goes whole). A nil body reads as "".
func ErrorBody(body io.Reader, secrets ...string) string {
	if body == nil {
		return ""
	}
	raw, _ := io.ReadAll(io.LimitReader(body, ErrorBodyLimit))
	return envconf.ScrubSecrets(strings.Join(strings.Fields(string(raw)), " "), secrets)
}
