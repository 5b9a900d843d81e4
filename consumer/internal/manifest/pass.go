package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// settle is how long after its last change a folder is read again at every
// pass even though it has a manifest: a file added in the same tick of the
// file system's clock would leave its modification time unchanged.
const settle = 2 * time.Second

// Pass writes the manifest of every hour of every topic that is closed
// (see Closed) and whose manifest is missing or lists other files than
// the folder holds. It returns the paths written. An hour that fails
// holds back no other: the error names it, and the pass goes on.
func (f *Finalizer) Pass(ctx context.Context) ([]string, error) {
	return passTopics(ctx, f.cfg.Topics, f.passTopic)
}

func (f *Finalizer) passTopic(ctx context.Context, topic string) ([]string, error) {
	hours, err := archive.Hours(f.cfg.Dir, topic, f.cfg.Layout)
	if err != nil {
		return nil, fmt.Errorf("listing hours: %w", err)
	}
	var todo []time.Time
	for _, h := range hours {
		fi, err := os.Stat(filepath.Join(f.cfg.Dir, f.cfg.Layout.HourDir(topic, h)))
		if err != nil {
			return nil, err
		}
		rel := f.cfg.Layout.HourDir(topic, h)
		if mt, ok := f.done[rel]; ok && mt.Equal(fi.ModTime()) {
			continue
		}
		if u, ok := f.failed[rel]; ok {
			if u.unchanged(fi.ModTime()) {
				continue
			}
			delete(f.failed, rel)
		}
		todo = append(todo, h)
	}
	if len(todo) == 0 {
		return nil, nil
	}
	now := f.cfg.Now()
	parts, err := f.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	var (
		written []string
		errs    []error
		next    *nextIndex // built when a manifest is first digested
	)
	index := func() (*nextIndex, error) {
		if next == nil || next.stale {
			ix, err := f.index(topic, hours, parts)
			if err != nil {
				return nil, err
			}
			next = ix
		}
		return next, nil
	}
	for _, h := range todo {
		if !Closed(h, parts, now, f.cfg.Grace) {
			continue
		}
		path, err := f.finalize(ctx, topic, h, index)
		if err != nil {
			errs = append(errs, fmt.Errorf("hour %s: %w", h.Format("2006-01-02T15"), err))
			// An hour's own files (unreadable, or refused by the file
			// system) hold back no other hour; anything else (Kafka
			// away, the context ended) would fail the later hours too,
			// each after its own wait: the pass stops.
			if u := (*unreadable)(nil); errors.As(err, &u) {
				f.failedRead(topic, h, u)
				continue
			}
			if pe := (*fs.PathError)(nil); errors.As(err, &pe) && ctx.Err() == nil {
				continue
			}
			break
		}
		if path != "" {
			written = append(written, path)
		}
	}
	return written, errors.Join(errs...)
}

// unreadable is the error of a data file opened but not read to its end
// (cut short, corrupt, a read error), with the file and its folder as they
// were before the read.
type unreadable struct {
	path    string
	file    os.FileInfo
	dirTime time.Time // the folder's modification time
	err     error
}

func (u *unreadable) Error() string { return u.err.Error() }
func (u *unreadable) Unwrap() error { return u.err }

// unchanged reports whether the file and its folder, whose modification
// time is now dirTime, are as they were when the file could not be read.
func (u *unreadable) unchanged(dirTime time.Time) bool {
	fi, err := os.Stat(u.path)
	return err == nil && dirTime.Equal(u.dirTime) &&
		fi.Size() == u.file.Size() && fi.ModTime().Equal(u.file.ModTime())
}

// failedRead logs an hour whose data file could not be read and, once the
// file and its folder have settled, keeps the hour from being read again
// until either changes: reading it would fail the same way at every pass.
func (f *Finalizer) failedRead(topic string, hour time.Time, u *unreadable) {
	f.log.Error("a data file cannot be read: its hour gets no manifest until the file is mended "+
		"(test it with gzip -t or zstd -t, put back a good copy or move it out of the folder); "+
		"the hour is read again when the file or its folder changes, or at the next start",
		"topic", topic, "hour", hour.UTC().Format(time.RFC3339), "path", u.path, "error", u.err)
	if time.Since(u.file.ModTime()) > settle && time.Since(u.dirTime) > settle {
		f.failed[f.cfg.Layout.HourDir(topic, hour)] = u
	}
}

// partitions reads Kafka's offsets and the checkpoints of topic's partitions.
func (f *Finalizer) partitions(ctx context.Context, topic string) ([]Partition, error) {
	start, end, err := f.kafka.Offsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	parts := make([]Partition, len(start))
	for p := range parts {
		pos, err := archive.ReadPosition(f.cfg.Dir, topic, p)
		if err != nil {
			return nil, fmt.Errorf("reading the checkpoint of partition %d: %w", p, err)
		}
		parts[p] = Partition{Position: pos, Start: start[p], End: end[p]}
	}
	return parts, nil
}

// nextIndex holds, per partition, the first offsets of its data files in
// every hour of the topic, sorted, and the checkpoint's next offset: what
// bounds a file's last offset.
type nextIndex struct {
	firsts map[int][]int64
	parts  []Partition
	// stale is set when a file was found that the index does not hold.
	stale bool
}

// bounds reports whether the index bounds the last offset of the file of
// partition p starting at first: it holds the file, and a later file of
// the partition or the checkpoint read before it was built. A file
// started after that read and still the partition's newest is bounded by
// neither.
func (ix *nextIndex) bounds(p int, first int64) bool {
	i, found := slices.BinarySearch(ix.firsts[p], first)
	if !found {
		return false
	}
	if i+1 < len(ix.firsts[p]) || p >= len(ix.parts) {
		return true
	}
	pos := ix.parts[p].Position
	return !pos.Known || pos.NextOffset > first // no checkpoint: nothing better to bound it by
}

func (f *Finalizer) index(topic string, hours []time.Time, parts []Partition) (*nextIndex, error) {
	ix := &nextIndex{firsts: map[int][]int64{}, parts: parts}
	for _, h := range hours {
		files, err := f.dataFiles(topic, h)
		if err != nil {
			return nil, err
		}
		for _, df := range files {
			ix.firsts[df.Partition] = append(ix.firsts[df.Partition], df.FirstOffset)
		}
	}
	for p, pt := range parts {
		if pos := pt.Position; pos.Active != "" {
			if df, ok := archive.ParseDataFile(topic, filepath.Base(pos.Active)); ok {
				ix.firsts[p] = append(ix.firsts[p], df.FirstOffset)
			}
		}
	}
	for p := range ix.firsts {
		slices.Sort(ix.firsts[p])
	}
	return ix, nil
}

// lastOffset bounds the offsets of the lines of the file of partition p
// starting at first: before the partition's next file, or before its next
// offset.
func (ix *nextIndex) lastOffset(p int, first int64) int64 {
	firsts := ix.firsts[p]
	i, found := slices.BinarySearch(firsts, first)
	if found {
		i++
	}
	if i < len(firsts) {
		return firsts[i] - 1
	}
	if p < len(ix.parts) && ix.parts[p].Position.NextOffset > first {
		return ix.parts[p].Position.NextOffset - 1
	}
	return first
}

// dataFiles lists the data files in an hour's folder, by partition and
// first offset. Where a plain file and a compressed one share a name (a
// copy made by gzip -k, or a rotation a crash cut short), the plain one is
// the archive's: it removes the plain file only after the compressed one
// is complete.
func (f *Finalizer) dataFiles(topic string, hour time.Time) ([]archive.DataFile, error) {
	rel := f.cfg.Layout.HourDir(topic, hour)
	entries, err := f.readDir(filepath.Join(f.cfg.Dir, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	delete(f.temps, rel)
	var files []archive.DataFile
	for _, e := range entries {
		if isTemp(e.Name()) {
			if !f.sweep(filepath.Join(f.cfg.Dir, rel), e) {
				f.temps[rel] = true
			}
			continue
		}
		df, ok := archive.ParseDataFile(topic, e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		files = append(files, df)
	}
	slices.SortFunc(files, func(a, b archive.DataFile) int {
		switch {
		case a.Partition != b.Partition:
			return a.Partition - b.Partition
		case a.FirstOffset != b.FirstOffset:
			return int(min(max(a.FirstOffset-b.FirstOffset, -1), 1))
		case (a.Compression == "") != (b.Compression == ""):
			if a.Compression == "" {
				return -1
			}
			return 1
		}
		return 0
	})
	return slices.CompactFunc(files, func(a, b archive.DataFile) bool {
		return a.Partition == b.Partition && a.FirstOffset == b.FirstOffset
	}), nil
}

// finalize writes the manifest of a closed hour unless the one there
// lists the same files with the same sizes; index gives the offset index,
// built only when a manifest is to be written. It returns the path
// written, or "" when it wrote none.
func (f *Finalizer) finalize(ctx context.Context, topic string, hour time.Time, index func() (*nextIndex, error)) (string, error) {
	rel := f.cfg.Layout.HourDir(topic, hour)
	dir := filepath.Join(f.cfg.Dir, rel)
	before, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	files, err := f.dataFiles(topic, hour)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName)
	if len(files) == 0 {
		// A folder with no data file (emptied by hand or by a retention
		// job) gets no manifest, and is not read again until it changes.
		f.remember(rel, before.ModTime())
		return "", nil
	}
	old, err := Read(path)
	if err == nil && f.lists(dir, old, files) {
		f.remember(rel, before.ModTime())
		return "", nil
	}
	// What the hour's last manifest says of each file it listed: a file
	// it lists at the size the file has now is not read again (below).
	listed := make(map[string]File)
	if err == nil {
		for _, lf := range old.Files {
			listed[lf.Name] = lf
		}
	}
	next, err := index()
	if err != nil {
		return "", err
	}
	for _, df := range files {
		if !next.bounds(df.Partition, df.FirstOffset) {
			// A file started after the checkpoints were read or the index
			// was built: its last offset is not known. The next pass
			// indexes it.
			next.stale = true
			return "", nil
		}
	}
	m := Manifest{Version: Version, Topic: topic, Hour: hour.UTC(), Files: make([]File, 0, len(files))}
	for _, df := range files {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		lines, size, sum, err := f.digestNew(filepath.Join(dir, df.Name), df.Compression, listed[df.Name])
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil // renamed while read (a rotation): the next pass sees it
		}
		if u := (*unreadable)(nil); errors.As(err, &u) {
			u.dirTime = before.ModTime()
		}
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", df.Name, err)
		}
		m.Files = append(m.Files, File{
			Name: df.Name, Partition: df.Partition, FirstOffset: df.FirstOffset,
			LastOffset: next.lastOffset(df.Partition, df.FirstOffset),
			Lines:      lines, Bytes: size, SHA256: sum,
		})
		m.Lines += lines
		m.Bytes += size
	}
	// A file started in the hour while it was read (a late record after an
	// idle spell) is growing: leave the hour to a later pass.
	parts, err := f.partitions(ctx, topic)
	if err != nil {
		return "", err
	}
	if !Closed(hour, parts, f.cfg.Now(), f.cfg.Grace) {
		return "", nil
	}
	if again, err := f.dataFiles(topic, hour); err != nil || !slices.Equal(again, files) {
		return "", err
	}
	// The hour is closed as of that read, so its files are complete now:
	// each must still have the size digested, or it grew (a file started
	// after the pass read the partitions keeps its name when it closes
	// uncompressed) and the hour waits for the next pass.
	for _, mf := range m.Files {
		fi, err := os.Stat(filepath.Join(dir, mf.Name))
		if err != nil || fi.Size() != mf.Bytes {
			return "", nil
		}
	}
	data, err := encode(m)
	if err != nil {
		return "", err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		f.remember(rel, before.ModTime())
		return "", nil
	}
	// A temporary name of this writer's own: several consumers may write
	// the same manifest at once.
	tmp := filepath.Join(dir, tempName())
	if _, err := durable.WriteFile(path, data, durable.Replace{Temp: tmp, Mode: f.cfg.FileMode}); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if after, err := os.Stat(dir); err == nil {
		f.remember(rel, after.ModTime())
	}
	f.log.Info("wrote manifest", "topic", topic, "hour", hour.UTC().Format(time.RFC3339), "path", path,
		"count", len(m.Files), "lines", m.Lines, "bytes", m.Bytes)
	if f.cfg.OnWrite != nil {
		f.cfg.OnWrite(path, m)
	}
	return path, nil
}

// staleTemp is the age past which a manifest's temporary file is taken
// for one a writer killed mid-write left: writing one takes milliseconds.
const staleTemp = 10 * time.Minute

// tempName returns a temporary name for a manifest, of this process's
// own: "._manifest.json.<pid>-<16 hex digits>.tmp".
func tempName() string {
	return fmt.Sprintf(".%s.%d-%016x.tmp", FileName, os.Getpid(), rand.Uint64())
}

// isTemp reports whether name is that of a manifest's temporary file, as
// tempName makes them.
func isTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, "."+FileName+".")
	rest, ok2 := strings.CutSuffix(rest, ".tmp")
	pid, hex, ok3 := strings.Cut(rest, "-")
	return ok && ok2 && ok3 && pid != "" && strings.Trim(pid, "0123456789") == "" &&
		len(hex) == 16 && strings.Trim(hex, "0123456789abcdef") == ""
}

// sweep removes the manifest's temporary file e in dir when it is older
// than staleTemp, and reports whether it is gone. A failure is logged;
// the next read tries again.
func (f *Finalizer) sweep(dir string, e fs.DirEntry) bool {
	fi, err := e.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil || time.Since(fi.ModTime()) < staleTemp {
		return false
	}
	path := filepath.Join(dir, e.Name())
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.log.Warn("removing a stale temporary manifest", "path", path, "error", err)
		return false
	}
	f.log.Info("removed a stale temporary manifest", "path", path)
	return true
}

// remember marks an hour's folder as listed by its manifest as of its
// modification time mt, unless mt is too recent to tell a later change or
// the folder holds a temporary manifest not yet old enough to remove.
func (f *Finalizer) remember(rel string, mt time.Time) {
	if time.Since(mt) > settle && !f.temps[rel] {
		f.done[rel] = mt
	}
}

// digestNew digests a data file (digest), unless the hour's last manifest
// listed it (lf, its entry there; zero when it did not) at the size it has
// now: then it returns that entry's lines, size and SHA-256 without reading
// the file. A closed hour's files do not change (lists takes the same name
// and size for the same file too), so an hour opened again by a late
// record's file, or by files added or moved away by hand, reads only its
// new files rather than the whole hour again.
func (f *Finalizer) digestNew(path, compression string, lf File) (lines, size int64, sum string, err error) {
	if lf.Name != "" && lf.SHA256 != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return 0, 0, "", err
		}
		if fi.Size() == lf.Bytes {
			return lf.Lines, lf.Bytes, lf.SHA256, nil
		}
	}
	return digest(path, compression, f.cfg.Uncached)
}

// lists reports whether m lists exactly files, with the sizes they have.
func (f *Finalizer) lists(dir string, m Manifest, files []archive.DataFile) bool {
	if len(m.Files) != len(files) {
		return false
	}
	for i, df := range files {
		fi, err := os.Stat(filepath.Join(dir, df.Name))
		if err != nil || m.Files[i].Name != df.Name || m.Files[i].Bytes != fi.Size() {
			return false
		}
	}
	return true
}

// digest reads a data file once: its lines (decompressed), its size and
// the SHA-256 of its bytes as stored; uncached, around the page cache
// (archive.ReadUncached). A file opened but not read to its end fails with
// an *unreadable.
func digest(path, compression string, uncached bool) (lines, size int64, sum string, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, 0, "", err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return 0, 0, "", err
	}
	var src io.Reader = fh
	if uncached {
		src = archive.ReadUncached(fh)
	}
	lines, size, sum, err = Digest(src, compression)
	if err != nil {
		return 0, 0, "", &unreadable{path: path, file: fi, err: err}
	}
	return lines, size, sum, nil
}

// Digest reads a data file's bytes as stored (compressed with compression,
// archive.CompressionGzip or archive.CompressionZstd, or not when "") to
// their end: its lines (decompressed), its size and the hex SHA-256 of its
// bytes, as a manifest gives them.
func Digest(src io.Reader, compression string) (lines, size int64, sum string, err error) {
	h := sha256.New()
	counted := &countingWriter{}
	stored := io.TeeReader(src, io.MultiWriter(h, counted))
	var r io.Reader = stored
	switch compression {
	case archive.CompressionGzip:
		zr, err := gzip.NewReader(stored)
		if err != nil {
			return 0, 0, "", err
		}
		r = zr
	case archive.CompressionZstd:
		zr, err := zstd.NewReader(stored, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return 0, 0, "", err
		}
		defer zr.Close()
		r = zr
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, "", err
		}
	}
	// Whatever the decompressor left unread (nothing, for the archive's
	// files) still counts in the size and the checksum.
	if _, err := io.Copy(io.Discard, stored); err != nil {
		return 0, 0, "", err
	}
	return lines, counted.n, hex.EncodeToString(h.Sum(nil)), nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
