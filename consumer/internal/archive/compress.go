package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tweetpipe/tweetpipe/internal/durable"
	"github.com/tweetpipe/tweetpipe/internal/pagecache"
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

// compressActive replaces a, the closed file being rotated, with its
// compressed form and returns the new path. A reader never sees a partial
// compressed file: it is written as <final>.tmp and fsynced, a checkpoint
// names it with its size (so recovery can tell it from a file the archive
// did not write, rule 5 of checkpoint.go), it gets its final name, and only
// then is the plain file removed. The final name is never taken over: when
// a file is already there (a copy made by gzip -k or a cron job), the data
// file stays plain, uncompressed, and the other file is left alone.
//
// With an uploader the file is not left plain (there or on a full disk):
// compressActive fails, and the rotation is retried. The extension is part
// of the object's key, so a plain put whose record in the bucket was lost
// would be followed, once the file compresses, by a second object of the
// same records under the same offset; and another owner rebuilding the
// file compresses it.
func (p *Partition) compressActive(a *activeFile) (string, error) {
	plain := p.abs(a.rel)
	rel := a.rel + compressedExt(p.cfg.Compression)
	final := p.abs(rel)
	inTheWay := func() (string, error) {
		if p.up != nil {
			return "", fmt.Errorf("compressing %s: %s, a file the archive did not write, has its compressed name; "+
				"the file is uploaded once that one is moved away", plain, final)
		}
		p.log.Warn("a file the archive did not write has the rotated file's name; leaving the data file uncompressed",
			"path", plain, "other", final)
		return plain, nil
	}
	if ok, err := exists(final); err != nil {
		return "", fmt.Errorf("checking compressed file: %w", err)
	} else if ok {
		return inTheWay()
	}
	tmp := final + ".tmp"
	if err := compressTo(tmp, plain, p.cfg.Compression, p.cfg.FileMode, p.cfg.DropPageCache); err != nil {
		_ = os.Remove(tmp) // best effort; recovery removes leftovers too
		if noSpace(err) && p.up == nil {
			// Retrying would compress the whole file again at every
			// attempt, and fail again while the disk is full.
			p.log.Warn("no space to compress the rotated file; leaving it uncompressed", "path", plain, "error", err)
			return plain, nil
		}
		return "", fmt.Errorf("compressing %s: %w", plain, err)
	}
	crashPoint("rotate: compressed to temp file")
	size, err := fileSize(tmp)
	if err != nil {
		return "", fmt.Errorf("checking compressed file: %w", err)
	}
	c := p.snapshot(p.ckpt.NextOffset)
	c.Active, c.ActiveSize, c.ActiveHour, c.ActiveCreated = a.rel, a.size, a.hour, a.created
	c.Rotated, c.RotatedSize = rel, size
	if err := p.writeCheckpoint(c); err != nil {
		_ = os.Remove(tmp) // its space may be what the checkpoint lacked
		return "", err
	}
	placed, err := placeNew(tmp, final)
	if err != nil {
		return "", fmt.Errorf("naming compressed file: %w", err)
	}
	if !placed {
		// Another file took the name while this one was compressed.
		if err := os.Remove(tmp); err != nil {
			return "", fmt.Errorf("removing compressed file: %w", err)
		}
		return inTheWay()
	}
	crashPoint("rotate: compressed file renamed")
	dir := filepath.Dir(plain)
	if err := durable.SyncDir(dir); err != nil {
		return "", err
	}
	if err := os.Remove(plain); err != nil {
		return "", fmt.Errorf("removing rotated file: %w", err)
	}
	crashPoint("rotate: plain file removed")
	if err := durable.SyncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

// noSpace reports whether err says the file system is full (or the
// user's quota is).
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// placeNew gives the file tmp the name path, unless path exists: then it
// returns false and leaves both alone. A hard link does that atomically;
// on a file system without them it falls back to a check and a rename.
// tmp is gone once placed.
func placeNew(tmp, path string) (placed bool, err error) {
	err = os.Link(tmp, path)
	switch {
	case err == nil:
		crashPoint("rotate: compressed file linked")
		return true, os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return false, nil
	}
	if ok, err := exists(path); err != nil || ok {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

// compressTo writes src, compressed, to the new file dst and fsyncs it;
// uncached, as with OUTPUT_PAGE_CACHE=drop, where src's pages were dropped
// as written, it reads src around the page cache (ReadUncached) and drops
// dst's pages once fsynced.
func compressTo(dst, src, compression string, mode os.FileMode, uncached bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	var r io.Reader = in
	if uncached {
		r = ReadUncached(in)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	err = encode(out, r, compression)
	if err == nil {
		err = out.Sync()
	}
	if err == nil && uncached {
		pagecache.Drop(out, 0, 0) // to the end of the file
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
