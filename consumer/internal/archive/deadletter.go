package archive

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
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
	switch {
	case len(v) == 0:
		return ReasonEmpty
	case !utf8.Valid(v):
		return ReasonInvalidUTF8
	case bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0:
		return ReasonLineBreak
	case !validJSON(v):
		return ReasonInvalidJSON
	}
	return ""
}

// validJSON is json.Valid, faster: fastjson's validator is about three
// times quicker on tweets (json.Valid was half the consumer's CPU), but it
// lets raw control characters through inside strings, so a value holding
// any byte below 0x20 (rare: a tab, a stray control byte) gets the standard
// library's strict answer. FuzzValidJSON checks the two agree.
func validJSON(v []byte) bool {
	for _, c := range v {
		if c < 0x20 {
			return json.Valid(v)
		}
	}
	return fastjson.ValidateBytes(v) == nil
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
