// Package replay reads archived stream files (JSON Lines, optionally
// compressed) and emits their lines, at full speed or at the posts' own pace.
package replay

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// Config selects the files and the pace.
type Config struct {
	Path  string  // a file, a directory (all files below it) or a glob
	Speed float64 // 0 = as fast as possible; 1 = original pace; N = N times faster
	// MaxLineBytes bounds one line; a longer one is skipped and logged.
	// 0 means 16 MiB.
	MaxLineBytes int
}

// Source replays files.
type Source struct {
	cfg Config
	log *slog.Logger
}

// New returns a replay source. The files are listed when Run starts.
func New(cfg Config, log *slog.Logger) *Source {
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = 16 << 20
	}
	return &Source{cfg: cfg, log: log}
}

// Name implements source.Source.
func (s *Source) Name() string { return "replay" }

// Files lists what path names, in name order: a file, every file below a
// directory, or what a glob matches. Only .json and .jsonl files, plain or
// with .gz, .bz2 or .zst, are taken from directories and globs.
func Files(path string) ([]string, error) {
	info, err := os.Stat(path)
	switch {
	case err == nil && !info.IsDir():
		return []string{path}, nil
	case err == nil:
		var files []string
		err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isStreamFile(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("REPLAY_PATH: listing %s: %w", path, err)
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("REPLAY_PATH: no .json or .jsonl files (plain, .gz, .bz2 or .zst) under %s", path)
		}
		return files, nil
	}
	matches, gerr := filepath.Glob(path)
	if gerr != nil {
		return nil, fmt.Errorf("REPLAY_PATH: bad pattern %q: %w", path, gerr)
	}
	var files []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && !fi.IsDir() && isStreamFile(m) {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("REPLAY_PATH: %s: no such file, directory or matching .json/.jsonl files", path)
	}
	slices.Sort(files)
	return files, nil
}

func isStreamFile(p string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(p, ".gz"), ".bz2"), ".zst")
	return strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".jsonl")
}

// Run emits every line of every file, then returns nil.
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	files, err := Files(s.cfg.Path)
	if err != nil {
		return err
	}
	s.log.Info("replay starting", "files", len(files), "path", s.cfg.Path, "speed", s.cfg.Speed)
	p := pacer{speed: s.cfg.Speed}
	for _, f := range files {
		if err := s.replayFile(ctx, f, &p, emit); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

func (s *Source) replayFile(ctx context.Context, path string, p *pacer, emit source.Emit) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("replay: opening %s: %w", path, err)
	}
	defer f.Close()
	r, err := Decompress(path, f)
	if err != nil {
		return fmt.Errorf("replay: %s: %w", path, err)
	}
	defer r.Close()
	lines := NewLineReader(r, s.cfg.MaxLineBytes)
	for {
		line, err := lines.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var tooLong *LineTooLongError
		if errors.As(err, &tooLong) {
			s.log.Warn("replay: line too long, skipped", "file", path, "line", tooLong.Line, "bytes", tooLong.Size, "max", s.cfg.MaxLineBytes)
			continue
		}
		if err != nil {
			return fmt.Errorf("replay: reading %s line %d: %w", path, lines.LineNumber(), err)
		}
		if len(line) == 0 {
			continue
		}
		if err := p.wait(ctx, line); err != nil {
			return err
		}
		if err := emit(ctx, source.Record{Value: line}); err != nil {
			return err
		}
	}
}

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

// LineTooLongError reports a line over the limit; the reader has skipped it.
type LineTooLongError struct {
	Line int64
	Size int
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line %d is longer than the limit (%d bytes read)", e.Line, e.Size)
}

// LineReader splits LF or CRLF lines. Each line it returns is a fresh slice
// the caller may keep.
type LineReader struct {
	br   *bufio.Reader
	max  int
	line int64
	buf  []byte
}

// NewLineReader reads lines of at most max bytes from r.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 256<<10), max: max}
}

// LineNumber is the number of the line last returned.
func (l *LineReader) LineNumber() int64 { return l.line }

// Next returns the next line without its terminator, io.EOF at the end, or a
// *LineTooLongError for a line over the limit (then Next may be called again).
func (l *LineReader) Next() ([]byte, error) {
	l.buf = l.buf[:0]
	size := 0 // bytes of the line read so far, terminator included
	for {
		chunk, err := l.br.ReadSlice('\n')
		size += len(chunk)
		// Keep at most max bytes plus a CRLF; past that only count.
		if room := l.max + 2 - len(l.buf); room > 0 {
			l.buf = append(l.buf, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if size == 0 && errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		l.line++
		if size > len(l.buf) {
			return nil, &LineTooLongError{Line: l.line, Size: size}
		}
		line := bytes.TrimSuffix(l.buf, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > l.max {
			return nil, &LineTooLongError{Line: l.line, Size: size}
		}
		return bytes.Clone(line), nil
	}
}

// pacer spaces records by the posts' own times, divided by speed.
type pacer struct {
	speed     float64
	firstPost time.Time
	firstWall time.Time
	timer     *time.Timer
}

func (p *pacer) wait(ctx context.Context, line []byte) error {
	if p.speed <= 0 {
		return nil
	}
	m, err := message.Classify(line)
	if err != nil || m.Time.IsZero() {
		return nil // no time to pace by: send at once
	}
	if p.firstPost.IsZero() {
		p.firstPost, p.firstWall = m.Time, time.Now()
		return nil
	}
	offset := time.Duration(float64(m.Time.Sub(p.firstPost)) / p.speed)
	wait := time.Until(p.firstWall.Add(offset))
	if wait <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(wait)
	} else {
		p.timer.Reset(wait)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.timer.C:
		return nil
	}
}
