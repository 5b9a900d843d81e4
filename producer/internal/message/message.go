// Package message turns the raw bytes a source read into what the publisher
// needs to route them: the kind of message, its key and its time. The bytes
// themselves are never re-encoded.
package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	//lint:ignore SA1019 go-twitter is frozen, not broken: its v1.1 types are what this project decodes with
	"github.com/dghubble/go-twitter/twitter"
	"github.com/valyala/fastjson"

	"github.com/tweetpipe/tweetpipe/internal/contract"
)

// Kind names what a stream message is. Statuses go to the tweets topic,
// every other kind to the control topic.
type Kind string

// The kinds of the Twitter v1.1 streaming API. Unknown is any other JSON
// object: it is kept (on the control topic), never dropped silently.
const (
	KindStatus         Kind = contract.KindStatus
	KindDelete         Kind = "delete"
	KindScrubGeo       Kind = "scrub_geo"
	KindLimit          Kind = "limit"
	KindStatusWithheld Kind = "status_withheld"
	KindUserWithheld   Kind = "user_withheld"
	KindDisconnect     Kind = "disconnect"
	KindWarning        Kind = "warning"
	KindFriends        Kind = "friends"
	KindEvent          Kind = "event"
	KindDirectMessage  Kind = "direct_message"
	KindUnknown        Kind = "unknown"
)

// IsStatus reports whether messages of this kind belong on the tweets topic.
func (k Kind) IsStatus() bool { return k == KindStatus }

// Message is one record ready for Kafka.
type Message struct {
	Kind  Kind
	Key   []byte    // status id (id_str, else id); nil when the kind has none
	Time  time.Time // the post's own time; zero when the message carries none
	Value []byte    // the raw bytes, unchanged
}

// ErrNotObject is returned for a line that is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// envelope decodes only what routing needs. go-twitter's notice types give
// the control messages their shape; statuses are recognised by their fields,
// not by retweet_count (older payloads lack it).
type envelope struct {
	IDStr       string      `json:"id_str"`
	ID          json.Number `json:"id"`
	Text        *string     `json:"text"`
	FullText    *string     `json:"full_text"`
	User        *struct{}   `json:"user"`
	CreatedAt   string      `json:"created_at"`
	TimestampMs string      `json:"timestamp_ms"`

	Delete *struct {
		Status      *twitter.StatusDeletion `json:"status"`
		TimestampMs string                  `json:"timestamp_ms"`
	} `json:"delete"`
	ScrubGeo       *twitter.LocationDeletion `json:"scrub_geo"`
	Limit          *twitter.StreamLimit      `json:"limit"`
	StatusWithheld *twitter.StatusWithheld   `json:"status_withheld"`
	UserWithheld   *twitter.UserWithheld     `json:"user_withheld"`
	Disconnect     *twitter.StreamDisconnect `json:"disconnect"`
	Warning        *twitter.StallWarning     `json:"warning"`
	Friends        *[]int64                  `json:"friends"`
	Event          *string                   `json:"event"`
	DirectMessage  *struct{}                 `json:"direct_message"`
}

// Classify reads a v1.1-shaped JSON line. It returns ErrNotObject (wrapped)
// when raw is not a JSON object; the caller counts and logs such lines.
//
// Statuses, nearly every line of a stream, are read in one pass (scan)
// that accepts what fastjson's parser accepts, or, where that pass gives
// up, with fastjson itself (encoding/json validates a 5 KB status and then
// decodes it: half the producer's CPU); the rare control messages are
// decoded with go-twitter's types.
func Classify(raw []byte) (Message, error) {
	m := Message{Value: raw}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return m, ErrNotObject
	}
	if f, ok := scan(raw); ok && f.isStatus() {
		m.Kind = KindStatus
		// A copy, not the id's bytes in raw: kafka-go hashes the key for
		// the partition on the publisher's loop, which otherwise reads a
		// cache line of each value it never reads else (murmur2 went from
		// 0.2 to 1.5-2 % of the producer's CPU).
		k := f.idStr.raw
		if !f.idStrSet() {
			k = f.id.raw // the number as written, all its digits
		}
		m.Key = bytes.Clone(k)
		e := envelope{TimestampMs: string(f.timestampMs.str()), CreatedAt: string(f.createdAt.str())}
		m.Time = e.time()
		return m, nil
	}
	return classifyParsed(m)
}

// classifyParsed is Classify with fastjson's parser: whatever scan does not
// read as a status.
func classifyParsed(m Message) (Message, error) {
	raw := m.Value
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return m, fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	o, err := v.Object()
	if err != nil {
		return m, fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	var f topLevel
	o.Visit(f.see)
	if f.isStatus() {
		m.Kind = KindStatus
		if f.idStrSet() {
			m.Key = bytes.Clone(f.idStr.GetStringBytes())
		} else {
			m.Key = f.id.MarshalTo(nil) // the number as written, all its digits
		}
		e := envelope{TimestampMs: string(f.timestampMs.GetStringBytes()), CreatedAt: string(f.createdAt.GetStringBytes())}
		m.Time = e.time()
		return m, nil
	}
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return m, fmt.Errorf("%w: %v", ErrNotObject, err)
		}
		// A field of an unexpected type: the line is still a JSON object,
		// and what did decode is enough to route it.
	}
	m.Kind, m.Key = e.kindAndKey()
	m.Time = e.time()
	return m, nil
}

// parsers reuses fastjson's parsers (each keeps its buffers); Classify may
// be called from several goroutines.
var parsers fastjson.ParserPool

// topLevel holds what Classify reads of a line's top-level keys: for
// each, the first value of that name, as fastjson's Object.Get finds it,
// taken in one pass over the keys (Object.Get scans them all for every key
// it looks for, and a status has some thirty).
type topLevel struct {
	user, text, fullText, idStr, id, timestampMs, createdAt *fastjson.Value
	control                                                 bool // a key of a control message is there (kindAndKey's)
}

func (f *topLevel) see(key []byte, v *fastjson.Value) {
	keep := func(p **fastjson.Value) {
		if *p == nil {
			*p = v
		}
	}
	switch string(key) {
	case "user":
		keep(&f.user)
	case "text":
		keep(&f.text)
	case "full_text":
		keep(&f.fullText)
	case "id_str":
		keep(&f.idStr)
	case "id":
		keep(&f.id)
	case "timestamp_ms":
		keep(&f.timestampMs)
	case "created_at":
		keep(&f.createdAt)
	case "delete", "scrub_geo", "limit", "status_withheld", "user_withheld", "disconnect", "warning", "friends", "event", "direct_message":
		f.control = true
	}
}

// idStrSet: id_str is a string that is not empty.
func (f *topLevel) idStrSet() bool {
	return f.idStr != nil && f.idStr.Type() == fastjson.TypeString && len(f.idStr.GetStringBytes()) > 0
}

// isStatus recognises a status by its fields, not by retweet_count (older
// payloads lack it): a text (or full_text), a user and an id, and none of
// the control messages' keys.
func (f *topLevel) isStatus() bool {
	if f.user == nil || (f.text == nil && f.fullText == nil) {
		return false
	}
	if !f.idStrSet() && !(f.id != nil && f.id.Type() == fastjson.TypeNumber) {
		return false
	}
	return !f.control
}

func (e *envelope) kindAndKey() (Kind, []byte) {
	switch {
	case e.Delete != nil:
		if s := e.Delete.Status; s != nil {
			return KindDelete, idKey(s.IDStr, s.ID)
		}
		return KindDelete, nil
	case e.ScrubGeo != nil:
		return KindScrubGeo, idKey(e.ScrubGeo.UserIDStr, e.ScrubGeo.UserID)
	case e.Limit != nil:
		return KindLimit, nil
	case e.StatusWithheld != nil:
		return KindStatusWithheld, idKey("", e.StatusWithheld.ID)
	case e.UserWithheld != nil:
		return KindUserWithheld, idKey("", e.UserWithheld.ID)
	case e.Disconnect != nil:
		return KindDisconnect, nil
	case e.Warning != nil:
		return KindWarning, nil
	case e.Friends != nil:
		return KindFriends, nil
	case e.Event != nil:
		return KindEvent, nil
	case e.DirectMessage != nil:
		return KindDirectMessage, nil
	case (e.Text != nil || e.FullText != nil) && e.User != nil && (e.IDStr != "" || e.ID != ""):
		if e.IDStr != "" {
			return KindStatus, []byte(e.IDStr)
		}
		return KindStatus, []byte(e.ID.String())
	}
	return KindUnknown, nil
}

func idKey(s string, n int64) []byte {
	if s != "" {
		return []byte(s)
	}
	if n != 0 {
		return strconv.AppendInt(nil, n, 10)
	}
	return nil
}

func (e *envelope) time() time.Time {
	ms := e.TimestampMs
	if ms == "" && e.Delete != nil {
		ms = e.Delete.TimestampMs
	}
	if ms != "" {
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n > 0 {
			return time.UnixMilli(n).UTC()
		}
	}
	if e.CreatedAt != "" {
		if t, err := time.Parse(time.RubyDate, e.CreatedAt); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
