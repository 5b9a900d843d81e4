package replay

import (
	"compress/bzip2"
	"fmt"
	"io"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Decompress picks the decoder from the file name's last extension.
func Decompress(name string, r io.Reader) (io.ReadCloser, error) {
	switch filepath.Ext(name) {
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("opening gzip: %w", err)
		}
		return zr, nil
	case ".bz2":
		return io.NopCloser(bzip2.NewReader(r)), nil
	case ".zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("opening zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}
