package message

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
)

// checkScan: where scan reads a line, fastjson's parser accepts it as an
// object and finds there what scan found (the first value of each key
// Classify reads, its kind, a string's bytes, a number's text, a control
// key); and Classify answers as it does with fastjson alone.
func checkScan(t *testing.T, raw []byte) {
	got, gotErr := Classify(raw)
	want, wantErr := Message{Value: raw}, error(nil)
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		want, wantErr = Message{Value: raw}, ErrNotObject
	} else {
		want, wantErr = classifyParsed(Message{Value: raw})
	}
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) ||
		got.Kind != want.Kind || !bytes.Equal(got.Key, want.Key) || !got.Time.Equal(want.Time) || !bytes.Equal(got.Value, raw) {
		t.Fatalf("Classify(%.200q) = %q %q %v, %v; with fastjson alone %q %q %v, %v",
			raw, got.Kind, got.Key, got.Time, gotErr, want.Kind, want.Key, want.Time, wantErr)
	}
	f, ok := scan(raw)
	if !ok {
		return
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil {
		t.Fatalf("scan read %.200q; fastjson refuses it: %v", raw, err)
	}
	o, err := v.Object()
	if err != nil {
		t.Fatalf("scan read %.200q as an object; fastjson: %v", raw, err)
	}
	var tl topLevel
	o.Visit(tl.see)
	for _, c := range []struct {
		key  string
		got  field
		want *fastjson.Value
	}{
		{"user", f.user, tl.user}, {"text", f.text, tl.text}, {"full_text", f.fullText, tl.fullText},
		{"id_str", f.idStr, tl.idStr}, {"id", f.id, tl.id}, {"timestamp_ms", f.timestampMs, tl.timestampMs},
		{"created_at", f.createdAt, tl.createdAt},
	} {
		if c.want == nil {
			if c.got.present() {
				t.Fatalf("%q in %.200q: scan found %q; fastjson nothing", c.key, raw, c.got.raw)
			}
			continue
		}
		switch typ := c.want.Type(); {
		case typ == fastjson.TypeString:
			if c.got.kind != '"' || !bytes.Equal(c.got.raw, c.want.GetStringBytes()) {
				if c.key == "id_str" || c.key == "timestamp_ms" || c.key == "created_at" || c.got.kind != '"' {
					t.Fatalf("%q in %.200q: scan found %c %q; fastjson the string %q", c.key, raw, c.got.kind, c.got.raw, c.want.GetStringBytes())
				}
			}
		case typ == fastjson.TypeNumber:
			if c.got.kind != '0' || !bytes.Equal(c.got.raw, c.want.MarshalTo(nil)) {
				t.Fatalf("%q in %.200q: scan found %c %q; fastjson the number %s", c.key, raw, c.got.kind, c.got.raw, c.want.MarshalTo(nil))
			}
		default:
			if c.got.kind != 'o' {
				t.Fatalf("%q in %.200q: scan found %c %q; fastjson a %s", c.key, raw, c.got.kind, c.got.raw, typ)
			}
		}
	}
	if f.control != tl.control {
		t.Fatalf("%.200q: scan found a control key: %v; fastjson: %v", raw, f.control, tl.control)
	}
}

var scanSeeds = []string{
	`{"id_str":"1","text":"t","user":{}}`,
	` {"id":12,"text":"a\"b\\","user":{"x":[1,-2.5e3,true,false,null,"y"]},"timestamp_ms":"1520424000123"} `,
	`{"id":1.2.3,"full_text":"t","user":null}`,
	`{"id":-,"text":"t","user":{}}`,
	`{"id":-nan,"text":"t","user":{}}`,
	`{"id":NaN,"text":"t","user":{}}`,
	`{"id":+Inf,"text":"t","user":{}}`,
	`{"id_str":"1\u0032","text":"t","user":{}}`,
	`{"id_str":"1","text":"t","user":{},"created_at":"Wed Mar 07 12:00:00 +0000 2018"}`,
	`{"id_str":"1","text":"t","user":{},"created_at":"Wed\/Mar"}`,
	`{"id_str":"1","text":"t","user":{},"limit":{}}`,
	`{"\u0075ser":{},"id_str":"1","text":"t"}`,
	`{"id_str":"1","text":"t","user":{"a\"b":1}}`,
	`{"id_str":"1","text":"t","user":{}}x`,
	`{"id_str":"1","text":"t","user":{},}`,
	`{"id_str":"1" "text":"t","user":{}}`,
	`{"id_str":"1","text":"t","user":truex}`,
	`{"id_str":"1","text":"t","user":[1 2]}`,
	`{"id_str":"1","text":"t","user":{` + string(bytes.Repeat([]byte(`"a":{`), 70)) + `"b":1` + string(bytes.Repeat([]byte(`}`), 70)) + `}}`,
	`{"id_str":"1","text":"t\x01","user":{}}`,
	`{"id_str":"","id":7,"text":"t","user":{}}`,
	`{"id_str":"1","text":"t","user":{}`,
	`{"id_str":"1\\","text":"t","user":{}}`,
	`{"id_str":"1\\\"","text":"t","user":{}}`,
}

// TestScan runs checkScan on the seeds, the project's statuses and
// notices, and the shared real ones where they are.
func TestScan(t *testing.T) {
	for _, s := range scanSeeds {
		checkScan(t, []byte(s))
	}
	for _, path := range []string{"v1.1/sample.jsonl", "v1.1/notices.jsonl", "v1.1/legacy-2010.json"} {
		for _, l := range corpus.Lines(t, corpus.Path(t, path)) {
			checkScan(t, l)
		}
	}
	for _, path := range []string{"bad/lines.txt"} {
		for _, l := range corpus.Lines(t, corpus.Path(t, path)) {
			checkScan(t, l)
		}
	}
}

// TestScanShared runs checkScan on the shared real statuses, where they are.
func TestScanShared(t *testing.T) {
	for _, l := range corpus.Lines(t, filepath.Join(corpus.Shared(t), "python-twitter", "lines.json")) {
		checkScan(t, l)
	}
}

// TestScanReadsStatuses: scan reads the project's statuses itself, not
// through fastjson (which would be correct, and slow).
func TestScanReadsStatuses(t *testing.T) {
	for _, l := range corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl")) {
		if f, ok := scan(l); !ok || !f.isStatus() {
			t.Errorf("scan(%.100q) = %v, status %v; want a status", l, ok, f.isStatus())
		}
	}
}

// FuzzScan: checkScan on any line; the seeds, and the project's statuses
// and notices to mutate.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	for _, path := range []string{"v1.1/sample.jsonl", "v1.1/notices.jsonl"} {
		for _, l := range corpus.Lines(f, corpus.Path(f, path)) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkScan(t, raw) })
}
