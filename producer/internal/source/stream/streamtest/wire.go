package streamtest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// End is how a scripted stream ends.
type End int

const (
	EndClose End = iota // the server ends the response cleanly
	EndCut              // the connection drops (no final chunk)
	EndHold             // the server goes silent until the client leaves
)

// Wire builds the bytes of a scripted HTTP stream of "\r\n"-ended messages
// and records, in Want, the messages it delivers whole.
type Wire struct {
	Want [][]byte

	maxChunk int
	seed     uint64
	buf      bytes.Buffer
}

// NewWire returns an empty stream that Serve sends in chunks of 1 to
// maxChunk bytes, cut where seed and the stream's length say.
func NewWire(maxChunk int, seed uint64) *Wire {
	return &Wire{maxChunk: maxChunk, seed: seed}
}

// Length frames msg as v1.1's delimited=length does.
func (w *Wire) Length(msg []byte) *Wire {
	fmt.Fprintf(&w.buf, "%d\r\n%s\r\n", len(msg)+2, msg)
	w.Want = append(w.Want, msg)
	return w
}

// Line sends each msg and its "\r\n".
func (w *Wire) Line(msgs ...[]byte) *Wire {
	for _, msg := range msgs {
		fmt.Fprintf(&w.buf, "%s\r\n", msg)
		w.Want = append(w.Want, msg)
	}
	return w
}

// KeepAlive sends the blank line servers send to keep a stream alive.
func (w *Wire) KeepAlive() *Wire {
	w.buf.WriteString("\r\n")
	return w
}

// Raw adds bytes that deliver no message (an oversize one, a partial one).
func (w *Wire) Raw(b []byte) *Wire {
	w.buf.Write(b)
	return w
}

// Serve plays the stream: 200, the bytes in uneven flushed chunks, gzipped
// when asked (400 if the client does not accept gzip), then the end.
func (w *Wire) Serve(end End, gzipped bool) http.HandlerFunc {
	data := bytes.Clone(w.buf.Bytes())
	maxChunk, seed := w.maxChunk, w.seed
	return func(rw http.ResponseWriter, r *http.Request) {
		flusher := rw.(http.Flusher)
		rw.Header().Set("Content-Type", "application/json")
		var out io.Writer = rw
		var gz *gzip.Writer
		if gzipped {
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				http.Error(rw, "gzip not accepted", http.StatusBadRequest)
				return
			}
			rw.Header().Set("Content-Encoding", "gzip")
			gz = gzip.NewWriter(rw)
			out = gz
		}
		rw.WriteHeader(http.StatusOK)
		rng := rand.New(rand.NewPCG(uint64(len(data)), seed))
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(maxChunk))
			if _, err := out.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			if gz != nil {
				gz.Flush()
			}
			flusher.Flush()
		}
		switch end {
		case EndClose:
			if gz != nil {
				gz.Close()
			}
		case EndCut:
			panic(http.ErrAbortHandler) // the server drops the connection
		case EndHold:
			Hold(r)
		}
	}
}

// Hold waits until the client leaves, or 20s.
func Hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(20 * time.Second):
	}
}
