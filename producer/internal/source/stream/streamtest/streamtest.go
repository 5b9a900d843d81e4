// Package streamtest holds the test helpers the stream sources' tests share:
// a log buffer, a collecting Emit, and ways to run a source and compare what
// it emitted, and a redirecting front server. The stand-in servers stay
// with each source: they speak its protocol.
package streamtest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/logbuf"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// LogBuffer collects JSON logs from concurrent writers.
type LogBuffer struct{ logbuf.Buffer }

// Entries returns the log records with the given message.
func (b *LogBuffer) Entries(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// New calls newSource (a source's New) with cfg and a debug-level JSON
// logger, and returns the source and its logs. It fails t when New does.
func New[S, C any](t testing.TB, newSource func(C, *slog.Logger) (S, error), cfg C) (S, *LogBuffer) {
	t.Helper()
	logs := &LogBuffer{}
	src, err := newSource(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src, logs
}

// Collector is an Emit (its Emit method) that keeps what it is given. With
// AutoAck it acknowledges each record at once, as a pipeline whose Kafka
// never lags.
type Collector struct {
	AutoAck bool

	mu      sync.Mutex
	records []source.Record
	acked   int // records[:acked] are acknowledged
}

func (c *Collector) Emit(ctx context.Context, r source.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	if c.AutoAck {
		c.ackLocked(len(c.records))
	}
	return nil
}

// Ack acknowledges the records up to n, in order, as the publisher does.
func (c *Collector) Ack(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackLocked(n)
}

func (c *Collector) ackLocked(n int) {
	for ; c.acked < n; c.acked++ {
		if a := c.records[c.acked].Ack; a != nil {
			a()
		}
	}
}

// Records returns the records emitted so far.
func (c *Collector) Records() []source.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]source.Record(nil), c.records...)
}

// Values returns the values of the records emitted so far.
func (c *Collector) Values() [][]byte {
	var out [][]byte
	for _, r := range c.Records() {
		out = append(out, r.Value)
	}
	return out
}

// WaitFor polls until the collector holds n records. It fails t when errc,
// Run's result, gives one first, or after 10s.
func (c *Collector) WaitFor(t testing.TB, n int, errc <-chan error) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(c.Values()) < n {
		select {
		case err := <-errc:
			t.Fatalf("Run returned %v with %d records; want %d records first", err, len(c.Values()), n)
		case <-deadline:
			t.Fatalf("got %d records after 10s; want %d", len(c.Values()), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Run starts src.Run with c's Emit and returns its result channel and a
// stop function that cancels it and fails t unless Run then returns nil
// within 5s.
func Run(t testing.TB, src source.Source, c *Collector) (<-chan error, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, c.Emit) }()
	return errc, func() {
		t.Helper()
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run after cancel: got %v; want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return within 5s of cancel")
		}
	}
}

// CompareMessages fails t unless got and want hold the same bytes in order.
func CompareMessages(t testing.TB, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d %s; want %d", len(got), what, len(want))
	}
	for i := range min(len(got), len(want)) {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s %d: got %.120q; want %.120q", what, i, got[i], want[i])
			return
		}
	}
}

// Redirector starts a server that answers every request with a temporary
// redirect to target followed by the request's path and query, for the
// redirect tests of the stream sources.
func Redirector(t testing.TB, target string) *httptest.Server {
	t.Helper()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(front.Close)
	return front
}

// OtherHost is serverURL with the host name localhost instead of its IP
// address: another host to a client, still on loopback.
func OtherHost(t testing.TB, serverURL string) string {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = "localhost:" + u.Port()
	return u.String()
}
