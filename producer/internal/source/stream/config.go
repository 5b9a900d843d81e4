package stream

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
)

// Positive fills a zero *v with def and returns an error naming the
// setting when *v is negative; nil otherwise, which errors.Join skips.
func Positive[T time.Duration | int](v *T, def T, name string) error {
	if *v == 0 {
		*v = def
	}
	if *v < 0 {
		return fmt.Errorf("%s must be positive, got %v", name, *v)
	}
	return nil
}

// ParseURL parses s and reports whether it has a host and one of schemes,
// and credentials that can be told from the rest (envconf.ParseURL).
func ParseURL(s string, schemes ...string) (*url.URL, bool) {
	u, ok := envconf.ParseURL(s)
	if !ok {
		return nil, false
	}
	return u, slices.Contains(schemes, u.Scheme) && u.Host != ""
}

// RedactURL returns s for logs and errors: its user, password, fragment
// and credential-looking query values redacted (envconf.RedactURL).
func RedactURL(s string) string { return envconf.RedactURL(s) }

// URLError is the error of a URL setting that is not what it must be
// (what, such as example): it quotes the URL as RedactURL shows it. One
// whose credentials cannot be told from the rest is not quoted at all; the
// error says how to write them.
func URLError(setting, rawURL, what, example string) error {
	if _, ok := envconf.ParseURL(rawURL); !ok {
		return fmt.Errorf("%s (not shown, as it may hold a password) is not %s, such as %s: write a user and password as scheme://user:password@host/..., "+
			"percent-encoded (a '/' as %%2F, an '@' as %%40)", setting, what, example)
	}
	return fmt.Errorf("%s %q is not %s, such as %s", setting, RedactURL(rawURL), what, example)
}

// Scrub returns err with the credentials of rawURL, as RedactURL finds
// them, taken out of its text, for an error that quotes the URL (as
// net/http's and the websocket dialer's do); errors.Is and errors.As still
// see err. nil stays nil.
func Scrub(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	secrets := envconf.URLSecrets(rawURL)
	if len(secrets) == 0 {
		return err
	}
	return &scrubbed{err: err, text: envconf.ScrubSecrets(err.Error(), secrets)}
}

type scrubbed struct {
	err  error
	text string
}

func (e *scrubbed) Error() string { return e.text }
func (e *scrubbed) Unwrap() error { return e.err }

// Redacted stands for a secret in logs: "[redacted]", or "" when there is
// none.
func Redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}
