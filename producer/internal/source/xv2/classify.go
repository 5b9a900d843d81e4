package xv2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
)

// The kinds of X API v2 stream messages besides message.KindStatus (an
// object with "data") and message.KindUnknown (any other object, kept on the
// control topic, never dropped silently).
const (
	// KindError is an object with "errors" and no "data", or a bare
	// problem object ("title", "type", "detail").
	KindError message.Kind = "error"
	// KindOperationalDisconnect is an error object whose problem is
	// "operational-disconnect": X closes the stream and the source reconnects.
	KindOperationalDisconnect message.Kind = "operational_disconnect"
)

// operationalDisconnect is the title of the problem X sends before closing
// a stream for its own reasons; its type ends with the same words.
const operationalDisconnect = "operational-disconnect"

// Problem is one entry of "errors" (RFC 7807 problem details, as X uses them).
type Problem struct {
	Title          string `json:"title"`
	Type           string `json:"type"`
	Detail         string `json:"detail"`
	DisconnectType string `json:"disconnect_type"` // operational-disconnect only
}

// envelope decodes only what routing needs.
type envelope struct {
	Data *struct {
		ID        json.RawMessage `json:"id"`
		CreatedAt string          `json:"created_at"`
	} `json:"data"`
	Errors []Problem `json:"errors"`
	// A bare problem object, as X answers a refused request.
	Problem
}

// Classify reads one line of the v2 stream: {"data":...,"includes":...} is a
// status keyed by data.id at data.created_at (RFC 3339); an object with
// "errors" and no "data" is KindError or KindOperationalDisconnect; any other
// object is message.KindUnknown. It returns an error wrapping
// message.ErrNotObject when raw is not a JSON object. Value is raw, unchanged.
func Classify(raw []byte) (message.Message, error) {
	m, _, err := classify(raw)
	return m, err
}

// classify is Classify that also returns the problems of an error object.
func classify(raw []byte) (message.Message, []Problem, error) {
	m := message.Message{Value: raw}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return m, nil, message.ErrNotObject
	}
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return m, nil, fmt.Errorf("%w: %v", message.ErrNotObject, err)
		}
		// A field of an unexpected type: the line is still a JSON object,
		// and what did decode is enough to route it.
	}
	if e.Data != nil {
		if id := idOf(e.Data.ID); id != "" {
			m.Kind = message.KindStatus
			m.Key = []byte(id)
			if t, err := time.Parse(time.RFC3339Nano, e.Data.CreatedAt); err == nil {
				m.Time = t.UTC()
			}
			return m, nil, nil
		}
	}
	problems := e.Errors
	if len(problems) == 0 && e.Data == nil && (e.Problem.Title != "" || e.Problem.Type != "") {
		problems = []Problem{e.Problem}
	}
	switch {
	case len(problems) == 0 || e.Data != nil:
		m.Kind = message.KindUnknown
	case isOperationalDisconnect(problems):
		m.Kind = KindOperationalDisconnect
	default:
		m.Kind = KindError
	}
	return m, problems, nil
}

// idOf returns data.id as text: a JSON string unquoted, or a number as
// written; "" for anything else.
func idOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}
	if raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
		return string(raw) // a valid number: Unmarshal checked the syntax
	}
	return ""
}

func isOperationalDisconnect(problems []Problem) bool {
	for _, p := range problems {
		if p.Title == operationalDisconnect || strings.HasSuffix(p.Type, "/"+operationalDisconnect) {
			return true
		}
	}
	return false
}
