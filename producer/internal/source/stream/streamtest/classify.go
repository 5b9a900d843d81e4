package streamtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
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
