package archive

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Values of Config.Compression.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
)

// compressedExts are the suffixes a rotated file can carry, whatever the
// current setting: recovery must recognise files rotated under an earlier one.
func compressedExts() []string { return []string{".gz", ".zst"} }

// compressedExt returns the suffix for compression, "" for none.
func compressedExt(compression string) string {
	switch compression {
	case CompressionGzip:
		return ".gz"
	case CompressionZstd:
		return ".zst"
	}
	return ""
}

// compressFile replaces the complete, closed file plain with its compressed
// form and returns the new path. A reader never sees a partial compressed
// file: it is written as <final>.tmp, fsynced, renamed into place and the
// directory fsynced, and only then is plain removed.
func compressFile(plain, compression string) (string, error) {
	final := plain + compressedExt(compression)
	tmp := final + ".tmp"
	if err := compressTo(tmp, plain, compression); err != nil {
		_ = os.Remove(tmp) // best effort; recovery removes leftovers too
		return "", fmt.Errorf("compressing %s: %w", plain, err)
	}
	crashPoint("rotate: compressed to temp file")
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("renaming compressed file: %w", err)
	}
	crashPoint("rotate: compressed file renamed")
	dir := filepath.Dir(plain)
	if err := syncDir(dir); err != nil {
		return "", err
	}
	if err := os.Remove(plain); err != nil {
		return "", fmt.Errorf("removing rotated file: %w", err)
	}
	crashPoint("rotate: plain file removed")
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

// compressTo writes src, compressed, to the new file dst and fsyncs it.
func compressTo(dst, src, compression string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = encode(out, in, compression)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// encode copies r to w through the compressor.
func encode(w io.Writer, r io.Reader, compression string) error {
	switch compression {
	case CompressionGzip:
		zw := gzip.NewWriter(w)
		if _, err := io.Copy(zw, r); err != nil {
			return err
		}
		return zw.Close()
	case CompressionZstd:
		// One goroutine: rotations are rare, and a burst of them (many
		// partitions crossing an hour) should not take every core.
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return err
		}
		if _, err := zw.ReadFrom(r); err != nil {
			_ = zw.Close()
			return err
		}
		return zw.Close()
	}
	return fmt.Errorf("unknown compression %q", compression)
}
