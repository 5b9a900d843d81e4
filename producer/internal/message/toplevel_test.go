package message

import (
	"testing"

	"github.com/valyala/fastjson"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
)

// controlKeys are the top-level keys of the v1.1 control messages, in the
// order kindAndKey tests them.
var controlKeys = [...]string{"delete", "scrub_geo", "limit", "status_withheld", "user_withheld", "disconnect", "warning", "friends", "event", "direct_message"}

// checkTopLevel: the one pass over the keys finds, for each key Classify
// reads, the value fastjson's Object.Get finds (the first of that name,
// escapes in keys read), and a control key exactly when Object.Get finds
// one of controlKeys.
func checkTopLevel(t *testing.T, raw []byte) {
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil {
		return
	}
	o, err := v.Object()
	if err != nil {
		return
	}
	var f topLevel
	o.Visit(f.see)
	for _, c := range []struct {
		key string
		got *fastjson.Value
	}{
		{"user", f.user}, {"text", f.text}, {"full_text", f.fullText}, {"id_str", f.idStr}, {"id", f.id},
		{"timestamp_ms", f.timestampMs}, {"created_at", f.createdAt},
	} {
		if want := o.Get(c.key); c.got != want {
			t.Fatalf("%q in %.200q: the pass found %v; Object.Get %v", c.key, raw, c.got, want)
		}
	}
	control := false
	for _, k := range controlKeys {
		control = control || o.Get(k) != nil
	}
	if f.control != control {
		t.Fatalf("%.200q: the pass found a control key: %v; Object.Get: %v", raw, f.control, control)
	}
}

var topLevelSeeds = []string{
	`{"id_str":"1","text":"t","user":{}}`,
	`{"id_str":"1","id_str":"2","text":"t","user":{},"user":null}`,
	`{"\u0069d_str":"3","id_str":"4","text":"t","user":{}}`,
	`{"id":12345678901234567890123,"full_text":"t","user":{},"timestamp_ms":"1520424000123"}`,
	`{"id_str":"","id":5,"text":"t","user":{},"created_at":"Wed Mar 07 12:00:00 +0000 2018"}`,
	`{"id_str":"1","text":"t","user":{},"delete":{}}`,
	`{"id_str":"1","text":"t","user":{},"direct_message":null}`,
	`{"id_str":"1","text":"t","user":{},"de\u006cete":1}`,
	`{"a":{"id_str":"1","user":{}},"text":"t"}`,
	`{"limit":{"track":1}}`,
	`{}`,
}

// TestTopLevel runs checkTopLevel on the seeds and the project's statuses
// and notices.
func TestTopLevel(t *testing.T) {
	for _, s := range topLevelSeeds {
		checkTopLevel(t, []byte(s))
	}
	for _, path := range []string{"v1.1/sample.jsonl", "v1.1/notices.jsonl", "v1.1/legacy-2010.json"} {
		for _, l := range corpus.Lines(t, corpus.Path(t, path)) {
			checkTopLevel(t, l)
		}
	}
}

// FuzzTopLevel: checkTopLevel on any line.
func FuzzTopLevel(f *testing.F) {
	for _, s := range topLevelSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkTopLevel(t, raw) })
}
