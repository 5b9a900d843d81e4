package kafkaconn

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// TestSmallZstdRoundTrip: what the codec writes, any zstd reader reads, and
// it reads what a default encoder (another producer, kcat) writes.
func TestSmallZstdRoundTrip(t *testing.T) {
	c := &zstdCodec{}
	data := []byte(strings.Repeat(`{"id_str":"1","text":"नमस्ते 🙏 chai"}`, 5000))
	for range 3 { // pooled encoders and decoders are reused
		var buf bytes.Buffer
		w := c.NewWriter(&buf)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		std, _ := zstd.NewReader(nil)
		got, err := std.DecodeAll(buf.Bytes(), nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("standard decoder: %v, equal %v", err, bytes.Equal(got, data))
		}
		other, _ := zstd.NewWriter(nil)
		r := c.NewReader(bytes.NewReader(other.EncodeAll(data, nil)))
		got, err = io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("codec reading a default frame: %v, equal %v", err, bytes.Equal(got, data))
		}
	}
	UseSmallZstd()
	if compress.Codecs[compress.Zstd].Name() != "zstd" || compress.Codecs[compress.Zstd].Code() != int8(compress.Zstd) {
		t.Fatal("UseSmallZstd did not install a zstd codec")
	}
}
