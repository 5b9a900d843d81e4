package streamtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// ClassifyCase is a row of a classifier's table test: Raw classifies as
// Kind, keyed by Key, at Time; with NotJSON it is refused as not a JSON
// object.
type ClassifyCase struct {
	Name    string
	Raw     string
	Kind    message.Kind
	Key     string
	Time    time.Time
	NotJSON bool
}

// TestClassify runs each case against classify in a subtest. Value must
// be the raw bytes in every case.
func TestClassify(t *testing.T, classify func([]byte) (message.Message, error), cases []ClassifyCase) {
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			raw := []byte(tc.Raw)
			m, err := classify(raw)
			if !bytes.Equal(m.Value, raw) {
				t.Errorf("Value = %q; want the raw bytes", m.Value)
			}
			if tc.NotJSON {
				if !errors.Is(err, message.ErrNotObject) {
					t.Errorf("got error %v; want one wrapping message.ErrNotObject", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if m.Kind != tc.Kind {
				t.Errorf("got kind %q; want %q", m.Kind, tc.Kind)
			}
			if string(m.Key) != tc.Key {
				t.Errorf("got key %q; want %q", m.Key, tc.Key)
			}
			if !m.Time.Equal(tc.Time) {
				t.Errorf("got time %v; want %v", m.Time, tc.Time)
			}
		})
	}
}

// CheckClassify calls classify on raw, as a fuzz target does, and fails t
// unless it keeps what every classifier promises: it leaves raw unchanged,
// Value is the raw bytes, and it refuses raw, with an error wrapping
// message.ErrNotObject, exactly when raw is not a JSON object. It returns
// the message and whether raw was accepted, for the classifier's own
// checks.
func CheckClassify(t *testing.T, classify func([]byte) (message.Message, error), raw []byte) (message.Message, bool) {
	t.Helper()
	in := bytes.Clone(raw)
	m, err := classify(raw)
	if !bytes.Equal(raw, in) {
		t.Fatal("Classify changed its input")
	}
	if !bytes.Equal(m.Value, raw) {
		t.Fatal("Value is not the raw bytes")
	}
	isObject := json.Valid(raw) && bytes.TrimLeft(raw, " \t\r\n")[0] == '{'
	if err != nil {
		if !errors.Is(err, message.ErrNotObject) {
			t.Fatalf("error %v does not wrap ErrNotObject", err)
		}
		if isObject {
			t.Fatalf("a JSON object was refused: %v", err)
		}
		return m, false
	}
	if !isObject {
		t.Fatalf("accepted %q, which is not a JSON object", raw)
	}
	return m, true
}

// CheckClassified fails t unless r, as a source emitted it, carries in
// Classified what classify (the publisher's classifier for the source)
// gives for r.Value: the same kind, key and time when classify accepts
// it, and nothing (no Kind) when it refuses it, which the publisher then
// classifies, counts and logs itself. It reports whether r carried one.
func CheckClassified(t testing.TB, classify func([]byte) (message.Message, error), r source.Record) bool {
	t.Helper()
	got := r.Classified
	want, err := classify(r.Value)
	switch {
	case err != nil && got.Kind != "":
		t.Fatalf("handed over %s %q for %q, which the classifier refuses: %v", got.Kind, got.Key, r.Value, err)
	case err != nil:
	case got.Kind == "":
		t.Fatalf("handed over no classification for %q; the classifier gives %s %q", r.Value, want.Kind, want.Key)
	case got.Kind != want.Kind || !bytes.Equal(got.Key, want.Key) || !got.Time.Equal(want.Time):
		t.Fatalf("handed over %s %q at %v for %q; the classifier gives %s %q at %v", got.Kind, got.Key, got.Time, r.Value, want.Kind, want.Key, want.Time)
	}
	return got.Kind != ""
}
