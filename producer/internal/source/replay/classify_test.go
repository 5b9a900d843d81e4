package replay

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/xv2"
)

// TestClassifyEverySourcesLines: a replayed line gets the kind, key and
// time its own source gives it: v1.1 lines as v1.1 reads them, Jetstream
// events and X API v2 lines (as the consumer archives them) as those
// sources read them, so their posts go to the statuses' topic, keyed for
// the consumer's dedup window, not to the control topic.
func TestClassifyEverySourcesLines(t *testing.T) {
	for _, set := range []struct {
		name  string
		path  string
		read  func([]byte) (message.Message, error)
		posts int // statuses among the lines, at least
	}{
		{"v1.1 statuses", corpus.Path(t, "v1.1/sample.jsonl"), message.Classify, 1},
		{"v1.1 notices", corpus.Path(t, "v1.1/notices.jsonl"), message.Classify, 0},
		{"Jetstream events", corpus.Path(t, "jetstream/events.jsonl"), jetstream.Classify, 2},
		{"X API v2 lines", filepath.Join("..", "xv2", "testdata", "posts.jsonl"), xv2.Classify, 2},
	} {
		t.Run(set.name, func(t *testing.T) {
			posts := 0
			for i, line := range corpus.Lines(t, set.path) {
				want, werr := set.read(line)
				got, err := Classify(line)
				if (err == nil) != (werr == nil) || got.Kind != want.Kind || !bytes.Equal(got.Key, want.Key) || !got.Time.Equal(want.Time) {
					t.Fatalf("line %d: got %s %q %s (%v); want %s %q %s (%v)", i+1, got.Kind, got.Key, got.Time, err, want.Kind, want.Key, want.Time, werr)
				}
				if got.Kind == message.KindStatus {
					posts++
				}
			}
			if posts < set.posts {
				t.Fatalf("%d posts; want at least %d", posts, set.posts)
			}
		})
	}
}

func TestClassifyUnknownAndInvalid(t *testing.T) {
	for _, line := range []string{`{}`, `{"hello":"world"}`, `{"did":"x"}`, `{"data":{}}`, `{"data":"x"}`} {
		m, err := Classify([]byte(line))
		if err != nil || m.Kind != message.KindUnknown {
			t.Errorf("%s: got %s, %v; want %s", line, m.Kind, err, message.KindUnknown)
		}
	}
	for _, line := range []string{``, `[1]`, `"x"`, `not json`, `{"did":`, `{"data":`} {
		if _, err := Classify([]byte(line)); !errors.Is(err, message.ErrNotObject) {
			t.Errorf("%q: got %v; want ErrNotObject", line, err)
		}
	}
}
