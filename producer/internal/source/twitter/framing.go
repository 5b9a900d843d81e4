package twitter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrBadLength is returned when a length prefix is too long to be a length.
// The stream cannot be resynchronised after it; the caller reconnects.
var ErrBadLength = errors.New("malformed length prefix")

// ErrEndlessFrame is returned for a frame that runs past MaxDropBytes, or
// whose length prefix announces more: a stream that sends it is broken or
// hostile, and reading on would discard it for ever, each read keeping the
// stall watchdog fed and the source "connected". The caller reconnects.
var ErrEndlessFrame = errors.New("a message that does not end")

// MaxDropBytes is the size past which a frame is no longer read and
// dropped as oversize but ends the stream with ErrEndlessFrame, unless the
// maximum message size is larger: then four times that.
const MaxDropBytes = 64 << 20

// OversizeError reports a message larger than the configured maximum. The
// message has been read and discarded and the reader is at the next frame:
// the caller counts it, logs it and calls Next again.
type OversizeError struct {
	Bytes int64 // size of the discarded frame, terminator included
	Max   int   // the configured maximum message size
}

func (e *OversizeError) Error() string {
	return fmt.Sprintf("message of %d bytes exceeds the maximum of %d bytes: dropped", e.Bytes, e.Max)
}

// maxLengthDigits bounds a length prefix so that it fits an int64.
const maxLengthDigits = 18

// readBufferSize is the size of the buffered reader under a FrameReader.
const readBufferSize = 64 << 10

// FrameReader splits a v1.1 stream into messages. It reads both framings the
// streaming API used, even mixed on one stream:
//
//   - delimited=length: a line holding the decimal size of the message, then
//     exactly that many bytes. The size normally counts the message's trailing
//     "\r\n"; a size that leaves it out works too (the "\r\n" then reads as a
//     keep-alive).
//   - plain: each message ends with "\r\n". A message may hold "\n" but never
//     "\r\n", so only "\r\n" ends it.
//
// Lines holding only whitespace are keep-alives and are skipped. A line made
// only of digits is a length prefix (no JSON message is a bare number).
//
// The reader reuses one buffer: the slice Next returns is valid only until the
// next call. Callers that keep the bytes copy them.
type FrameReader struct {
	br      *bufio.Reader
	max     int
	maxDrop int64 // the longest frame that is dropped rather than ending the stream
	buf     []byte
}

// NewFrameReader reads frames from r; messages over maxBytes are dropped.
func NewFrameReader(r io.Reader, maxBytes int) *FrameReader {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	return &FrameReader{br: bufio.NewReaderSize(r, readBufferSize), max: maxBytes,
		maxDrop: max(MaxDropBytes, 4*int64(maxBytes))}
}

// Reset discards any buffered data and reads from r, keeping the buffers.
func (f *FrameReader) Reset(r io.Reader) { f.br.Reset(r) }

// Next returns the next message without its framing: no length line, no
// trailing "\r\n". It returns io.EOF when the stream ends on a frame boundary
// and io.ErrUnexpectedEOF when it ends inside a frame (the partial message is
// never returned). It returns an *OversizeError, after which reading may go
// on, for a message over the maximum, and ErrEndlessFrame for one over
// MaxDropBytes; any other error ends the stream.
func (f *FrameReader) Next() ([]byte, error) {
	for {
		line, overflow, n, err := f.readLine(f.max + 2)
		if err != nil {
			return nil, err
		}
		if overflow {
			return nil, &OversizeError{Bytes: n, Max: f.max}
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 {
			continue // keep-alive
		}
		if size, ok, err := parseLength(trimmed); err != nil {
			return nil, err
		} else if ok {
			msg, err := f.readSized(size)
			if err != nil {
				return nil, err
			}
			if msg == nil {
				continue // an empty or blank sized frame: a keep-alive too
			}
			return msg, nil
		}
		return bytes.Trim(line, "\r\n"), nil
	}
}

// readSized reads a frame of size bytes announced by a length prefix.
func (f *FrameReader) readSized(size int64) ([]byte, error) {
	if size > f.maxDrop {
		return nil, fmt.Errorf("%w: a length prefix of %d bytes, over %d", ErrEndlessFrame, size, f.maxDrop)
	}
	if size > int64(f.max)+2 {
		if err := f.discard(size); err != nil {
			return nil, err
		}
		return nil, &OversizeError{Bytes: size, Max: f.max}
	}
	if cap(f.buf) < int(size) {
		f.buf = make([]byte, size, max(int(size), 2*cap(f.buf)))
	}
	f.buf = f.buf[:size]
	if _, err := io.ReadFull(f.br, f.buf); err != nil {
		return nil, unexpected(err)
	}
	msg := bytes.Trim(f.buf, "\r\n")
	if len(msg) > f.max {
		return nil, &OversizeError{Bytes: size, Max: f.max}
	}
	if len(bytes.TrimSpace(msg)) == 0 {
		return nil, nil
	}
	return msg, nil
}

// discard skips size bytes, in steps that fit an int on any platform.
func (f *FrameReader) discard(size int64) error {
	for size > 0 {
		step := int(min(size, 1<<30))
		if _, err := f.br.Discard(step); err != nil {
			return unexpected(err)
		}
		size -= int64(step)
	}
	return nil
}

// readLine reads up to and including the next "\r\n" (a lone "\n" does not end
// a line). It keeps at most limit bytes in f.buf; when the line is longer it
// reads on to the terminator without keeping anything and reports overflow,
// up to f.maxDrop bytes: past that it returns ErrEndlessFrame. n is the full
// length of the line read.
func (f *FrameReader) readLine(limit int) (line []byte, overflow bool, n int64, err error) {
	f.buf = f.buf[:0]
	var last byte // the byte before the current chunk
	for {
		chunk, err := f.br.ReadSlice('\n')
		n += int64(len(chunk))
		if !overflow && len(f.buf)+len(chunk) <= limit {
			f.buf = append(f.buf, chunk...)
		} else if !overflow {
			overflow = true
			f.buf = f.buf[:0]
		}
		if n > f.maxDrop {
			return nil, false, n, fmt.Errorf("%w: a line of over %d bytes", ErrEndlessFrame, f.maxDrop)
		}
		switch {
		case err == nil: // chunk ends with '\n'
			if len(chunk) >= 2 && chunk[len(chunk)-2] == '\r' || len(chunk) == 1 && last == '\r' {
				return f.buf, overflow, n, nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			if err == io.EOF && (n == 0 || !overflow && len(bytes.TrimSpace(f.buf)) == 0) {
				return nil, false, n, io.EOF // nothing but whitespace was lost
			}
			return nil, false, n, unexpected(err)
		}
		if len(chunk) > 0 {
			last = chunk[len(chunk)-1]
		}
	}
}

// parseLength reports whether b, a trimmed non-empty line, is a length prefix
// and the length it holds.
func parseLength(b []byte) (int64, bool, error) {
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false, nil
		}
	}
	if len(b) > maxLengthDigits {
		return 0, false, fmt.Errorf("%w: %d digits", ErrBadLength, len(b))
	}
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	return n, true, nil
}

// unexpected turns an end of stream inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
