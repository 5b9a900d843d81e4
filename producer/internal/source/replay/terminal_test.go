package replay

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// screen plays what a terminal shows for \r, \n, ESC[K (erase to the end of
// the line) and plain text, so a test can read the lines a user sees.
func screen(out string) []string {
	var lines []string
	var cur []rune
	col := 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == '\r':
			col = 0
		case rs[i] == '\n':
			lines = append(lines, string(cur))
			cur, col = nil, 0
		case rs[i] == '\x1b' && i+2 < len(rs) && rs[i+1] == '[' && rs[i+2] == 'K':
			cur = cur[:col]
			i += 2
		default:
			if col < len(cur) {
				cur[col] = rs[i]
			} else {
				cur = append(cur, rs[i])
			}
			col++
		}
	}
	return append(lines, string(cur))
}

// TestTerminalKeepsBarAndLogApart: log lines written through the Terminal
// land on lines of their own, and the bar is drawn again below them.
func TestTerminalKeepsBarAndLogApart(t *testing.T) {
	var out bytes.Buffer
	term := &Terminal{w: &out, tty: true}
	bar := newBar(term.bar(), 1000)
	log := slog.New(slog.NewTextHandler(term, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	bar.Set64(300)
	log.Warn("kafka write failed; retrying")
	bar.Set64(600)
	log.Info("replay progress")

	lines := screen(out.String())
	if len(lines) != 3 {
		t.Fatalf("screen shows %d lines; want 3 (two log lines, the bar): %q", len(lines), lines)
	}
	if lines[0] != `level=WARN msg="kafka write failed; retrying"` || lines[1] != `level=INFO msg="replay progress"` {
		t.Fatalf("log lines %q; want them whole and alone on their lines", lines[:2])
	}
	if !strings.Contains(lines[2], "60%") {
		t.Fatalf("last line %q; want the bar at 60%%", lines[2])
	}
}

// TestTerminalHideShow: a log line not written through the Terminal (the
// replay's own, when the logger was built on os.Stderr) is kept apart by
// hide and show.
func TestTerminalHideShow(t *testing.T) {
	var out bytes.Buffer
	term := &Terminal{w: &out, tty: true}
	bar := newBar(term.bar(), 1000)
	bar.Set64(500)
	frame := term.hide()
	out.WriteString("level=INFO msg=elsewhere\n")
	term.show(frame)
	lines := screen(out.String())
	if len(lines) != 2 || lines[0] != "level=INFO msg=elsewhere" || !strings.Contains(lines[1], "50%") {
		t.Fatalf("screen %q; want the log line, then the bar at 50%%", lines)
	}
}

// TestNoBarOffTerminal: off a terminal nothing but the log is written.
func TestNoBarOffTerminal(t *testing.T) {
	var out bytes.Buffer
	term := &Terminal{w: &out}
	r := newReporter(&progress{total: 100}, quiet(), term, 0)
	if r.bar != nil {
		t.Fatal("a bar off a terminal")
	}
	term.Write([]byte("a log line\n"))
	if out.String() != "a log line\n" {
		t.Fatalf("wrote %q; want the log line alone", out.String())
	}
}
