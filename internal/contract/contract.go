// Package contract names what the producer promises about every Kafka
// message it publishes, which the consumer and the tests rely on: the
// headers and their values (docs/architecture.md, "The message contract").
// The value is the source's bytes unchanged; these names are the rest.
package contract

import "github.com/segmentio/kafka-go"

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
// control topic.
const KindStatus = "status"

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
	k, _ := Header(headers, HeaderKind)
	return k == KindStatus
}
