package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestJetstreamServerSendsEveryLine: a websocket client (coder/websocket,
// the producer's) reads each line of the file as one text message, at
// each of the frame's three length sizes, and a second connection is
// refused.
func TestJetstreamServerSendsEveryLine(t *testing.T) {
	lines := []string{
		`{"kind":"commit"}`,
		`{"text":"` + strings.Repeat("a", 125-len(`{"text":""}`)) + `"}`, // 125 B: the 7-bit length's largest
		`{"text":"` + strings.Repeat("b", 126-len(`{"text":""}`)) + `"}`, // 126 B: a 16-bit length
		`{"text":"` + strings.Repeat("क", 200) + ` hindi"}`,
		`{"text":"` + strings.Repeat("c", 0xffff-len(`{"text":""}`)) + `"}`, // 65,535 B: the 16-bit length's largest
		`{"text":"` + strings.Repeat("d", 70000) + `"}`,                     // a 64-bit length
		`{}`,
	}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := startJetstreamServer(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/subscribe", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	for i, want := range lines {
		typ, got, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != websocket.MessageText || string(got) != want {
			t.Fatalf("message %d: %v of %d bytes %.40q; want text of %d bytes %.40q", i, typ, len(got), got, len(want), want)
		}
	}
	if err := <-s.done; err != nil {
		t.Fatalf("sending: %v", err)
	}
	if _, resp, err := websocket.Dial(ctx, "ws://"+s.addr+"/subscribe", nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a second connection: %v, %v; want it refused with 503", resp, err)
	}
}
