package stream

import (
	"fmt"
	"net/url"
	"slices"
	"time"
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

// ParseURL parses s and reports whether it has a host and one of schemes.
func ParseURL(s string, schemes ...string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, false
	}
	return u, slices.Contains(schemes, u.Scheme) && u.Host != ""
}

// RedactURL returns s with any password in it redacted, for logs and errors.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable]"
	}
	return u.Redacted()
}

// Redacted stands for a secret in logs: "[redacted]", or "" when there is
// none.
func Redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}
