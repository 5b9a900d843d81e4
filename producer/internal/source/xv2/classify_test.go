package xv2

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
)

func TestClassify(t *testing.T) {
	post := testPosts(t)[1]
	for _, tc := range []struct {
		name    string
		raw     string
		kind    message.Kind
		key     string
		time    time.Time
		notJSON bool
	}{
		{name: "post", raw: string(post), kind: message.KindStatus, key: "1790000000000001137",
			time: time.Date(2024, 5, 13, 9, 1, 3, 0, time.UTC)},
		{name: "post without includes", raw: `{"data":{"id":"20","text":"just setting up my twttr","created_at":"2006-03-21T20:50:14.000Z","edit_history_tweet_ids":["20"]}}`,
			kind: message.KindStatus, key: "20", time: time.Date(2006, 3, 21, 20, 50, 14, 0, time.UTC)},
		{name: "post with an offset and fractions", raw: `{"data":{"id":"21","created_at":"2024-05-13T11:00:00.123+02:00"}}`,
			kind: message.KindStatus, key: "21", time: time.Date(2024, 5, 13, 9, 0, 0, 123e6, time.UTC)},
		{name: "post without created_at", raw: `{"data":{"id":"22","text":"t"}}`, kind: message.KindStatus, key: "22"},
		{name: "post with a bad created_at", raw: `{"data":{"id":"23","created_at":"Mon May 13 09:00:00 +0000 2024"}}`, kind: message.KindStatus, key: "23"},
		{name: "numeric id", raw: `{"data":{"id":1790000000000000000}}`, kind: message.KindStatus, key: "1790000000000000000"},
		{name: "post with partial errors", raw: `{"data":{"id":"24"},"errors":[{"title":"Not Found Error","type":"https://api.twitter.com/2/problems/resource-not-found"}]}`,
			kind: message.KindStatus, key: "24"},
		{name: "data without id", raw: `{"data":{"text":"t"}}`, kind: message.KindUnknown},
		{name: "data with an empty id", raw: `{"data":{"id":""}}`, kind: message.KindUnknown},
		{name: "data of another type", raw: `{"data":[1,2]}`, kind: message.KindUnknown},
		{name: "error object", raw: string(streamError), kind: KindError},
		{name: "bare problem", raw: tooMany, kind: KindError},
		{name: "operational-disconnect", raw: string(opDisconnect), kind: KindOperationalDisconnect},
		{name: "operational-disconnect by type", raw: `{"errors":[{"title":"x","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`,
			kind: KindOperationalDisconnect},
		{name: "disconnect after another error", raw: `{"errors":[{"title":"a"},{"title":"operational-disconnect"}]}`, kind: KindOperationalDisconnect},
		{name: "errors of another type", raw: `{"errors":"boom"}`, kind: message.KindUnknown},
		{name: "empty object", raw: `{}`, kind: message.KindUnknown},
		{name: "other object", raw: `{"matching_rules":[{"id":"1","tag":"cats"}]}`, kind: message.KindUnknown},
		{name: "leading whitespace", raw: " \t{\"data\":{\"id\":\"25\"}}", kind: message.KindStatus, key: "25"},
		{name: "array", raw: `[{"data":{"id":"1"}}]`, notJSON: true},
		{name: "number", raw: `123`, notJSON: true},
		{name: "empty", raw: ``, notJSON: true},
		{name: "truncated", raw: `{"data":{"id":"1","text":"cut he`, notJSON: true},
		{name: "trailing garbage", raw: `{"data":{"id":"1"}} x`, notJSON: true},
		{name: "not JSON", raw: `Rate limit exceeded`, notJSON: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			m, err := Classify(raw)
			if !bytes.Equal(m.Value, raw) {
				t.Errorf("Value = %q; want the raw bytes", m.Value)
			}
			if tc.notJSON {
				if !errors.Is(err, message.ErrNotObject) {
					t.Errorf("got error %v; want one wrapping message.ErrNotObject", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if m.Kind != tc.kind {
				t.Errorf("got kind %q; want %q", m.Kind, tc.kind)
			}
			if string(m.Key) != tc.key {
				t.Errorf("got key %q; want %q", m.Key, tc.key)
			}
			if !m.Time.Equal(tc.time) {
				t.Errorf("got time %v; want %v", m.Time, tc.time)
			}
		})
	}
}

// Every post of the sample classifies as a status keyed by data.id.
func TestClassifySamplePosts(t *testing.T) {
	for i, raw := range testPosts(t) {
		m, err := Classify(raw)
		var want struct {
			Data struct {
				ID        string    `json:"id"`
				CreatedAt time.Time `json:"created_at"`
			} `json:"data"`
		}
		if jerr := json.Unmarshal(raw, &want); jerr != nil {
			t.Fatal(jerr)
		}
		if err != nil || m.Kind != message.KindStatus || string(m.Key) != want.Data.ID || !m.Time.Equal(want.Data.CreatedAt) {
			t.Errorf("post %d: got %q %q %v %v; want status %q %v", i, m.Kind, m.Key, m.Time, err, want.Data.ID, want.Data.CreatedAt)
		}
	}
}

// FuzzClassify: Classify never panics, keeps the bytes, accepts exactly the
// JSON objects, and a status always has a key.
func FuzzClassify(f *testing.F) {
	for _, raw := range testPosts(f) {
		f.Add(raw)
	}
	for _, s := range []string{string(opDisconnect), string(streamError), tooMany, `{}`, `[]`, `{"data":{"id":1}}`,
		`{"data":{"id":"1","created_at":"2024-05-13T09:00:00Z"}}`, `{"data":null,"errors":[]}`, ` {"data":{"id":"\u0000"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		m, err := Classify(raw)
		if !bytes.Equal(raw, in) {
			t.Fatal("Classify changed its input")
		}
		if !bytes.Equal(m.Value, raw) {
			t.Fatal("Value is not the raw bytes")
		}
		isObject := json.Valid(raw) && bytes.TrimLeft(raw, " \t\r\n")[0] == '{'
		if err != nil {
			if !errors.Is(err, message.ErrNotObject) {
				t.Fatalf("error %v does not wrap ErrNotObject", err)
			}
			if isObject {
				t.Fatalf("a JSON object was refused: %v", err)
			}
			return
		}
		if !isObject {
			t.Fatalf("accepted %q, which is not a JSON object", raw)
		}
		switch m.Kind {
		case message.KindStatus:
			if len(m.Key) == 0 {
				t.Fatal("a status without a key")
			}
		case KindError, KindOperationalDisconnect, message.KindUnknown:
			if m.Key != nil {
				t.Fatalf("a %s with key %q", m.Kind, m.Key)
			}
		default:
			t.Fatalf("unexpected kind %q", m.Kind)
		}
	})
}
