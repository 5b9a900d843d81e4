package archive

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// Reasons a value goes to the dead-letter file instead of a data file.
const (
	ReasonEmpty       = "empty"
	ReasonInvalidUTF8 = "invalid UTF-8"
	ReasonLineBreak   = "contains a line break"
	ReasonInvalidJSON = "invalid JSON"
)

// checkValue returns why v cannot be one line of a JSON Lines file, or "" if
// it can. Any valid JSON value is accepted, not only objects: the producer
// already filters what it publishes, and the archive's job is to keep every
// message that can be a line, unchanged. JSON allows \n and \r as whitespace
// between tokens, so a valid value can still span lines; those are refused.
func checkValue(v []byte) string {
	control, nonASCII := scan(v)
	switch {
	case len(v) == 0:
		return ReasonEmpty
	case nonASCII && !utf8.Valid(v):
		return ReasonInvalidUTF8
	case control && (bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0):
		return ReasonLineBreak
	case !validJSON(v):
		return ReasonInvalidJSON
	}
	return ""
}

// validJSON is encoding/json.Valid, about three times faster on tweets:
// goccy/go-json's validator gives the same answers (FuzzValidJSON), with the
// same nesting limit of 10,000. fastjson's validator, used before, was half
// as fast, let raw control bytes through inside strings, and recursed
// without limit, so one deeply nested message could overflow the stack and
// crash the consumer.
func validJSON(v []byte) bool { return gojson.Valid(v) }

// scan reports whether v holds a byte below 0x20 (a control character, \n
// and \r among them) and one above 0x7f (so not all ASCII: only then does
// UTF-8 need checking; tweets' JSON escapes most non-ASCII text). It reads
// eight bytes at a time with the "hasless(x, n)" test of Bit Twiddling
// Hacks: (w - 0x2020...) & ^w & 0x8080... is non-zero exactly when some byte
// of the word w is below 0x20. A byte loop took a tenth of the consumer's
// CPU; FuzzScan checks the two agree.
func scan(v []byte) (control, nonASCII bool) {
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	var c, h uint64
	for len(v) >= 8 {
		w := binary.LittleEndian.Uint64(v)
		c |= (w - lo) &^ w & hi
		h |= w & hi
		v = v[8:]
	}
	for _, b := range v {
		if b < 0x20 {
			c = 1
		}
		if b > 0x7f {
			h = 1
		}
	}
	return c != 0, h != 0
}

// deadLetter is one line of a dead-letter file. The original value is kept
// as a JSON string when it is valid UTF-8 (so it survives exactly), and in
// base64 otherwise; exactly one of Value and ValueBase64 is set.
type deadLetter struct {
	Topic       string    `json:"topic"`
	Partition   int       `json:"partition"`
	Offset      int64     `json:"offset"`
	Time        time.Time `json:"time"`
	Reason      string    `json:"reason"`
	Value       *string   `json:"value,omitempty"`
	ValueBase64 *string   `json:"value_base64,omitempty"`
}

// appendDeadLetter appends the dead-letter line for one record to buf.
func appendDeadLetter(buf []byte, topic string, partition int, r Record, t time.Time, reason string) ([]byte, error) {
	d := deadLetter{
		Topic:     topic,
		Partition: partition,
		Offset:    r.Offset,
		Time:      t.UTC(),
		Reason:    reason,
	}
	if utf8.Valid(r.Value) {
		s := string(r.Value)
		d.Value = &s
	} else {
		s := base64.StdEncoding.EncodeToString(r.Value)
		d.ValueBase64 = &s
	}
	w := bytes.NewBuffer(buf)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil { // Encode ends the line with \n
		return buf, fmt.Errorf("encoding dead letter for offset %d: %w", r.Offset, err)
	}
	return w.Bytes(), nil
}
