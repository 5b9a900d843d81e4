// Package contract names what the producer promises about every Kafka
// message it publishes, which the consumer and the tests rely on: the
// headers and their values, and which topic each kind goes to
// (docs/architecture.md, "The message contract"). The value is the
// source's bytes unchanged; these names are the rest.
package contract

import (
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
)

// The headers of every message the producer publishes.
const (
	// HeaderSource names the source the message came from (SOURCE:
	// twitter, xv2, jetstream, replay, synthetic).
	HeaderSource = "source"
	// HeaderKind is what the message is (KindStatus, delete, limit, ...;
	// a source's own kinds for xv2 and jetstream).
	HeaderKind = "kind"
	// HeaderPostTime carries a record's own time (RFC 3339, UTC,
	// milliseconds) when its Kafka timestamp is the time it was read
	// instead: its own time was further ahead (or behind) than the broker
	// accepts. Absent otherwise.
	HeaderPostTime = "post_time"
)

// KindStatus is the kind of a post. Only statuses go to the statuses'
// topic and are deduplicated by the consumer; every other kind goes to the
// control topic (Topics.For).
const KindStatus = "status"

// The topics' names by default: KAFKA_TOPIC and KAFKA_CONTROL_TOPIC of the
// producer, both in the consumer's KAFKA_TOPICS.
const (
	DefaultTopic        = "tweets"
	DefaultControlTopic = DefaultTopic + ".control"
)

// Topics is where the producer publishes each kind of message.
type Topics struct {
	Status  string // KAFKA_TOPIC: statuses (posts)
	Control string // KAFKA_CONTROL_TOPIC: every other kind; "" counts and drops them
}

// For returns the topic of a message of kind: Status for KindStatus,
// Control for any other kind, "" when it is dropped.
func (t Topics) For(kind string) string {
	if kind == KindStatus {
		return t.Status
	}
	return t.Control
}

// Names returns the topics written to, which the producer creates: Status,
// then Control unless it is empty.
func (t Topics) Names() []string {
	if t.Control == "" {
		return []string{t.Status}
	}
	return []string{t.Status, t.Control}
}

// Header returns the value of the first header named key, and whether
// there is one.
func Header(headers []kafka.Header, key string) (string, bool) {
	for _, h := range headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// IsStatus reports whether the producer marked the message a status.
// Messages from other producers carry no kind, and are not statuses.
func IsStatus(headers []kafka.Header) bool {
	for _, h := range headers {
		if h.Key == HeaderKind {
			return string(h.Value) == KindStatus // compared in place, no copy
		}
	}
	return false
}

// DeadLetterValue is how a line of either service's dead-letter file
// keeps the record's value: as a JSON string when it is valid UTF-8, so
// it survives exactly, and in base64 otherwise. Exactly one field is set.
// Embedded last in a line's struct, its fields are the line's last.
type DeadLetterValue struct {
	Value       *string `json:"value,omitempty"`
	ValueBase64 *string `json:"value_base64,omitempty"`
}

// NewDeadLetterValue returns v as a dead-letter line keeps it.
func NewDeadLetterValue(v []byte) DeadLetterValue {
	if utf8.Valid(v) {
		s := string(v)
		return DeadLetterValue{Value: &s}
	}
	s := base64.StdEncoding.EncodeToString(v)
	return DeadLetterValue{ValueBase64: &s}
}

// TopicRule is what CheckTopic asks of a topic's name, for error messages.
const TopicRule = "1 to 249 of a-z, A-Z, 0-9, '.', '_' and '-', not . or .., not starting with _ (Kafka's own topics)"

// CheckTopic reports whether name is a topic both services can use: a
// name Kafka accepts (legal characters, at most 249 of them, not . or
// ..), which is also a safe folder name in the archive, and not one of
// Kafka's internal topics (__consumer_offsets and the like start with _).
func CheckTopic(name string) error {
	if name == "" || len(name) > 249 || name == "." || name == ".." || name[0] == '_' {
		return fmt.Errorf("%q is not a topic name tweetpipe uses: %s", name, TopicRule)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%q is not a topic name tweetpipe uses: %s", name, TopicRule)
		}
	}
	return nil
}
