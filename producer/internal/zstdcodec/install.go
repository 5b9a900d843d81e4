//go:build !(cgo && libzstd)

package zstdcodec

import "github.com/segmentio/kafka-go/compress"

// Encoder names the zstd encoder this build compresses with.
const Encoder = "klauspost/compress (pure Go)"

// Install puts the codec, at a zstd level, in kafka-go's codec table in
// place of the zstd codec there, which it keeps for reading. main calls it
// once at start, after kafkaconn.UseSmallZstd.
func Install(level int) error {
	c, err := New(level, compress.Codecs[compress.Zstd])
	if err != nil {
		return err
	}
	compress.Codecs[compress.Zstd] = c
	return nil
}
