// Package replay reads archived stream files and emits their lines, at full
// speed or at the posts' own pace: JSON Lines files (plain, .gz, .bz2, .zst)
// and the Internet Archive's Twitter Stream Grab archives (.tar, .tar.gz,
// .zip of YYYY/MM/DD/HH/MM.json.bz2 or .json.gz), read in place in time order.
//
// With a StateDir, the position Kafka has acknowledged is kept there and a
// restart resumes after it: nothing acknowledged is sent again, what was sent
// but not acknowledged is (the archive's dedup drops the overlap).
package replay

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/terminal"
)

// Config selects the files, the pace, where the position is kept and how
// progress is shown. The producer's config embeds it: the tagged fields are
// the REPLAY_* variables (Validate checks them), the others are set by the
// service.
type Config struct {
	// Path is a file, a directory (all files below it) or a glob.
	Path string `envconfig:"REPLAY_PATH" desc:"file, directory or glob of .json/.jsonl files (.gz, .bz2, .zst too) and Stream Grab .tar/.zip archives, for SOURCE=replay"`
	// Speed: 0 = as fast as possible; 1 = original pace; N = N times faster.
	Speed float64 `envconfig:"REPLAY_SPEED" default:"0" desc:"0: as fast as possible; 1: original pace from the posts' timestamps; N: N times faster"`
	// MaxLineBytes bounds one line; a longer one is skipped and logged.
	// 0 means 16 MiB.
	MaxLineBytes int `ignored:"true"`
	// StateDir (STATE_DIR) keeps the replay position (PositionFile); ""
	// keeps none and every run starts from the beginning.
	StateDir string `ignored:"true"`
	// ProgressInterval is how often progress is logged; 0 never.
	ProgressInterval time.Duration `envconfig:"REPLAY_PROGRESS_INTERVAL" default:"10s" desc:"how often replay progress (files, lines, percent, rate, ETA) is logged (0: never)"`
	// PageCache (PageCacheDrop or PageCacheKeep) is whether a file's pages
	// leave the kernel's page cache once read (fileReader).
	PageCache string `envconfig:"REPLAY_PAGE_CACHE" default:"drop" desc:"drop: each file's pages leave the kernel's page cache once read, so replaying an archive does not crowd out what the broker and other programs keep there; keep: the kernel decides what stays, for files replayed again and again (docs/performance.md)"`
	// DrainTimeout (SHUTDOWN_TIMEOUT) bounds how long a stop waits for
	// Kafka to acknowledge what was already sent, so that the saved
	// position includes it. 0 means 10 s.
	DrainTimeout time.Duration `ignored:"true"`
	// Terminal is the stderr shared with the log, where the progress bar is
	// drawn when it is a terminal; nil means os.Stderr.
	Terminal *terminal.Terminal `ignored:"true"`
	// saveInterval is how often the position is saved; 0 means once a second.
	saveInterval time.Duration
	// dropPages replaces pagecache.Drop in tests, to record what is dropped.
	dropPages func(f *os.File, off, n int64)
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
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.saveInterval == 0 {
		cfg.saveInterval = time.Second
	}
	if cfg.Terminal == nil {
		cfg.Terminal = terminal.New(os.Stderr)
	}
	return &Source{cfg: cfg, log: log}
}

// Name implements source.Source.
func (s *Source) Name() string { return "replay" }

// Check reports, before Kafka is asked anything, a REPLAY_PATH that names
// nothing to replay (Run lists it again).
func (s *Source) Check() error {
	_, err := Files(s.cfg.Path)
	return err
}

// Run emits every line of every file in order, then returns nil. With a
// StateDir it first skips what an earlier run got acknowledged and, before
// returning, waits for the acknowledgements of what it sent (at most
// DrainTimeout once ctx is done) and saves the position.
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	paths, err := Files(s.cfg.Path)
	if err != nil {
		return err
	}
	inputs, err := list(paths, s.cfg.dropper())
	if err != nil {
		return err
	}
	for _, in := range inputs {
		if in.kind != plainFile && len(in.members) == 0 {
			s.log.Warn("replay: archive holds no .json or .jsonl files", "file", in.path)
		}
	}

	var track *tracker
	var resume *Position
	if s.cfg.StateDir != "" {
		if err := checkStateDir(s.cfg.StateDir); err != nil {
			return err
		}
		if resume, err = loadPosition(s.cfg.StateDir); err != nil {
			return err
		}
		if resume != nil && resume.Path != s.cfg.Path {
			s.log.Warn("replay: the saved position is for another REPLAY_PATH; starting from the beginning (the consumer's dedup window drops statuses sent again only within its last DEDUP_WINDOW keys)",
				"saved_path", resume.Path, "path", s.cfg.Path)
			resume = nil
		}
	}
	done, inputs := resumeOrder(inputs, resume, s.log)
	if s.cfg.StateDir != "" {
		track = newTracker(s.cfg.StateDir, s.cfg.Path, done, resume)
	}
	prog := newProgress(inputs)
	args := []any{"source", "replay", "path", s.cfg.Path, "inputs", len(inputs), "files", prog.filesTotal,
		"bytes", prog.total, "speed", s.cfg.Speed}
	if resume != nil {
		args = append(args, "resume_input", resume.Input, "resume_member", resume.Member, "resume_after_line", resume.Line)
	}
	s.log.Info("replay starting", args...)

	rctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if track != nil {
		wg.Go(func() { track.saveEvery(s.cfg.saveInterval, stop, fail) })
	}
	rep := newReporter(prog, s.log, s.cfg.Terminal, s.cfg.ProgressInterval)
	wg.Go(func() { rep.run(stop) })

	r := runner{cfg: &s.cfg, log: s.log, emit: emit, pace: pacer{speed: s.cfg.Speed}, prog: prog, track: track, resume: resume, done: done}
	began := time.Now()
	walkErr := r.run(rctx, inputs)
	err = walkErr
	if err == nil {
		err = r.unreadableSummary()
	}
	var unacked int64
	var saveErr error
	if track != nil {
		// What was sent may still be acknowledged: wait for it so the
		// position includes it, unless the pipeline refused a record.
		if r.emitFailed {
			unacked = r.emitted - track.count()
		} else {
			unacked = track.waitAcked(rctx, r.emitted, s.cfg.DrainTimeout)
		}
	}
	close(stop)
	wg.Wait()
	if track != nil {
		saveErr = track.save()
	}

	cur := prog.sample(time.Now())
	msg := "replay finished"
	if walkErr != nil {
		msg = "replay stopped"
	}
	args = cur.logArgs(measure(sample{At: began}, sample{At: began}, cur))
	if len(r.unreadable) > 0 {
		args = append(args, "files_unreadable", len(r.unreadable))
	}
	if track != nil {
		args = append(args, "acknowledged", track.count(), "unacknowledged", unacked)
	}
	s.log.Info(msg, args...)

	if cause := context.Cause(rctx); cause != nil && ctx.Err() == nil {
		return cause // a periodic save failed
	}
	if saveErr != nil {
		return saveErr
	}
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// runner is one Run's walk through the inputs.
type runner struct {
	cfg     *Config
	log     *slog.Logger
	emit    source.Emit
	pace    pacer
	prog    *progress
	track   *tracker  // nil without StateDir
	resume  *Position // where to resume; nil once reached
	done    []string  // inputs acknowledged to their end in earlier runs, sorted
	emitted int64     // records handed to emit and accepted

	emitFailed bool // emit refused a record for another reason than ctx

	unreadable []*unreadableError // inputs read only in part, reported, gone past
}

// unreadableError is a file, or a member of an archive, that could not be
// read to its end: corrupt, truncated, not what its name says, or gone.
// Its lines before the fault are published; replay logs it and goes on with
// the next member or file, so one bad file holds up none behind it, and Run
// returns the list once every other line is published.
type unreadableError struct {
	where string // the file, or "file member name"
	after int64  // the last line read whole (0: none)
	err   error
}

func (u *unreadableError) Error() string {
	return fmt.Sprintf("%s: unreadable after line %d: %v", u.where, u.after, u.err)
}

func (u *unreadableError) Unwrap() error { return u.err }

// goPast records err, when it is an unreadableError, and returns nil so the
// walk goes on; any other error (the pipeline stopped, ctx ended, an
// archive changed under it) is returned.
func (r *runner) goPast(err error) error {
	var u *unreadableError
	if !errors.As(err, &u) {
		return err
	}
	r.log.Error("replay: cannot read the rest of this file; going on with the next (its lines before are published)",
		"file", u.where, "after_line", u.after, "error", u.err)
	r.unreadable = append(r.unreadable, u)
	return nil
}

// unreadableSummary is Run's error when inputs were read only in part.
func (r *runner) unreadableSummary() error {
	if len(r.unreadable) == 0 {
		return nil
	}
	const listed = 5
	var b strings.Builder
	for i, u := range r.unreadable[:min(listed, len(r.unreadable))] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(u.Error())
	}
	if n := len(r.unreadable) - listed; n > 0 {
		fmt.Fprintf(&b, "; and %d more (logged)", n)
	}
	return fmt.Errorf("replay: every other line is published, but %d file(s) could not be read to their end "+
		"(a later run with the same REPLAY_PATH resumes past them; replay a repaired copy on its own): %s", len(r.unreadable), b.String())
}

func (r *runner) run(ctx context.Context, inputs []input) error {
	for i := range inputs {
		in := &inputs[i]
		base := r.prog.read.Load()
		if _, isDone := slices.BinarySearch(r.done, in.path); isDone {
			r.prog.filesDone.Add(in.files()) // acknowledged in an earlier run
			r.prog.advanceTo(base + in.size)
			continue
		}
		var err error
		switch in.kind {
		case plainFile:
			err = r.plain(ctx, in)
		case tarArchive:
			err = r.tar(ctx, in)
		case tgzArchive:
			err = r.tgz(ctx, in)
		case zipArchive:
			err = r.zip(ctx, in)
		}
		var u *unreadableError
		if errors.As(err, &u) && r.track != nil {
			// Done once what it gave is acknowledged, though no line of
			// it may ever be: a later run goes past it, as it says.
			r.track.passed(in.path, r.emitted)
		}
		if err := r.goPast(err); err != nil {
			return err
		}
		r.prog.advanceTo(base + in.size)
	}
	return nil
}

// resumeOrder returns the inputs done before (sorted) and inputs in the
// order a run reads them: the resumed position's input first, then the
// others in name order from it, then those whose names sort before it that
// are not done, files added since (each logged). A version 1 position has
// no list: every input sorting before its input was done.
func resumeOrder(inputs []input, resume *Position, log *slog.Logger) ([]string, []input) {
	if resume == nil {
		return nil, inputs
	}
	done := resume.Done
	if resume.Legacy {
		done = nil
		for _, in := range inputs {
			if in.path < resume.Input {
				done = append(done, in.path)
			}
		}
	}
	slices.Sort(done)
	split := sort.Search(len(inputs), func(i int) bool { return inputs[i].path >= resume.Input })
	ordered := append(slices.Clone(inputs[split:]), inputs[:split]...)
	for _, in := range inputs[:split] {
		if _, isDone := slices.BinarySearch(done, in.path); !isDone {
			log.Info("replay: a file not in the saved position, before its file by name, is replayed after the others", "file", in.path, "position_file", resume.Input)
		}
	}
	return done, ordered
}

// skip says how many leading lines of a member (or plain file) an earlier
// run got acknowledged, or that it got all of them.
func (r *runner) skip(input, member string) (lines int64, whole bool) {
	p := r.resume
	if p == nil {
		return 0, false
	}
	if input != p.Input {
		// The run reads the position's input first: it is gone, or past.
		r.resume = nil
		return 0, false
	}
	c := compareMembers(member, p.Member)
	switch {
	case c < 0:
		return 0, true
	case c == 0:
		r.resume = nil
		return p.Line, false
	}
	r.resume = nil // the saved member is gone: resume at the first one after it
	return 0, false
}

func (r *runner) plain(ctx context.Context, in *input) error {
	skip, whole := r.skip(in.path, "")
	if whole {
		r.prog.filesDone.Add(1)
		return nil
	}
	f, err := os.Open(in.path)
	if err != nil {
		return &unreadableError{where: in.path, after: skip, err: err}
	}
	defer f.Close()
	fr := r.fileReader(f)
	defer fr.Close()
	err = r.lines(ctx, in.path, "", &meter{r: fr, p: r.prog, left: in.size}, skip)
	if err == nil || errors.As(err, new(*unreadableError)) {
		r.prog.filesDone.Add(1) // read, or given up on: not to be read again
	}
	return err
}

func (r *runner) tar(ctx context.Context, in *input) error {
	f, err := os.Open(in.path)
	if err != nil {
		return &unreadableError{where: in.path, err: err}
	}
	defer f.Close()
	fr := r.fileReader(f)
	defer fr.Close()
	for _, m := range in.members {
		base := r.prog.read.Load()
		if skip, whole := r.skip(in.path, m.name); !whole {
			data := io.NewSectionReader(fr, m.offset, m.size)
			if err := r.goPast(r.lines(ctx, in.path, m.name, &meter{r: data, p: r.prog, left: m.size}, skip)); err != nil {
				return err
			}
		}
		r.prog.advanceTo(base + m.size)
		r.prog.filesDone.Add(1)
	}
	return nil
}

func (r *runner) zip(ctx context.Context, in *input) error {
	f, err := os.Open(in.path)
	if err != nil {
		return &unreadableError{where: in.path, err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &unreadableError{where: in.path, err: err}
	}
	fr := r.fileReader(f)
	defer fr.Close()
	zr, err := openZip(in.path, fr, st.Size())
	if err != nil {
		return err
	}
	fr.restart() // the directory is at the end: the members are read from the start
	if len(zr.File) != in.entries {
		return fmt.Errorf("replay: %s changed while being replayed", in.path)
	}
	for _, m := range in.members {
		base := r.prog.read.Load()
		if skip, whole := r.skip(in.path, m.name); !whole {
			zf := zr.File[m.index]
			if zf.Name != m.name {
				return fmt.Errorf("replay: %s changed while being replayed", in.path)
			}
			rc, err := zf.Open()
			if err != nil {
				err = &unreadableError{where: located(in.path, m.name), after: skip, err: err}
			} else {
				err = r.lines(ctx, in.path, m.name, &meter{r: rc, p: r.prog, left: m.size}, skip)
				rc.Close()
			}
			if err := r.goPast(err); err != nil {
				return err
			}
		}
		r.prog.advanceTo(base + m.size)
		r.prog.filesDone.Add(1)
	}
	return nil
}

// tgz reads a compressed tar front to back; list checked its members are in
// order. Read bytes are counted below the decompression.
func (r *runner) tgz(ctx context.Context, in *input) error {
	f, err := os.Open(in.path)
	if err != nil {
		return &unreadableError{where: in.path, err: err}
	}
	defer f.Close()
	fr := r.fileReader(f)
	defer fr.Close()
	zr, err := gzip.NewReader(&meter{r: fr, p: r.prog, left: in.size})
	if err != nil {
		return &unreadableError{where: in.path, err: fmt.Errorf("opening gzip: %w", err)}
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	next := 0
	for {
		h, err := nextHeader(tr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The compressed stream is broken: no member after this point
			// can be found.
			return &unreadableError{where: in.path, err: err}
		}
		if ok, err := tarMember(in.path, h); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		if next >= len(in.members) || in.members[next].name != h.Name {
			return fmt.Errorf("replay: %s changed while being replayed", in.path)
		}
		next++
		if skip, whole := r.skip(in.path, h.Name); !whole {
			if err := r.goPast(r.lines(ctx, in.path, h.Name, tr, skip)); err != nil {
				return err
			}
		}
		r.prog.filesDone.Add(1)
	}
	return nil
}

// located names a stream file in messages: the input, and the member of
// an archive when there is one ("" for a plain file).
func located(input, member string) string {
	if member == "" {
		return input
	}
	return input + " member " + member
}

// lines emits the lines of one stream file after its first skip lines.
// member is "" for a plain file, else the name that picks the decompressor.
func (r *runner) lines(ctx context.Context, input, member string, raw io.Reader, skip int64) error {
	where, name := located(input, member), input
	if member != "" {
		name = member
	}
	dec, err := Decompress(name, raw)
	if err != nil {
		return &unreadableError{where: where, after: skip, err: err}
	}
	defer dec.Close()
	lines := NewLineReader(dec, r.cfg.MaxLineBytes)
	for {
		line, err := lines.Next()
		n := lines.LineNumber()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if n < skip {
					r.log.Warn("replay: the file ends before the line the saved position says was sent: it changed since; none of it was sent again (to replay it, remove "+PositionFile+" from STATE_DIR)",
						"file", where, "lines", n, "position_line", skip)
				}
				return nil
			}
			// Declared here, not for every line: its address escapes.
			var tooLong *LineTooLongError
			if errors.As(err, &tooLong) {
				if n > skip {
					r.log.Warn("replay: line too long, skipped", "file", where, "line", tooLong.Line, "bytes", tooLong.Size, "max", r.cfg.MaxLineBytes)
				}
				continue
			}
			return &unreadableError{where: where, after: n, err: err}
		}
		if n <= skip || len(line) == 0 {
			continue
		}
		if err := r.pace.wait(ctx, line); err != nil {
			return err
		}
		rec := source.Record{Value: line, From: where, Line: n}
		if r.track != nil {
			rec.Ack = func() { r.track.ack(input, member, n) }
		}
		r.prog.begin()
		if err := r.emit(ctx, rec); err != nil {
			r.emitFailed = ctx.Err() == nil
			return err
		}
		r.emitted++
		r.prog.lines.Add(1)
		r.prog.bytes.Add(int64(len(line)))
	}
}

// meter counts the bytes read from an input into the progress, at most left.
type meter struct {
	r    io.Reader
	p    *progress
	left int64
}

func (m *meter) Read(b []byte) (int, error) {
	n, err := m.r.Read(b)
	if c := min(int64(n), m.left); c > 0 {
		m.p.read.Add(c)
		m.left -= c
	}
	return n, err
}
