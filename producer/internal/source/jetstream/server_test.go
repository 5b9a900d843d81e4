package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// This file is the stand-in for a Jetstream instance: an httptest server
// that accepts websockets with coder/websocket, checks wantedCollections,
// records each connection's query and plays one script per connection.

// baseTimeUS is the time_us of the first test event (2024-09-09T19:46:02Z).
const baseTimeUS = 1725911162329308

type jsServer struct {
	*httptest.Server
	collections []string // the wantedCollections every connection must ask for

	mu      sync.Mutex
	scripts []script
	queries []url.Values
}

// A script answers one connection. cursor is the connection's cursor, 0
// when it asked for none.
type script func(w http.ResponseWriter, r *http.Request, cursor int64)

// A play is what a script does on an open websocket.
type play func(ctx context.Context, conn *websocket.Conn, cursor int64)

// ws accepts the websocket and plays p on it.
func ws(p play) script {
	return func(w http.ResponseWriter, r *http.Request, cursor int64) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		// The client sends nothing: CloseRead answers pings and notices the end.
		ctx := conn.CloseRead(r.Context())
		p(ctx, conn, cursor)
	}
}

// status refuses the handshake.
func status(code int, body string) script {
	return func(w http.ResponseWriter, r *http.Request, cursor int64) { http.Error(w, body, code) }
}

func newJSServer(t testing.TB, collections []string, scripts ...script) *jsServer {
	s := &jsServer{collections: collections, scripts: scripts}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jsServer) wsURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/subscribe" }

func (s *jsServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/subscribe" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if got := q["wantedCollections"]; !slices.Equal(got, s.collections) {
		http.Error(w, fmt.Sprintf("wantedCollections %q; want %q", got, s.collections), http.StatusBadRequest)
		return
	}
	var cursor int64
	if c := q.Get("cursor"); c != "" {
		var err error
		if cursor, err = strconv.ParseInt(c, 10, 64); err != nil || cursor <= 0 {
			http.Error(w, "bad cursor "+c, http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	s.queries = append(s.queries, q)
	next := ws(hold)
	if len(s.scripts) > 0 {
		next, s.scripts = s.scripts[0], s.scripts[1:]
	}
	s.mu.Unlock()
	next(w, r, cursor)
}

func (s *jsServer) connections() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.queries...)
}

// cursorOf returns connection i's cursor param, "" when it had none.
func (s *jsServer) cursorOf(t *testing.T, i int) string {
	t.Helper()
	qs := s.connections()
	if i >= len(qs) {
		t.Fatalf("connection %d never came (%d connections)", i+1, len(qs))
	}
	return qs[i].Get("cursor")
}

// hold keeps the connection open and silent until the client leaves.
func hold(ctx context.Context, conn *websocket.Conn, cursor int64) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Second):
	}
}

// How a scripted connection ends.
type end int

const (
	endHold  end = iota // silence until the client leaves
	endClose            // a close frame (going away)
)

// replay sends the events at or after the cursor (every one without a
// cursor), as Jetstream plays back from a cursor, then ends.
func replay(events []testEvent, how end) script {
	return ws(func(ctx context.Context, conn *websocket.Conn, cursor int64) {
		for _, e := range events {
			if e.timeUS < cursor {
				continue
			}
			if err := conn.Write(ctx, websocket.MessageText, e.raw); err != nil {
				return
			}
		}
		switch how {
		case endHold:
			hold(ctx, conn, cursor)
		case endClose:
			conn.Close(websocket.StatusGoingAway, "instance restarting")
		}
	})
}

// testEvent is one Jetstream event as the server sends it.
type testEvent struct {
	raw    []byte
	timeUS int64
	key    string
}

const (
	didA = "did:plc:eygmaihciaxprqvxpfvl6flk"
	didB = "did:plc:ufbl4k27gp6kzas5glhz7fim"
)

func timeAt(i int, step time.Duration) int64 { return baseTimeUS + int64(i)*step.Microseconds() }

// postEvent is a commit creating a post, as Jetstream sends it.
func postEvent(timeUS int64, did, rkey, text string, langs ...string) testEvent {
	record := map[string]any{"$type": "app.bsky.feed.post", "createdAt": time.UnixMicro(timeUS).UTC().Add(-300 * time.Millisecond).Format("2006-01-02T15:04:05.000Z"), "text": text}
	if langs != nil {
		record["langs"] = langs
	}
	rec, _ := json.Marshal(record)
	raw := fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.post","rkey":%q,"record":%s,"cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}`,
		did, timeUS, rkey, rec)
	return testEvent{raw: []byte(raw), timeUS: timeUS, key: "at://" + did + "/app.bsky.feed.post/" + rkey}
}

func deleteEvent(timeUS int64, did, collection, rkey string) testEvent {
	raw := fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"3l3f6nzl3cv2s","operation":"delete","collection":%q,"rkey":%q}}`, did, timeUS, collection, rkey)
	return testEvent{raw: []byte(raw), timeUS: timeUS, key: "at://" + did + "/" + collection + "/" + rkey}
}

func identityEvent(timeUS int64, did string) testEvent {
	raw := fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"identity","identity":{"did":%q,"handle":"yohenrique.bsky.social","seq":1409752997,"time":"2024-09-05T06:11:04.870Z"}}`, did, timeUS, did)
	return testEvent{raw: []byte(raw), timeUS: timeUS, key: did}
}

func accountEvent(timeUS int64, did string) testEvent {
	raw := fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"account","account":{"active":true,"did":%q,"seq":1409753013,"time":"2024-09-05T06:11:04.870Z"}}`, did, timeUS, did)
	return testEvent{raw: []byte(raw), timeUS: timeUS, key: did}
}

// timeline is n events step apart: posts, with a delete, an identity and an
// account event among them.
func timeline(n int, step time.Duration) []testEvent {
	texts := []string{"gm bluesky \u2600\ufe0f", "line one\nline two", "quote \"this\" and \\ that", "\u3053\u3093\u306b\u3061\u306f", "emoji \U0001F680\U0001F30F", "plain text"}
	var out []testEvent
	for i := range n {
		t := timeAt(i, step)
		switch i % 7 {
		case 3:
			out = append(out, deleteEvent(t, didB, "app.bsky.feed.post", fmt.Sprintf("3l3qo2vu%05d", i-1)))
		case 5:
			out = append(out, identityEvent(t, didB))
		case 6:
			out = append(out, accountEvent(t, didA))
		default:
			out = append(out, postEvent(t, didA, fmt.Sprintf("3l3qo2vu%05d", i), texts[i%len(texts)], "en"))
		}
	}
	return out
}
