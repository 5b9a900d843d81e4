package replay

import (
	"bytes"
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

// TestLineReaderLongLines: lines longer than the reader's buffer (256 KiB),
// read in several pieces, come whole, or as too long past the limit, with
// their numbers, between lines that come in one piece.
func TestLineReaderLongLines(t *testing.T) {
	const max = 700 << 10
	big := strings.Repeat("y", 600<<10)     // 3 pieces
	crlf := strings.Repeat("z", max) + "\r" // at the limit, with its CR
	over := strings.Repeat("w", max+1)
	in := "a\n" + big + "\n" + crlf + "\n" + over + "\nb\n" + big
	r := NewLineReader(strings.NewReader(in), max)
	type out struct {
		line    int64
		text    string
		tooLong int
	}
	var got []out
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var tl *LineTooLongError
		if errors.As(err, &tl) {
			if tl.Line != r.LineNumber() {
				t.Errorf("too long: line %d; the reader is at %d", tl.Line, r.LineNumber())
			}
			got = append(got, out{line: tl.Line, tooLong: tl.Size})
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out{line: r.LineNumber(), text: string(line)})
	}
	want := []out{{1, "a", 0}, {2, big, 0}, {3, crlf[:max], 0}, {4, "", max + 2}, {5, "b", 0}, {6, big, 0}}
	if len(got) != len(want) {
		t.Fatalf("got %d lines; want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got number %d, %d bytes, too long %d; want number %d, %d bytes, too long %d",
				i, got[i].line, len(got[i].text), got[i].tooLong, want[i].line, len(want[i].text), want[i].tooLong)
		}
	}
}

// FuzzLineReaderSplits: the reader gives the lines bytes.Split on LF
// gives, each without one trailing CR, a line longer than max as too long
// with its size terminator included, and the line numbers counting them all.
func FuzzLineReaderSplits(f *testing.F) {
	f.Add([]byte("a\nb\r\n\r\nc"), 4)
	f.Add([]byte("toolong\r\nok\n\n\r"), 2)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		segs := bytes.Split(data, []byte("\n"))
		if len(segs[len(segs)-1]) == 0 {
			segs = segs[:len(segs)-1] // data ended with LF, or is empty
		}
		r := NewLineReader(bytes.NewReader(data), max)
		for i, seg := range segs {
			size := len(seg)
			if i < len(segs)-1 || bytes.HasSuffix(data, []byte("\n")) {
				size++
			}
			line, err := r.Next()
			if n := r.LineNumber(); n != int64(i+1) {
				t.Fatalf("line %d: the reader is at %d", i+1, n)
			}
			want := bytes.TrimSuffix(seg, []byte("\r"))
			var tl *LineTooLongError
			switch {
			case len(want) > max:
				if !errors.As(err, &tl) || tl.Line != int64(i+1) || tl.Size != size {
					t.Fatalf("line %d (%d bytes, max %d): got %q, %v; want too long, size %d", i+1, len(want), max, line, err, size)
				}
			case err != nil || !bytes.Equal(line, want):
				t.Fatalf("line %d: got %q, %v; want %q", i+1, line, err, want)
			}
		}
		if line, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after %d lines: got %q, %v; want io.EOF", len(segs), line, err)
		}
	})
}
