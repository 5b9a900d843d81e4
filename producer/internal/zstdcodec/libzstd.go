//go:build cgo && libzstd

package zstdcodec

import (
	"fmt"
	"io"
	"runtime"

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
//
// kafka-go gathers a batch for each connection that sends one, and opens a
// connection for each partition it writes at once: 12 partitions, 12
// batches gathered together. The compression contexts, a megabyte or two
// of C memory each that Go's memory limit does not see, are therefore
// not tied to the batches: a batch takes one only to compress, in Close,
// from a fixed set of GOMAXPROCS, and waits while all are busy (no more
// batches than CPUs can be compressed at once anyway). So the producer's
// memory outside Go's heap does not grow with the partition count.
type libCodec struct {
	level int
	read  compress.Codec
	idle  *freeList[*libBatch] // batch buffers, kept for the next batches
	ctxs  chan *libCtx         // the compression contexts not in use
}

// libBatch is one batch's gathered bytes, used by one batch at a time.
type libBatch struct {
	in []byte
}

// libCtx is a compression context and the buffer of its last frame.
type libCtx struct {
	ctx zstd.Ctx
	out []byte
}

func newLib(level int, read compress.Codec) (*libCodec, error) {
	if level == 0 {
		level = libDefaultLevel
	}
	c := &libCodec{level: level, read: read, idle: newFreeList(&libBatch{}), ctxs: make(chan *libCtx, libContexts())}
	for range cap(c.ctxs) {
		c.ctxs <- &libCtx{ctx: newZstdCtx()}
	}
	// Compress once here: a build that cannot fails at start, not on the
	// first batch.
	x := <-c.ctxs
	defer func() { c.ctxs <- x }()
	if _, err := x.ctx.CompressLevel(nil, []byte("{}"), level); err != nil {
		return nil, fmt.Errorf("zstd level %d: %w", level, err)
	}
	return c, nil
}

// newZstdCtx makes a compression context (a test counts them).
var newZstdCtx = zstd.NewCtx

// libContexts is how many batches may be compressed at once: one a CPU the
// process may use, as GOMAXPROCS says when the codec is installed.
func libContexts() int { return max(1, runtime.GOMAXPROCS(0)) }

func (c *libCodec) Code() int8   { return int8(compress.Zstd) }
func (c *libCodec) Name() string { return "zstd" }

func (c *libCodec) NewReader(r io.Reader) io.ReadCloser { return c.read.NewReader(r) }

// NewWriter gathers a batch; Close compresses it into w.
func (c *libCodec) NewWriter(w io.Writer) io.WriteCloser {
	b, ok := c.idle.get()
	if !ok {
		b = &libBatch{}
	}
	return &libWriter{c: c, b: b, w: w}
}

func (c *libCodec) putBatch(b *libBatch) {
	b.in = keptBuffer(b.in)
	c.idle.put(b)
}

// keptBuffer is buf emptied for the next batch, or nil when it is larger
// than keepBuffer.
func keptBuffer(buf []byte) []byte {
	if cap(buf) > keepBuffer {
		return nil
	}
	return buf[:0]
}

// compress writes the frame of in to w with a context of the set, waiting
// for one while all are in use.
func (c *libCodec) compress(w io.Writer, in []byte) error {
	x := <-c.ctxs
	defer func() { c.ctxs <- x }()
	out, err := x.ctx.CompressLevel(x.out[:0], in, c.level)
	if err != nil {
		return fmt.Errorf("zstd: compressing a batch of %d bytes: %w", len(in), err)
	}
	x.out = keptBuffer(out)
	_, err = w.Write(out)
	return err
}

// libWriter is one batch's.
type libWriter struct {
	c *libCodec
	b *libBatch // nil once closed
	w io.Writer
}

func (w *libWriter) Write(p []byte) (int, error) {
	if w.b == nil {
		return 0, io.ErrClosedPipe
	}
	w.b.in = append(w.b.in, p...)
	return len(p), nil
}

func (w *libWriter) Close() error {
	b := w.b
	if b == nil {
		return nil
	}
	w.b = nil
	err := w.c.compress(w.w, b.in)
	w.w = nil
	w.c.putBatch(b)
	return err
}
