package message

import (
	"encoding/json"
	"strings"
	"testing"
)

// validSeeds are JSON texts and near misses, for TestValid and the
// fuzzer.
var validSeeds = []string{
	``, ` `, `{}`, ` {} `, `[]`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{"a":}`, `{,}`, `{"a":1 "b":2}`, `[1,]`, `[,1]`, `[1 2]`,
	`"x"`, `"\u00e9\n\t\"\\\/\b\f\r"`, `"\u00g0"`, `"\u00"`, `"\x"`, "\"a\x01\"", "\"a\x7f\xff\"", `"unterminated`, `"\`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.5e10`, `1.5.5`, `+1`, `00`, `1x`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `True`, `nulll`,
	`{"a":[1,{"b":null}],"c":"d"}`, `{"a":[1,{"b":null}],"c":"d"`, `{"a":1}}`, `{"a":1} x`, "{\"a\":\r\n\t1}",
	// Strings longer than a word (plainRun reads eight bytes at a time),
	// with a quote, backslash, control or high byte at several places.
	`"abcdefghijklmnopq"`, `"abcdefg\"hijklmnopq"`, `"abcdefgh\\ijklmnop"`, `"abcdefghijklmno\u0041pq"`, `"abcdefghijklmnopqrstuvw\x"`,
	"\"abcdefghi\x1fjklmnopq\"", "\"abcdefgh\x7f\x80\xffijklmnop\"", "\"\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80 hindi\"",
	`{"text":"abcdefghijklmnopqrstuvwxyz","b":"01234567"}`, `"abcdefghijklmnopqrstuvwxyz`, `"abcdefghijklmnop\`,
}

func TestValid(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	deepObj := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	cases := append(validSeeds, deep(maxDepth), deep(maxDepth+1), deepObj(maxDepth), deepObj(maxDepth+1))
	for _, s := range cases {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.40q) = %v; json.Valid %v", s, got, want)
		}
	}
}

// FuzzValid: Valid answers as json.Valid.
func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v; json.Valid %v", b, got, want)
		}
	})
}

// TestPlainRun: plainRun stops at the first quote, backslash or control
// byte, at any place in a word, and passes over every other byte (0x7f and
// bytes above it too); it may stop early only within the last seven bytes.
func TestPlainRun(t *testing.T) {
	for _, c := range []byte{'"', '\\', 0x00, 0x01, 0x1f, 0x20, 'a', 0x7f, 0x80, 0xff} {
		special := c == '"' || c == '\\' || c < 0x20
		for size := 0; size <= 24; size++ {
			for at := 0; at < size; at++ {
				b := []byte(strings.Repeat("a", size))
				b[at] = c
				first := size
				if special {
					first = at
				}
				if got := plainRun(b); got > first || (got < first && size-got >= 8) {
					t.Errorf("plainRun(%q) = %d; the first quote, backslash or control byte is at %d", b, got, first)
				}
			}
		}
	}
}
