package replay

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	r := NewLineReader(strings.NewReader("a\n"+long+"\nb\r\n\nc"), 50)
	var got []string
	var tooLong int
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var tl *LineTooLongError
		if errors.As(err, &tl) {
			tooLong++
			if tl.Line != 2 || tl.Size != 101 {
				t.Errorf("too long: line %d size %d; want line 2 size 101", tl.Line, tl.Size)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	if strings.Join(got, "|") != "a|b||c" || tooLong != 1 {
		t.Fatalf("got %q, %d too long; want a|b||c and 1", got, tooLong)
	}
}

// TestLinesAreIndependent: the pipeline keeps each record's bytes, so the
// reader must not reuse them.
func TestLinesAreIndependent(t *testing.T) {
	r := NewLineReader(strings.NewReader("first\nsecond\n"), 1<<20)
	a, _ := r.Next()
	b, _ := r.Next()
	if string(a) != "first" || string(b) != "second" {
		t.Fatalf("got %q, %q; want first, second", a, b)
	}
}
