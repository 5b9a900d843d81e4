// Package terminal is the producer's stderr: the log and the replay's
// progress bar share it without garbling each other.
package terminal

import (
	"bytes"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// Terminal is the stderr that the progress bar and the log share. The bar
// redraws one line in place; a log line written through Terminal erases the
// bar first and redraws it after, so neither garbles the other. When the file
// is not a terminal there is no bar and Terminal only passes writes through.
//
// Give the same Terminal to the slog handler (as its writer) and to what
// draws the bar (replay.Config.Terminal). Without that, the replay still
// erases the bar around its own log lines, but a line logged elsewhere may
// start after the bar.
type Terminal struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	frame []byte // the bar as it is on screen, from its leading \r; empty when not shown
}

// New wraps f, usually os.Stderr.
func New(f *os.File) *Terminal {
	return NewWriter(f, term.IsTerminal(int(f.Fd())))
}

// NewWriter wraps w, which is a terminal when tty is true (tests).
func NewWriter(w io.Writer, tty bool) *Terminal {
	return &Terminal{w: w, tty: tty}
}

// IsTerminal says whether a progress bar is shown.
func (t *Terminal) IsTerminal() bool { return t.tty }

// Write writes a log line, moving the bar out of its way.
func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.frame) == 0 {
		return t.w.Write(p)
	}
	if _, err := io.WriteString(t.w, eraseLine); err != nil {
		return 0, err
	}
	n, err := t.w.Write(p)
	if err != nil || len(p) == 0 || p[len(p)-1] != '\n' {
		t.frame = t.frame[:0] // the cursor is not at a line start: the next update redraws
		return n, err
	}
	_, err = t.w.Write(t.frame)
	return n, err
}

// eraseLine moves to the start of the line and clears it.
const eraseLine = "\r\x1b[K"

// Bar is where the progress bar draws.
func (t *Terminal) Bar() io.Writer { return barWriter{t} }

type barWriter struct{ t *Terminal }

func (b barWriter) Write(p []byte) (int, error) {
	t := b.t
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.w.Write(p)
	if i := bytes.LastIndexByte(p, '\r'); i >= 0 {
		t.frame = append(t.frame[:0], p[i:]...)
	} else {
		t.frame = append(t.frame, p...)
	}
	if len(bytes.TrimSpace(t.frame)) == 0 {
		t.frame = t.frame[:0] // the bar cleared itself
	}
	return n, err
}

// Hide erases the bar and returns it for Show.
func (t *Terminal) Hide() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := bytes.Clone(t.frame)
	if len(f) > 0 {
		io.WriteString(t.w, eraseLine)
		t.frame = t.frame[:0]
	}
	return f
}

// Show redraws what Hide erased, unless the bar was drawn again meanwhile.
func (t *Terminal) Show(f []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(f) > 0 && len(t.frame) == 0 {
		t.w.Write(f)
		t.frame = append(t.frame[:0], f...)
	}
}
