package twitter

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

// TestRedirectToAnotherHostIsNotSigned: the oauth1 transport signs every
// request it carries. A server that redirects the stream to another host
// must not get a signed request sent there (it would hold the consumer key,
// the access token and a signature valid for that host): the source stops
// with an error naming TWITTER_STREAM_BASE_URL, and the other host sees
// nothing.
func TestRedirectToAnotherHostIsNotSigned(t *testing.T) {
	other := newStreamServer(t, newWire().Line([]byte(`{"id":1,"text":"x"}`)).Serve(streamtest.EndHold, false))
	front := streamtest.Redirector(t, streamtest.OtherHost(t, other.URL))

	src, _ := newTestSource(t, testConfig(front.URL+"/1.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := &streamtest.Collector{}
	err := src.Run(ctx, c.Emit)
	if err == nil || !strings.Contains(err.Error(), "TWITTER_STREAM_BASE_URL") || !strings.Contains(err.Error(), "another host") {
		t.Errorf("Run: got %v; want an error saying the redirect to another host was refused, naming TWITTER_STREAM_BASE_URL", err)
	}
	if n, refused := len(other.requests()), other.refusedCount(); n+refused != 0 {
		t.Errorf("got %d signed requests (%d refused) at the other host, %d records; want none", n, refused, len(c.Values()))
	}
}

// TestPlainTextNeedsOptIn: an http:// TWITTER_STREAM_BASE_URL sends the
// consumer key, the access token and replayable signatures in clear text;
// it takes ALLOW_INSECURE_HTTP, except to a loopback host.
func TestPlainTextNeedsOptIn(t *testing.T) {
	for _, tc := range []struct {
		url     string
		allow   bool
		wantErr bool
	}{
		{"https://stream.example.com/1.1", false, false},
		{"http://stream.example.com/1.1", false, true},
		{"http://10.0.0.5:8080/1.1", false, true},
		{"http://stream.example.com/1.1", true, false},
		{"http://127.0.0.1:8080/1.1", false, false},
		{"http://localhost:8080/1.1", false, false},
		{"http://[::1]:8080/1.1", false, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg := testConfig(tc.url)
			cfg.AllowInsecureHTTP = tc.allow
			_, err := New(cfg, nil)
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), "ALLOW_INSECURE_HTTP") || !strings.Contains(err.Error(), "TWITTER_STREAM_BASE_URL")):
				t.Errorf("New: got %v; want an error naming TWITTER_STREAM_BASE_URL and ALLOW_INSECURE_HTTP", err)
			case !tc.wantErr && err != nil:
				t.Errorf("New: got %v; want no error", err)
			}
		})
	}
}

// TestEndlessLineReconnects: a server that sends one line without end
// (a broken proxy, a hostile service) never stalls, since bytes keep
// coming; the source must not read and drop it for ever, looking connected.
// It gives up past MaxDropBytes and reconnects, and the next connection's
// statuses come through.
func TestEndlessLineReconnects(t *testing.T) {
	status := []byte(`{"id":1,"id_str":"1","text":"after the endless line","user":{"id":2}}`)
	testDone := make(chan struct{})
	endless := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		w.Write([]byte(`{"text":"`))
		for {
			select {
			case <-r.Context().Done():
				return
			case <-testDone: // the test failed: let the server close
				return
			default:
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	srv := newStreamServer(t, endless, newWire().Length(status).Serve(streamtest.EndHold, false))
	t.Cleanup(func() { close(testDone) }) // runs before the server's Close
	src, _ := newTestSource(t, testConfig(srv.URL+"/1.1"))
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, 1, errc)
	stop()
	streamtest.CompareMessages(t, "records", c.Values(), [][]byte{status})
	if st := src.Stats(); st.Reconnects[stream.ReasonNetwork] != 1 || st.DroppedOversize != 0 {
		t.Errorf("got stats %+v; want one network reconnect, nothing counted as dropped", st)
	}
}
