package replay

import (
	"bytes"
	"testing"

	"github.com/tweetpipe/tweetpipe/producer/internal/terminal"
)

// TestNoBarOffTerminal: off a terminal nothing but the log is written.
func TestNoBarOffTerminal(t *testing.T) {
	var out bytes.Buffer
	term := terminal.NewWriter(&out, false)
	r := newReporter(&progress{total: 100}, quiet(), term, 0)
	if r.bar != nil {
		t.Fatal("a bar off a terminal")
	}
	term.Write([]byte("a log line\n"))
	if out.String() != "a log line\n" {
		t.Fatalf("wrote %q; want the log line alone", out.String())
	}
}
