package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/tweetpipe/tweetpipe/internal/contract"
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
//
// The UTF-8 check and the two line-break searches are the standard
// library's (utf8.Valid skips ASCII a word or more at a time, IndexByte is
// vectorised), run on every value: a hand-written pass that decided first
// which of them to run was slower than running them (docs/performance-history.md,
// "Consumer: its CPU on the slower machine"). JSON validation is most of the
// cost either way.
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

// validJSON is encoding/json.Valid, about three times faster on tweets:
// goccy/go-json's validator gives the same answers (FuzzValidJSON), with the
// same nesting limit of 10,000. fastjson's validator, used before, was half
// as fast, let raw control bytes through inside strings, and recursed
// without limit, so one deeply nested message could overflow the stack and
// crash the consumer.
func validJSON(v []byte) bool { return gojson.Valid(v) }

// deadLetter is one line of a dead-letter file. The original value is kept
// as a JSON string when it is valid UTF-8 (so it survives exactly), and in
// base64 otherwise, as the producer's dead letters keep it
// (contract.DeadLetterValue).
type deadLetter struct {
	Topic     string    `json:"topic"`
	Partition int       `json:"partition"`
	Offset    int64     `json:"offset"`
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason"`
	contract.DeadLetterValue
}

// appendDeadLetter appends the dead-letter line for one record to buf.
func appendDeadLetter(buf []byte, topic string, partition int, r Record, t time.Time, reason string) ([]byte, error) {
	d := deadLetter{
		Topic:     topic,
		Partition: partition,
		Offset:    r.Offset,
		Time:      t.UTC(),
		Reason:    reason,

		DeadLetterValue: contract.NewDeadLetterValue(r.Value),
	}
	w := bytes.NewBuffer(buf)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil { // Encode ends the line with \n
		return buf, fmt.Errorf("encoding dead letter for offset %d: %w", r.Offset, err)
	}
	return w.Bytes(), nil
}
