package jetstream

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

// handoverEvents are the events of testdata/tweets, the seed corpora of
// FuzzClassify and FuzzScanAsDecode (notJSON among them), events that take
// encoding/json's way (keys in another case or twice, escapes, invalid
// UTF-8, a type error) and messages that are not JSON objects.
func handoverEvents(t testing.TB) [][]byte {
	out := corpus.Lines(t, corpus.Path(t, "jetstream/events.jsonl"))
	out = append(out, classifySeeds()...)
	out = append(out, scanAsDecodeSeeds()...)
	for _, s := range []string{
		`{"DID":"did:plc:a","Time_US":7,"KIND":"commit","Commit":{"Operation":"delete","COLLECTION":"c.d.e","RKey":"x"}}`,
		`{"did":"did:plc:a","kind":"commit","did":"did:plc:b","time_us":7,"time_us":8,"kind":"identity"}`,
		`{"did":"did:plc:\u0061","time_us":7,"kind":"commit","commit":{"operation":"cre\u0061te","collection":"c.d\/e","rkey":"\u00e9"}}`,
		"{\"did\":\"did:plc:\xff\",\"kind\":\"account\"}",
		`{"did":"did:plc:a","time_us":"1725516665333808","kind":"account"}`,
		`{"did":"did:plc:a","time_us":1.5,"kind":"commit","commit":{"operation":"update","collection":"c.d.e","rkey":"x","cid":null,"rev":"r"}}`,
		" \t{ \"did\" : \"did:plc:a\" ,\n\"kind\":\"identity\" , \"time_us\" : 7 }\r\n",
		`not json`, `1725911162329308`, ``, `{"did":"did:plc:a"`, "\x28\xb5\x2f\xfd\x00\x58",
	} {
		out = append(out, []byte(s))
	}
	return out
}

// checkHandover fails t unless r, what the source emitted for raw, holds
// raw and carries Classify's result (streamtest.CheckClassified).
func checkHandover(t testing.TB, r source.Record, raw []byte) bool {
	t.Helper()
	if !bytes.Equal(r.Value, raw) {
		t.Fatalf("emitted %q; want %q", r.Value, raw)
	}
	return streamtest.CheckClassified(t, Classify, r)
}

// TestSourceHandsOverClassify: every event the source reads from a
// websocket is emitted with Classify's result, which the publisher then
// uses instead of classifying it again.
func TestSourceHandsOverClassify(t *testing.T) {
	events := handoverEvents(t)
	var sent []testEvent
	for _, raw := range events {
		sent = append(sent, testEvent{raw: raw})
	}
	srv := newJSServer(t, postsOnly, replay(sent, endHold))
	s, _ := newTestSource(t, testConfig(srv.wsURL(), t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []source.Record
	err := s.Run(ctx, func(ctx context.Context, r source.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if got = append(got, r); len(got) == len(events) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(events) {
		t.Fatalf("emitted %d events; want %d", len(got), len(events))
	}
	vouched := 0
	for i, r := range got {
		if checkHandover(t, r, events[i]) {
			vouched++
		}
	}
	if want := len(events) - 6 - len(notJSON); vouched != want {
		t.Errorf("handed over %d classifications; want %d (all but the %d messages that are not JSON objects)", vouched, want, 6+len(notJSON))
	}
}

// FuzzSourceHandsOverClassify: whatever a message holds, the source hands
// over Classify's result with it, or nothing when Classify refuses it.
func FuzzSourceHandsOverClassify(f *testing.F) {
	for _, raw := range handoverEvents(f) {
		f.Add(raw)
	}
	s, err := New(testConfig("ws://127.0.0.1:1/subscribe", f.TempDir()), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got []source.Record
		warned := false
		kept, err := s.event(context.Background(), func(ctx context.Context, r source.Record) error {
			got = append(got, r)
			return nil
		}, raw, &warned)
		if err != nil {
			t.Fatal(err)
		}
		if kept != (len(got) == 1) {
			t.Fatalf("event reported kept %v and emitted %d records", kept, len(got))
		}
		if len(got) != 1 {
			t.Fatalf("emitted %d records; want 1", len(got))
		}
		checkHandover(t, got[0], raw)
	})
}
