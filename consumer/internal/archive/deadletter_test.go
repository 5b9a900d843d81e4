package archive

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCheckValue(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"object", `{"id":1,"text":"hi"}`, ""},
		{"array accepted", `[1,2,3]`, ""},
		{"string accepted", `"just a string"`, ""},
		{"number accepted", `42`, ""},
		{"null accepted", `null`, ""},
		{"surrounding spaces and tabs kept", " {\t\"a\": 1} ", ""},
		{"escaped newline in a string is one line", `{"text":"a\nb"}`, ""},
		{"unicode", `{"text":"héllo 🐦 \u2028"}`, ""},
		{"empty", ``, ReasonEmpty},
		{"not JSON", `hello world`, ReasonInvalidJSON},
		{"truncated JSON", `{"id":1`, ReasonInvalidJSON},
		{"two values", `{} {}`, ReasonInvalidJSON},
		{"invalid UTF-8 inside a string", "{\"text\":\"\xff\xfe\"}", ReasonInvalidUTF8},
		{"raw newline between tokens", "{\n\"id\":1}", ReasonLineBreak},
		{"trailing newline", "{\"id\":1}\n", ReasonLineBreak},
		{"raw carriage return", "{\"id\":1}\r", ReasonLineBreak},
		{"only whitespace", "   ", ReasonInvalidJSON},
		{"raw control byte inside a string", "{\"a\":\"\x01\"}", ReasonInvalidJSON},
		{"raw tab inside a string", "{\"a\":\"\t\"}", ReasonInvalidJSON},
		{"control bytes and a newline", "{\"a\":\"\x01\"}\n", ReasonLineBreak},
		{"invalid UTF-8 and a newline", "{\"a\":\"\xff\"}\n", ReasonInvalidUTF8},
		{"truncated UTF-8 sequence after ASCII text", "{\"a\":\"abcdefgh\xc3\"}", ReasonInvalidUTF8},
		{"nested 10,000 deep", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), ""},
		// Deeper than encoding/json's limit: dead-lettered, and no stack
		// overflow (fastjson's validator crashed the process at 2,000,000).
		{"nested 3,000,000 deep", strings.Repeat("[", 3000000) + strings.Repeat("]", 3000000), ReasonInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkValue([]byte(tt.value)); got != tt.want {
				t.Errorf("checkValue(%q): got %q; want %q", tt.value, got, tt.want)
			}
			r := Record{Value: []byte(tt.value)}
			r.Check()
			if !r.Checked || r.Reason != tt.want {
				t.Errorf("Record.Check on %q: Checked %v, Reason %q; want true, %q", tt.value, r.Checked, r.Reason, tt.want)
			}
		})
	}
}

// TestAppendTakesTheCheck: Append goes by a checked record's Reason and
// does not check its value again (the consumer checks each value as it
// fetches it); an unchecked record is checked by Append.
func TestAppendTakesTheCheck(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir}), "tweets", 0)
	batch := []Record{
		{Offset: 0, Time: t0(), Value: []byte(value(0)), Checked: true},
		{Offset: 1, Time: t0(), Value: []byte(value(1)), Checked: true, Reason: ReasonLineBreak},
		{Offset: 2, Time: t0(), Value: []byte("not json")},
		{Offset: 3, Time: t0(), Value: []byte(value(3))},
	}
	res, err := p.Append(batch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if want := (Result{Written: 2, DeadLettered: 2, Bytes: 16}); res != want {
		t.Errorf("Result: got %+v; want %+v", res, want)
	}
	dl := deadLetters(t, dir, "tweets")
	if len(dl) != 2 || !strings.Contains(dl[0], `"reason":"`+ReasonLineBreak+`"`) || !strings.Contains(dl[1], `"reason":"`+ReasonInvalidJSON+`"`) {
		t.Errorf("dead letters: got %q; want offset 1 by its given reason, offset 2 as invalid JSON", dl)
	}
}

func TestAppendDeadLetter(t *testing.T) {
	ts := time.Date(2024, 3, 9, 7, 0, 0, 5, time.FixedZone("X", 3600))
	tests := []struct {
		name       string
		value      string
		wantValue  *string
		wantBase64 *string
	}{
		{"UTF-8 kept as a string", "not <json> & more", ptr("not <json> & more"), nil},
		{"empty value is an empty string", "", ptr(""), nil},
		{"newline survives in the string", "{\n}", ptr("{\n}"), nil},
		{"invalid UTF-8 in base64", "a\xffb", nil, ptr("Yf9i")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("earlier line\n")
			buf, err := appendDeadLetter(prefix, "tweets", 2, Record{Offset: 9, Value: []byte(tt.value)}, ts, "why")
			if err != nil {
				t.Fatal(err)
			}
			line, ok := bytes.CutPrefix(buf, prefix)
			if !ok {
				t.Fatalf("got %q; want it to start with %q", buf, prefix)
			}
			if n := len(line); n == 0 || line[n-1] != '\n' || bytes.IndexByte(line[:n-1], '\n') >= 0 {
				t.Fatalf("got %q; want exactly one line ending in \\n", line)
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("decoding %q: %v", line, err)
			}
			want := map[string]any{
				"topic": "tweets", "partition": 2.0, "offset": 9.0,
				"time": "2024-03-09T06:00:00.000000005Z", "reason": "why",
			}
			if tt.wantValue != nil {
				want["value"] = *tt.wantValue
			}
			if tt.wantBase64 != nil {
				want["value_base64"] = *tt.wantBase64
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v; want %v", got, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzValidJSON: the fast validator agrees with encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, ` {"a":1} `, `[1,2]`, `"x"`, `1e5`, `-0`, `01`, `{"a":1,}`, `NaN`,
		"{\"a\":\"\x01\"}", "\"\x17\\b\"", `"\u12"`, `tru`, `{"a" 1}`, `{"a":1}{"b":2}`, `1.`, "\"\t\"", "[\t1]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v; encoding/json says %v", b, got, want)
		}
	})
}
