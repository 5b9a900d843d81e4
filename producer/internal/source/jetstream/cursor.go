package jetstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// StateFile is the resume file's name in STATE_DIR.
const StateFile = "jetstream-cursor.json"

// MaxTimeAhead is how far ahead of this host's clock an event's time_us
// may be and still move the resume position. Jetstream stamps time_us
// with its own clock when it sends an event, so a later one comes from a
// broken clock or a forged event; taken as the position, it would pin it
// there (the position only grows), and a resume would ask for a cursor
// past everything the stream delivered. Such an event is emitted, but
// does not move the position. The bound leaves room for clocks a little
// apart; a host clock behind by more stops the position (a warning says
// so).
const MaxTimeAhead = time.Minute

// plausible reports whether t, a time_us read at now, may be a position.
func plausible(t int64, now time.Time) bool {
	return t <= now.Add(MaxTimeAhead).UnixMicro()
}

// state is the resume file: the time_us of the last event Kafka
// acknowledged, and the same as a time for people reading it.
type state struct {
	TimeUS int64  `json:"time_us"`
	Time   string `json:"time"`
}

// cursor keeps the resume position: the highest time_us acknowledged, and
// writes it to the state file, atomically, at most once per interval while
// Run runs, when Run returns, and once more when the records still in
// flight then are all acknowledged.
type cursor struct {
	dir, path string
	interval  time.Duration
	log       *slog.Logger

	mu       sync.Mutex
	acked    int64 // highest time_us acknowledged, or passed over with nothing in flight
	saved    int64 // time_us in the state file
	inFlight int64 // records emitted with an Ack not yet called
	running  bool  // Run is reading: its ticker saves
	timer    *time.Timer
	writes   int64
	failures int64

	saveMu sync.Mutex // one write at a time
}

// openCursor checks that dir is usable and reads the state file in it, if any.
func openCursor(dir string, interval time.Duration, log *slog.Logger) (*cursor, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("STATE_DIR %q: creating it: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".jetstream-probe-*")
	if err != nil {
		return nil, fmt.Errorf("STATE_DIR %q is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	c := &cursor{dir: dir, path: filepath.Join(dir, StateFile), interval: interval, log: log}
	data, err := os.ReadFile(c.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("reading the Jetstream position: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil || s.TimeUS <= 0 {
		return nil, fmt.Errorf("the Jetstream position %s holds no time_us (%q): fix it, or delete it to start from the live stream", c.path, truncate(data, 80))
	}
	if !plausible(s.TimeUS, time.Now()) {
		// Written before positions were checked: the first save replaces it.
		log.Warn("the saved Jetstream position is ahead of this host's clock: starting from the live stream",
			"path", c.path, "time_us", s.TimeUS, "time", s.Time)
		return c, nil
	}
	c.acked, c.saved = s.TimeUS, s.TimeUS
	return c, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// position returns the highest time_us acknowledged (or read from the
// state file); 0 when there is none.
func (c *cursor) position() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}

// emitting counts a record with an Ack about to be emitted; notEmitted
// takes it back when emit failed.
func (c *cursor) emitting() {
	c.mu.Lock()
	c.inFlight++
	c.mu.Unlock()
}

func (c *cursor) notEmitted() {
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
}

// ack records that Kafka holds the event at t. After Run has returned it
// schedules a save, or saves at once when it was the last record in flight.
func (c *cursor) ack(t int64) {
	c.mu.Lock()
	c.inFlight--
	c.acked = max(c.acked, t)
	saveNow := !c.running && c.inFlight == 0
	if !c.running && !saveNow && c.timer == nil {
		c.timer = time.AfterFunc(c.interval, c.saveLogged)
	}
	c.mu.Unlock()
	if saveNow {
		c.saveLogged()
	}
}

// pass moves the position over an event that was read but not emitted
// (filtered out), when no emitted record is waiting for Kafka: everything
// before it is then acknowledged.
func (c *cursor) pass(t int64) {
	c.mu.Lock()
	if c.inFlight == 0 {
		c.acked = max(c.acked, t)
	}
	c.mu.Unlock()
}

// start marks Run as reading; stop marks it returned and saves.
func (c *cursor) start() {
	c.mu.Lock()
	c.running = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
}

func (c *cursor) stop() {
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
	c.saveLogged()
}

func (c *cursor) saveLogged() {
	if err := c.save(); err != nil {
		c.log.Error("saving the Jetstream position; a restart will resume from an older one", "error", err)
	}
}

// save writes the position when it moved since the last write.
func (c *cursor) save() error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	t, saved := c.acked, c.saved
	c.timer = nil
	c.mu.Unlock()
	if t <= saved {
		return nil
	}
	err := writeState(c.dir, c.path, t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failures++
		return err
	}
	c.saved = t
	c.writes++
	return nil
}

// writeState replaces the state file atomically: a temporary file in the
// same directory, synced, renamed over it, and the directory synced.
func writeState(dir, path string, t int64) error {
	data, err := json.Marshal(state{TimeUS: t, Time: time.UnixMicro(t).UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	renamed, err := durable.WriteFile(path, append(data, '\n'), durable.Replace{})
	if !renamed {
		return fmt.Errorf("writing the Jetstream position %s: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("syncing %s after writing the Jetstream position: %w", dir, err)
	}
	return nil
}

func (c *cursor) counts() (acked, saved, writes, failures int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked, c.saved, c.writes, c.failures
}
