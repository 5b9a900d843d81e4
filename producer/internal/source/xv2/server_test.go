package xv2

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
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
	select {
	case <-r.Context().Done():
	case <-time.After(20 * time.Second):
	}
}

// answer replies with a status and body.
func answer(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// How a scripted stream ends.
type streamEnd int

const (
	endClose streamEnd = iota // the server ends the response cleanly
	endCut                    // the connection drops (no final chunk)
	endHold                   // the server goes silent until the client leaves
)

// wire builds a stream's bytes and records which lines it delivers whole.
type wire struct {
	buf  bytes.Buffer
	want [][]byte
}

// line sends msg and its "\r\n".
func (w *wire) line(msgs ...[]byte) *wire {
	for _, msg := range msgs {
		w.buf.Write(msg)
		w.buf.WriteString("\r\n")
		w.want = append(w.want, msg)
	}
	return w
}

// heartbeat sends the blank line X sends to keep the stream alive.
func (w *wire) heartbeat() *wire {
	w.buf.WriteString("\r\n")
	return w
}

// raw adds bytes that deliver no line (a partial one).
func (w *wire) raw(b []byte) *wire {
	w.buf.Write(b)
	return w
}

// serve plays the stream: 200, the bytes in uneven flushed chunks, the end.
func (w *wire) serve(end streamEnd) http.HandlerFunc {
	data := bytes.Clone(w.buf.Bytes())
	return func(rw http.ResponseWriter, r *http.Request) {
		flusher := rw.(http.Flusher)
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusOK)
		rng := rand.New(rand.NewPCG(uint64(len(data)), 7))
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(700))
			if _, err := rw.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			flusher.Flush()
		}
		switch end {
		case endClose:
		case endCut:
			panic(http.ErrAbortHandler) // the server drops the connection
		case endHold:
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
		}
	}
}

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
