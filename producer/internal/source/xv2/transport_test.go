package xv2

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

// TestRedirectToAnotherHostGetsNoToken: a server that redirects the stream
// elsewhere must not get the bearer token sent there. net/http keeps the
// Authorization header on a redirect to the same host name on another port
// (or to a subdomain, or from https to http): the source follows no such
// redirect, stops with an error naming X_STREAM_URL, and the other server
// sees nothing.
func TestRedirectToAnotherHostGetsNoToken(t *testing.T) {
	p := testPosts(t)
	other := newStreamServer(t, newWire().Line(p[0]).Serve(streamtest.EndHold, false))
	front := streamtest.Redirector(t, other.URL)

	src, _ := newTestSource(t, testConfig(front.URL+"/2/tweets/sample/stream"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := &streamtest.Collector{}
	err := src.Run(ctx, c.Emit)
	if err == nil || !strings.Contains(err.Error(), "X_STREAM_URL") || !strings.Contains(err.Error(), "another host") {
		t.Errorf("Run: got %v; want an error saying the redirect to another host was refused, naming X_STREAM_URL", err)
	}
	if n, refused := len(other.requests()), other.refusedCount(); n+refused != 0 {
		t.Errorf("got %d requests with the token (%d without) at the other server, %d records; want none", n, refused, len(c.Values()))
	}
}

// TestPlainTextNeedsOptIn: an http:// X_STREAM_URL sends the bearer token
// in clear text; it takes ALLOW_INSECURE_HTTP, except to a loopback host.
func TestPlainTextNeedsOptIn(t *testing.T) {
	for _, tc := range []struct {
		url     string
		allow   bool
		wantErr bool
	}{
		{"https://api.x.com/2/tweets/sample/stream", false, false},
		{"http://api.x.com/2/tweets/sample/stream", false, true},
		{"http://proxy:8080/2/tweets/sample/stream", false, true},
		{"http://api.x.com/2/tweets/sample/stream", true, false},
		{"http://127.0.0.1:8080/2/tweets/sample/stream", false, false},
		{"http://localhost:8080/2/tweets/sample/stream", false, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg := testConfig(tc.url)
			cfg.AllowInsecureHTTP = tc.allow
			_, err := New(cfg, nil)
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), "ALLOW_INSECURE_HTTP") || !strings.Contains(err.Error(), "X_STREAM_URL")):
				t.Errorf("New: got %v; want an error naming X_STREAM_URL and ALLOW_INSECURE_HTTP", err)
			case !tc.wantErr && err != nil:
				t.Errorf("New: got %v; want no error", err)
			}
		})
	}
}
