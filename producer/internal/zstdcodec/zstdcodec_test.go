package zstdcodec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
)

// install puts the build's codec (Install's) at level in kafka-go's table
// for the test, and returns it with the codec UseSmallZstd installs (what
// it replaces).
func install(t testing.TB, level int) (compress.Codec, compress.Codec) {
	t.Helper()
	saved := compress.Codecs[compress.Zstd]
	t.Cleanup(func() { compress.Codecs[compress.Zstd] = saved })
	kafkaconn.UseSmallZstd(level)
	small := compress.Codecs[compress.Zstd]
	if err := Install(level); err != nil {
		t.Fatal(err)
	}
	c := compress.Codecs[compress.Zstd]
	if c == small || c.Name() != "zstd" || c.Code() != int8(compress.Zstd) {
		t.Fatalf("Install(%d) put %T in the table; want its zstd codec", level, c)
	}
	return c, small
}

// statuses returns about size bytes of testdata's statuses, each line made
// unique by its position so that they do not all compress to nothing.
func statuses(t testing.TB, size int) []byte {
	lines := corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl"))
	var data []byte
	for i := 0; len(data) < size; i++ {
		data = fmt.Appendf(data, "%d ", i*7919)
		data = append(data, lines[i%len(lines)]...)
		data = append(data, '\n')
	}
	return data[:size]
}

// frame compresses data with codec c in writes of at most chunk bytes, as
// kafka-go writes a batch (many small writes).
func frame(t testing.TB, c compress.Codec, data []byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := c.NewWriter(&buf)
	for p := data; len(p) > 0; {
		n := min(chunk, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// TestFrames: at each level, and for a batch that is empty, one zstd block
// (up to 128 KiB), several, and more than 1 MiB, the frame is what any
// zstd reader reads (a default one, and kafkaconn's, the consumer's), with
// no content checksum. The level reaches the encoder: 0 and 3 give the
// same frame, 1 and 19 others. The default build's frames are byte for
// byte the ones the codec it replaces writes, in a 1 MiB window; libzstd's
// are its own (TestLibFrames).
func TestFrames(t *testing.T) {
	std, _ := zstd.NewReader(nil)
	small, _ := zstd.NewReader(nil, zstd.WithDecoderMaxWindow(1<<20), zstd.WithDecoderLowmem(true))
	sizes := map[int]int{}
	for _, level := range []int{0, 1, 3, 19} {
		c, old := install(t, level)
		_, pureGo := c.(*Codec)
		for _, n := range []int{0, 100, 100 << 10, 700 << 10, 1536 << 10} {
			data := statuses(t, n)
			for round := range 2 { // an encoder and its buffers are reused
				got := frame(t, c, data, 37)
				if len(got) < 5 || got[4]&0x04 != 0 { // Frame_Header_Descriptor, Content_Checksum_flag
					t.Fatalf("level %d, %d bytes: frame header %x; want no content checksum", level, n, got[:min(len(got), 8)])
				}
				for name, d := range map[string]*zstd.Decoder{"default": std, "1 MiB window": small} {
					if name != "default" && !pureGo && n > 1<<20 {
						continue // libzstd's window follows the batch's size
					}
					out, err := d.DecodeAll(got, nil)
					if err != nil || !bytes.Equal(out, data) {
						t.Fatalf("level %d, %d bytes, round %d, %s decoder: %v, equal %v", level, n, round, name, err, bytes.Equal(out, data))
					}
				}
				if out, err := io.ReadAll(old.NewReader(bytes.NewReader(got))); err != nil || !bytes.Equal(out, data) {
					t.Fatalf("level %d, %d bytes, round %d, kafkaconn's reader: %v, equal %v", level, n, round, err, bytes.Equal(out, data))
				}
				if want := frame(t, old, data, 37); pureGo && !bytes.Equal(got, want) {
					t.Errorf("level %d, %d bytes: frame of %d bytes differs from the %d bytes the codec it replaces writes", level, n, len(got), len(want))
				}
			}
			if n == 700<<10 {
				sizes[level] = len(frame(t, c, data, 1<<20))
			}
		}
	}
	if sizes[0] != sizes[3] || sizes[1] == sizes[3] || sizes[19] == sizes[3] {
		t.Fatalf("frame sizes by level %v: want 0 and 3 equal, 1 and 19 different from 3", sizes)
	}
}

// TestRecordBatch: a record batch kafka-go writes through the codec reads
// back, through kafka-go's reader, with every record as it was.
func TestRecordBatch(t *testing.T) {
	install(t, 0)
	lines := corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl"))
	var recs []protocol.Record
	for i := range 300 {
		recs = append(recs, protocol.Record{Time: time.Unix(1700000000, 0), Key: protocol.NewBytes(fmt.Appendf(nil, "%d", i)),
			Value: protocol.NewBytes(lines[i%len(lines)]), Headers: []protocol.Header{{Key: "kind", Value: []byte("status")}}})
	}
	var buf bytes.Buffer
	rs := protocol.RecordSet{Version: 2, Attributes: protocol.Attributes(compress.Zstd), Records: protocol.NewRecordReader(recs...)}
	if _, err := rs.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	var back protocol.RecordSet
	if _, err := back.ReadFrom(&buf); err != nil {
		t.Fatal(err)
	}
	if back.Attributes.Compression() != compress.Zstd {
		t.Fatalf("compression %v; want zstd", back.Attributes.Compression())
	}
	for i := 0; ; i++ {
		r, err := back.Records.ReadRecord()
		if err == io.EOF {
			if i != len(recs) {
				t.Fatalf("read %d records; want %d", i, len(recs))
			}
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		k, _ := protocol.ReadAll(r.Key)
		v, _ := protocol.ReadAll(r.Value)
		if string(k) != fmt.Sprint(i) || !bytes.Equal(v, lines[i%len(lines)]) || len(r.Headers) != 1 || string(r.Headers[0].Value) != "status" {
			t.Fatalf("record %d: key %q, value of %d bytes, headers %v; want key %d and line %d", i, k, len(v), r.Headers, i, i%len(lines))
		}
	}
}

// TestEncoderOutlivesCollections: after two collections a batch is
// compressed by the encoder built before them. A sync.Pool of encoders
// (internal/kafkaconn's codec) is empty after two collections, and the
// next batch builds an encoder again: about 3.5 MiB of tables and history.
func TestEncoderOutlivesCollections(t *testing.T) {
	c, _ := install(t, 0)
	data := statuses(t, 200<<10)
	frame(t, c, data, 4096)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	frame(t, c, data, 4096)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Fatalf("a batch after two collections allocated %d bytes; want under 256 KiB (no new encoder)", n)
	}
}

// TestConcurrentBatches: batches compressed at once (a writer a partition)
// each get their own frame; a writer closed twice or written after Close
// leaves the others alone.
func TestConcurrentBatches(t *testing.T) {
	c, _ := install(t, 0)
	std, _ := zstd.NewReader(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				data := statuses(t, (g+1)*(i+1)*3000)
				var buf bytes.Buffer
				w := c.NewWriter(&buf)
				w.Write(data[:len(data)/2])
				w.Write(data[len(data)/2:])
				if err := w.Close(); err != nil {
					errs <- err
					return
				}
				if err := w.Close(); err != nil {
					errs <- fmt.Errorf("second Close: %v", err)
					return
				}
				if _, err := w.Write([]byte("late")); err == nil {
					errs <- fmt.Errorf("Write after Close: no error")
					return
				}
				out, err := std.DecodeAll(buf.Bytes(), nil)
				if err != nil || !bytes.Equal(out, data) {
					errs <- fmt.Errorf("goroutine %d, batch %d: %v, equal %v", g, i, err, bytes.Equal(out, data))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestThroughKafka: statuses a kafka-go Writer sends zstd-compressed through
// the codec to a broker (kfake) are read back, value for value, by another
// client with its own zstd reader (franz-go) and by kafka-go's reader.
func TestThroughKafka(t *testing.T) {
	install(t, 0)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "statuses"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	lines := corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl"))
	var msgs []kafka.Message
	for i := range 2000 {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: lines[i%len(lines)]})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "statuses", Compression: kafka.Zstd, RequiredAcks: kafka.RequireAll,
		BatchSize: 500, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("statuses"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	for len(got) < len(msgs) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("franz-go after %d records: %v", len(got), err)
		}
		got = append(got, fs.Records()...)
	}
	for i, r := range got {
		if string(r.Key) != string(msgs[i].Key) || !bytes.Equal(r.Value, msgs[i].Value) {
			t.Fatalf("franz-go, record %d: key %q; want %q (or the value differs)", i, r.Key, msgs[i].Key)
		}
	}

	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "statuses", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer rd.Close()
	for i := range msgs {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go reader, message %d: %v", i, err)
		}
		if string(m.Key) != string(msgs[i].Key) || !bytes.Equal(m.Value, msgs[i].Value) {
			t.Fatalf("kafka-go reader, message %d: key %q; want %q (or the value differs)", i, m.Key, msgs[i].Key)
		}
	}
}
