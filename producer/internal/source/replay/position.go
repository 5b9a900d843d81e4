package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// PositionFile is the name of the replay position inside STATE_DIR.
const PositionFile = "replay-position.json"

// Position is how far Kafka has acknowledged a replay: line Line of Member
// in Input (Member is empty for a plain file) and everything before it in
// that input, and every input in Done. A restart skips all that and emits
// from the next line, then the inputs not in Done, whatever their names: a
// file added to the folder later is replayed even if its name sorts before
// Input.
type Position struct {
	Path   string // the REPLAY_PATH it belongs to; another path starts over
	Input  string // a file REPLAY_PATH lists
	Member string // the archive member, "" for a plain file
	Line   int64  // the last acknowledged line, counting from 1
	// Done lists the inputs acknowledged to their end, sorted. Nil for a
	// version 1 file, which had no list: every input whose name sorts
	// before Input was done (Legacy).
	Done   []string
	Legacy bool
}

// positionJSON is the file's layout: version 2, with done; version 1 had
// none.
type positionJSON struct {
	Version int      `json:"version"`
	Path    string   `json:"replay_path"`
	Input   string   `json:"input"`
	Member  string   `json:"member"`
	Line    int64    `json:"line"`
	Done    []string `json:"done,omitempty"`
}

// EncodePosition is the content of the position file.
func EncodePosition(p Position) []byte {
	version := 2
	if p.Legacy {
		version = 1 // no list: it keeps its meaning
	}
	b, _ := json.MarshalIndent(positionJSON{Version: version, Path: p.Path, Input: p.Input, Member: p.Member, Line: p.Line, Done: p.Done}, "", "  ")
	return append(b, '\n')
}

// DecodePosition reads a position file strictly: one JSON object, only the
// known fields, version 1 or 2, a path, an input and a line of at least 1.
func DecodePosition(data []byte) (Position, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f positionJSON
	if err := dec.Decode(&f); err != nil {
		return Position{}, fmt.Errorf("not a replay position: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Position{}, errors.New("not a replay position: data after the object")
	}
	switch {
	case f.Version != 1 && f.Version != 2:
		return Position{}, fmt.Errorf("replay position version %d: this producer reads versions 1 and 2", f.Version)
	case f.Version == 1 && f.Done != nil:
		return Position{}, errors.New("replay position version 1 with a done list")
	case f.Path == "":
		return Position{}, errors.New("replay position without replay_path")
	case f.Input == "":
		return Position{}, errors.New("replay position without input")
	case f.Line < 1:
		return Position{}, fmt.Errorf("replay position line %d: must be 1 or more", f.Line)
	}
	if len(f.Done) == 0 {
		f.Done = nil
	}
	return Position{Path: f.Path, Input: f.Input, Member: f.Member, Line: f.Line, Done: f.Done, Legacy: f.Version == 1}, nil
}

// loadPosition reads dir/PositionFile; nil when there is none yet.
func loadPosition(dir string) (*Position, error) {
	name := filepath.Join(dir, PositionFile)
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("STATE_DIR: reading %s: %w", name, err)
	}
	p, err := DecodePosition(data)
	if err != nil {
		return nil, fmt.Errorf("STATE_DIR: %s: %w (delete it to replay from the start)", name, err)
	}
	return &p, nil
}

// savePosition replaces dir/PositionFile atomically: a temporary file in the
// same directory, written, synced, renamed over it, then the directory synced.
func savePosition(dir string, p Position) error {
	name := filepath.Join(dir, PositionFile)
	renamed, err := durable.WriteFile(name, EncodePosition(p), durable.Replace{})
	if !renamed {
		return fmt.Errorf("saving the replay position to %s: %w", name, err)
	}
	return nil // the rename is durable once the directory is; its fsync is best effort
}

// checkStateDir creates dir and proves it writable, so that a bad STATE_DIR
// fails at start rather than at the first save. It removes the temporary
// files a crash during a save may have left.
func checkStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("STATE_DIR: %w", err)
	}
	if stale, err := filepath.Glob(filepath.Join(dir, "."+PositionFile+".*.tmp")); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("STATE_DIR %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// tracker follows the acknowledgements of one run and saves the position.
// Acks arrive in emit order, so the last one is the position, and the input
// of an ack for another input than the one before is done: the run reads
// one input at a time.
type tracker struct {
	dir  string
	path string // REPLAY_PATH

	mu      sync.Mutex
	last    Position
	done    map[string]bool // Position.Done
	acked   int64
	pending []passedInput // inputs gone past, done once acked this far
	dirty   bool          // done grew since the last save

	saved  int64         // acked at the last save; only the saving goroutine uses it
	signal chan struct{} // a token after each ack, for waitAcked
}

// newTracker starts from the inputs done before and the position resumed
// (nil for none), whose input the run reads first.
func newTracker(dir, path string, done []string, resume *Position) *tracker {
	t := &tracker{dir: dir, path: path, done: map[string]bool{}, signal: make(chan struct{}, 1)}
	for _, in := range done {
		t.done[in] = true
	}
	if resume != nil {
		t.last = *resume
	}
	return t
}

// passedInput is an input the run went past (unreadable to its end) once
// it had emitted emitted records.
type passedInput struct {
	input   string
	emitted int64
}

// passed records that the run went past input, unreadable, after emitting
// emitted records in all: it is done once they are acknowledged, even if
// none of its own lines ever is (a file unreadable from its first line).
func (t *tracker) passed(input string, emitted int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = append(t.pending, passedInput{input, emitted})
	t.settle()
}

// settle moves the inputs gone past whose records are all acknowledged to
// done. t.mu is held.
func (t *tracker) settle() {
	kept := t.pending[:0]
	for _, p := range t.pending {
		if t.acked >= p.emitted {
			t.done[p.input], t.dirty = true, true
		} else {
			kept = append(kept, p)
		}
	}
	t.pending = kept
}

// ack records that Kafka acknowledged line of member in input.
func (t *tracker) ack(input, member string, line int64) {
	t.mu.Lock()
	if t.last.Input != "" && t.last.Input != input {
		t.done[t.last.Input] = true
	}
	delete(t.done, input) // read again: it is the one in progress
	t.last = Position{Path: t.path, Input: input, Member: member, Line: line}
	t.acked++
	t.settle()
	t.mu.Unlock()
	select {
	case t.signal <- struct{}{}:
	default:
	}
}

func (t *tracker) count() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acked
}

// save writes the last acknowledged position if it moved since the last save.
func (t *tracker) save() error {
	t.mu.Lock()
	p, n, dirty := t.last, t.acked, t.dirty
	p.Done, p.Legacy = slices.Sorted(maps.Keys(t.done)), false
	t.dirty = false
	t.mu.Unlock()
	if n == t.saved && !dirty || p.Input == "" { // nothing new, or nothing ever acknowledged
		return nil
	}
	if err := savePosition(t.dir, p); err != nil {
		t.mu.Lock()
		t.dirty = t.dirty || dirty
		t.mu.Unlock()
		return err
	}
	t.saved = n
	return nil
}

// saveEvery saves at most once per interval until stop is closed.
func (t *tracker) saveEvery(interval time.Duration, stop <-chan struct{}, fail context.CancelCauseFunc) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := t.save(); err != nil {
				fail(err)
				return
			}
		}
	}
}

// waitAcked waits until emitted records are all acknowledged. While ctx lives
// it waits as long as that takes (Kafka may be retrying); once ctx is done it
// waits at most drain more. It returns how many are still unacknowledged.
func (t *tracker) waitAcked(ctx context.Context, emitted int64, drain time.Duration) int64 {
	var deadline <-chan time.Time
	for {
		left := emitted - t.count()
		if left <= 0 {
			return 0
		}
		if deadline == nil && ctx.Err() != nil {
			timer := time.NewTimer(drain)
			defer timer.Stop()
			deadline = timer.C
		}
		done := ctx.Done()
		if deadline != nil {
			done = nil
		}
		select {
		case <-t.signal:
		case <-done:
		case <-deadline:
			return emitted - t.count()
		}
	}
}
