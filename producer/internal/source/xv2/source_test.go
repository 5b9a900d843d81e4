package xv2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

var _ source.Source = (*Source)(nil)

// The schedule of the tests: the v1.1 shape, shortened.
const (
	testNetworkStep = 2 * time.Millisecond
	testHTTPInitial = 10 * time.Millisecond
	testRateInitial = 30 * time.Millisecond
	testStall       = 500 * time.Millisecond
)

func testConfig(url string) Config {
	return Config{
		BearerToken:     serverToken,
		URL:             envconf.URL(url),
		TweetFields:     []string{"author_id", "lang", "public_metrics"},
		Expansions:      []string{"author_id"},
		UserFields:      []string{"created_at", "public_metrics"},
		BackfillMinutes: 2,
		StallTimeout:    testStall,
		Schedule: stream.Schedule{
			NetworkBackoffStep:      testNetworkStep,
			NetworkBackoffMax:       64 * testNetworkStep,
			HTTPBackoffInitial:      testHTTPInitial,
			HTTPBackoffMax:          64 * testHTTPInitial,
			RateLimitBackoffInitial: testRateInitial,
			RateLimitBackoffMax:     16 * testRateInitial,
		},
	}
}

func newTestSource(t *testing.T, cfg Config) (*Source, *streamtest.LogBuffer) {
	t.Helper()
	return streamtest.New(t, New, cfg)
}

// TestRunAgainstServer plays the v2 stream's situations on one source: a
// 429, heartbeats, an error object, an operational-disconnect on a stream
// the server keeps open, a backfill that re-sends posts already delivered, a
// cut in the middle of a line. What comes out is every line delivered whole,
// in order, byte for byte, the backfill's copies included: the consumer's
// dedup window drops them by key, so the keys of copies must be identical.
func TestRunAgainstServer(t *testing.T) {
	p := testPosts(t)

	// 1. Rate limited. 2. Heartbeats, posts, an error, then
	// operational-disconnect on a stream the server leaves open.
	first := newWire().KeepAlive().Line(p[0]).KeepAlive().KeepAlive().Line(p[1], p[2], streamError, p[3], p[4]).
		KeepAlive().Line(opDisconnect)
	// 3. A reconnect with backfill: p[2..4] again, then new posts, cut
	// inside p[8].
	second := newWire().Line(p[2], p[3], p[4]).KeepAlive().Line(p[5], p[6]).KeepAlive().Line(p[7]).Raw(partial(p[8]))
	// 4. The next reconnect: p[8] whole, the rest; the server holds.
	third := newWire().Line(p[8], p[9]).KeepAlive().Line(p[10], p[11]).KeepAlive()
	srv := newStreamServer(t,
		answer(http.StatusTooManyRequests, tooMany),
		first.Serve(streamtest.EndHold, false),
		second.Serve(streamtest.EndCut, false),
		third.Serve(streamtest.EndHold, false),
	)
	src, logs := newTestSource(t, testConfig(srv.streamURL()))
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)

	var want [][]byte
	for _, w := range []*streamtest.Wire{first, second, third} {
		want = append(want, w.Want...)
	}
	c.WaitFor(t, len(want), errc)
	stop()
	got := c.Values()
	streamtest.CompareMessages(t, "records", got, want)
	for i, r := range c.Records() {
		if r.Ack != nil {
			t.Errorf("record %d has an Ack; want none (the stream cannot resume)", i)
		}
		if bytes.ContainsAny(r.Value, "\r\n") {
			t.Errorf("record %d holds a line terminator: %.80q", i, r.Value)
		}
	}

	// Copies from the backfill: same key as the first delivery.
	seen := map[string]int{}
	duplicates := 0
	for _, v := range got {
		m, err := Classify(v)
		if err != nil {
			t.Fatalf("Classify(%.60q): %v", v, err)
		}
		if m.Kind != message.KindStatus {
			continue
		}
		if seen[string(m.Key)]++; seen[string(m.Key)] > 1 {
			duplicates++
		}
	}
	if duplicates != 3 {
		t.Errorf("got %d duplicate posts from the backfill; want 3 (p2, p3, p4)", duplicates)
	}
	if len(seen) != 12 {
		t.Errorf("got %d distinct posts; want 12", len(seen))
	}

	reqs := srv.requests()
	if len(reqs) != 4 {
		t.Fatalf("got %d requests; want 4", len(reqs))
	}
	for i, q := range reqs {
		for param, want := range map[string]string{
			"tweet.fields": "created_at,author_id,lang,public_metrics",
			"expansions":   "author_id",
			"user.fields":  "created_at,public_metrics",
		} {
			if got := q.Get(param); got != want {
				t.Errorf("request %d: %s=%q; want %q", i+1, param, got, want)
			}
		}
		// The 429 opened no stream: its retry is not a reconnect.
		wantBackfill := map[int]string{0: "", 1: "", 2: "1", 3: "1"}[i]
		if got := q.Get("backfill_minutes"); got != wantBackfill {
			t.Errorf("request %d: backfill_minutes=%q; want %q", i+1, got, wantBackfill)
		}
	}

	st := src.Stats()
	for reason, want := range map[string]int64{
		stream.ReasonRateLimit: 1, stream.ReasonDisconnect: 1, stream.ReasonNetwork: 1,
		stream.ReasonStall: 0, stream.ReasonHTTP: 0,
	} {
		if got := st.Reconnects[reason]; got != want {
			t.Errorf("Reconnects[%s] = %d; want %d", reason, got, want)
		}
	}
	if st.Connections != 3 || st.Posts != 15 || st.Errors != 2 || st.Disconnects != 1 || st.Backfills != 2 || st.Messages != int64(len(want)) {
		t.Errorf("stats %+v; want 3 connections, 15 posts, 2 errors, 1 disconnect, 2 backfills, %d messages", st, len(want))
	}
	if st.Connected {
		t.Error("Connected after Run returned")
	}
	if strings.Contains(logs.String(), serverToken) {
		t.Error("the logs hold the bearer token")
	}
	if !strings.Contains(logs.String(), "UpstreamOperationalDisconnect") {
		t.Error("the operational-disconnect was not logged")
	}
}

// TestShortStreamsBackOff: a server that answers 200 and ends each stream
// at once is retried on the growing schedule (2, 4, 6, 8 ms here), not at
// the first step for ever: a stream starts the schedule over only once it
// stayed open (stream.DefaultStableAfter).
func TestShortStreamsBackOff(t *testing.T) {
	closeAtOnce := newWire().Serve(streamtest.EndClose, false)
	srv := newStreamServer(t, closeAtOnce, closeAtOnce, closeAtOnce, closeAtOnce) // then it holds
	src, logs := newTestSource(t, testConfig(srv.streamURL()))
	errc, stop := streamtest.Run(t, src, &streamtest.Collector{})
	srv.waitRequests(t, 5, errc)
	stop()
	var waits []time.Duration
	for _, e := range logs.Entries(t, "waiting to reconnect") {
		ns, _ := e["wait"].(float64)
		waits = append(waits, time.Duration(ns))
	}
	want := []time.Duration{testNetworkStep, 2 * testNetworkStep, 3 * testNetworkStep, 4 * testNetworkStep}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v; want %v", waits, want)
	}
}

// TestRateLimitResetHonoured: a 429 that names when X's rate-limit window
// starts over (x-rate-limit-reset, Unix seconds) is not asked again before
// then, though the schedule's first rate-limit wait is shorter; the log
// says what the server asked.
func TestRateLimitResetHonoured(t *testing.T) {
	limited := func(w http.ResponseWriter, r *http.Request) {
		// The next whole second at least one second away: the wait is
		// between 1 and 2 s, far above the schedule's 30 ms.
		w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(time.Now().Unix()+2))
		answer(http.StatusTooManyRequests, tooMany)(w, r)
	}
	srv := newStreamServer(t, limited) // then it holds
	cfg := testConfig(srv.streamURL())
	cfg.RateLimitBackoffMax = 5 * time.Second
	src, logs := newTestSource(t, cfg)
	errc, stop := streamtest.Run(t, src, &streamtest.Collector{})
	srv.waitRequests(t, 2, errc)
	stop()
	waits := logs.Entries(t, "waiting to reconnect")
	if len(waits) != 1 {
		t.Fatalf("%d waits logged; want 1: %v", len(waits), waits)
	}
	wait, _ := waits[0]["wait"].(float64)
	asked, _ := waits[0]["server_asked"].(float64)
	if time.Duration(wait) < 900*time.Millisecond || time.Duration(wait) > 2*time.Second || wait != asked {
		t.Fatalf("waited %v (server asked %v) after a 429 whose window starts over in 1 to 2 s; want that wait (the schedule's is %v)",
			time.Duration(wait), time.Duration(asked), testRateInitial)
	}
}

// TestWrongTokenIsFatal: a refused token stops the source at once with an
// error saying which variable to fix, without the token.
func TestWrongTokenIsFatal(t *testing.T) {
	srv := newStreamServer(t)
	cfg := testConfig(srv.streamURL())
	const wrong = "AAAAAAAAAAAAAAAAAAAAAwrongtokenQz9"
	cfg.BearerToken = wrong
	src, logs := newTestSource(t, cfg)

	err := src.Run(context.Background(), (&streamtest.Collector{}).Emit)
	var se *stream.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("Run: got %v; want a *stream.StatusError with code 401", err)
	}
	for _, want := range []string{"X_BEARER_TOKEN", "401", `"detail":"Unauthorized"`, "X API v2 stream answered"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	for _, secret := range []string{wrong, serverToken} {
		if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Error("the error or the logs hold a token")
		}
	}
	if n := srv.refusedCount(); n != 1 {
		t.Errorf("the server refused %d requests; want 1 (no retry)", n)
	}
}

func TestFatalStatuses(t *testing.T) {
	for _, tc := range []struct {
		code int
		fix  string
	}{
		{http.StatusBadRequest, "X_TWEET_FIELDS"},
		{http.StatusForbidden, "access level"},
		{http.StatusNotFound, "X_STREAM_URL"},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			srv := newStreamServer(t, answer(tc.code, `{"title":"refused"}`))
			src, _ := newTestSource(t, testConfig(srv.streamURL()))
			err := src.Run(context.Background(), (&streamtest.Collector{}).Emit)
			var se *stream.StatusError
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("Run: got %v; want a *stream.StatusError with code %d", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.fix) {
				t.Errorf("error %q does not mention %s", err, tc.fix)
			}
		})
	}
}

// TestDefaultStallTimeoutOutlastsAHeartbeat: X's heartbeat comes every 20 s
// and some come late; a stall timeout of 20 s reconnected a quiet stream
// every 20 s. The default leaves a late heartbeat a third more.
func TestDefaultStallTimeoutOutlastsAHeartbeat(t *testing.T) {
	t.Setenv("X_STALL_TIMEOUT", "") // restored after the test
	os.Unsetenv("X_STALL_TIMEOUT")
	var fromEnv Config
	if err := envconf.Process(&fromEnv, nil); err != nil {
		t.Fatal(err)
	}
	zero := testConfig("https://api.x.com/2/tweets/sample/stream")
	zero.StallTimeout = 0
	filled, err := zero.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	heartbeat := 20 * time.Second
	for _, got := range []time.Duration{fromEnv.StallTimeout, filled.StallTimeout} {
		if got < heartbeat*4/3 {
			t.Fatalf("the default X_STALL_TIMEOUT is %s; want at least a third more than X's %s heartbeat", got, heartbeat)
		}
	}
}

// TestHeartbeatsAreNotStalls: heartbeats keep a quiet stream alive; silence
// past the stall timeout reconnects. A 503 before that is retried.
func TestHeartbeatsAreNotStalls(t *testing.T) {
	p := testPosts(t)
	heartbeats := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for range 15 { // 15 × 20ms, each gap well under the stall timeout
			w.Write([]byte("\r\n"))
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		w.Write(append(bytes.Clone(p[0]), "\r\n"...))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then silence: a stall
	}
	srv := newStreamServer(t,
		answer(http.StatusServiceUnavailable, `{"title":"Service Unavailable"}`),
		heartbeats,
		newWire().Line(p[1]).Serve(streamtest.EndHold, false),
	)
	cfg := testConfig(srv.streamURL())
	cfg.StallTimeout = 250 * time.Millisecond
	src, _ := newTestSource(t, cfg)
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, 2, errc)
	stop()
	streamtest.CompareMessages(t, "records", c.Values(), [][]byte{p[0], p[1]})
	st := src.Stats()
	if st.Stalls != 1 || st.Reconnects[stream.ReasonStall] != 1 || st.Reconnects[stream.ReasonHTTP] != 1 {
		t.Errorf("stats %+v; want 1 stall and 1 HTTP retry", st)
	}
}

// TestOversizeLinesAreDropped: a line over the maximum is dropped and
// counted; the stream goes on.
func TestOversizeLinesAreDropped(t *testing.T) {
	p := testPosts(t)
	big := []byte(`{"data":{"id":"1","text":"` + strings.Repeat("x", 5000) + `"}}`)
	w := newWire().Line(p[0]).Raw(append(big, "\r\n"...)).Line(p[1])
	srv := newStreamServer(t, w.Serve(streamtest.EndHold, false))
	cfg := testConfig(srv.streamURL())
	cfg.MaxMessageBytes = 4096
	src, _ := newTestSource(t, cfg)
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, 2, errc)
	stop()
	streamtest.CompareMessages(t, "records", c.Values(), [][]byte{p[0], p[1]})
	if n := src.Stats().DroppedOversize; n != 1 {
		t.Errorf("DroppedOversize = %d; want 1", n)
	}
}

func TestRunReturnsTheEmitError(t *testing.T) {
	p := testPosts(t)
	srv := newStreamServer(t, newWire().Line(p[0]).Serve(streamtest.EndHold, false))
	src, _ := newTestSource(t, testConfig(srv.streamURL()))
	stopped := errors.New("pipeline stopped")
	err := src.Run(context.Background(), func(context.Context, source.Record) error { return stopped })
	if !errors.Is(err, stopped) {
		t.Errorf("Run: got %v; want the emit error", err)
	}
}

func TestBackfillMinutes(t *testing.T) {
	for _, tc := range []struct {
		limit int
		gap   time.Duration
		want  int
	}{
		{0, time.Hour, 0},
		{5, 0, 1},
		{5, time.Second, 1},
		{5, time.Minute, 1},
		{5, time.Minute + time.Millisecond, 2},
		{5, 4*time.Minute + 30*time.Second, 5},
		{5, time.Hour, 5},
		{2, 3 * time.Minute, 2},
	} {
		if got := BackfillMinutes(tc.limit, tc.gap); got != tc.want {
			t.Errorf("BackfillMinutes(%d, %s) = %d; want %d", tc.limit, tc.gap, got, tc.want)
		}
	}
}

// TestRestartAsksBackfill: with X_BACKFILL_MINUTES and a STATE_DIR, the time
// of the last post read is kept there, and the first connection after a
// restart asks for the minutes since (30 s more, for posts read just before
// a crash), as a reconnect does; the first connection ever asks for none.
func TestRestartAsksBackfill(t *testing.T) {
	p := testPosts(t)
	state := t.TempDir()
	run := func(t *testing.T, scripts ...http.HandlerFunc) *streamServer {
		t.Helper()
		srv := newStreamServer(t, scripts...)
		cfg := testConfig(srv.streamURL())
		cfg.BackfillMinutes, cfg.StateDir = 5, state
		src, _ := newTestSource(t, cfg)
		c := &streamtest.Collector{}
		errc, stop := streamtest.Run(t, src, c)
		c.WaitFor(t, 2, errc)
		stop()
		return srv
	}
	before := time.Now()
	first := run(t, newWire().Line(p[0], p[1]).Serve(streamtest.EndHold, false))
	if got := first.requests()[0].Get("backfill_minutes"); got != "" {
		t.Fatalf("first start: backfill_minutes=%q; want none", got)
	}
	saved, err := loadLastPost(state)
	if err != nil || saved.Before(before) || saved.After(time.Now()) {
		t.Fatalf("%s: %v, %v; want the time of the last post of the run", LastPostFile, saved, err)
	}

	again := run(t, newWire().Line(p[1], p[2]).Serve(streamtest.EndHold, false))
	if got := again.requests()[0].Get("backfill_minutes"); got != "1" {
		t.Fatalf("restart at once: backfill_minutes=%q; want 1", got)
	}

	last := time.Now().Add(-140 * time.Second)
	if err := saveLastPost(state, last); err != nil {
		t.Fatal(err)
	}
	later := run(t, newWire().Line(p[3], p[4]).Serve(streamtest.EndHold, false))
	if got := later.requests()[0].Get("backfill_minutes"); got != "3" {
		t.Fatalf("restart 140 s after the last post: backfill_minutes=%q; want 3 (170 s with the margin)", got)
	}

	// A run that reads no post (its server refuses it) keeps the time of
	// the last post as it was: the margin is not taken off it again.
	if err := saveLastPost(state, last); err != nil {
		t.Fatal(err)
	}
	srv := newStreamServer(t, answer(http.StatusServiceUnavailable, "{}"))
	cfg := testConfig(srv.streamURL())
	cfg.BackfillMinutes, cfg.StateDir = 5, state
	src, _ := newTestSource(t, cfg)
	errc, stop := streamtest.Run(t, src, &streamtest.Collector{})
	for len(srv.requests()) == 0 {
		select {
		case err := <-errc:
			t.Fatalf("Run returned %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop()
	if got, err := loadLastPost(state); err != nil || !got.Equal(last.UTC().Round(0)) && !got.Equal(last) {
		t.Fatalf("%s after a run without posts: %v, %v; want %v", LastPostFile, got, err, last)
	}
}

// restartRequests runs the source with X_BACKFILL_MINUTES=5 after a
// restart whose last post was 140 s ago, its connections answered by
// first and then by a stream of two posts held open, until it has emitted
// want records; it returns the two requests made.
func restartRequests(t *testing.T, first http.HandlerFunc, want int) []url.Values {
	t.Helper()
	p := testPosts(t)
	state := t.TempDir()
	if err := saveLastPost(state, time.Now().Add(-140*time.Second)); err != nil {
		t.Fatal(err)
	}
	srv := newStreamServer(t, first, newWire().Line(p[0], p[1]).Serve(streamtest.EndHold, false))
	cfg := testConfig(srv.streamURL())
	cfg.BackfillMinutes, cfg.StateDir = 5, state
	src, _ := newTestSource(t, cfg)
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, want, errc)
	stop()
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests; want 2", len(reqs))
	}
	return reqs
}

// TestEmptyConnectionKeepsBackfill: a connection that opens and ends before
// it delivers a post (its backfill with it) does not move the time backfill
// counts from: the next connection asks for the same minutes again.
func TestEmptyConnectionKeepsBackfill(t *testing.T) {
	for i, q := range restartRequests(t, newWire().Serve(streamtest.EndClose, false), 2) {
		if got := q.Get("backfill_minutes"); got != "3" {
			t.Errorf("request %d: backfill_minutes=%q; want 3 (170 s since the last post, with the margin)", i+1, got)
		}
	}
}

// TestCutBackfillAskedAgain: a connection cut while it delivers its
// backfill (posts minutes old) does not count as caught up to the moment
// they arrived: the next connection asks for the minutes since the newest
// post's own time.
func TestCutBackfillAskedAgain(t *testing.T) {
	old := time.Now().Add(-130 * time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
	backfilled := []byte(`{"data":{"id":"9001","created_at":"` + old + `","text":"from the backfill"}}`)
	reqs := restartRequests(t, newWire().Line(backfilled).Serve(streamtest.EndCut, false), 3)
	if got := reqs[1].Get("backfill_minutes"); got != "3" {
		t.Errorf("after a connection cut in its backfill: backfill_minutes=%q; want 3 (130 s since the newest post's own time)", got)
	}
}

// TestLastPostMakesStateDir: the time of the last post is kept in a
// STATE_DIR that does not exist yet (the default ./state outside Compose).
func TestLastPostMakesStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := saveLastPost(dir, time.Now()); err != nil {
		t.Fatalf("saveLastPost into a folder not made yet: %v", err)
	}
}

// TestURLCredentialsNeverLogged: X_STREAM_URL may carry a user, a password
// and a token in its query. The source sends them as given, but neither
// the log of a failed connection (whose error quotes the URL) nor that of
// an open one shows them.
func TestURLCredentialsNeverLogged(t *testing.T) {
	p := testPosts(t)
	withCredentials := func(base string) string {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword("streamuser", "streampass")
		u.RawQuery = "access_token=querytoken&lang=en"
		return u.String()
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connections are refused: the error quotes the URL
	srv := newStreamServer(t, newWire().Line(p[0]).Serve(streamtest.EndHold, false))

	for _, base := range []string{gone.URL + "/2/tweets/sample/stream", srv.streamURL()} {
		src, logs := newTestSource(t, testConfig(withCredentials(base)))
		c := &streamtest.Collector{}
		errc, stop := streamtest.Run(t, src, c)
		if base == srv.streamURL() {
			c.WaitFor(t, 1, errc)
		} else {
			for deadline := time.Now().Add(10 * time.Second); len(logs.Entries(t, "waiting to reconnect")) == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no reconnect logged after 10s")
				}
			}
		}
		stop()
		for _, secret := range []string{"streamuser", "streampass", "querytoken"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("got %q in the logs; want it redacted:\n%s", secret, logs.String())
			}
		}
	}
	if q := srv.requests(); len(q) == 0 || q[0].Get("access_token") != "querytoken" {
		t.Errorf("got requests %v; want the URL's query sent as set", q)
	}
}
