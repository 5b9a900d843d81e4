package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
)

// The kinds of Jetstream events besides message.KindStatus (a commit that
// creates or updates a record) and message.KindUnknown (any other object,
// kept on the control topic, never dropped silently).
const (
	KindDelete                = message.KindDelete // a commit that deletes a record
	KindIdentity message.Kind = "identity"         // a handle or DID document change
	KindAccount  message.Kind = "account"          // an account's hosting status changed
)

// postCollection is the collection JETSTREAM_LANGS filters.
const postCollection = "app.bsky.feed.post"

// event is what encoding/json decodes of an event that scan leaves to it:
// only what routing and filtering need.
type event struct {
	DID    string `json:"did"`
	TimeUS int64  `json:"time_us"`
	Kind   string `json:"kind"`
	Commit *struct {
		Rev        string `json:"rev"`
		Operation  string `json:"operation"`
		Collection string `json:"collection"`
		RKey       string `json:"rkey"`
		CID        string `json:"cid"`
		Record     *struct {
			Langs []string `json:"langs"`
		} `json:"record"`
	} `json:"commit"`
}

// fields are what routing and filtering read of an event, as
// encoding/json would decode them into event: strings as their bytes,
// commit == false for a commit that is absent or null.
type fields struct {
	did, kind                             []byte
	timeUS                                int64
	commit                                bool
	rev, operation, collection, rkey, cid []byte

	// The langs of commit.record: set by decode; from scan, read from
	// record (the record object's bytes, nil when absent or null) on
	// demand.
	langs  []string
	record []byte
}

// Classify reads one Jetstream event. A commit that creates or updates a
// record is a status, a commit that deletes one is KindDelete; both are
// keyed by the record's at://<did>/<collection>/<rkey> URI, except that an
// update's key adds "#<cid>" (the version): the consumer drops a status
// whose key it wrote recently, and an edit is not a copy. Identity and
// account events are KindIdentity and KindAccount keyed by the DID. The
// time is time_us. It returns an error wrapping message.ErrNotObject when
// raw is not a JSON object. Value is raw, unchanged.
func Classify(raw []byte) (message.Message, error) {
	var f fields
	if err := f.read(raw); err != nil {
		return message.Message{Value: raw}, err
	}
	return f.message(raw), nil
}

// read fills f from raw, or returns an error wrapping message.ErrNotObject
// when raw is not a JSON object. The common event (did, kind, time_us and
// the commit's strings in plain ASCII, each key once, in lower case) is
// checked and read in one pass by scan; any other goes through
// encoding/json, which decides what the uncommon cases give (keys matched
// without regard to case, the last of repeated keys kept, escapes and
// invalid UTF-8 in strings, fields of another type left empty).
func (f *fields) read(raw []byte) error {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return message.ErrNotObject
	}
	if f.scan(raw) {
		return nil
	}
	*f = fields{}
	return f.decode(raw)
}

// decode fills f with encoding/json.
func (f *fields) decode(raw []byte) error {
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return fmt.Errorf("%w: %v", message.ErrNotObject, err)
		}
		// A field of an unexpected type: the event is still a JSON object,
		// and what did decode is enough to route it.
	}
	f.did, f.kind, f.timeUS = []byte(e.DID), []byte(e.Kind), e.TimeUS
	if c := e.Commit; c != nil {
		f.commit = true
		f.rev, f.operation, f.collection, f.rkey, f.cid = []byte(c.Rev), []byte(c.Operation), []byte(c.Collection), []byte(c.RKey), []byte(c.CID)
		if c.Record != nil {
			f.langs = c.Record.Langs
		}
	}
	return nil
}

// message is the record for Kafka of the event f was read from.
func (f *fields) message(raw []byte) message.Message {
	m := message.Message{Value: raw, Kind: f.messageKind()}
	if f.timeUS > 0 {
		m.Time = time.UnixMicro(f.timeUS).UTC()
	}
	switch m.Kind {
	case message.KindStatus, KindDelete:
		// at://<did>/<collection>/<rkey>, and #<version> for an update
		version := f.cid
		if len(version) == 0 {
			version = f.rev
		}
		if string(f.operation) != "update" {
			version = nil
		}
		key := make([]byte, 0, len("at://")+len(f.did)+1+len(f.collection)+1+len(f.rkey)+1+len(version))
		key = append(append(append(append(append(key, "at://"...), f.did...), '/'), f.collection...), '/')
		key = append(key, f.rkey...)
		if len(version) > 0 {
			key = append(append(key, '#'), version...)
		}
		m.Key = key
	case KindIdentity, KindAccount:
		if len(f.did) > 0 {
			m.Key = bytes.Clone(f.did)
		}
	}
	return m
}

// messageKind is the event's kind: see Classify.
func (f *fields) messageKind() message.Kind {
	switch string(f.kind) {
	case "commit":
		if !f.commit || len(f.did) == 0 || len(f.collection) == 0 || len(f.rkey) == 0 {
			break
		}
		switch string(f.operation) {
		case "create", "update":
			return message.KindStatus
		case "delete":
			return KindDelete
		}
	case "identity":
		return KindIdentity
	case "account":
		return KindAccount
	}
	return message.KindUnknown
}

// isPost reports whether the event creates or updates a post.
func (f *fields) isPost() bool {
	return string(f.kind) == "commit" && f.commit && string(f.collection) == postCollection &&
		(string(f.operation) == "create" || string(f.operation) == "update")
}

// postLangs returns the post's record.langs.
func (f *fields) postLangs() []string {
	if f.record == nil {
		return f.langs
	}
	var r struct {
		Langs []string `json:"langs"`
	}
	_ = json.Unmarshal(f.record, &r) // a type error leaves what did decode, as in decode
	return r.Langs
}

// MatchLangs reports whether any tag in langs falls under a range in
// ranges, by BCP 47 basic filtering (RFC 4647 3.3.1): a range matches a tag
// equal to it or starting with it and "-", ignoring case. No ranges match
// everything.
func MatchLangs(ranges, langs []string) bool {
	if len(ranges) == 0 {
		return true
	}
	for _, tag := range langs {
		for _, r := range ranges {
			if len(tag) >= len(r) && strings.EqualFold(tag[:len(r)], r) && (len(tag) == len(r) || tag[len(r)] == '-') {
				return true
			}
		}
	}
	return false
}
