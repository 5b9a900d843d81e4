package replay

import (
	"bytes"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/xv2"
)

// Classify reads a replayed line in the shape of any source whose lines
// end up in files: v1.1 (statuses and notices, as SOURCE=twitter and the
// Stream Grab wrote them), a Jetstream event or an X API v2 line (as the
// consumer archived them from SOURCE=jetstream and SOURCE=xv2). Each
// source's reader is asked in turn, the one the line's first key points to
// first ({"did": Jetstream, {"data": X API v2, else v1.1); the first that
// knows the line gives its kind, key and time, as that source's own
// records have them. A line none knows is what v1.1 makes of it
// (KindUnknown, for the control topic); one that is not a JSON object is
// message.ErrNotObject, as the first reader says.
func Classify(raw []byte) (message.Message, error) {
	readers := [...]func([]byte) (message.Message, error){message.Classify, jetstream.Classify, xv2.Classify}
	switch trimmed := bytes.TrimLeft(raw, " \t\r\n"); {
	case bytes.HasPrefix(trimmed, []byte(`{"did"`)):
		readers[0], readers[1] = readers[1], readers[0]
	case bytes.HasPrefix(trimmed, []byte(`{"data"`)):
		readers[0], readers[2] = readers[2], readers[0]
	}
	var first message.Message
	for i, read := range readers {
		m, err := read(raw)
		if err != nil && i == 0 {
			return m, err
		}
		if err == nil && m.Kind != message.KindUnknown {
			return m, nil
		}
		if i == 0 {
			first = m
		}
	}
	return first, nil
}
