// Package zstdcodec is the producer's zstd codec for kafka-go's record
// batches, in one of two builds (Install puts the build's in kafka-go's
// codec table; Encoder names it):
//
//   - by default, Codec: klauspost/compress's encoder, pure Go. It writes
//     the frames internal/kafkaconn's codec writes, byte for byte, from
//     encoders kept for the life of the process: kafkaconn keeps its
//     encoders in a sync.Pool, which every other garbage collection
//     empties, so that the next batch builds an encoder again (about
//     3.5 MiB of tables and history, allocated and zeroed).
//   - with cgo and the build tag libzstd (the Makefile's builds, the
//     images and make bench), libCodec: the C zstd library, as kcat and
//     librdkafka compress, through github.com/DataDog/zstd (which bundles
//     zstd's C sources). It compresses a batch at the same level about 1.5
//     to 1.8 times as fast as klauspost's encoder on this project's
//     statuses, at the same ratio (docs/performance-history.md).
//
// Both read through the codec they replace (kafkaconn's); frames of either
// are standard zstd frames without a content checksum, which any Kafka
// client reads.
package zstdcodec

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// Codec writes zstd frames with kafkaconn's settings (one goroutine, a
// 1 MiB window, no content checksum: the record batch's CRC-32C covers the
// frame; a frame even for an empty batch) at a level, and reads through
// the codec it replaced.
type Codec struct {
	level zstd.EncoderLevel
	read  compress.Codec
	idle  *freeList[*zstd.Encoder]
}

// New builds the codec at a zstd level (1 to 22, mapped to klauspost's
// four speeds; 0: its default, about level 3). read decompresses: the
// producer reads no batches, but kafka-go's codec has both directions.
func New(level int, read compress.Codec) (*Codec, error) {
	l := zstd.SpeedDefault
	if level > 0 {
		l = zstd.EncoderLevelFromZstd(level)
	}
	c := &Codec{level: l, read: read}
	enc, err := c.newEncoder() // fail here, not on the first batch
	if err != nil {
		return nil, fmt.Errorf("building the zstd encoder: %w", err)
	}
	c.idle = newFreeList(enc)
	return c, nil
}

func (c *Codec) newEncoder() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20),
		zstd.WithEncoderLevel(c.level), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
}

func (c *Codec) get() (*zstd.Encoder, error) {
	if enc, ok := c.idle.get(); ok {
		return enc, nil
	}
	return c.newEncoder()
}

func (c *Codec) Code() int8   { return int8(compress.Zstd) }
func (c *Codec) Name() string { return "zstd" }

func (c *Codec) NewReader(r io.Reader) io.ReadCloser { return c.read.NewReader(r) }

// NewWriter compresses a batch into w, a block (128 KiB) at a time; Close
// writes the rest and hands the encoder back.
func (c *Codec) NewWriter(w io.Writer) io.WriteCloser {
	enc, err := c.get()
	if err != nil {
		return &writer{err: err}
	}
	enc.Reset(w)
	return &writer{c: c, enc: enc}
}

// writer is one batch's.
type writer struct {
	c   *Codec
	enc *zstd.Encoder // nil once closed
	err error
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.enc == nil {
		return 0, io.ErrClosedPipe
	}
	return w.enc.Write(p)
}

func (w *writer) Close() error {
	enc := w.enc
	if enc == nil {
		return w.err
	}
	w.enc = nil
	err := enc.Close()
	enc.Reset(nil) // drop w
	w.c.idle.put(enc)
	return err
}
