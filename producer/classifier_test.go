package main

import (
	"testing"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
)

// TestReplayReadsEverySourcesLines: SOURCE=replay publishes the posts of a
// Jetstream or X API v2 archive as posts, not as control messages.
func TestReplayReadsEverySourcesLines(t *testing.T) {
	read := classifier("replay")
	for _, line := range [][]byte{
		corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl"))[0],
		corpus.Lines(t, corpus.Path(t, "jetstream/events.jsonl"))[0],
		corpus.Lines(t, "internal/source/xv2/testdata/posts.jsonl")[0],
	} {
		if m, err := read(line); err != nil || m.Kind != message.KindStatus || len(m.Key) == 0 || m.Time.IsZero() {
			t.Errorf("%.60s...: got %s key %q time %s (%v); want a keyed, timed status", line, m.Kind, m.Key, m.Time, err)
		}
	}
}
