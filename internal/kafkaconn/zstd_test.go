package kafkaconn

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// TestSmallZstdRoundTrip: at each level, what the codec writes any zstd
// reader reads, with no content checksum in the frame, and the codec reads
// what a default encoder (another producer, kcat) writes. The level reaches
// the encoder: 0 and 3 give the same bytes, 1 and 19 others.
func TestSmallZstdRoundTrip(t *testing.T) {
	var data []byte
	for i := range 5000 {
		data = fmt.Appendf(data, `{"id_str":"%d","text":"नमस्ते 🙏 chai %d","user":{"id":%d}}`, i*7919, i%97, i%1013)
	}
	sizes := map[int]int{}
	for _, level := range []int{0, 1, 3, 7, 19} {
		UseSmallZstd(level)
		c, ok := compress.Codecs[compress.Zstd].(*zstdCodec)
		if !ok || c.Name() != "zstd" || c.Code() != int8(compress.Zstd) {
			t.Fatalf("UseSmallZstd(%d) did not install its zstd codec", level)
		}
		for range 3 { // pooled encoders and decoders are reused
			var buf bytes.Buffer
			w := c.NewWriter(&buf)
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("level %d: %v", level, err)
			}
			frame := buf.Bytes()
			if len(frame) < 5 || frame[4]&0x04 != 0 { // Frame_Header_Descriptor, Content_Checksum_flag
				t.Fatalf("level %d: frame header %x: want no content checksum", level, frame[:min(len(frame), 8)])
			}
			std, _ := zstd.NewReader(nil)
			got, err := std.DecodeAll(frame, nil)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("level %d, standard decoder: %v, equal %v", level, err, bytes.Equal(got, data))
			}
			sizes[level] = len(frame)
			other, _ := zstd.NewWriter(nil)
			r := c.NewReader(bytes.NewReader(other.EncodeAll(data, nil)))
			got, err = io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("codec reading a default frame: %v, equal %v", err, bytes.Equal(got, data))
			}
		}
	}
	if sizes[0] != sizes[3] || sizes[1] == sizes[3] || sizes[19] == sizes[3] {
		t.Fatalf("compressed sizes by level %v: want 0 and 3 equal, 1 and 19 different from 3", sizes)
	}
	t.Logf("%d bytes compressed by level: %v", len(data), sizes)
}
