package kafkaconn

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
)

// benchBatch returns the records of a batch of about size bytes of the
// lines of path, each with a key and the producer's two headers, as the
// producer hands kafka-go one, and their size.
func benchBatch(b *testing.B, path string, size int) (func() []protocol.Record, int) {
	lines := corpus.Lines(b, path)
	var keys, values [][]byte
	total := 0
	for i := 0; total < size; i++ {
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

// BenchmarkRecordBatch is one batch of about 1 MiB (KAFKA_BATCH_BYTES)
// written by kafka-go's record batch encoder through the codec
// UseSmallZstd installs (the producer's path), at zstd levels 1, 3 (the
// default) and 7; it reports the ratio and the process's CPU time a batch.
// The data are the statuses and the Jetstream events of testdata/tweets,
// a few repeated, so they compress far better than a stream does; with
// ZSTD_BENCH_DATA set to a file of JSON lines (bench gen's), that file
// instead.
func BenchmarkRecordBatch(b *testing.B) {
	data := []string{corpus.Path(b, "v1.1/sample.jsonl"), corpus.Path(b, "jetstream/events.jsonl")}
	if f := os.Getenv("ZSTD_BENCH_DATA"); f != "" {
		data = []string{f}
	}
	for _, path := range data {
		for _, level := range []int{1, 3, 7} {
			b.Run(fmt.Sprintf("%s/level=%d", filepath.Base(path), level), func(b *testing.B) {
				UseSmallZstd(level)
				defer UseSmallZstd(0)
				records, total := benchBatch(b, path, 1<<20)
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
