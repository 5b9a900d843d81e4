package xv2

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

// This file is the stand-in for api.x.com: an httptest server that checks
// every request's bearer token and plays one script per accepted request.

const serverToken = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F"

const unauthorizedBody = `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`

type streamServer struct {
	*httptest.Server

	mu       sync.Mutex
	scripts  []http.HandlerFunc
	accepted []url.Values // the query of each request with the right token
	refused  int          // requests answered 401 for a wrong token
}

// newStreamServer serves scripts in turn, one per request with the right
// token; once they run out it holds each request open until the client leaves.
func newStreamServer(t *testing.T, scripts ...http.HandlerFunc) *streamServer {
	s := &streamServer{scripts: scripts}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *streamServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/2/tweets/sample/stream" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	if r.Header.Get("Authorization") != "Bearer "+serverToken {
		s.refused++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, unauthorizedBody)
		return
	}
	s.accepted = append(s.accepted, r.URL.Query())
	var script http.HandlerFunc
	if len(s.scripts) > 0 {
		script, s.scripts = s.scripts[0], s.scripts[1:]
	}
	s.mu.Unlock()
	if script == nil {
		hold(w, r)
		return
	}
	script(w, r)
}

func (s *streamServer) requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.accepted...)
}

// waitRequests waits up to 10 s for the server to have accepted n requests,
// failing t if Run returns first (on errc) or they do not come.
func (s *streamServer) waitRequests(t *testing.T, n int, errc <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.requests()) < n {
		select {
		case err := <-errc:
			t.Fatalf("Run returned %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in 10s; want %d", len(s.requests()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *streamServer) refusedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *streamServer) streamURL() string { return s.URL + "/2/tweets/sample/stream" }

// hold answers 200 and sends nothing until the client leaves.
func hold(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	streamtest.Hold(r)
}

// answer replies with a status and body.
func answer(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// newWire starts a scripted stream, sent in chunks of up to 700 bytes
// (most posts are cut at least once).
func newWire() *streamtest.Wire { return streamtest.NewWire(700, 7) }

// testPosts reads testdata/posts.jsonl: v2 lines as the sampled stream
// sends them, with includes, escapes, raw UTF-8 and a partial error.
func testPosts(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile("testdata/posts.jsonl")
	if err != nil {
		t.Fatalf("reading test posts: %v", err)
	}
	var out [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) > 0 {
			out = append(out, line)
		}
	}
	if len(out) < 12 {
		t.Fatalf("testdata/posts.jsonl holds %d posts; want 12", len(out))
	}
	return out
}

// The error objects of the v2 stream.
var (
	opDisconnect = []byte(`{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`)
	streamError  = []byte(`{"errors":[{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}]}`)
	tooMany      = `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`
)

func partial(msg []byte) []byte { return msg[:len(msg)/2] }
