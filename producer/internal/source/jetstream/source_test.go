package jetstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

var _ source.Source = (*Source)(nil)

var postsOnly = []string{"app.bsky.feed.post"}

func testConfig(url, dir string) Config {
	return Config{
		URL:          envconf.URL(url),
		Collections:  postsOnly,
		StateDir:     dir,
		Rewind:       5 * time.Second,
		StallTimeout: 2 * time.Second,
		SaveInterval: 20 * time.Millisecond,
		Schedule: stream.Schedule{
			NetworkBackoffStep:      2 * time.Millisecond,
			NetworkBackoffMax:       20 * time.Millisecond,
			HTTPBackoffInitial:      5 * time.Millisecond,
			HTTPBackoffMax:          50 * time.Millisecond,
			RateLimitBackoffInitial: 10 * time.Millisecond,
			RateLimitBackoffMax:     100 * time.Millisecond,
		},
	}
}

func newTestSource(t *testing.T, cfg Config) (*Source, *streamtest.LogBuffer) {
	t.Helper()
	return streamtest.New(t, New, cfg)
}

// savedPosition reads the state file's time_us; 0 when there is none.
func savedPosition(t *testing.T, dir string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("state file %q: %v", data, err)
	}
	if want := time.UnixMicro(s.TimeUS).UTC().Format(time.RFC3339Nano); s.Time != want {
		t.Errorf("state file time %q; want %q", s.Time, want)
	}
	return s.TimeUS
}

func waitSaved(t *testing.T, dir string, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for savedPosition(t, dir) != want {
		if time.Now().After(deadline) {
			t.Fatalf("state file holds time_us %d after 5s; want %d", savedPosition(t, dir), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestResumeFromAcknowledged: a source reads ten events, Kafka acknowledges
// seven, the source stops. A new source on the same STATE_DIR asks for the
// events from JETSTREAM_REWIND before the seventh; the server replays from
// there. Every event comes out at least once, byte for byte, and the only
// ones that come out twice are those at or after the cursor that the first
// run had read: the copies the consumer's dedup window drops by key.
func TestResumeFromAcknowledged(t *testing.T) {
	const step = 1500 * time.Millisecond // rewind 5s = 3.33 steps: the cursor falls between events
	events := timeline(20, step)
	srv := newJSServer(t, postsOnly, replay(events[:10], endHold), replay(events, endHold))
	dir := t.TempDir()
	cfg := testConfig(srv.wsURL(), dir)

	// Run 1: live (no cursor); seven of ten acknowledged, then stopped.
	src1, _ := newTestSource(t, cfg)
	first := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src1, first)
	first.WaitFor(t, 10, errc)
	first.Ack(7)
	acked := events[6].timeUS
	waitSaved(t, dir, acked) // saved while running, by the ticker
	stop()
	if got := savedPosition(t, dir); got != acked {
		t.Fatalf("after stop the state file holds %d; want %d (the seventh event)", got, acked)
	}
	if c := srv.cursorOf(t, 0); c != "" {
		t.Errorf("first connection: cursor=%s; want none (live)", c)
	}

	// Run 2: a new source on the same STATE_DIR resumes.
	src2, _ := newTestSource(t, cfg)
	second := &streamtest.Collector{}
	errc, stop = streamtest.Run(t, src2, second)
	wantCursor := acked - cfg.Rewind.Microseconds()
	var replayed []testEvent
	for _, e := range events {
		if e.timeUS >= wantCursor {
			replayed = append(replayed, e)
		}
	}
	second.WaitFor(t, len(replayed), errc)
	stop()
	if got := srv.cursorOf(t, 1); got != strconv.FormatInt(wantCursor, 10) {
		t.Errorf("second connection: cursor=%s; want %d (last acknowledged %d minus 5s)", got, wantCursor, acked)
	}
	for i, q := range srv.connections() {
		if got := q["wantedCollections"]; !slices.Equal(got, postsOnly) {
			t.Errorf("connection %d: wantedCollections %q; want %q", i+1, got, postsOnly)
		}
	}

	// Byte for byte, in order, each run.
	compare(t, "first run", first.Values(), events[:10])
	compare(t, "second run", second.Values(), replayed)

	// Every event at least once; the overlap is exactly the events of the
	// first run at or after the cursor.
	count := map[string]int{}
	for _, v := range append(first.Values(), second.Values()...) {
		count[string(v)]++
	}
	var overlap []int64
	for i, e := range events {
		switch n := count[string(e.raw)]; {
		case n == 0:
			t.Errorf("event %d (time_us %d) never emitted", i, e.timeUS)
		case n == 2:
			overlap = append(overlap, e.timeUS)
		case n > 2:
			t.Errorf("event %d emitted %d times", i, n)
		}
	}
	var wantOverlap []int64
	for _, e := range events[:10] {
		if e.timeUS >= wantCursor {
			wantOverlap = append(wantOverlap, e.timeUS)
		}
	}
	if !slices.Equal(overlap, wantOverlap) {
		t.Errorf("events emitted twice: %v; want %v (events 3 to 9)", overlap, wantOverlap)
	}
	if len(wantOverlap) != 7 {
		t.Fatalf("test setup: overlap of %d events; want 7", len(wantOverlap))
	}
	// Copies carry the key of the first delivery.
	for _, e := range events {
		m, err := Classify(e.raw)
		if err != nil || string(m.Key) != e.key {
			t.Errorf("Classify(%.60s): key %q, %v; want %q", e.raw, m.Key, err, e.key)
		}
	}
	if st := src2.Stats(); st.Connections != 1 || st.Messages != int64(len(replayed)) || st.LastEventTimeUS != events[19].timeUS {
		t.Errorf("second run stats %+v", st)
	}
}

func compare(t *testing.T, what string, got [][]byte, want []testEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d records; want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !bytes.Equal(got[i], want[i].raw) {
			t.Errorf("%s: record %d is %.100q; want %.100q", what, i, got[i], want[i].raw)
			return
		}
	}
}

// TestPositionSavedAfterRunReturns: acknowledgements that come while the
// publisher drains, after Run returned, still move the saved position: on
// a timer, and at once when the last record in flight is acknowledged.
func TestPositionSavedAfterRunReturns(t *testing.T) {
	events := timeline(5, time.Second)
	srv := newJSServer(t, postsOnly, replay(events, endHold))
	dir := t.TempDir()
	cfg := testConfig(srv.wsURL(), dir)
	cfg.SaveInterval = 50 * time.Millisecond
	src, _ := newTestSource(t, cfg)
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, 5, errc)
	stop()
	if got := savedPosition(t, dir); got != 0 {
		t.Fatalf("nothing acknowledged, yet the state file holds %d", got)
	}
	c.Ack(2)
	waitSaved(t, dir, events[1].timeUS) // the timer
	c.Ack(5)
	if got := savedPosition(t, dir); got != events[4].timeUS {
		t.Errorf("after the last acknowledgement the state file holds %d; want %d at once", got, events[4].timeUS)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != StateFile {
		t.Errorf("STATE_DIR holds %v; want only %s (no temporary files left)", entries, StateFile)
	}
	if st := src.Stats(); st.StateWrites != 2 || st.SavedTimeUS != events[4].timeUS || st.StateFailures != 0 {
		t.Errorf("stats %+v; want 2 writes", st)
	}
}

// TestLangsFilter: JETSTREAM_LANGS keeps the posts whose langs match, by
// BCP 47 prefix, and every other event. A filtered event still moves the
// position when nothing is in flight.
func TestLangsFilter(t *testing.T) {
	ts := func(i int) int64 { return timeAt(i, time.Second) }
	like := testEvent{raw: []byte(`{"did":"` + didA + `","time_us":` + strconv.FormatInt(ts(9), 10) + `,"kind":"commit","commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.like","rkey":"3l3qo2vuowo2b","record":{"$type":"app.bsky.feed.like","createdAt":"2024-09-09T19:46:02.102Z","subject":{"cid":"bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmzj4","uri":"at://did:plc:wa7b35aakoll7hugkrjtf3xf/app.bsky.feed.post/3l3pte3p2e325"}},"cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}`), timeUS: ts(9)}
	update := testEvent{raw: []byte(`{"did":"` + didA + `","time_us":` + strconv.FormatInt(ts(10), 10) + `,"kind":"commit","commit":{"rev":"3l3qo2vutsw2c","operation":"update","collection":"app.bsky.feed.post","rkey":"3l3qo2vu00001","record":{"$type":"app.bsky.feed.post","createdAt":"2024-09-09T19:46:02.102Z","langs":["ja"],"text":"\u3053\u3093\u306b\u3061\u306f"},"cid":"bafyreib2"}}`), timeUS: ts(10)}
	events := []testEvent{
		postEvent(ts(0), didA, "3l3qo2vu00001", "hello", "en"),          // keep
		postEvent(ts(1), didA, "3l3qo2vu00002", "hallo", "de"),          // drop
		postEvent(ts(2), didA, "3l3qo2vu00003", "howdy", "en-US"),       // keep: en covers en-US
		postEvent(ts(3), didB, "3l3qo2vu00004", "ol\u00e1", "pt", "en"), // keep: one matches
		postEvent(ts(4), didB, "3l3qo2vu00005", "no langs"),             // drop: nothing to match
		postEvent(ts(5), didB, "3l3qo2vu00006", "HELLO", "EN"),          // keep: case does not matter
		deleteEvent(ts(6), didB, "app.bsky.feed.post", "3l3qo2vu00005"), // keep
		identityEvent(ts(7), didB),                                      // keep
		accountEvent(ts(8), didB),                                       // keep
		like,                                                            // keep: not a post
		update,                                                          // drop: a post in ja
	}
	keep := []testEvent{events[0], events[2], events[3], events[5], events[6], events[7], events[8], events[9]}
	srv := newJSServer(t, postsOnly, replay(events, endHold))
	dir := t.TempDir()
	cfg := testConfig(srv.wsURL(), dir)
	cfg.Langs = []string{"en"}
	src, _ := newTestSource(t, cfg)
	c := &streamtest.Collector{AutoAck: true}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, len(keep), errc)
	// The last event is filtered: wait until it was read.
	for deadline := time.Now().Add(5 * time.Second); src.Stats().Filtered < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("filtered %d events after 5s; want 3", src.Stats().Filtered)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	compare(t, "records", c.Values(), keep)
	if got := savedPosition(t, dir); got != update.timeUS {
		t.Errorf("state file holds %d; want %d (the filtered last event, nothing being in flight)", got, update.timeUS)
	}
	if st := src.Stats(); st.Posts != 4+1 || st.Filtered != 3 {
		t.Errorf("stats %+v; want 5 posts (4 and a like), 3 filtered", st)
	}
}

// TestReconnects: a 503 is retried, silence past the stall timeout and a
// close frame reconnect; a reconnect's cursor is the last event read minus
// the rewind, and what it replays comes out again (the copies are dropped
// downstream). A message over the maximum is dropped, keeping the connection.
func TestReconnects(t *testing.T) {
	events := timeline(8, time.Second)
	big := postEvent(timeAt(1, time.Second)+1, didA, "3l3qo2vubig00", strings.Repeat("x", 5000), "en")
	srv := newJSServer(t, postsOnly,
		status(http.StatusServiceUnavailable, "over capacity"),
		replay([]testEvent{events[0], events[1], big, events[2]}, endHold), // then silence: a stall
		replay(events[:5], endClose),
		replay(events, endHold),
	)
	cfg := testConfig(srv.wsURL(), t.TempDir())
	cfg.StallTimeout = 300 * time.Millisecond
	cfg.MaxMessageBytes = 4096
	src, logs := newTestSource(t, cfg)
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	// Connection 1: e0 e1 e2 (big dropped), stall. Connection 2 from
	// e2-5s: e0..e4, close. Connection 3 from e4-5s: e0..e7.
	want := append(append([]testEvent{events[0], events[1], events[2]}, events[:5]...), events...)
	c.WaitFor(t, len(want), errc)
	stop()
	compare(t, "records", c.Values(), want)

	rewind := cfg.Rewind.Microseconds()
	// Requests: the refused one, then connections 1 to 3.
	for i, wantCursor := range []string{"", "", strconv.FormatInt(events[2].timeUS-rewind, 10), strconv.FormatInt(events[4].timeUS-rewind, 10)} {
		if got := srv.cursorOf(t, i); got != wantCursor {
			t.Errorf("request %d: cursor=%q; want %q", i+1, got, wantCursor)
		}
	}
	st := src.Stats()
	if st.Connections != 3 || st.Stalls != 1 || st.DroppedOversize != 1 ||
		st.Reconnects[stream.ReasonHTTP] != 1 || st.Reconnects[stream.ReasonStall] != 1 || st.Reconnects[stream.ReasonNetwork] != 1 {
		t.Errorf("stats %+v; want 3 connections, 1 stall, 1 oversize, reconnects http 1 stall 1 network 1", st)
	}
	if !strings.Contains(logs.String(), "instance restarting") {
		t.Error("the close frame's reason was not logged")
	}
}

// TestSlowEmitIsNotAStall: an emit that blocks for longer than the stall
// timeout (a full pipeline) does not count against the connection: the
// events that wait behind it are read on the same connection.
func TestSlowEmitIsNotAStall(t *testing.T) {
	events := timeline(3, time.Second)
	srv := newJSServer(t, postsOnly, replay(events, endHold))
	cfg := testConfig(srv.wsURL(), t.TempDir())
	cfg.StallTimeout = 100 * time.Millisecond
	src, _ := newTestSource(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got [][]byte
	err := src.Run(ctx, func(ctx context.Context, r source.Record) error {
		got = append(got, r.Value)
		if len(got) == 1 {
			time.Sleep(3 * cfg.StallTimeout)
		}
		if len(got) == len(events) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	compare(t, "records", got, events)
	if st := src.Stats(); st.Connections != 1 || st.Stalls != 0 {
		t.Errorf("%d connections, %d stalls; want 1 and 0", st.Connections, st.Stalls)
	}
}

func TestFatalHandshake(t *testing.T) {
	srv := newJSServer(t, []string{"app.bsky.feed.like"}) // refuses our collections with 400
	src, _ := newTestSource(t, testConfig(srv.wsURL(), t.TempDir()))
	err := src.Run(context.Background(), (&streamtest.Collector{}).Emit)
	var se *stream.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("Run: got %v; want a *stream.StatusError with code 400", err)
	}
	for _, want := range []string{"JETSTREAM_COLLECTIONS", "wantedCollections", "jetstream answered HTTP 400"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestRunReturnsTheEmitError(t *testing.T) {
	events := timeline(3, time.Second)
	srv := newJSServer(t, postsOnly, replay(events, endHold))
	dir := t.TempDir()
	src, _ := newTestSource(t, testConfig(srv.wsURL(), dir))
	stopped := errors.New("pipeline stopped")
	err := src.Run(context.Background(), func(context.Context, source.Record) error { return stopped })
	if !errors.Is(err, stopped) {
		t.Errorf("Run: got %v; want the emit error", err)
	}
	if got := savedPosition(t, dir); got != 0 {
		t.Errorf("state file holds %d; want none (nothing acknowledged)", got)
	}
}

func TestResumeCursor(t *testing.T) {
	for _, tc := range []struct {
		acked, read int64
		rewind      time.Duration
		want        int64
	}{
		{0, 0, 5 * time.Second, 0},
		{baseTimeUS, 0, 5 * time.Second, baseTimeUS - 5_000_000},
		{baseTimeUS, baseTimeUS + 9_000_000, 5 * time.Second, baseTimeUS + 4_000_000},
		{baseTimeUS + 9_000_000, baseTimeUS, time.Second, baseTimeUS + 8_000_000},
		{3_000_000, 0, 5 * time.Second, 1},
	} {
		if got := ResumeCursor(tc.acked, tc.read, tc.rewind); got != tc.want {
			t.Errorf("ResumeCursor(%d, %d, %s) = %d; want %d", tc.acked, tc.read, tc.rewind, got, tc.want)
		}
	}
}

// TestURLCredentialsNeverLogged: JETSTREAM_URL may carry a user, a
// password and a key in its query (an instance behind an authenticating
// proxy). Neither a refused connection, nor a server that echoes the
// request in its answer, nor the log of an open connection shows them.
func TestURLCredentialsNeverLogged(t *testing.T) {
	events := timeline(1, time.Second)
	echo := func(w http.ResponseWriter, r *http.Request, cursor int64) {
		http.Error(w, "over capacity, retry "+r.URL.String(), http.StatusServiceUnavailable)
	}
	srv := newJSServer(t, postsOnly, echo, replay(events, endHold))
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connections are refused (the dial error names the address only)
	withCredentials := func(base string) string {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Scheme = "ws"
		u.Path = "/subscribe"
		u.User = url.UserPassword("streamuser", "streampass")
		u.RawQuery = "api_key=querykey"
		return u.String()
	}

	for _, base := range []string{gone.URL, srv.URL} {
		src, logs := newTestSource(t, testConfig(withCredentials(base), t.TempDir()))
		c := &streamtest.Collector{}
		errc, stop := streamtest.Run(t, src, c)
		if base == srv.URL {
			c.WaitFor(t, 1, errc)
		} else {
			for deadline := time.Now().Add(10 * time.Second); len(logs.Entries(t, "waiting to reconnect")) == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no reconnect logged after 10s")
				}
			}
		}
		stop()
		if base == srv.URL && !strings.Contains(logs.String(), "over capacity") {
			t.Errorf("got logs without the refusal; want it logged:\n%s", logs.String())
		}
		for _, secret := range []string{"streamuser", "streampass", "querykey"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("got %q in the logs; want it redacted:\n%s", secret, logs.String())
			}
		}
	}
	if got := srv.connections()[0].Get("api_key"); got != "querykey" {
		t.Errorf("got api_key=%q at the server; want the URL's query sent as set", got)
	}
}

// TestFutureTimeDoesNotMoveTheCursor: an event whose time_us lies ahead of
// this host's clock (a server's broken clock, a forged event) is emitted
// like any other, but the resume position does not jump to it: neither the
// next connection's cursor nor the state file, which would otherwise pin
// every later resume there (the position only grows) and skip what the
// stream really delivers until that time. A state file that already holds
// such a position is set aside: the source starts live and overwrites it.
func TestFutureTimeDoesNotMoveTheCursor(t *testing.T) {
	events := timeline(4, time.Second)
	future := postEvent(time.Now().Add(time.Hour).UnixMicro(), didB, "3l3qofuture00", "from the future", "en")
	first := []testEvent{events[0], events[1], future, events[2], events[3]}
	srv := newJSServer(t, postsOnly, replay(first, endClose), replay(events, endHold))
	dir := t.TempDir()
	cfg := testConfig(srv.wsURL(), dir)
	src, _ := newTestSource(t, cfg)
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, len(first), errc)
	c.Ack(len(first))
	waitSaved(t, dir, events[3].timeUS)
	c.WaitFor(t, len(first)+1, errc) // the second connection replays from its cursor
	stop()
	compare(t, "first connection", c.Values()[:len(first)], first)
	if got, want := srv.cursorOf(t, 1), strconv.FormatInt(events[3].timeUS-cfg.Rewind.Microseconds(), 10); got != want {
		t.Errorf("second connection: cursor=%s; want %s (the last plausible event minus the rewind)", got, want)
	}
	if got := savedPosition(t, dir); got != events[3].timeUS {
		t.Errorf("state file holds %d; want %d (the last plausible event)", got, events[3].timeUS)
	}
	if st := src.Stats(); st.AheadOfClock != 1 || st.LastEventTimeUS != events[3].timeUS {
		t.Errorf("got stats %+v; want 1 event ahead of the clock, the last event read at %d", st, events[3].timeUS)
	}

	// A state file from the future: the next run starts live.
	if err := writeState(dir, filepath.Join(dir, StateFile), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	srv2 := newJSServer(t, postsOnly, replay(events[:2], endHold))
	src2, logs := newTestSource(t, testConfig(srv2.wsURL(), dir))
	c2 := &streamtest.Collector{}
	errc, stop = streamtest.Run(t, src2, c2)
	c2.WaitFor(t, 2, errc)
	c2.Ack(2)
	waitSaved(t, dir, events[1].timeUS)
	stop()
	if got := srv2.cursorOf(t, 0); got != "" {
		t.Errorf("after a state file from the future: cursor=%s; want none (live)", got)
	}
	if !strings.Contains(logs.String(), "ahead of this host's clock") {
		t.Errorf("got logs without a warning about the state file from the future:\n%s", logs.String())
	}
}

// TestRedirectToAnotherHostStops: the handshake follows no redirect to
// another host, where a JETSTREAM_URL's credentials (a user and password
// become a Basic Authorization header) must not go: the source stops with
// an error naming JETSTREAM_URL, and the other host sees nothing.
func TestRedirectToAnotherHostStops(t *testing.T) {
	other := newJSServer(t, postsOnly, replay(timeline(2, time.Second), endHold))
	front := streamtest.Redirector(t, streamtest.OtherHost(t, other.URL))

	src, _ := newTestSource(t, testConfig("ws://u:p@"+strings.TrimPrefix(front.URL, "http://")+"/subscribe", t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := &streamtest.Collector{}
	err := src.Run(ctx, c.Emit)
	if err == nil || !strings.Contains(err.Error(), "JETSTREAM_URL") || !strings.Contains(err.Error(), "another host") {
		t.Errorf("Run: got %v; want an error saying the redirect to another host was refused, naming JETSTREAM_URL", err)
	}
	if n := len(other.connections()); n != 0 {
		t.Errorf("got %d connections at the other host, %d records; want none", n, len(c.Values()))
	}
}

// TestRedirectOnTheSameHostFollowed: a redirect to another path of the same
// host is followed, the URL's query kept as the Location gives it, and the
// URL's credentials go as Basic authorization to both requests.
func TestRedirectOnTheSameHostFollowed(t *testing.T) {
	js := newJSServer(t, postsOnly, replay(timeline(2, time.Second), endHold))
	var mu sync.Mutex
	var auth []string // each request's Authorization, in order
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/subscribe?"+r.URL.RawQuery, http.StatusMovedPermanently)
			return
		}
		js.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	src, _ := newTestSource(t, testConfig("ws://u:p@"+strings.TrimPrefix(front.URL, "http://")+"/old", t.TempDir()))
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, 2, errc)
	stop()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"/old " + basic, "/subscribe " + basic}; !slices.Equal(auth, want) {
		t.Errorf("requests (path, Authorization) %q; want %q", auth, want)
	}
	if got := js.connections()[0]["wantedCollections"]; !slices.Equal(got, postsOnly) {
		t.Errorf("wantedCollections %q after the redirect; want %q", got, postsOnly)
	}
}

// TestHTTPURLConnects: JETSTREAM_URL may be an http or https URL, as the
// configuration accepts: it is dialled as ws or wss.
func TestHTTPURLConnects(t *testing.T) {
	events := timeline(2, time.Second)
	srv := newJSServer(t, postsOnly, replay(events, endHold))
	src, _ := newTestSource(t, testConfig(srv.URL+"/subscribe", t.TempDir()))
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, len(events), errc)
	stop()
	compare(t, "records", c.Values(), events)
}

// TestStopDuringTheHandshake: a server that takes the connection and never
// answers the upgrade does not hold the source past ctx's end, however long
// the stall timeout.
func TestStopDuringTheHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c // held open, unanswered
		}
	}()
	cfg := testConfig("ws://"+ln.Addr().String()+"/subscribe", t.TempDir())
	cfg.StallTimeout = time.Minute
	src, _ := newTestSource(t, cfg)
	errc, stop := streamtest.Run(t, src, &streamtest.Collector{})
	select {
	case c := <-accepted:
		defer c.Close()
	case err := <-errc:
		t.Fatalf("Run returned %v before connecting", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the source did not connect within 10s")
	}
	time.Sleep(100 * time.Millisecond) // the upgrade request is out, unanswered
	stop()                             // Run returns nil within 5s of ctx's end, though the stall timeout is a minute
}

// TestCutWithoutCloseFrame: a connection cut without a close frame is
// logged as cut, not as the server closing the websocket.
func TestCutWithoutCloseFrame(t *testing.T) {
	events := timeline(1, time.Second)
	srv := newJSServer(t, postsOnly, ws(func(ctx context.Context, conn *websocket.Conn, cursor int64) {
		_ = conn.Write(ctx, websocket.MessageText, events[0].raw)
		_ = conn.CloseNow() // no close frame
	}))
	src, logs := newTestSource(t, testConfig(srv.wsURL(), t.TempDir()))
	c := &streamtest.Collector{}
	errc, stop := streamtest.Run(t, src, c)
	c.WaitFor(t, 1, errc)
	for deadline := time.Now().Add(10 * time.Second); len(logs.Entries(t, "waiting to reconnect")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reconnect logged after 10s")
		}
	}
	stop()
	if strings.Contains(logs.String(), "the server closed the websocket") {
		t.Errorf("a cut connection was logged as closed by the server:\n%s", logs.String())
	}
}
