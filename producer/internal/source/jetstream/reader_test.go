package jetstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// TestStallCountsFromTheRead: the stall timeout runs from the start of
// the read that waits, not from an earlier read or the connection's start:
// a read begun after a pause between reads (an emit that blocked) is given
// the whole timeout, then the connection is closed and the read says it
// stalled.
func TestStallCountsFromTheRead(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		if conn.Write(r.Context(), websocket.MessageText, []byte(`{}`)) != nil {
			return
		}
		<-r.Context().Done() // then silence
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := gorilla.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := newReader(ctx, conn, timeout, 1<<20)
	defer rd.close()
	if data, _, err := rd.readMessage(); err != nil || string(data) != `{}` {
		t.Fatalf("first message: %q, %v", data, err)
	}
	time.Sleep(timeout * 3 / 2) // the pause spans the watchdog's first firing, timeout after newReader
	began := time.Now()
	_, _, err = rd.readMessage()
	waited := time.Since(began)
	if !errors.Is(err, errStalled) {
		t.Fatalf("the silent read returned %v; want errStalled", err)
	}
	if waited < timeout {
		t.Errorf("the read stalled after %v; the stall timeout is %v", waited, timeout)
	}
}
