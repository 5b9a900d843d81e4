package jetstream

import (
	"bytes"
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

// readerOf is a reader, with this stall timeout and limit, of a websocket
// whose server (coder/websocket's) sends sent, then stays silent.
func readerOf(t *testing.T, timeout time.Duration, limit int, sent ...[]byte) *reader {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for _, m := range sent {
			if conn.Write(r.Context(), websocket.MessageText, m) != nil {
				return
			}
		}
		<-r.Context().Done() // then silence
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	conn, _, err := gorilla.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rd := newReader(ctx, conn, timeout, limit)
	t.Cleanup(func() { rd.close(); conn.Close() })
	return rd
}

// TestStallCountsFromTheRead: the stall timeout runs from the start of
// the read that waits, not from an earlier read or the connection's start:
// a read begun after a pause between reads (an emit that blocked) is given
// the whole timeout, then the connection is closed and the read says it
// stalled.
func TestStallCountsFromTheRead(t *testing.T) {
	const timeout = 300 * time.Millisecond
	rd := readerOf(t, timeout, 1<<20, []byte(`{}`))
	if data, _, err := rd.readMessage(); err != nil || string(data) != `{}` {
		t.Fatalf("first message: %q, %v", data, err)
	}
	time.Sleep(timeout * 3 / 2) // the pause spans the watchdog's first firing, timeout after newReader
	began := time.Now()
	_, _, err := rd.readMessage()
	waited := time.Since(began)
	if !errors.Is(err, errStalled) {
		t.Fatalf("the silent read returned %v; want errStalled", err)
	}
	if waited < timeout {
		t.Errorf("the read stalled after %v; the stall timeout is %v", waited, timeout)
	}
}

// TestReadMessageKeepsEveryMessage: messages read one after the other into
// shared blocks stay as they came while later ones are read: messages that
// cross a block's end, one larger than a block, one over the limit (dropped,
// its room used again) and an empty one.
func TestReadMessageKeepsEveryMessage(t *testing.T) {
	const limit = 3 * blockSize
	sizes := []int{0, 1000, blockSize - 1500, 700, 2 * blockSize, limit + 1, 10, blockSize, 1, 5000}
	var sent [][]byte
	for i, n := range sizes {
		m := make([]byte, n)
		for j := range m {
			m[j] = byte('a' + (i+j)%26)
		}
		sent = append(sent, m)
	}
	rd := readerOf(t, 5*time.Second, limit, sent...)
	got := make([][]byte, len(sent))
	for i := range sent {
		data, size, err := rd.readMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if size != int64(len(sent[i])) {
			t.Errorf("message %d: size %d; want %d", i, size, len(sent[i]))
		}
		if (data == nil) != (len(sent[i]) > limit) {
			t.Errorf("message %d of %d bytes: data nil %v; want nil only over the limit (%d)", i, len(sent[i]), data == nil, limit)
		}
		got[i] = data
	}
	for i, m := range sent {
		if len(m) <= limit && !bytes.Equal(got[i], m) {
			t.Errorf("message %d (%d bytes) changed once later ones were read: got %d bytes", i, len(m), len(got[i]))
		}
		if got[i] != nil && cap(got[i]) != len(got[i]) {
			t.Errorf("message %d: cap %d beyond its %d bytes: an append would overwrite the next", i, cap(got[i]), len(got[i]))
		}
	}
}

// TestGiveBack: the room of a message given back goes to the next one;
// the messages before it stay as they came.
func TestGiveBack(t *testing.T) {
	sent := [][]byte{[]byte(`{"kept":1}`), []byte(`{"filtered":2}`), []byte(`{"next":3}`)}
	rd := readerOf(t, 5*time.Second, 1<<20, sent...)
	var got [3][]byte
	for i := range got {
		var err error
		if got[i], _, err = rd.readMessage(); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			rd.giveBack(got[0]) // not the last one read: keeps its room
			rd.giveBack(got[1])
		}
	}
	if &got[2][0] != &got[1][0] {
		t.Error("the message after the one given back was not read into its room")
	}
	if !bytes.Equal(got[0], sent[0]) || !bytes.Equal(got[2], sent[2]) {
		t.Errorf("got %q and %q; want %q and %q", got[0], got[2], sent[0], sent[2])
	}
}
