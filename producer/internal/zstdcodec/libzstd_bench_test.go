//go:build cgo && libzstd

package zstdcodec

import "github.com/segmentio/kafka-go/compress"

// A libzstd build's BenchmarkRecordBatch compares its codec too.
func init() {
	moreCodecs = append(moreCodecs, func(read compress.Codec) (string, compress.Codec) {
		c, err := newLib(0, read)
		if err != nil {
			panic(err)
		}
		return "libzstd", c
	})
}
