package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/gorilla/websocket"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// dialer opens the websockets: gorilla/websocket's, which reads a message
// with about half the CPU coder/websocket took (docs/performance-history.md), and
// from a 64 KiB buffer, a system call for many events. It makes its own
// handshake, not through an http.Client, so dial applies the rules of the
// other stream sources' client (stream.Client) itself.
var dialer = &websocket.Dialer{
	Proxy:           http.ProxyFromEnvironment,
	ReadBufferSize:  64 << 10,
	WriteBufferSize: 1 << 10, // pongs and the close frame
}

// dial opens the websocket at addr (ws, wss, http or https), whose
// handshake ends when ctx does. Credentials in addr are sent as Basic
// authorization, and a redirect is followed as stream.CheckRedirect allows:
// to the same host only, never from https to http (an error wrapping
// stream.ErrRedirect otherwise). On a refusal, or a redirect it cannot
// follow, it returns the answer with the error (its body up to 1 KiB).
func dial(ctx context.Context, addr string) (*websocket.Conn, *http.Response, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return nil, nil, err
	}
	header := http.Header{"User-Agent": {stream.UserAgent}}
	if u.User != nil { // gorilla/websocket refuses a URL that holds them
		req := &http.Request{Header: header}
		pass, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pass)
	}
	if u, err = asWebsocket(u); err != nil { // and one of http or https
		return nil, nil, err
	}
	var via []*http.Request
	for {
		conn, resp, err := dialOnce(ctx, u.String(), header)
		if err == nil || resp == nil || !isRedirect(resp.StatusCode) {
			return conn, resp, err
		}
		loc, err := resp.Location()
		if err != nil {
			return nil, resp, fmt.Errorf("a redirect (%d) without a usable Location: %w", resp.StatusCode, err)
		}
		next, err := asWebsocket(loc)
		if err != nil {
			return nil, resp, err
		}
		// CheckRedirect sees the requests as an http.Client would: http
		// and https.
		via = append(via, &http.Request{URL: asHTTP(u)})
		if err := stream.CheckRedirect(&http.Request{URL: asHTTP(next)}, via); err != nil {
			return nil, nil, err
		}
		u = next
	}
}

// dialOnce is dialer.DialContext with the connection closed as soon as ctx
// ends: gorilla/websocket watches ctx while it dials and makes the TLS
// handshake, and the upgrade request would otherwise wait for ctx's
// deadline (the stall timeout) when the producer stops during it.
func dialOnce(ctx context.Context, addr string, header http.Header) (*websocket.Conn, *http.Response, error) {
	d := *dialer
	var stops []func() bool // one a connection: to the proxy or the server
	d.NetDialContext = func(dialCtx context.Context, network, address string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(dialCtx, network, address)
		if err == nil {
			stops = append(stops, context.AfterFunc(ctx, func() { c.Close() })) // ctx: dial's, stopped below
		}
		return c, err
	}
	conn, resp, err := d.DialContext(ctx, addr, header)
	for _, stop := range stops {
		if !stop() && err == nil { // ctx ended as the handshake did: its connection is closed
			conn.Close()
			return nil, nil, ctx.Err()
		}
	}
	return conn, resp, err
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// asWebsocket is loc with the websocket scheme of its HTTP scheme, and
// without credentials (the first URL's go in the header, to its host only).
func asWebsocket(loc *url.URL) (*url.URL, error) {
	u := *loc
	u.User = nil
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return nil, errors.New("a redirect to " + stream.RedactURL(loc.String()) + ", which is not a websocket URL")
	}
	return &u, nil
}

// asHTTP is u with the HTTP scheme of its websocket scheme.
func asHTTP(u *url.URL) *url.URL {
	h := *u
	switch h.Scheme {
	case "ws":
		h.Scheme = "http"
	case "wss":
		h.Scheme = "https"
	}
	return &h
}
