package xv2

import (
	"context"
	"net/http"
	"net/http/httptest"
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
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(front.Close)

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

