package replay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// LineTooLongError reports a line over the limit; the reader has skipped it.
type LineTooLongError struct {
	Line int64
	Size int
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line %d is longer than the limit (%d bytes read)", e.Line, e.Size)
}

// LineReader splits LF or CRLF lines. Each line it returns is a fresh slice
// the caller may keep.
type LineReader struct {
	br   *bufio.Reader
	max  int
	line int64
	buf  []byte
}

// NewLineReader reads lines of at most max bytes from r.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 256<<10), max: max}
}

// LineNumber is the number of the line last returned.
func (l *LineReader) LineNumber() int64 { return l.line }

// Next returns the next line without its terminator, io.EOF at the end, or a
// *LineTooLongError for a line over the limit (then Next may be called again).
func (l *LineReader) Next() ([]byte, error) {
	l.buf = l.buf[:0]
	chunk, err := l.br.ReadSlice('\n')
	if err == nil {
		// The whole line at once, as nearly every line comes: copied once,
		// straight from the reader's buffer.
		l.line++
		line := bytes.TrimSuffix(chunk[:len(chunk)-1], []byte("\r"))
		if len(line) > l.max {
			return nil, &LineTooLongError{Line: l.line, Size: len(chunk)}
		}
		return bytes.Clone(line), nil
	}
	size := 0 // bytes of the line read so far, terminator included
	for {
		size += len(chunk)
		// Keep at most max bytes plus a CRLF; past that only count.
		if room := l.max + 2 - len(l.buf); room > 0 {
			l.buf = append(l.buf, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			chunk, err = l.br.ReadSlice('\n')
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if size == 0 && errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		l.line++
		if size > len(l.buf) {
			return nil, &LineTooLongError{Line: l.line, Size: size}
		}
		line := bytes.TrimSuffix(l.buf, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > l.max {
			return nil, &LineTooLongError{Line: l.line, Size: size}
		}
		return bytes.Clone(line), nil
	}
}
