package twitter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

var _ source.Source = (*Source)(nil)

// The schedule of the tests: the guideline shape, shortened.
const (
	testNetworkStep = 2 * time.Millisecond
	testHTTPInitial = 10 * time.Millisecond
	testRateInitial = 50 * time.Millisecond
	testStall       = 500 * time.Millisecond
)

func testConfig(baseURL string) Config {
	c := serverCredentials()
	return Config{
		ConsumerKey: envconf.Secret(c.consumerKey), ConsumerSecret: envconf.Secret(c.consumerSecret),
		AccessToken: envconf.Secret(c.accessToken), AccessSecret: envconf.Secret(c.accessSecret),
		BaseURL:      envconf.URL(baseURL),
		StallTimeout: testStall,
		Schedule: stream.Schedule{
			NetworkBackoffStep:      testNetworkStep,
			NetworkBackoffMax:       64 * testNetworkStep,
			HTTPBackoffInitial:      testHTTPInitial,
			HTTPBackoffMax:          64 * testHTTPInitial,
			RateLimitBackoffInitial: testRateInitial,
			RateLimitBackoffMax:     16 * testRateInitial,
			StableAfter:             time.Nanosecond, // every stream long enough: these last milliseconds
		},
	}
}

func newTestSource(t *testing.T, cfg Config) (*Source, *streamtest.LogBuffer) {
	t.Helper()
	return streamtest.New(t, New, cfg)
}

// statuses keeps the messages that are statuses.
func statuses(t *testing.T, msgs [][]byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, m := range msgs {
		if c, err := message.Classify(m); err == nil && c.Kind == message.KindStatus {
			out = append(out, m)
		}
	}
	return out
}

// oversizeStatus is a status larger than any message of the payloads.
func oversizeStatus(id string, size int) []byte {
	return fmt.Appendf(nil, `{"id_str":"%s","user":{},"text":"%s"}`, id, strings.Repeat("x", size))
}

// TestRunAgainstServer plays every situation of the protocol on one source:
// retried HTTP errors, a rate limit, both framings, gzip, keep-alives, a cut
// in the middle of a message, a disconnect, a stall, a clean close, then the
// 410 the real endpoint gives today. What comes out is every message that
// arrived whole, once, unchanged, in order. It runs on the project's
// payloads, and on the shared real ones where they are.
func TestRunAgainstServer(t *testing.T) {
	t.Run("testdata", func(t *testing.T) { runAgainstServer(t, projectPayloads(t)) })
	t.Run("shared", func(t *testing.T) { runAgainstServer(t, sharedPayloads(t)) })
}

func runAgainstServer(t *testing.T, p payloads) {
	python, t4j, ast := p.sample, p.mixed, p.legacy
	const maxBytes = 20000

	// 1. gzip, length framing; the last python status is cut halfway.
	first := newWire()
	first.KeepAlive()
	for i, line := range python[:len(python)-1] {
		first.Length(line)
		if i%10 == 0 {
			first.KeepAlive()
		}
		if i == min(30, len(python)/2) {
			first.Raw([]byte(fmt.Sprintf("%d\r\n%s\r\n", 2+len(oversizeStatus("1", 30000)), oversizeStatus("1", 30000))))
		}
	}
	cut := python[len(python)-1]
	cutKey, _ := message.Classify(cut)
	first.Raw(fmt.Appendf(nil, "%d\r\n%s", len(cut)+2, cut[:len(cut)/2]))

	// 2. plain framing, a status holding raw newlines, a stall warning,
	// then a disconnect while the server holds the connection open.
	second := newWire()
	for _, line := range t4j {
		second.Line(line).KeepAlive()
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, statuses(t, t4j)[0], "", "  "); err != nil {
		t.Fatal(err)
	}
	second.Line(pretty.Bytes())
	second.Raw(append(oversizeStatus("2", 25000), "\r\n"...))
	second.Line(p.warning)
	disconnect := []byte(`{"disconnect":{"code":7,"stream_name":"tweetpipe-statuses","reason":"admin logout"}}`)
	second.Line(disconnect)

	// 3. length framing from a CRLF file, limit notices, then silence.
	third := newWire()
	for i, line := range ast {
		third.Length(line)
		if i%7 == 0 {
			third.KeepAlive().KeepAlive()
		}
		if i == min(40, len(ast)/2) {
			third.Length([]byte(`{"limit":{"track":5,"timestamp_ms":"1520690595660"}}`))
		}
	}
	third.Length([]byte(`{"limit":{"track":12,"timestamp_ms":"1520690595661"}}`))

	// 4. gzip, plain framing, the server closes the stream.
	fourth := newWire()
	fourth.Line(p.extended).KeepAlive()

	srv := newStreamServer(t,
		answer(http.StatusServiceUnavailable, "Service Unavailable"),
		answer(http.StatusServiceUnavailable, "Service Unavailable"),
		answer(420, "Enhance Your Calm"),
		first.Serve(streamtest.EndCut, true),
		answer(http.StatusServiceUnavailable, "Service Unavailable"),
		second.Serve(streamtest.EndHold, false),
		third.Serve(streamtest.EndHold, false),
		fourth.Serve(streamtest.EndClose, true),
		answer(http.StatusGone, `{"errors":[{"code":410,"message":"Gone"}]}`),
	)
	cfg := testConfig(srv.URL)
	cfg.Language = []string{"en", " pt "}
	cfg.MaxMessageBytes = maxBytes
	src, logs := newTestSource(t, cfg)

	var out streamtest.Collector
	start := time.Now()
	err := src.Run(t.Context(), out.Emit)
	elapsed := time.Since(start)

	// It ends on the 410, saying what to do.
	var status *stream.StatusError
	if !errors.As(err, &status) || status.Code != http.StatusGone {
		t.Fatalf("got error %v; want a *StatusError for 410", err)
	}
	for _, want := range []string{`"message":"Gone"`, "retired", "SOURCE=replay"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got error %q; want it to contain %q", err, want)
		}
	}

	// Every message delivered whole, once, byte-identical, in order.
	var want [][]byte
	for _, w := range []*streamtest.Wire{first, second, third, fourth} {
		want = append(want, w.Want...)
	}
	got := out.Values()
	streamtest.CompareMessages(t, "messages", got, want)
	streamtest.CompareMessages(t, "statuses", statuses(t, got), statuses(t, want))
	if n := len(statuses(t, want)); n != p.statuses {
		t.Errorf("the test delivers %d whole statuses; want %d", n, p.statuses)
	}
	for i, v := range got {
		if m, _ := message.Classify(v); bytes.Equal(m.Key, cutKey.Key) || bytes.HasPrefix(cut, v) {
			t.Errorf("message %d is (part of) the status cut mid-way", i)
		}
		if len(v) > maxBytes {
			t.Errorf("message %d has %d bytes; want at most %d", i, len(v), maxBytes)
		}
	}
	for i, r := range out.Records() {
		if r.Ack != nil {
			t.Errorf("record %d has an Ack; the v1.1 stream cannot resume", i)
		}
	}

	// Every wait logged with its reason and length, per the schedule.
	type wait struct {
		Reason string
		Wait   time.Duration
	}
	wantWaits := []wait{
		{stream.ReasonHTTP, testHTTPInitial},
		{stream.ReasonHTTP, 2 * testHTTPInitial},
		{stream.ReasonRateLimit, testRateInitial},
		{stream.ReasonNetwork, testNetworkStep}, // the cut; the connection had reset the schedule
		{stream.ReasonHTTP, testHTTPInitial},
		{stream.ReasonDisconnect, testNetworkStep},
		{stream.ReasonStall, testNetworkStep},
		{stream.ReasonNetwork, testNetworkStep}, // the clean close
	}
	var gotWaits []wait
	for _, e := range logs.Entries(t, "waiting to reconnect") {
		reason, _ := e["reason"].(string)
		ns, _ := e["wait"].(float64)
		gotWaits = append(gotWaits, wait{reason, time.Duration(ns)})
		if e["error"] == nil {
			t.Errorf("wait %v logged without the error that caused it", e)
		}
	}
	if fmt.Sprint(gotWaits) != fmt.Sprint(wantWaits) {
		t.Errorf("got waits %v; want %v", gotWaits, wantWaits)
	}
	if elapsed < testStall {
		t.Errorf("ran %v; the stall alone takes %v", elapsed, testStall)
	}

	// The counters tell the same story.
	stats := src.Stats()
	wantStats := Stats{
		Stats: stream.Stats{
			Connected:   false,
			Connections: 4,
			Reconnects: map[string]int64{
				stream.ReasonNetwork: 2, stream.ReasonStall: 1, stream.ReasonDisconnect: 1, stream.ReasonHTTP: 3, stream.ReasonRateLimit: 1,
			},
			Stalls:          1,
			Messages:        int64(len(want)),
			DroppedOversize: 2,
		},
		LimitTrack:    p.limitTrack + 12, // the notices of mixed, then 5 and 12 on one connection
		LimitNotices:  p.limitNotices + 2,
		StallWarnings: 1,
		Disconnects:   1,
	}
	if fmt.Sprintf("%+v", stats) != fmt.Sprintf("%+v", wantStats) {
		t.Errorf("got stats %+v; want %+v", stats, wantStats)
	}
	if d := logs.Entries(t, "the server sent a disconnect"); len(d) != 1 || d[0]["code"] != float64(7) || d[0]["reason"] != "admin logout" {
		t.Errorf("got disconnect logs %v; want one with code 7 and its reason", d)
	}
	if w := logs.Entries(t, "the server warns this client is falling behind"); len(w) != 1 || w[0]["percent_full"] != float64(60) {
		t.Errorf("got warning logs %v; want one with percent_full 60", w)
	}
	if d := logs.Entries(t, "dropped an oversize message"); len(d) != 2 {
		t.Errorf("got %d oversize logs; want 2", len(d))
	}

	// Every request: the sample endpoint, asking for length framing, stall
	// warnings and gzip, as tweetpipe.
	reqs := srv.requests()
	if len(reqs) != 9 {
		t.Errorf("got %d requests; want 9", len(reqs))
	}
	for i, r := range reqs {
		if r.Method != http.MethodGet || r.Path != "/statuses/sample.json" {
			t.Errorf("request %d: got %s %s; want GET /statuses/sample.json", i, r.Method, r.Path)
		}
		if q := r.Query.Encode(); q != "delimited=length&language=en%2Cpt&stall_warnings=true" {
			t.Errorf("request %d: got query %s; want delimited=length&language=en%%2Cpt&stall_warnings=true", i, q)
		}
		if got := r.Header.Get("Accept-Encoding"); got != "gzip" {
			t.Errorf("request %d: got Accept-Encoding %q; want gzip", i, got)
		}
		if got := r.Header.Get("User-Agent"); got != "tweetpipe" {
			t.Errorf("request %d: got User-Agent %q; want tweetpipe", i, got)
		}
	}

	// No credential in the logs or the error.
	for _, secret := range serverCredentials().all() {
		if strings.Contains(logs.String(), secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("a credential leaked into the logs or the error")
		}
	}
}

func TestRunFilterPostsASignedForm(t *testing.T) {
	status := corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl"))[0]
	w := newWire().Length(status)
	srv := newStreamServer(t, w.Serve(streamtest.EndHold, true))
	cfg := testConfig(srv.URL + "/")
	cfg.Track = []string{"#golang", "kafka streams", "café", "a+b&c=d"}
	cfg.Follow = []string{"12", " 783214"}
	cfg.Locations = []string{"-122.75", "36.8", "-121.75", "37.8"}
	cfg.Language = []string{"en"}
	src, _ := newTestSource(t, cfg)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got [][]byte
	err := src.Run(ctx, func(_ context.Context, r source.Record) error {
		got = append(got, r.Value)
		cancel()
		return nil
	})
	if err != nil {
		t.Fatalf("Run returned %v; want nil once the context is cancelled", err)
	}
	streamtest.CompareMessages(t, "messages", got, [][]byte{status})

	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests; want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/statuses/filter.json" {
		t.Errorf("got %s %s; want POST /statuses/filter.json", r.Method, r.Path)
	}
	wantForm := map[string]string{
		"track":          "#golang,kafka streams,café,a+b&c=d",
		"follow":         "12,783214",
		"locations":      "-122.75,36.8,-121.75,37.8",
		"language":       "en",
		"delimited":      "length",
		"stall_warnings": "true",
	}
	if len(r.Form) != len(wantForm) {
		t.Errorf("got form %v; want %v", r.Form, wantForm)
	}
	for k, v := range wantForm {
		if got := r.Form.Get(k); got != v {
			t.Errorf("form %s: got %q; want %q", k, got, v)
		}
	}
	if len(r.Query) != 0 {
		t.Errorf("got query %v; want the parameters in the body only", r.Query)
	}
}

func TestRunWithWrongCredentialsStops(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"consumer secret", func(c *Config) { c.ConsumerSecret = "cs-wrong" }},
		{"access secret", func(c *Config) { c.AccessSecret = "as-wrong" }},
		{"consumer key", func(c *Config) { c.ConsumerKey = "ck-wrong" }},
		{"access token", func(c *Config) { c.AccessToken = "at-wrong" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStreamServer(t)
			cfg := testConfig(srv.URL)
			tt.change(&cfg)
			src, logs := newTestSource(t, cfg)

			err := src.Run(t.Context(), (&streamtest.Collector{}).Emit)
			var status *stream.StatusError
			if !errors.As(err, &status) || status.Code != http.StatusUnauthorized {
				t.Fatalf("got error %v; want a *StatusError for 401", err)
			}
			for _, want := range []string{"Could not authenticate you", "TWITTER_CONSUMER_SECRET", "clock"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q; want it to contain %q", err, want)
				}
			}
			if srv.refusedCount() != 1 || len(srv.requests()) != 0 {
				t.Errorf("got %d refused and %d accepted requests; want 1 refused, no retry", srv.refusedCount(), len(srv.requests()))
			}
			for _, secret := range append(serverCredentials().all(), cfg.ConsumerSecret.Reveal(), cfg.AccessSecret.Reveal(), cfg.ConsumerKey.Reveal(), cfg.AccessToken.Reveal()) {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a credential leaked into the error or the logs: %v", err)
				}
			}
		})
	}
}

func TestRunStopsOnFatalStatuses(t *testing.T) {
	tests := []struct {
		code int
		fix  string
	}{
		{401, "TWITTER_ACCESS_TOKEN"},
		{403, "permissions"},
		{404, "TWITTER_STREAM_BASE_URL"},
		{406, "TWITTER_TRACK"},
		{410, "SOURCE=replay, xv2 or jetstream"},
		{413, "at most 400 phrases"},
		{416, "v1.1 streaming service"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			body := fmt.Sprintf("why %d", tt.code)
			srv := newStreamServer(t, answer(tt.code, body))
			src, _ := newTestSource(t, testConfig(srv.URL))

			err := src.Run(t.Context(), (&streamtest.Collector{}).Emit)
			var status *stream.StatusError
			if !errors.As(err, &status) {
				t.Fatalf("got error %v; want a *StatusError", err)
			}
			if status.Code != tt.code || status.Body != body {
				t.Errorf("got %d %q; want %d %q", status.Code, status.Body, tt.code, body)
			}
			if !strings.Contains(err.Error(), tt.fix) {
				t.Errorf("got %q; want it to say %q", err, tt.fix)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("got %d requests; want 1 (no retry)", n)
			}
		})
	}
}

func TestStatusErrorSaysWhatToFix(t *testing.T) {
	tests := []struct {
		code int
		want []string
	}{
		{401, []string{"TWITTER_CONSUMER_KEY", "TWITTER_CONSUMER_SECRET", "TWITTER_ACCESS_TOKEN", "TWITTER_ACCESS_SECRET", "clock"}},
		{403, []string{"permissions"}},
		{404, []string{"TWITTER_STREAM_BASE_URL"}},
		{406, []string{"TWITTER_TRACK", "TWITTER_FOLLOW", "TWITTER_LOCATIONS"}},
		{410, []string{"retired", "SOURCE=replay, xv2 or jetstream"}},
		{413, []string{"TWITTER_TRACK", "400"}},
		{416, []string{"TWITTER_STREAM_BASE_URL"}},
	}
	for _, tt := range tests {
		err := &stream.StatusError{Service: service, Code: tt.code, Body: "the body", Fix: fixFor(tt.code)}
		msg := err.Error()
		for _, want := range append(tt.want, fmt.Sprint(tt.code), "the body", "twitter stream answered") {
			if !strings.Contains(msg, want) {
				t.Errorf("%d: got %q; want it to mention %q", tt.code, msg, want)
			}
		}
	}
}

// Keep-alives alone keep a quiet connection open.
func TestKeepAlivesAreNotStalls(t *testing.T) {
	status := corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl"))[0]
	quiet := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for range 12 { // 3 stall timeouts of keep-alives
			w.Write([]byte("\r\n"))
			w.(http.Flusher).Flush()
			time.Sleep(testStall / 4)
		}
		fmt.Fprintf(w, "%d\r\n%s\r\n", len(status)+2, status)
	}
	srv := newStreamServer(t, quiet, answer(http.StatusGone, "gone"))
	src, _ := newTestSource(t, testConfig(srv.URL))

	var out streamtest.Collector
	err := src.Run(t.Context(), out.Emit)
	if status := (*stream.StatusError)(nil); !errors.As(err, &status) || status.Code != http.StatusGone {
		t.Fatalf("got error %v; want the scripted 410", err)
	}
	streamtest.CompareMessages(t, "messages", out.Values(), [][]byte{status})
	if s := src.Stats(); s.Stalls != 0 || s.Reconnects[stream.ReasonNetwork] != 1 {
		t.Errorf("got %d stalls, %d network reconnects; want 0 and 1", s.Stalls, s.Reconnects[stream.ReasonNetwork])
	}
}

// A full pipeline holds the source back; that is not a stall.
func TestSlowEmitIsNotAStall(t *testing.T) {
	lines := corpus.Lines(t, corpus.Path(t, "v1.1/legacy-2010.json"))[:5]
	w := newWire()
	for _, l := range lines {
		w.Length(l)
	}
	srv := newStreamServer(t, w.Serve(streamtest.EndClose, false), answer(http.StatusGone, "gone"))
	src, _ := newTestSource(t, testConfig(srv.URL))

	var out streamtest.Collector
	err := src.Run(t.Context(), func(ctx context.Context, r source.Record) error {
		if len(out.Values()) == 0 {
			time.Sleep(3 * testStall)
		}
		return out.Emit(ctx, r)
	})
	if status := (*stream.StatusError)(nil); !errors.As(err, &status) {
		t.Fatalf("got error %v; want the scripted 410", err)
	}
	streamtest.CompareMessages(t, "messages", out.Values(), w.Want)
	if s := src.Stats(); s.Stalls != 0 {
		t.Errorf("got %d stalls; want 0", s.Stalls)
	}
}

// A stall before the response headers counts as one too.
func TestStallBeforeHeaders(t *testing.T) {
	silent := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	srv := newStreamServer(t, silent, answer(http.StatusGone, "gone"))
	src, _ := newTestSource(t, testConfig(srv.URL))
	err := src.Run(t.Context(), (&streamtest.Collector{}).Emit)
	if status := (*stream.StatusError)(nil); !errors.As(err, &status) {
		t.Fatalf("got error %v; want the scripted 410", err)
	}
	if s := src.Stats(); s.Stalls != 1 || s.Reconnects[stream.ReasonStall] != 1 || s.Connections != 0 {
		t.Errorf("got stats %+v; want one stall and no connection", s)
	}
}

// Shutdown interrupts a wait at once, however long the wait.
func TestRunReturnsWhenCancelledDuringAWait(t *testing.T) {
	srv := newStreamServer(t, answer(http.StatusServiceUnavailable, "busy"))
	cfg := testConfig(srv.URL)
	cfg.HTTPBackoffInitial, cfg.HTTPBackoffMax = time.Hour, time.Hour
	src, logs := newTestSource(t, cfg)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, (&streamtest.Collector{}).Emit) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.Entries(t, "waiting to reconnect")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no wait logged within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wait := logs.Entries(t, "waiting to reconnect")[0]
	if wait["wait"] != float64(time.Hour) || wait["reason"] != stream.ReasonHTTP {
		t.Errorf("got wait %v; want an hour for an HTTP error", wait)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v; want nil on shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of the cancel")
	}
}

// When the pipeline stops, Run returns its error and does not reconnect.
func TestRunReturnsTheEmitError(t *testing.T) {
	status := corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl"))[0]
	srv := newStreamServer(t, newWire().Length(status).Serve(streamtest.EndHold, false))
	src, _ := newTestSource(t, testConfig(srv.URL))
	stopped := errors.New("pipeline stopped")
	err := src.Run(t.Context(), func(context.Context, source.Record) error { return stopped })
	if !errors.Is(err, stopped) {
		t.Errorf("got %v; want %v", err, stopped)
	}
}

// Records stay valid after the reader has moved on.
func TestRecordsAreNotOverwritten(t *testing.T) {
	t.Run("testdata", func(t *testing.T) {
		p := projectPayloads(t)
		recordsAreNotOverwritten(t, append(append(p.sample, p.mixed...), p.legacy...))
	})
	t.Run("shared", func(t *testing.T) { recordsAreNotOverwritten(t, sharedPayloads(t).sample[:20]) })
}

func recordsAreNotOverwritten(t *testing.T, lines [][]byte) {
	out, w := runLines(t, lines)
	streamtest.CompareMessages(t, "messages", out.Values(), w.Want)
}

// runLines runs a source against a stream that sends lines, each a line
// of its own, then ends, and answers 410 to the reconnect; it returns
// what the source emitted and the wire (w.Want: the messages sent).
func runLines(t *testing.T, lines [][]byte) (*streamtest.Collector, *streamtest.Wire) {
	t.Helper()
	w := newWire()
	for _, l := range lines {
		w.Line(l)
	}
	srv := newStreamServer(t, w.Serve(streamtest.EndClose, false), answer(http.StatusGone, "gone"))
	src, _ := newTestSource(t, testConfig(srv.URL))
	var out streamtest.Collector
	src.Run(t.Context(), out.Emit)
	return &out, w
}

func TestNewValidates(t *testing.T) {
	valid := testConfig("https://stream.example.com/1.1")
	tests := []struct {
		name   string
		change func(*Config)
		want   []string // substrings of the error; none means valid
	}{
		{"valid", func(*Config) {}, nil},
		{"no credentials", func(c *Config) { *c = Config{} }, []string{
			"TWITTER_CONSUMER_KEY is required for SOURCE=twitter", "TWITTER_CONSUMER_SECRET is required",
			"TWITTER_ACCESS_TOKEN is required", "TWITTER_ACCESS_SECRET is required"}},
		{"blank access secret", func(c *Config) { c.AccessSecret = " \n" }, []string{"TWITTER_ACCESS_SECRET is required for SOURCE=twitter"}},
		{"bad base URL", func(c *Config) { c.BaseURL = "stream.twitter.com" }, []string{"TWITTER_STREAM_BASE_URL"}},
		{"non-numeric follow", func(c *Config) { c.Follow = []string{"12", "@jack"} }, []string{`TWITTER_FOLLOW: "@jack"`}},
		{"locations not in fours", func(c *Config) { c.Locations = []string{"1", "2", "3"} }, []string{"TWITTER_LOCATIONS"}},
		{"latitude out of range", func(c *Config) { c.Locations = []string{"1", "95", "3", "4"} }, []string{"TWITTER_LOCATIONS: latitude 95"}},
		{"negative maximum", func(c *Config) { c.MaxMessageBytes = -1 }, []string{"TWITTER_MAX_MESSAGE_BYTES"}},
		{"maximum below 1 KiB", func(c *Config) { c.MaxMessageBytes = 1023 }, []string{"TWITTER_MAX_MESSAGE_BYTES=1023: accepts 1024 or more"}},
		{"negative stall timeout", func(c *Config) { c.StallTimeout = -time.Second }, []string{"TWITTER_STALL_TIMEOUT"}},
		{"ceiling below start", func(c *Config) { c.HTTPBackoffInitial = time.Hour }, []string{"HTTP back-off maximum"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			_, err := New(cfg, nil)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("got %v; want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error; want one mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q; want it to contain %q", err, w)
				}
			}
			for _, secret := range serverCredentials().all() {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("a credential leaked into %q", err)
				}
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	cfg := testConfig("")
	cfg.StallTimeout, cfg.NetworkBackoffStep, cfg.NetworkBackoffMax, cfg.HTTPBackoffMax, cfg.RateLimitBackoffMax = 0, 0, 0, 0, 0
	cfg.ConsumerKey = "  " + cfg.ConsumerKey + "\n" // as read from a secret file
	src, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := src.cfg
	if got.BaseURL != DefaultBaseURL || got.MaxMessageBytes != 1<<20 || got.StallTimeout != 90*time.Second ||
		got.NetworkBackoffStep != 250*time.Millisecond || got.HTTPBackoffMax != 320*time.Second ||
		got.RateLimitBackoffMax != 16*time.Minute || got.ConsumerKey.Reveal() != serverCredentials().consumerKey {
		t.Errorf("got %+v; want the defaults and a trimmed key", got)
	}
	if src.Name() != "twitter" {
		t.Errorf("got name %q; want twitter", src.Name())
	}
	if cfg.filtered() {
		t.Error("got the filter endpoint; want sample without track, follow or locations")
	}
}

func TestConfigNeverShowsCredentials(t *testing.T) {
	cfg := testConfig("https://user:pw@proxy.example.com/1.1")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "twitter", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "twitter", cfg)
	shown := logs.String() + fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg)
	for _, secret := range append(serverCredentials().all(), "pw@") {
		if strings.Contains(shown, secret) {
			t.Errorf("%q shows up in %s", secret, shown)
		}
	}
	if !strings.Contains(shown, "proxy.example.com") {
		t.Errorf("got %s; want the non-secret fields shown", shown)
	}
}

// A status over 64 KiB (a long extended_tweet) comes out whole in both
// framings, under the default TWITTER_MAX_MESSAGE_BYTES.
func TestStatusOver64KiB(t *testing.T) {
	big := corpus.BigStatus("1399614700000000000", 70<<10)
	w := newWire()
	w.Length(big).KeepAlive()
	w.Line(big)
	srv := newStreamServer(t, w.Serve(streamtest.EndClose, true), answer(http.StatusGone, "gone"))
	src, _ := newTestSource(t, testConfig(srv.URL))
	var out streamtest.Collector
	if err := src.Run(t.Context(), out.Emit); err == nil {
		t.Fatal("got no error; want the scripted 410")
	}
	streamtest.CompareMessages(t, "messages", out.Values(), [][]byte{big, big})
	if s := src.Stats(); s.DroppedOversize != 0 {
		t.Errorf("got %d oversize drops; want 0", s.DroppedOversize)
	}
}

// TestSourceHandsOverClassify: every message is emitted with what the
// publisher's classifier for SOURCE=twitter (message.Classify) gives for
// it, which the publisher then uses instead of classifying it again, and
// a line that is not a JSON object with none.
func TestSourceHandsOverClassify(t *testing.T) {
	p := projectPayloads(t)
	lines := append(append(append([][]byte{}, p.sample...), p.mixed...), p.legacy...)
	lines = append(lines, []byte(`not json`), []byte(`[1]`))
	out, _ := runLines(t, lines)
	records := out.Records()
	if len(records) != len(lines) {
		t.Fatalf("emitted %d messages; want %d", len(records), len(lines))
	}
	vouched := 0
	for _, r := range records {
		if streamtest.CheckClassified(t, message.Classify, r) {
			vouched++
		}
	}
	if want := len(lines) - 2; vouched != want {
		t.Errorf("handed over %d classifications; want %d (all but the 2 lines that are not JSON objects)", vouched, want)
	}
}
