//go:build cgo && libzstd

package zstdcodec

import (
	"fmt"
	"io"

	"github.com/DataDog/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// Encoder names the zstd encoder this build compresses with.
const Encoder = "libzstd (cgo, github.com/DataDog/zstd)"

// Install puts the libzstd codec, at a zstd level, in kafka-go's codec
// table in place of the zstd codec there, which it keeps for reading.
// main calls it once at start, after kafkaconn.UseSmallZstd.
func Install(level int) error {
	c, err := newLib(level, compress.Codecs[compress.Zstd])
	if err != nil {
		return err
	}
	compress.Codecs[compress.Zstd] = c
	return nil
}

// libDefaultLevel is zstd's own default level (ZSTD_CLEVEL_DEFAULT), which
// librdkafka and kcat compress at; DataDog/zstd's Compress uses 5.
const libDefaultLevel = 3

// keepBuffer is the largest batch buffer kept for the next batch: batches
// are at most KAFKA_BATCH_BYTES (1 MiB by default); one far larger is
// compressed, then its buffer is left to the collector.
const keepBuffer = 4 << 20

// libCodec compresses each batch with one call into libzstd
// (ZSTD_compressCCtx): kafka-go writes a batch to the codec in many small
// writes (each record's varints, key, value and headers), a cgo call each
// would cost more than it saves, so the batch is gathered first. The
// frame is libzstd's at the level: the batch's size in its header, a
// window no larger than the batch (up to the level's, 2 MiB at level 3),
// no content checksum (the record batch's CRC-32C covers it).
type libCodec struct {
	level int
	read  compress.Codec
	idle  *freeList[*libState]
}

// libState is a compression context with its buffers, used by one batch
// at a time.
type libState struct {
	ctx zstd.Ctx
	in  []byte // the batch, gathered
	out []byte // its frame
}

func newLib(level int, read compress.Codec) (*libCodec, error) {
	if level == 0 {
		level = libDefaultLevel
	}
	// Compress once here: a build that cannot fails at start, not on the
	// first batch.
	s := &libState{ctx: zstd.NewCtx()}
	if _, err := s.ctx.CompressLevel(nil, []byte("{}"), level); err != nil {
		return nil, fmt.Errorf("zstd level %d: %w", level, err)
	}
	return &libCodec{level: level, read: read, idle: newFreeList(s)}, nil
}

func (c *libCodec) Code() int8   { return int8(compress.Zstd) }
func (c *libCodec) Name() string { return "zstd" }

func (c *libCodec) NewReader(r io.Reader) io.ReadCloser { return c.read.NewReader(r) }

// NewWriter gathers a batch; Close compresses it into w.
func (c *libCodec) NewWriter(w io.Writer) io.WriteCloser {
	s, ok := c.idle.get()
	if !ok {
		s = &libState{ctx: zstd.NewCtx()}
	}
	return &libWriter{c: c, s: s, w: w}
}

func (c *libCodec) put(s *libState) {
	if cap(s.in) > keepBuffer {
		s.in = nil
	}
	if cap(s.out) > keepBuffer {
		s.out = nil
	}
	s.in = s.in[:0]
	c.idle.put(s)
}

// libWriter is one batch's.
type libWriter struct {
	c *libCodec
	s *libState // nil once closed
	w io.Writer
}

func (w *libWriter) Write(p []byte) (int, error) {
	if w.s == nil {
		return 0, io.ErrClosedPipe
	}
	w.s.in = append(w.s.in, p...)
	return len(p), nil
}

func (w *libWriter) Close() error {
	s := w.s
	if s == nil {
		return nil
	}
	w.s = nil
	out, err := s.ctx.CompressLevel(s.out[:0], s.in, w.c.level)
	if err != nil {
		err = fmt.Errorf("zstd: compressing a batch of %d bytes: %w", len(s.in), err)
	} else {
		s.out = out
		_, err = w.w.Write(out)
	}
	w.w = nil
	w.c.put(s)
	return err
}
