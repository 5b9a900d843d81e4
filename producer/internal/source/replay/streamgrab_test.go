package replay

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// grab is a Stream Grab archive's minute files, in time order, and every
// line they hold, in that order.
type grab struct {
	members   []grabMember
	want      []string
	lastLines int   // lines in the last member
	kills     []int // acks after which TestStreamGrabKilledAndResumed kills the replay
}

// grabMember is one minute file of a Stream Grab archive, as stored.
type grabMember struct {
	name string // YYYY/MM/DD/HH/MM.json.bz2 or .json.gz
	data []byte
}

// eachGrab runs f on the project's payloads, and on the shared real
// captures where they are (skipped where missing, failing if CI=true).
func eachGrab(t *testing.T, f func(t *testing.T, g grab)) {
	t.Run("testdata", func(t *testing.T) {
		// Kill points: the first line, inside a member, at the boundary
		// between the 2010 .json.gz and the 2021 .json.bz2 members, inside
		// a .json.bz2, inside the last member with fewer than 5 lines left,
		// and the very end.
		f(t, streamGrab(t, corpus.Path(t, "v1.1/legacy-2010.json"), "2010/04/19/17", corpus.Path(t, "v1.1/sample.jsonl"),
			"sample", []string{"2021/06/01/06/30", "2021/06/01/06/31", "2021/06/01/06/32", "2021/06/01/06/33"}, []int{1, 4, 10, 17, 20, 22}))
	})
	t.Run("shared", func(t *testing.T) {
		dir := corpus.Shared(t)
		f(t, streamGrab(t, filepath.Join(dir, "ast", "test.json"), "2010/04/19/17", filepath.Join(dir, "python-twitter", "lines.json"),
			"lines", []string{"2018/03/10/14/58", "2018/03/10/14/59", "2018/03/10/15/00", "2018/03/10/15/01"}, []int{1, 37, 100, 130, 170, 172}))
	})
}

// streamGrab splits two files into Stream Grab minute files, in time order:
// legacy (CRLF lines, 2010) in four .json.gz parts built here, named from
// minute 52 of hour, and modern in the four .json.bz2 parts
// testdata/streamgrab/<bz2>-0..3.json.bz2, named minutes. want is every
// line of both, in that order.
func streamGrab(t *testing.T, legacy, hour, modern, bz2 string, minutes []string, kills []int) grab {
	t.Helper()
	data, err := os.ReadFile(legacy)
	if err != nil {
		t.Fatal(err)
	}
	legacyLines := strings.SplitAfter(string(data), "\n")
	if legacyLines[len(legacyLines)-1] == "" {
		legacyLines = legacyLines[:len(legacyLines)-1]
	}
	g := grab{kills: kills}
	per := (len(legacyLines) + 3) / 4
	for i := range 4 {
		part := strings.Join(legacyLines[min(i*per, len(legacyLines)):min((i+1)*per, len(legacyLines))], "")
		if part == "" {
			t.Fatalf("%s has %d lines: too few for four parts", legacy, len(legacyLines))
		}
		g.members = append(g.members, grabMember{fmt.Sprintf("%s/%02d.json.gz", hour, 52+i), gz(t, []byte(part))})
	}

	var plain bytes.Buffer
	for i, name := range minutes {
		file := filepath.Join("testdata", "streamgrab", fmt.Sprintf("%s-%d.json.bz2", bz2, i))
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := plain.Len()
		if _, err := io.Copy(&plain, bzip2.NewReader(bytes.NewReader(data))); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		g.lastLines = bytes.Count(plain.Bytes()[n:], []byte("\n"))
		g.members = append(g.members, grabMember{name + ".json.bz2", data})
	}
	if lines, err := os.ReadFile(modern); err != nil || !bytes.Equal(plain.Bytes(), lines) {
		t.Fatalf("testdata/streamgrab/%s-*.json.bz2 no longer add up to %s (%v): remake them (see README.md there)", bz2, modern, err)
	}

	for _, l := range legacyLines {
		g.want = append(g.want, strings.TrimRight(l, "\r\n"))
	}
	g.want = append(g.want, strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n")...)
	if last := g.kills[len(g.kills)-1]; last != len(g.want) {
		t.Fatalf("the last kill point is %d; want the end, %d", last, len(g.want))
	}
	return g
}

// shuffled is the order members are added to the archives: not time order.
var shuffled = []int{5, 0, 7, 2, 6, 1, 4, 3}

// noise are entries a real archive may hold besides the minute files; the
// replay must pass over them (the AppleDouble one is not even gzip).
var noise = []grabMember{
	{"README.txt", []byte("Twitter Stream Grab\n")},
	{"2010/04/19/17/._52.json.gz", []byte("AppleDouble junk")},
}

func writeTar(t *testing.T, w io.Writer, prefix string, members []grabMember, order []int) {
	t.Helper()
	tw := tar.NewWriter(w)
	add := func(m grabMember) {
		if err := tw.WriteHeader(&tar.Header{Name: prefix + m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: prefix + "2010/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		t.Fatal(err)
	}
	add(noise[0])
	for _, i := range order {
		add(members[i])
	}
	add(noise[1])
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func tarFile(t *testing.T, path, prefix string, members []grabMember, order []int) {
	t.Helper()
	var b bytes.Buffer
	writeTar(t, &b, prefix, members, order)
	write(t, path, b.Bytes())
}

func tgzFile(t *testing.T, path, prefix string, members []grabMember, order []int) {
	t.Helper()
	var b bytes.Buffer
	writeTar(t, &b, prefix, members, order)
	write(t, path, gz(t, b.Bytes()))
}

// zipFile stores the members as the Internet Archive does, but deflates one
// to cover both methods.
func zipFile(t *testing.T, path, prefix string, members []grabMember, order []int) {
	t.Helper()
	var b bytes.Buffer
	writeZip(t, &b, prefix, members, order)
	write(t, path, b.Bytes())
}

// writeZip writes zipFile's archive to w.
func writeZip(t *testing.T, w io.Writer, prefix string, members []grabMember, order []int) {
	t.Helper()
	zw := zip.NewWriter(w)
	add := func(m grabMember, method uint16) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + m.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	add(noise[0], zip.Deflate)
	for n, i := range order {
		method := zip.Store
		if n == 1 {
			method = zip.Deflate
		}
		add(members[i], method)
	}
	add(noise[1], zip.Store)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// pipeline stands in for the publisher: it holds up to 5 emitted records
// (PendingMax) and acknowledges them in order, like Kafka would. After
// ackLimit acks (-1: no limit) it stops acknowledging, waits until it holds
// holdAtKill more records and calls kill: those were sent but never
// acknowledged.
type pipeline struct {
	ackLimit   int
	holdAtKill int
	kill       func()
	release    chan struct{} // when not nil, no ack before it is closed

	queue chan source.Record
	done  chan struct{}

	mu      sync.Mutex
	emitted []string
	acked   []string
}

func newPipeline(ackLimit int, kill func()) *pipeline {
	p := &pipeline{ackLimit: ackLimit, kill: kill, queue: make(chan source.Record, 5), done: make(chan struct{})}
	return p
}

func (p *pipeline) start() {
	go func() {
		defer close(p.done)
		if p.release != nil {
			<-p.release
		}
		for r := range p.queue {
			p.mu.Lock()
			p.acked = append(p.acked, string(r.Value))
			n := len(p.acked)
			p.mu.Unlock()
			if r.Ack == nil {
				panic("record without Ack while STATE_DIR is set")
			}
			r.Ack()
			if n == p.ackLimit {
				for len(p.queue) < p.holdAtKill {
					time.Sleep(time.Millisecond)
				}
				p.kill()
				return
			}
		}
	}()
}

func (p *pipeline) emit(ctx context.Context, r source.Record) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	select {
	case p.queue <- r:
		p.mu.Lock()
		p.emitted = append(p.emitted, string(r.Value))
		p.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the acknowledging goroutine once Run returned.
func (p *pipeline) stop() ([]string, []string) {
	close(p.queue)
	<-p.done
	for range p.queue { // left unacknowledged by a kill
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.emitted, p.acked
}

// replayRun runs a replay with the pipeline, killed after ackLimit acks
// with hold records sent and not acknowledged.
func replayRun(t *testing.T, cfg Config, ackLimit, hold int) (emitted, acked []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPipeline(ackLimit, cancel)
	p.holdAtKill = hold
	p.start()
	if err := New(cfg, quiet()).Run(ctx, p.emit); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return p.stop()
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d lines; want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: line %d = %.60q; want %.60q", what, i, got[i], want[i])
		}
	}
}

// TestStreamGrabKilledAndResumed is issue 7's test: a tar (under a top-level
// folder), a zip and a .tar.gz in the Stream Grab layout, their minute files
// added out of time order, replayed, killed after some acks with records
// sent but not acknowledged, and restarted with the same STATE_DIR. Over both
// runs Kafka acknowledges every line exactly once, in time order; the
// restart sends exactly what was not acknowledged; a third run sends nothing.
func TestStreamGrabKilledAndResumed(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members, want := g.members, g.want
		inOrder := []int{0, 1, 2, 3, 4, 5, 6, 7}
		archives := []struct {
			name  string
			build func(t *testing.T, path string)
		}{
			{"archiveteam-twitter-stream-2018-03.tar", func(t *testing.T, p string) {
				tarFile(t, p, "archiveteam-twitter-stream-2018-03/", members, shuffled)
			}},
			{"twitter-stream.zip", func(t *testing.T, p string) { zipFile(t, p, "", members, shuffled) }},
			{"twitter-stream.tar.gz", func(t *testing.T, p string) { tgzFile(t, p, "stream/", members, inOrder) }},
		}
		for _, a := range archives {
			for _, kill := range g.kills {
				t.Run(fmt.Sprintf("%s/killed after %d acks", a.name, kill), func(t *testing.T) {
					t.Parallel()
					path := filepath.Join(t.TempDir(), a.name)
					a.build(t, path)
					cfg := Config{Path: path, StateDir: filepath.Join(t.TempDir(), "state"), DrainTimeout: 20 * time.Millisecond}

					hold := min(5, len(want)-kill)
					emitted1, acked1 := replayRun(t, cfg, kill, hold)
					sameLines(t, "first run, acknowledged", acked1, want[:kill])
					sameLines(t, "first run, emitted", emitted1, want[:kill+hold])

					emitted2, acked2 := replayRun(t, cfg, -1, 0)
					sameLines(t, "second run, emitted", emitted2, want[kill:])
					sameLines(t, "both runs, acknowledged", append(acked1, acked2...), want)

					if emitted3, _ := replayRun(t, cfg, -1, 0); len(emitted3) != 0 {
						t.Fatalf("third run emitted %d lines; want 0: all were acknowledged", len(emitted3))
					}
				})
			}
		}
	})
}

// TestStopWaitsForAcknowledgements: records sent before a stop and
// acknowledged while Run drains are in the saved position, so the restart
// does not send them again.
func TestStopWaitsForAcknowledgements(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members, want := g.members, g.want
		path := filepath.Join(t.TempDir(), "grab.tar")
		tarFile(t, path, "", members, shuffled)
		cfg := Config{Path: path, StateDir: t.TempDir(), DrainTimeout: 10 * time.Second}

		ctx, cancel := context.WithCancel(context.Background())
		p := newPipeline(-1, nil)
		p.release = make(chan struct{})
		p.start()
		var once sync.Once
		emit := func(ctx context.Context, r source.Record) error {
			err := p.emit(ctx, r)
			if err == nil && r.Ack != nil {
				p.mu.Lock()
				n := len(p.emitted)
				p.mu.Unlock()
				if n == 3 {
					once.Do(func() {
						cancel() // a stop with 3 records sent, none acknowledged yet
						time.AfterFunc(50*time.Millisecond, func() { close(p.release) })
					})
				}
			}
			return err
		}
		began := time.Now()
		if err := New(cfg, quiet()).Run(ctx, emit); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d < 50*time.Millisecond {
			t.Fatalf("Run returned after %s, before the acknowledgements came", d)
		}
		emitted1, acked1 := p.stop()
		sameLines(t, "acknowledged while draining", acked1, emitted1)

		emitted2, _ := replayRun(t, cfg, -1, 0)
		sameLines(t, "after the restart", emitted2, want[len(acked1):])
	})
}

// TestResumeOnlyForTheSameReplayPath: a position saved for another
// REPLAY_PATH is not applied; the replay starts over and replaces it.
func TestResumeOnlyForTheSameReplayPath(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members, want := g.members, g.want
		dir := t.TempDir()
		path := filepath.Join(dir, "grab.zip")
		zipFile(t, path, "", members, shuffled)
		state := t.TempDir()
		other := Position{Path: filepath.Join(dir, "other.tar"), Input: path, Member: members[7].name, Line: 3}
		write(t, filepath.Join(state, PositionFile), EncodePosition(other))

		emitted, _ := replayRun(t, Config{Path: path, StateDir: state}, -1, 0)
		sameLines(t, "emitted", emitted, want)
		got, err := loadPosition(state)
		if err != nil {
			t.Fatal(err)
		}
		wantPos := Position{Path: path, Input: path, Member: members[7].name, Line: int64(g.lastLines)}
		if !reflect.DeepEqual(*got, wantPos) {
			t.Fatalf("saved position %+v; want %+v", *got, wantPos)
		}
	})
}

// TestOtherReplayPathWarned: starting over because REPLAY_PATH changed
// sends everything again, which the consumer's dedup window covers only in
// part: a warning says so, not an INFO line.
func TestOtherReplayPathWarned(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir, "a.jsonl"), []byte("{\"n\":1}\n"))
	write(t, filepath.Join(state, PositionFile), EncodePosition(Position{Path: filepath.Join(dir, "a.jsonl"), Input: filepath.Join(dir, "a.jsonl"), Line: 1}))
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPipeline(-1, cancel)
	p.start()
	if err := New(Config{Path: dir, StateDir: state}, slog.New(slog.NewTextHandler(&logs, nil))).Run(ctx, p.emit); err != nil {
		t.Fatalf("Run: %v", err)
	}
	emitted, _ := p.stop()
	sameLines(t, "emitted", emitted, []string{`{"n":1}`})
	if !strings.Contains(logs.String(), `level=WARN msg="replay: the saved position is for another REPLAY_PATH`) {
		t.Errorf("logged:\n%s\nwant a WARN that the saved position is for another REPLAY_PATH", logs.String())
	}
}

// TestFileAddedBeforePositionReplayed: a file added to the folder after a
// replay, whose name sorts before the saved position's file, is replayed by
// the next run (after the others), once; so is one sorting after it. A
// version 1 position, which had no list of done files, keeps its meaning:
// every file before its own was done.
func TestFileAddedBeforePositionReplayed(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir, "2018-03.jsonl"), []byte("{\"n\":\"b1\"}\n{\"n\":\"b2\"}\n{\"n\":\"b3\"}\n"))
	cfg := Config{Path: dir, StateDir: state}
	emitted, _ := replayRun(t, cfg, -1, 0)
	sameLines(t, "first run", emitted, []string{`{"n":"b1"}`, `{"n":"b2"}`, `{"n":"b3"}`})

	write(t, filepath.Join(dir, "2017-12.jsonl"), []byte("{\"n\":\"a1\"}\n{\"n\":\"a2\"}\n"))
	emitted, _ = replayRun(t, cfg, -1, 0)
	sameLines(t, "a file added before the position", emitted, []string{`{"n":"a1"}`, `{"n":"a2"}`})
	emitted, _ = replayRun(t, cfg, -1, 0)
	sameLines(t, "nothing new", emitted, nil)

	write(t, filepath.Join(dir, "2018-04.jsonl"), []byte("{\"n\":\"c1\"}\n"))
	emitted, _ = replayRun(t, cfg, -1, 0)
	sameLines(t, "a file added after", emitted, []string{`{"n":"c1"}`})

	// Version 1: 2018-03.jsonl at line 3, no list; 2017-12.jsonl sorts
	// before it, so it was done.
	write(t, filepath.Join(state, PositionFile), []byte(`{"version":1,"replay_path":"`+dir+`","input":"`+filepath.Join(dir, "2018-03.jsonl")+`","member":"","line":3}`))
	emitted, _ = replayRun(t, cfg, -1, 0)
	sameLines(t, "version 1 position", emitted, []string{`{"n":"c1"}`})
	got, err := loadPosition(state)
	if err != nil {
		t.Fatal(err)
	}
	want := Position{Path: dir, Input: filepath.Join(dir, "2018-04.jsonl"), Line: 1, Done: []string{filepath.Join(dir, "2017-12.jsonl"), filepath.Join(dir, "2018-03.jsonl")}}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("saved position %+v; want %+v", *got, want)
	}
}

// TestUnreadableFileGonePastForGood: a file that cannot be read from its
// first line (no line of it is ever acknowledged) is gone past by the run
// that meets it, which says so and fails, and by the later runs, which do
// not read it again: they took it for undone and failed every time.
func TestUnreadableFileGonePastForGood(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir, "a.jsonl"), []byte("{\"n\":\"a1\"}\n"))
	write(t, filepath.Join(dir, "b.jsonl.gz"), []byte("this is not gzip"))
	write(t, filepath.Join(dir, "c.jsonl"), []byte("{\"n\":\"c1\"}\n"))
	cfg := Config{Path: dir, StateDir: state}
	run := func() ([]string, error) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := newPipeline(-1, cancel)
		p.start()
		err := New(cfg, quiet()).Run(ctx, p.emit)
		emitted, _ := p.stop()
		return emitted, err
	}
	emitted, err := run()
	if err == nil || !strings.Contains(err.Error(), "b.jsonl.gz") {
		t.Fatalf("first run: %v; want an error naming b.jsonl.gz", err)
	}
	sameLines(t, "first run", emitted, []string{`{"n":"a1"}`, `{"n":"c1"}`})
	for i := range 2 {
		emitted, err = run()
		if err != nil {
			t.Fatalf("run %d: %v; want none: the unreadable file was gone past", i+2, err)
		}
		sameLines(t, "a later run", emitted, nil)
	}
}

// TestArchiveRemovedBeforeItsTurnGonePast: an archive listed at the start
// and gone by its turn (removed, or moved away) is unreadable like any
// other file: the run says so, naming it, goes on to the files after it
// and fails at the end. A .zip stopped the run there.
func TestArchiveRemovedBeforeItsTurnGonePast(t *testing.T) {
	members := []grabMember{{"2018/03/10/14/58.json.gz", gz(t, []byte("{\"n\":\"b1\"}\n"))}}
	for _, kind := range []string{"tar", "zip"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a.jsonl"), []byte("{\"n\":\"a1\"}\n"))
			archive := filepath.Join(dir, "b."+kind)
			if kind == "tar" {
				tarFile(t, archive, "", members, []int{0})
			} else {
				zipFile(t, archive, "", members, []int{0})
			}
			write(t, filepath.Join(dir, "c.jsonl"), []byte("{\"n\":\"c1\"}\n"))
			var emitted []string
			err := New(Config{Path: dir}, quiet()).Run(context.Background(), func(_ context.Context, r source.Record) error {
				if len(emitted) == 0 {
					if err := os.Remove(archive); err != nil {
						t.Fatal(err)
					}
				}
				emitted = append(emitted, string(r.Value))
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), archive) {
				t.Fatalf("Run: %v; want an error naming %s", err, archive)
			}
			sameLines(t, "the files around the removed "+kind, emitted, []string{`{"n":"a1"}`, `{"n":"c1"}`})
		})
	}
}

// TestShorterFileThanPositionWarned: a file that ends before the saved
// position's line (replaced since under the same name) sends nothing, as
// the position says, and a warning names it.
func TestShorterFileThanPositionWarned(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "2018-03.jsonl")
	write(t, path, []byte("{\"n\":1}\n{\"n\":2}\n"))
	write(t, filepath.Join(state, PositionFile), EncodePosition(Position{Path: path, Input: path, Line: 5}))
	var logs bytes.Buffer
	err := New(Config{Path: path, StateDir: state}, slog.New(slog.NewTextHandler(&logs, nil))).Run(context.Background(), func(context.Context, source.Record) error {
		t.Error("a line was sent again")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"replay: the file ends before the line the saved position says was sent") ||
		!strings.Contains(logs.String(), "file="+path+" lines=2 position_line=5") {
		t.Fatalf("logs:\n%s\nwant a warning naming %s, its 2 lines and the position's line 5", logs.String(), path)
	}
}

// TestMixedInputsInNameOrder: a directory with archives and a plain file is
// replayed input by input in name order, each archive in time order.
func TestMixedInputsInNameOrder(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members, want := g.members, g.want
		dir := t.TempDir()
		tarFile(t, filepath.Join(dir, "a-2010.tar"), "", members[:4], []int{3, 1, 0, 2})
		zipFile(t, filepath.Join(dir, "b-2018.zip"), "x/", members[4:], []int{2, 3, 0, 1})
		write(t, filepath.Join(dir, "c-extra.jsonl"), []byte("{\"n\":1}\n"))
		write(t, filepath.Join(dir, "notes.txt"), []byte("skipped\n"))

		for _, path := range []string{dir, filepath.Join(dir, "*")} {
			got := collect(t, New(Config{Path: path}, quiet()))
			sameLines(t, path, got, append(append([]string(nil), want...), `{"n":1}`))
		}
	})
}

// TestCompressedTarOutOfOrder: a .tar.gz can only be read front to back, so
// one whose members are not in time order is refused before anything is
// sent, with a message saying what to do.
func TestCompressedTarOutOfOrder(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members := g.members
		path := filepath.Join(t.TempDir(), "grab.tgz")
		tgzFile(t, path, "", members, shuffled)
		n := 0
		err := New(Config{Path: path}, quiet()).Run(context.Background(), func(context.Context, source.Record) error {
			n++
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "gunzip") || n != 0 {
			t.Fatalf("Run = %v after %d records; want an error naming %s and saying gunzip, before any record", err, n, path)
		}
	})
}

// TestCorruptMemberNamesIt: a damaged minute file fails with the archive and
// the member in the message.
func TestCorruptMemberNamesIt(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members := g.members
		bad := append([]grabMember(nil), members...)
		bad[2].data = []byte("not gzip at all")
		for _, name := range []string{"grab.tar", "grab.zip"} {
			path := filepath.Join(t.TempDir(), name)
			if strings.HasSuffix(name, ".tar") {
				tarFile(t, path, "", bad, shuffled)
			} else {
				zipFile(t, path, "", bad, shuffled)
			}
			err := New(Config{Path: path}, quiet()).Run(context.Background(), func(context.Context, source.Record) error { return nil })
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), members[2].name) {
				t.Errorf("%s: err = %v; want one naming the archive and %s", name, err, members[2].name)
			}
		}
	})
}

// TestTruncatedTarFailsAtStart: a cut-off download is found while listing,
// before any record is sent.
func TestTruncatedTarFailsAtStart(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members := g.members
		var b bytes.Buffer
		writeTar(t, &b, "", members, shuffled)
		path := filepath.Join(t.TempDir(), "grab.tar")
		write(t, path, b.Bytes()[:b.Len()/2])
		n := 0
		err := New(Config{Path: path}, quiet()).Run(context.Background(), func(context.Context, source.Record) error {
			n++
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), path) || n != 0 {
			t.Fatalf("Run = %v after %d records; want an error naming %s before any record", err, n, path)
		}
	})
}

// TestBadStateDir: an unusable STATE_DIR or a corrupt position fails at start
// with the file in the message.
func TestBadStateDir(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), []byte("{}\n"))
	notDir := filepath.Join(dir, "file")
	write(t, notDir, nil)
	corrupt := t.TempDir()
	write(t, filepath.Join(corrupt, PositionFile), []byte(`{"version":1,"replay_path":"x","input":"y","line":"3"}`))
	for _, tt := range []struct {
		name, state, want string
	}{
		{"not a directory", filepath.Join(notDir, "state"), "STATE_DIR"},
		{"corrupt position", corrupt, filepath.Join(corrupt, PositionFile)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := New(Config{Path: dir, StateDir: tt.state}, quiet()).Run(context.Background(), func(context.Context, source.Record) error {
				n++
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) || n != 0 {
				t.Fatalf("Run = %v after %d records; want an error containing %q before any record", err, n, tt.want)
			}
		})
	}
}

// TestPipelineStopped: when emit fails for another reason than a stop, Run
// returns that error and does not wait for acknowledgements.
func TestPipelineStopped(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), []byte("{\"n\":1}\n{\"n\":2}\n"))
	closed := errors.New("publisher closed")
	calls := 0
	began := time.Now()
	err := New(Config{Path: dir, StateDir: t.TempDir(), DrainTimeout: time.Minute}, quiet()).Run(context.Background(),
		func(context.Context, source.Record) error {
			calls++
			if calls == 2 {
				return closed
			}
			return nil
		})
	if !errors.Is(err, closed) {
		t.Fatalf("Run = %v; want %v", err, closed)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("Run took %s: it waited for acknowledgements that cannot come", d)
	}
}
