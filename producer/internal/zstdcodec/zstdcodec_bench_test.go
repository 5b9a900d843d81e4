package zstdcodec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/compress"
	kgzstd "github.com/segmentio/kafka-go/compress/zstd"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
)

// codecs are the zstd codecs compared, by name, at the default level:
// kafka-go's own (klauspost's defaults: an 8 MiB window, GOMAXPROCS
// goroutines, a content checksum), the one internal/kafkaconn installs
// (its encoders in a sync.Pool), this package's Codec and, in a libzstd
// build (go test -tags libzstd), its libzstd codec.
func codecs(b *testing.B) []struct {
	name  string
	codec compress.Codec
} {
	saved := compress.Codecs[compress.Zstd]
	b.Cleanup(func() { compress.Codecs[compress.Zstd] = saved })
	kafkaconn.UseSmallZstd(0)
	small := compress.Codecs[compress.Zstd]
	c, err := New(0, small)
	if err != nil {
		b.Fatal(err)
	}
	out := []struct {
		name  string
		codec compress.Codec
	}{{"kafka-go", &kgzstd.Codec{}}, {"kafkaconn", small}, {"zstdcodec", c}}
	for _, more := range moreCodecs {
		name, codec := more(small)
		out = append(out, struct {
			name  string
			codec compress.Codec
		}{name, codec})
	}
	return out
}

// moreCodecs are the codecs of the build's tags, named, each reading
// through the codec given.
var moreCodecs []func(read compress.Codec) (string, compress.Codec)

// batch returns the records of one record batch as the async writer cuts
// it at the defaults: 500 statuses (half KAFKA_BATCH_SIZE) or 1 MiB
// (KAFKA_BATCH_BYTES), whichever comes first, each with a key and the
// producer's two headers; and their bytes.
func batch(b *testing.B, path string) (func() []protocol.Record, int) {
	lines := corpus.Lines(b, path)
	var keys, values [][]byte
	total := 0
	for i := 0; i < 500 && total+len(lines[i%len(lines)]) < 1<<20; i++ {
		v := lines[i%len(lines)]
		k := fmt.Appendf(nil, "%d", 1000000+i)
		keys, values = append(keys, k), append(values, v)
		total += len(v) + len(k)
	}
	headers := []protocol.Header{{Key: "source", Value: []byte("replay")}, {Key: "kind", Value: []byte("status")}}
	recs := make([]protocol.Record, len(keys))
	// A record's key and value are readers, used up by a write: each batch
	// gets new ones.
	return func() []protocol.Record {
		for i := range recs {
			recs[i] = protocol.Record{Time: time.Unix(1700000000, 0), Key: protocol.NewBytes(keys[i]), Value: protocol.NewBytes(values[i]), Headers: headers}
		}
		return recs
	}, total
}

// BenchmarkRecordBatch writes one record batch through kafka-go's record
// batch encoder (the producer's path) with each zstd codec, and reports
// the ratio, the frame's bytes and the process's CPU time a batch. The
// statuses are testdata's twelve, repeated, so they compress far better
// than a stream; ZSTD_BENCH_DATA (a list of files, as in $PATH) takes
// JSON lines files instead, e.g. bench gen's of the 1 KB and 5 KB classes.
func BenchmarkRecordBatch(b *testing.B) {
	data := []string{corpus.Path(b, "v1.1/sample.jsonl")}
	if f := os.Getenv("ZSTD_BENCH_DATA"); f != "" {
		data = filepath.SplitList(f)
	}
	for _, path := range data {
		for _, c := range codecs(b) {
			b.Run(fmt.Sprintf("%s/%s", filepath.Base(path), c.name), func(b *testing.B) {
				compress.Codecs[compress.Zstd] = c.codec
				records, total := batch(b, path)
				var buf bytes.Buffer
				b.SetBytes(int64(total))
				b.ReportAllocs()
				start := cpuTime(b)
				for b.Loop() {
					buf.Reset()
					rs := protocol.RecordSet{Version: 2, Attributes: protocol.Attributes(compress.Zstd), Records: protocol.NewRecordReader(records()...)}
					if _, err := rs.WriteTo(&buf); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(total)/float64(buf.Len()), "ratio")
				b.ReportMetric(float64(buf.Len()), "batch-B")
			})
		}
	}
}

// cpuTime is the process's CPU time (user and system) so far: on a shared
// machine an op's wall time counts the time other work had the CPU too.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
