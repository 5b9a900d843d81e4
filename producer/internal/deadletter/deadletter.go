// Package deadletter keeps the records Kafka refused for good (an invalid
// timestamp even at the time the record was read, an invalid or corrupt
// record): one JSON object a line in deadletter.jsonl, appended and fsynced
// before the record is acknowledged to its source, so the records behind it
// go on and this one is kept, with the reason, for a person to look at.
package deadletter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/contract"
)

// FileName is the file in the directory that the records are appended to.
const FileName = "deadletter.jsonl"

// Record is one record Kafka refused for good.
type Record struct {
	Topic   string
	Key     []byte
	Time    time.Time // the record's timestamp as last sent
	Headers []Header
	Reason  string // a short code: invalid_timestamp, invalid_record, ...
	Error   string // what the broker answered
	Value   []byte // the raw bytes, unchanged
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// line is one line of the file. The value is kept as a JSON string when it
// is valid UTF-8 (so it survives exactly), in base64 otherwise, as the
// consumer's dead letters keep it (contract.DeadLetterValue).
type line struct {
	Written time.Time         `json:"written"`
	Topic   string            `json:"topic"`
	Key     string            `json:"key,omitempty"`
	Time    time.Time         `json:"time"`
	Headers map[string]string `json:"headers,omitempty"`
	Reason  string            `json:"reason"`
	Error   string            `json:"error"`
	contract.DeadLetterValue
}

// Writer appends records to the file in one directory. The file (and the
// directory, unless Check made it) is made at the first record: a run that
// refuses nothing leaves no file.
type Writer struct {
	dir string
	mu  sync.Mutex
	f   *os.File
}

// New returns a writer to dir; it touches nothing yet.
func New(dir string) *Writer {
	return &Writer{dir: dir}
}

// Check makes the directory if needed and checks that a file can be
// created in it, so that a start can say early what a write would meet.
func (w *Writer) Check() error {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("creating the dead-letter directory: %w", err)
	}
	probe, err := os.CreateTemp(w.dir, ".deadletter-probe-*")
	if err != nil {
		return fmt.Errorf("the dead-letter directory %s is not writable: %w", w.dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// Path is the file the records go to.
func (w *Writer) Path() string { return filepath.Join(w.dir, FileName) }

// Write appends r as one line and fsyncs the file. A line a crash left
// half written is ended first, so that every later line reads whole.
func (w *Writer) Write(r Record) error {
	b, err := encode(r, time.Now())
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("writing to %s: %w", w.Path(), err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", w.Path(), err)
	}
	return nil
}

func (w *Writer) open() error {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("creating the dead-letter directory: %w", err)
	}
	f, err := os.OpenFile(w.Path(), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the dead-letter file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("reading the size of %s: %w", w.Path(), err)
	}
	if st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err != nil && err != io.EOF {
			f.Close()
			return fmt.Errorf("reading the end of %s: %w", w.Path(), err)
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return fmt.Errorf("ending the last line of %s: %w", w.Path(), err)
			}
		}
	}
	w.f = f
	return nil
}

// Close closes the file, if a record opened it.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// encode returns r's line, ending in a newline.
func encode(r Record, written time.Time) ([]byte, error) {
	l := line{
		Written: written.UTC(),
		Topic:   r.Topic,
		Key:     string(r.Key),
		Time:    r.Time.UTC(),
		Reason:  r.Reason,
		Error:   r.Error,

		DeadLetterValue: contract.NewDeadLetterValue(r.Value),
	}
	for _, h := range r.Headers {
		if l.Headers == nil {
			l.Headers = map[string]string{}
		}
		l.Headers[h.Key] = string(h.Value)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil { // Encode ends the line with \n
		return nil, fmt.Errorf("encoding a dead letter: %w", err)
	}
	return buf.Bytes(), nil
}
