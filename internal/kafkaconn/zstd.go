package kafkaconn

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// UseSmallZstd replaces kafka-go's zstd codec with one whose encoders use a
// 1 MiB window and whose decoders save memory. kafka-go's keeps klauspost's
// 8 MiB default window in each pooled encoder (about 18 MiB apiece); a
// batch is at most KAFKA_BATCH_BYTES (1 MiB) anyway, so the ratio is the
// same. Its frames carry no content checksum (libzstd's default; klauspost
// adds one unless told): the record batch's CRC-32C covers them already.
// level is a zstd level (1 to 22, mapped to klauspost's four speeds; 0:
// its default, about level 3). The codec table is kafka-go's; main calls
// this once at start.
func UseSmallZstd(level int) {
	l := zstd.SpeedDefault
	if level > 0 {
		l = zstd.EncoderLevelFromZstd(level)
	}
	compress.Codecs[compress.Zstd] = &zstdCodec{level: l}
}

type zstdCodec struct {
	level    zstd.EncoderLevel
	encoders sync.Pool // *zstd.Encoder
	decoders sync.Pool // *zstd.Decoder
}

func (c *zstdCodec) Code() int8   { return int8(compress.Zstd) }
func (c *zstdCodec) Name() string { return "zstd" }

func (c *zstdCodec) NewReader(r io.Reader) io.ReadCloser {
	d, _ := c.decoders.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return &zstdReader{err: err}
		}
	}
	if err := d.Reset(r); err != nil {
		return &zstdReader{err: err}
	}
	return &zstdReader{c: c, dec: d}
}

func (c *zstdCodec) NewWriter(w io.Writer) io.WriteCloser {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20),
			zstd.WithEncoderLevel(c.level), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
		if err != nil {
			return &zstdWriter{err: err}
		}
	}
	e.Reset(w)
	return &zstdWriter{c: c, enc: e}
}

type zstdReader struct {
	c   *zstdCodec
	dec *zstd.Decoder
	err error
}

func (r *zstdReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return r.dec.Read(p)
}

func (r *zstdReader) Close() error {
	if r.dec != nil {
		_ = r.dec.Reset(nil) // drop the source
		r.c.decoders.Put(r.dec)
		r.dec = nil
		r.err = io.ErrClosedPipe
	}
	return nil
}

type zstdWriter struct {
	c   *zstdCodec
	enc *zstd.Encoder
	err error
}

func (w *zstdWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	return w.enc.Write(p)
}

func (w *zstdWriter) Close() error {
	if w.enc == nil {
		return w.err
	}
	err := w.enc.Close()
	w.enc.Reset(nil)
	w.c.encoders.Put(w.enc)
	w.enc = nil
	if err != nil {
		return err
	}
	return w.err
}
