package twitter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll drains a FrameReader: the messages, how many oversize messages it
// dropped, and the error that ended it.
func readAll(t testing.TB, r io.Reader, max int) (msgs []string, dropped int, err error) {
	t.Helper()
	f := NewFrameReader(r, max)
	for {
		msg, err := f.Next()
		var oversize *OversizeError
		if errors.As(err, &oversize) {
			dropped++
			continue
		}
		if err != nil {
			return msgs, dropped, err
		}
		if len(msg) > max {
			t.Fatalf("got a message of %d bytes; want at most %d", len(msg), max)
		}
		msgs = append(msgs, string(msg))
	}
}

// sized frames msg the way delimited=length does: its length, counting the
// trailing "\r\n", on a line before it.
func sized(msg string) string { return strconv.Itoa(len(msg)+2) + "\r\n" + msg + "\r\n" }

func TestFrameReader(t *testing.T) {
	big := "{" + strings.Repeat("x", 100) + "}"
	tests := []struct {
		name    string
		in      string
		max     int
		want    []string
		dropped int
		err     error
	}{
		{name: "empty stream", in: "", err: io.EOF},
		{name: "only keep-alives", in: "\r\n\r\n\r\n", err: io.EOF},
		{name: "plain", in: "{\"a\":1}\r\n{\"b\":2}\r\n", want: []string{`{"a":1}`, `{"b":2}`}, err: io.EOF},
		{name: "plain with keep-alives", in: "\r\n{\"a\":1}\r\n\r\n\r\n{\"b\":2}\r\n\r\n", want: []string{`{"a":1}`, `{"b":2}`}, err: io.EOF},
		{name: "plain keeps a newline inside a message", in: "{\"a\":\n 1}\r\n{\"b\":2}\r\n", want: []string{"{\"a\":\n 1}", `{"b":2}`}, err: io.EOF},
		{name: "plain keeps a lone carriage return inside a message", in: "{\"a\":\r1}\r\n", want: []string{"{\"a\":\r1}"}, err: io.EOF},
		{name: "plain keeps a trailing space", in: "{\"limit\":{\"track\":1}} \r\n", want: []string{`{"limit":{"track":1}} `}, err: io.EOF},
		{name: "length", in: sized(`{"a":1}`) + sized(`{"b":2}`), want: []string{`{"a":1}`, `{"b":2}`}, err: io.EOF},
		{name: "length with keep-alives", in: "\r\n" + sized(`{"a":1}`) + "\r\n\r\n" + sized(`{"b":2}`) + "\r\n", want: []string{`{"a":1}`, `{"b":2}`}, err: io.EOF},
		{name: "length not counting the terminator", in: "7\r\n{\"a\":1}\r\n8\r\n{\"bb\":2}\r\n", want: []string{`{"a":1}`, `{"bb":2}`}, err: io.EOF},
		{name: "length without any terminator", in: "7\r\n{\"a\":1}7\r\n{\"b\":2}", want: []string{`{"a":1}`, `{"b":2}`}, err: io.EOF},
		{name: "length counting only the carriage return", in: "8\r\n{\"a\":1}\r\n7\r\n{\"b\":2}", want: []string{`{"a":1}`, `{"b":2}`}, err: io.EOF},
		{name: "length keeps newlines and \\r\\n inside", in: sized("{\"a\":\r\n1}"), want: []string{"{\"a\":\r\n1}"}, err: io.EOF},
		{name: "zero length is a keep-alive", in: "0\r\n" + sized(`{"a":1}`), want: []string{`{"a":1}`}, err: io.EOF},
		{name: "mixed framings", in: sized(`{"a":1}`) + "{\"b\":2}\r\n" + sized(`{"c":3}`), want: []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, err: io.EOF},
		{name: "oversize length dropped and resynced", in: sized(`{"a":1}`) + sized(big) + sized(`{"b":2}`), max: 50, want: []string{`{"a":1}`, `{"b":2}`}, dropped: 1, err: io.EOF},
		{name: "oversize plain dropped and resynced", in: "{\"a\":1}\r\n" + big + "\r\n{\"b\":2}\r\n", max: 50, want: []string{`{"a":1}`, `{"b":2}`}, dropped: 1, err: io.EOF},
		{name: "message of exactly the maximum", in: sized(big) + big + "\r\n", max: len(big), want: []string{big, big}, err: io.EOF},
		{name: "message one byte over the maximum", in: sized(big) + big + "\r\n", max: len(big) - 1, dropped: 2, err: io.EOF},
		{name: "cut inside a length payload", in: sized(`{"a":1}`) + "20\r\n{\"b\":", want: []string{`{"a":1}`}, err: io.ErrUnexpectedEOF},
		{name: "cut inside an oversize length payload", in: sized(`{"a":1}`) + "2000\r\n{\"b\":", max: 50, want: []string{`{"a":1}`}, err: io.ErrUnexpectedEOF},
		{name: "cut after a length line", in: sized(`{"a":1}`) + "20\r\n", want: []string{`{"a":1}`}, err: io.ErrUnexpectedEOF},
		{name: "cut inside a length line", in: sized(`{"a":1}`) + "2", want: []string{`{"a":1}`}, err: io.ErrUnexpectedEOF},
		{name: "cut inside a plain message", in: "{\"a\":1}\r\n{\"b\":", want: []string{`{"a":1}`}, err: io.ErrUnexpectedEOF},
		{name: "cut before the plain terminator", in: "{\"a\":1}\r\n{\"b\":2}", want: []string{`{"a":1}`}, err: io.ErrUnexpectedEOF},
		{name: "cut between the terminator's bytes", in: "{\"a\":1}\r\n{\"b\":2}\r", want: []string{`{"a":1}`}, err: io.ErrUnexpectedEOF},
		{name: "trailing whitespace at the end is not a cut", in: "{\"a\":1}\r\n\r", want: []string{`{"a":1}`}, err: io.EOF},
		{name: "length prefix too long", in: "1234567890123456789\r\n", err: ErrBadLength},
		{name: "long message across buffer refills", in: sized(strings.Repeat("y", 3*readBufferSize)) + strings.Repeat("z", 3*readBufferSize) + "\r\n",
			want: []string{strings.Repeat("y", 3*readBufferSize), strings.Repeat("z", 3*readBufferSize)}, err: io.EOF},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data with error", iotest.DataErrReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				max := tt.max
				if max == 0 {
					max = DefaultMaxMessageBytes
				}
				got, dropped, err := readAll(t, rd.wrap(strings.NewReader(tt.in)), max)
				if !errors.Is(err, tt.err) {
					t.Errorf("got error %v; want %v", err, tt.err)
				}
				if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
					t.Errorf("got messages %q; want %q", got, tt.want)
				}
				if dropped != tt.dropped {
					t.Errorf("got %d dropped; want %d", dropped, tt.dropped)
				}
			})
		}
	}
}

func TestFrameReaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(sized(`{"a":1}`)+"20\r\n{"), iotest.ErrReader(boom))
	got, _, err := readAll(t, r, DefaultMaxMessageBytes)
	if !errors.Is(err, boom) {
		t.Errorf("got error %v; want %v", err, boom)
	}
	if len(got) != 1 || got[0] != `{"a":1}` {
		t.Errorf("got messages %q; want [{\"a\":1}]", got)
	}
}

// repeatReader plays the same bytes forever.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// Once its buffers have grown, the reader allocates nothing per message.
func TestFrameReaderDoesNotAllocatePerMessage(t *testing.T) {
	msg := `{"text":"hello","user":{},"id_str":"1"}`
	stream := "\r\n" + sized(msg) + msg + "\r\n"
	f := NewFrameReader(&repeatReader{b: []byte(stream)}, DefaultMaxMessageBytes)
	for range 10 {
		if _, err := f.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := f.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per message; want 0", allocs)
	}
}

func BenchmarkFrameReader(b *testing.B) {
	msg := `{"text":"` + strings.Repeat("x", 4000) + `","user":{},"id_str":"1"}`
	for _, framing := range []struct{ name, stream string }{
		{"length", sized(msg)},
		{"plain", msg + "\r\n"},
	} {
		b.Run(framing.name, func(b *testing.B) {
			f := NewFrameReader(&repeatReader{b: []byte(framing.stream)}, DefaultMaxMessageBytes)
			b.SetBytes(int64(len(framing.stream)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzFrameReader checks two things on every input. Read as a raw stream,
// the reader never panics, never returns more than the maximum and always
// ends. Split on NUL into messages and framed every way the protocol allows,
// the messages come back exactly, in order, the oversize ones dropped.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("{\"a\":1}\x00{\"b\":\n2}"), uint8(0))
	f.Add([]byte(sized(`{"a":1}`)+"\r\n{\"b\":2}\r\n"), uint8(1))
	f.Add([]byte("12\r\n{\"a\":1}\r\n\r\n99999\r\n{"), uint8(2))
	f.Add([]byte("{\"limit\":{\"track\":1}} \x00\x00 \x00123\x00"+strings.Repeat("w", 80)), uint8(0xff))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		const max = 64
		wrap := func(r io.Reader) io.Reader { return r }
		if mode&0x80 != 0 {
			wrap = iotest.OneByteReader
		}

		// Any bytes: invariants only (readAll checks the size).
		readAll(t, wrap(bytes.NewReader(data)), max)

		// Round trip.
		var stream bytes.Buffer
		var want []string
		dropped := 0
		for i, part := range bytes.Split(data, []byte{0}) {
			// What the protocol can carry as a message: no "\r" (plain
			// framing ends on "\r\n"), no newline at either end (framing),
			// not blank (keep-alive), not a bare number (length prefix).
			msg := bytes.Trim(bytes.ReplaceAll(part, []byte("\r"), nil), "\n")
			if trimmed := bytes.TrimSpace(msg); len(trimmed) == 0 || isNumber(trimmed) {
				continue
			}
			if (int(mode)+i)%4 == 0 {
				stream.WriteString("\r\n") // keep-alive
			}
			switch (int(mode) + i) % 3 {
			case 0: // length counting the terminator
				fmt.Fprintf(&stream, "%d\r\n%s\r\n", len(msg)+2, msg)
			case 1: // length without the terminator
				fmt.Fprintf(&stream, "%d\r\n%s\r\n", len(msg), msg)
			case 2: // plain
				fmt.Fprintf(&stream, "%s\r\n", msg)
			}
			if len(msg) > max {
				dropped++
				continue
			}
			want = append(want, string(msg))
		}
		got, gotDropped, err := readAll(t, wrap(&stream), max)
		if err != io.EOF {
			t.Fatalf("got error %v; want io.EOF", err)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("got %q; want %q", got, want)
		}
		if gotDropped != dropped {
			t.Fatalf("got %d dropped; want %d", gotDropped, dropped)
		}
	})
}

func isNumber(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestFrameReaderGivesUpOnEndlessFrames: a line that never ends, or a
// length prefix of 10^18-1, is not read and discarded for ever, which would
// keep the stall watchdog fed and the stream "connected": past
// MaxDropBytes (or at once, for a length over it) Next returns
// ErrEndlessFrame and the caller reconnects. The stream here is longer than
// that, then ends, so that a reader which does not give up returns
// io.ErrUnexpectedEOF after reading all of it.
func TestFrameReaderGivesUpOnEndlessFrames(t *testing.T) {
	const streamBytes = MaxDropBytes + 8<<20
	for _, tc := range []struct {
		name, head string
		maxRead    int64 // the most bytes Next may read before it gives up
	}{
		{"endless line", `{"text":"`, MaxDropBytes + 2*readBufferSize},
		{"endless line after a message", sized(`{"a":1}`) + `{"text":"`, MaxDropBytes + 2*readBufferSize},
		{"length prefix of 10^18-1", "999999999999999999\r\n", 2 * readBufferSize},
		{"length prefix over the limit", fmt.Sprintf("%d\r\n", MaxDropBytes+1), 2 * readBufferSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := io.LimitReader(&repeatReader{b: bytes.Repeat([]byte("x"), 64<<10)}, streamBytes)
			cr := &countingReader{r: io.MultiReader(strings.NewReader(tc.head), body)}
			f := NewFrameReader(cr, 4096)
			var err error
			for err == nil {
				_, err = f.Next()
			}
			if !errors.Is(err, ErrEndlessFrame) {
				t.Errorf("got error %v after reading %d bytes; want ErrEndlessFrame", err, cr.n)
			}
			if cr.n > tc.maxRead {
				t.Errorf("got %d bytes read before giving up; want at most %d", cr.n, tc.maxRead)
			}
		})
	}
}
