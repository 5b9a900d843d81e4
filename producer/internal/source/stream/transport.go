package stream

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ErrRedirect is the error of a redirect a stream source refuses to
// follow: to another host, or from https to plain http. The source's
// credentials (a bearer token, an OAuth1 signature the transport would
// make anew) must not follow it, and retrying cannot fix it: the source
// stops.
var ErrRedirect = errors.New("refused a redirect")

// maxRedirects is net/http's own limit.
const maxRedirects = 10

// CheckRedirect is the http.Client.CheckRedirect of every stream source:
// it follows a redirect only to the same scheme or an upgrade to https, on
// the same host and port, at most maxRedirects times.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	wasHTTPS := slices.ContainsFunc(via, func(r *http.Request) bool { return r.URL.Scheme == "https" })
	switch {
	case !strings.EqualFold(req.URL.Host, first.Host):
		return fmt.Errorf("%w from %s to another host, %s: credentials never follow one; if that host is to be trusted, use its address",
			ErrRedirect, first.Host, RedactURL(req.URL.String()))
	case wasHTTPS && req.URL.Scheme != "https":
		return fmt.Errorf("%w from https to %s, which would send credentials in clear text", ErrRedirect, RedactURL(req.URL.String()))
	case len(via) >= maxRedirects:
		return fmt.Errorf("%w: stopped after %d redirects", ErrRedirect, maxRedirects)
	}
	return nil
}

// PlainText checks a stream URL, u, that the source would use with
// credentials (credentials true): over http or ws, they would cross the
// network in clear text, which takes ALLOW_INSECURE_HTTP (allow). A
// loopback host (localhost, 127.0.0.0/8, ::1) needs no opt-in: what is
// sent to it does not leave the machine. It returns nil when u is fine, an
// error naming setting and ALLOW_INSECURE_HTTP otherwise.
func PlainText(u *url.URL, credentials, allow bool, setting string) error {
	if !credentials || allow || (u.Scheme != "http" && u.Scheme != "ws") || IsLoopback(u.Hostname()) {
		return nil
	}
	secure := map[string]string{"http": "https", "ws": "wss"}[u.Scheme]
	return fmt.Errorf("%s %q is %s://, which would send credentials in clear text: use %s://, or set ALLOW_INSECURE_HTTP=on to accept that",
		setting, RedactURL(u.String()), u.Scheme, secure)
}

// IsLoopback reports whether host, a URL's host without port, names this
// machine: localhost (or a name under .localhost) or a loopback address.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
