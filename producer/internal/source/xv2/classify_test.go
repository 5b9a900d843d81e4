package xv2

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

func TestClassify(t *testing.T) {
	post := testPosts(t)[1]
	streamtest.TestClassify(t, Classify, []streamtest.ClassifyCase{
		{Name: "post", Raw: string(post), Kind: message.KindStatus, Key: "1790000000000001137",
			Time: time.Date(2024, 5, 13, 9, 1, 3, 0, time.UTC)},
		{Name: "post without includes", Raw: `{"data":{"id":"20","text":"just setting up my twttr","created_at":"2006-03-21T20:50:14.000Z","edit_history_tweet_ids":["20"]}}`,
			Kind: message.KindStatus, Key: "20", Time: time.Date(2006, 3, 21, 20, 50, 14, 0, time.UTC)},
		{Name: "post with an offset and fractions", Raw: `{"data":{"id":"21","created_at":"2024-05-13T11:00:00.123+02:00"}}`,
			Kind: message.KindStatus, Key: "21", Time: time.Date(2024, 5, 13, 9, 0, 0, 123e6, time.UTC)},
		{Name: "post without created_at", Raw: `{"data":{"id":"22","text":"t"}}`, Kind: message.KindStatus, Key: "22"},
		{Name: "post with a bad created_at", Raw: `{"data":{"id":"23","created_at":"Mon May 13 09:00:00 +0000 2024"}}`, Kind: message.KindStatus, Key: "23"},
		{Name: "numeric id", Raw: `{"data":{"id":1790000000000000000}}`, Kind: message.KindStatus, Key: "1790000000000000000"},
		{Name: "post with partial errors", Raw: `{"data":{"id":"24"},"errors":[{"title":"Not Found Error","type":"https://api.twitter.com/2/problems/resource-not-found"}]}`,
			Kind: message.KindStatus, Key: "24"},
		{Name: "data without id", Raw: `{"data":{"text":"t"}}`, Kind: message.KindUnknown},
		{Name: "data with an empty id", Raw: `{"data":{"id":""}}`, Kind: message.KindUnknown},
		{Name: "data of another type", Raw: `{"data":[1,2]}`, Kind: message.KindUnknown},
		{Name: "error object", Raw: string(streamError), Kind: KindError},
		{Name: "bare problem", Raw: tooMany, Kind: KindError},
		{Name: "operational-disconnect", Raw: string(opDisconnect), Kind: KindOperationalDisconnect},
		{Name: "operational-disconnect by type", Raw: `{"errors":[{"title":"x","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`,
			Kind: KindOperationalDisconnect},
		{Name: "disconnect after another error", Raw: `{"errors":[{"title":"a"},{"title":"operational-disconnect"}]}`, Kind: KindOperationalDisconnect},
		{Name: "errors of another type", Raw: `{"errors":"boom"}`, Kind: message.KindUnknown},
		{Name: "empty object", Raw: `{}`, Kind: message.KindUnknown},
		{Name: "other object", Raw: `{"matching_rules":[{"id":"1","tag":"cats"}]}`, Kind: message.KindUnknown},
		{Name: "leading whitespace", Raw: " \t{\"data\":{\"id\":\"25\"}}", Kind: message.KindStatus, Key: "25"},
		{Name: "array", Raw: `[{"data":{"id":"1"}}]`, NotJSON: true},
		{Name: "number", Raw: `123`, NotJSON: true},
		{Name: "empty", Raw: ``, NotJSON: true},
		{Name: "truncated", Raw: `{"data":{"id":"1","text":"cut he`, NotJSON: true},
		{Name: "trailing garbage", Raw: `{"data":{"id":"1"}} x`, NotJSON: true},
		{Name: "not JSON", Raw: `Rate limit exceeded`, NotJSON: true},
	})
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
		m, ok := streamtest.CheckClassify(t, Classify, raw)
		if !ok {
			return
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
