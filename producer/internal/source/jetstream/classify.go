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

// event decodes only what routing and filtering need.
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

// Classify reads one Jetstream event. A commit that creates or updates a
// record is a status, a commit that deletes one is KindDelete; both are
// keyed by the record's at://<did>/<collection>/<rkey> URI, except that an
// update's key adds "#<cid>" (the version): the consumer drops a status
// whose key it wrote recently, and an edit is not a copy. Identity and
// account events are KindIdentity and KindAccount keyed by the DID. The
// time is time_us. It returns an error wrapping message.ErrNotObject when
// raw is not a JSON object. Value is raw, unchanged.
func Classify(raw []byte) (message.Message, error) {
	m, _, err := classify(raw)
	return m, err
}

// classify is Classify that also returns the decoded event.
func classify(raw []byte) (message.Message, *event, error) {
	m := message.Message{Value: raw}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return m, nil, message.ErrNotObject
	}
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return m, nil, fmt.Errorf("%w: %v", message.ErrNotObject, err)
		}
		// A field of an unexpected type: the event is still a JSON object,
		// and what did decode is enough to route it.
	}
	if e.TimeUS > 0 {
		m.Time = time.UnixMicro(e.TimeUS).UTC()
	}
	m.Kind = message.KindUnknown
	switch e.Kind {
	case "commit":
		c := e.Commit
		if c == nil || e.DID == "" || c.Collection == "" || c.RKey == "" {
			break
		}
		uri := "at://" + e.DID + "/" + c.Collection + "/" + c.RKey
		switch c.Operation {
		case "create":
			m.Kind, m.Key = message.KindStatus, []byte(uri)
		case "update":
			version := c.CID
			if version == "" {
				version = c.Rev
			}
			if version != "" {
				uri += "#" + version
			}
			m.Kind, m.Key = message.KindStatus, []byte(uri)
		case "delete":
			m.Kind, m.Key = KindDelete, []byte(uri)
		}
	case "identity":
		m.Kind = KindIdentity
	case "account":
		m.Kind = KindAccount
	}
	if m.Key == nil && (m.Kind == KindIdentity || m.Kind == KindAccount) && e.DID != "" {
		m.Key = []byte(e.DID)
	}
	return m, &e, nil
}

// isPost reports whether the event creates or updates a post.
func (e *event) isPost() bool {
	return e.Kind == "commit" && e.Commit != nil && e.Commit.Collection == postCollection &&
		(e.Commit.Operation == "create" || e.Commit.Operation == "update")
}

// langs returns the post's record.langs.
func (e *event) langs() []string {
	if e.Commit == nil || e.Commit.Record == nil {
		return nil
	}
	return e.Commit.Record.Langs
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
