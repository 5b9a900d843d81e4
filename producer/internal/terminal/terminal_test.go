package terminal

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/schollz/progressbar/v3"
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

// newBar draws a progress bar of total bytes on w, as the replay's does.
func newBar(w io.Writer, total int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// TestTerminalKeepsBarAndLogApart: log lines written through the Terminal
// land on lines of their own, and the bar is drawn again below them.
func TestTerminalKeepsBarAndLogApart(t *testing.T) {
	var out bytes.Buffer
	term := NewWriter(&out, true)
	bar := newBar(term.Bar(), 1000)
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
// Hide and Show.
func TestTerminalHideShow(t *testing.T) {
	var out bytes.Buffer
	term := NewWriter(&out, true)
	bar := newBar(term.Bar(), 1000)
	bar.Set64(500)
	frame := term.Hide()
	out.WriteString("level=INFO msg=elsewhere\n")
	term.Show(frame)
	lines := screen(out.String())
	if len(lines) != 2 || lines[0] != "level=INFO msg=elsewhere" || !strings.Contains(lines[1], "50%") {
		t.Fatalf("screen %q; want the log line, then the bar at 50%%", lines)
	}
}
