package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// clock is a hand-set clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// h10 is the hour the tests write in.
var h10 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// ends is Kafka as the finalizer sees it: each partition's end offset,
// starts at 0.
type ends struct {
	mu  sync.Mutex
	end []int64
}

func (e *ends) Offsets(_ context.Context, topic string) ([]int64, []int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return make([]int64, len(e.end)), slices.Clone(e.end), nil
}

func (e *ends) set(p int, end int64) { e.mu.Lock(); defer e.mu.Unlock(); e.end[p] = end }

// fixture is an archive of topic "tweets" in a folder, its partitions and
// a finalizer over it.
type fixture struct {
	t     *testing.T
	clk   *clock
	arch  *archive.Archive
	dir   string
	parts []*archive.Partition
	kafka *ends
	cfg   Config
}

func newFixture(t *testing.T, partitions int, acfg archive.Config) *fixture {
	t.Helper()
	clk := &clock{now: h10.Add(15 * time.Minute)}
	acfg.Dir, acfg.Now = t.TempDir(), clk.Now
	if acfg.RotateInterval == 0 {
		acfg.RotateInterval = 10 * time.Minute
	}
	a, err := archive.Open(acfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, clk: clk, arch: a, dir: acfg.Dir, kafka: &ends{end: make([]int64, partitions)},
		cfg: Config{Dir: acfg.Dir, Layout: acfg.Layout, Topics: []string{"tweets"}, Grace: 2 * time.Minute, Now: clk.Now}}
	for p := range partitions {
		ap, err := a.Partition(context.Background(), "tweets", p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ap.Close() })
		fx.parts = append(fx.parts, ap)
	}
	return fx
}

// write appends records from..to of partition p, timed at ts, and moves
// Kafka's end past them.
func (fx *fixture) write(p int, from, to int64, ts time.Time) {
	fx.t.Helper()
	var recs []archive.Record
	for o := from; o <= to; o++ {
		recs = append(recs, archive.Record{Offset: o, Time: ts, Value: fmt.Appendf(nil, `{"p":%d,"o":%d}`, p, o)})
	}
	if _, err := fx.parts[p].Append(recs); err != nil {
		fx.t.Fatal(err)
	}
	fx.kafka.set(p, to+1)
}

// tick lets every partition rotate files past ROTATE_INTERVAL.
func (fx *fixture) tick() {
	fx.t.Helper()
	for _, p := range fx.parts {
		if err := p.Tick(); err != nil {
			fx.t.Fatal(err)
		}
	}
}

// closedHour returns a fixture of one partition whose file of 10:00 (five
// records) is closed, hours later, and the folder of that hour.
func closedHour(t *testing.T, later time.Duration) (*fixture, string) {
	t.Helper()
	fx := newFixture(t, 1, archive.Config{})
	fx.write(0, 0, 4, h10)
	fx.clk.Set(h10.Add(later))
	fx.tick()
	return fx, filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10))
}

func (fx *fixture) finalizer() *Finalizer {
	fx.t.Helper()
	f, err := New(fx.cfg, fx.kafka, slog.New(slog.DiscardHandler))
	if err != nil {
		fx.t.Fatal(err)
	}
	return f
}

func (fx *fixture) pass(f *Finalizer) []string {
	fx.t.Helper()
	written, err := f.Pass(context.Background())
	if err != nil {
		fx.t.Fatalf("Pass: %v", err)
	}
	for i, w := range written {
		written[i], _ = filepath.Rel(fx.dir, w)
	}
	return written
}

// check reads the manifest of hour and checks it against the folder: every
// data file listed once, with its size, lines and checksum.
func (fx *fixture) check(hour time.Time) Manifest {
	fx.t.Helper()
	layout := fx.cfg.Layout
	if layout == "" {
		layout = archive.LayoutDated
	}
	dir := filepath.Join(fx.dir, layout.HourDir("tweets", hour))
	m, err := Read(filepath.Join(dir, FileName))
	if err != nil {
		fx.t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		fx.t.Fatal(err)
	}
	var names, listed []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tweets-p") {
			names = append(names, e.Name())
		}
	}
	var lines, size int64
	for _, mf := range m.Files {
		listed = append(listed, mf.Name)
		data, err := os.ReadFile(filepath.Join(dir, mf.Name))
		if err != nil {
			fx.t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); mf.SHA256 != got || mf.Bytes != int64(len(data)) {
			fx.t.Errorf("%s: manifest says %d bytes, sha256 %s; the file has %d, %s", mf.Name, mf.Bytes, mf.SHA256, len(data), got)
		}
		lines += mf.Lines
		size += mf.Bytes
	}
	slices.Sort(listed)
	if !slices.Equal(names, listed) {
		fx.t.Errorf("manifest lists %v; the folder holds %v", listed, names)
	}
	if m.Lines != lines || m.Bytes != size || m.Topic != "tweets" || !m.Hour.Equal(hour) {
		fx.t.Errorf("manifest totals %d lines, %d bytes, %s %s; want %d, %d, tweets %s", m.Lines, m.Bytes, m.Topic, m.Hour, lines, size, hour)
	}
	return m
}

// TestHourClosedWhenEveryPartitionMovedOn: the hour's manifest comes once
// every partition has moved past it, not before, and lists each file with
// its offsets and lines.
func TestHourClosedWhenEveryPartitionMovedOn(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  archive.Config
		want string
	}{
		{"dated, plain", archive.Config{}, "tweets/2026-12-02/10/_manifest.json"},
		{"dated, gzip", archive.Config{Compression: archive.CompressionGzip}, "tweets/2026-12-02/10/_manifest.json"},
		{"hive, zstd", archive.Config{Layout: archive.LayoutHive, Compression: archive.CompressionZstd}, "tweets/dt=2026-12-02/hr=10/_manifest.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, 3, tt.cfg)
			f := fx.finalizer()
			fx.write(0, 0, 9, h10.Add(5*time.Minute))
			fx.write(1, 0, 4, h10.Add(20*time.Minute))
			// Partition 2 holds nothing: it must not hold the hour back.
			if got := fx.pass(f); len(got) != 0 {
				t.Fatalf("wrote %v while both files of the hour were open", got)
			}
			fx.clk.Set(h10.Add(time.Hour + time.Minute))
			fx.write(0, 10, 11, h10.Add(time.Hour+time.Minute)) // partition 0 moves on
			if got := fx.pass(f); len(got) != 0 {
				t.Fatalf("wrote %v while partition 1's file of the hour was open", got)
			}
			fx.tick() // partition 1's file is 41 minutes old: closed
			if got := fx.pass(f); len(got) != 0 {
				t.Fatalf("wrote %v within the grace after the hour", got)
			}
			fx.clk.Add(2 * time.Minute)
			if got := fx.pass(f); !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("wrote %v; want %v", got, tt.want)
			}
			m := fx.check(h10)
			type span struct {
				p                  int
				first, last, lines int64
			}
			var got []span
			for _, mf := range m.Files {
				got = append(got, span{mf.Partition, mf.FirstOffset, mf.LastOffset, mf.Lines})
			}
			if want := []span{{0, 0, 9, 10}, {1, 0, 4, 5}}; !slices.Equal(got, want) {
				t.Errorf("files (partition, first, last, lines): got %v; want %v", got, want)
			}
			if got := fx.pass(f); len(got) != 0 {
				t.Errorf("a second pass wrote %v; want nothing", got)
			}
		})
	}
}

// TestBacklogHoldsTheHour: a partition with messages not yet archived keeps
// the hour open, however late it is.
func TestBacklogHoldsTheHour(t *testing.T) {
	fx := newFixture(t, 2, archive.Config{})
	f := fx.finalizer()
	fx.write(0, 0, 9, h10)
	fx.write(1, 0, 4, h10)
	fx.kafka.set(1, 100) // partition 1's consumer is behind
	fx.clk.Set(h10.Add(5 * time.Hour))
	fx.tick()
	if got := fx.pass(f); len(got) != 0 {
		t.Fatalf("wrote %v with partition 1 behind", got)
	}
	fx.write(1, 5, 99, h10.Add(4*time.Hour)) // caught up, in a later hour
	if got := fx.pass(f); len(got) != 1 {
		t.Fatalf("wrote %v once partition 1 moved on; want the manifest of 10:00", got)
	}
	fx.check(h10)
}

// manifestedHour returns a fixture of one partition whose hour 10:00 (one
// file of ten records) is closed and has its manifest, the finalizer that
// wrote it, and the manifest.
func manifestedHour(t *testing.T) (*fixture, *Finalizer, Manifest) {
	t.Helper()
	fx := newFixture(t, 1, archive.Config{})
	f := fx.finalizer()
	fx.write(0, 0, 9, h10.Add(10*time.Minute))
	fx.clk.Set(h10.Add(2 * time.Hour))
	fx.tick()
	if got := fx.pass(f); len(got) != 1 {
		t.Fatalf("wrote %v; want the manifest of 10:00", got)
	}
	m := fx.check(h10)
	if len(m.Files) != 1 || m.Lines != 10 {
		t.Fatalf("manifest: %d files, %d lines; want 1, 10", len(m.Files), m.Lines)
	}
	return fx, f, m
}

// TestLateFileRewritesTheManifest: a record timed in an hour already
// manifested, arriving when its partition has no open file, starts a file
// in that hour; once that file is closed the manifest is written again
// with it.
func TestLateFileRewritesTheManifest(t *testing.T) {
	fx, f, _ := manifestedHour(t)

	fx.write(0, 10, 12, h10.Add(50*time.Minute)) // late
	if got := fx.pass(f); len(got) != 0 {
		t.Fatalf("wrote %v while the late file was open", got)
	}
	if m, err := Read(filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10), FileName)); err != nil || len(m.Files) != 1 {
		t.Fatalf("manifest while the late file is open: %+v, %v; want the closed file only", m, err)
	}
	fx.clk.Add(11 * time.Minute)
	fx.tick()
	if got := fx.pass(f); len(got) != 1 {
		t.Fatalf("wrote %v once the late file closed; want the manifest of 10:00 again", got)
	}
	m := fx.check(h10)
	if len(m.Files) != 2 || m.Lines != 13 || m.Files[0].LastOffset != 9 || m.Files[1].FirstOffset != 10 || m.Files[1].LastOffset != 12 {
		t.Errorf("manifest after the late file: %+v; want two files, 0-9 and 10-12, 13 lines", m)
	}
}

// TestOpenedAgainReadsOnlyNewFiles: when an hour's manifest is written
// again (a late record's file), the files the last manifest listed at the
// size they still have are not read again: their lines and SHA-256 come
// from it. The test tells by changing a byte of the first file in place:
// the new manifest keeps the first file's digest. A file whose size
// changed is read again.
func TestOpenedAgainReadsOnlyNewFiles(t *testing.T) {
	fx, f, m := manifestedHour(t)
	first := m.Files[0]
	dir := filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10))
	path := filepath.Join(dir, first.Name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(data, []byte(`"o":0}`), []byte(`"o":7}`), 1)
	if bytes.Equal(changed, data) {
		t.Fatalf("%s holds no offset 0 to change: %q", first.Name, data)
	}
	if err := os.WriteFile(path, changed, 0o644); err != nil {
		t.Fatal(err)
	}

	fx.write(0, 10, 12, h10.Add(50*time.Minute)) // late
	fx.clk.Add(11 * time.Minute)
	fx.tick()
	if got := fx.pass(f); len(got) != 1 {
		t.Fatalf("wrote %v once the late file closed; want the manifest of 10:00 again", got)
	}
	m, err = Read(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 2 || m.Lines != 13 {
		t.Fatalf("manifest after the late file: %+v; want two files, 13 lines", m)
	}
	if got := m.Files[0]; got.SHA256 != first.SHA256 || got.Lines != first.Lines || got.Bytes != first.Bytes {
		t.Errorf("the first file was read again: %+v; want what the first manifest said, %+v", got, first)
	}
	late, err := os.ReadFile(filepath.Join(dir, m.Files[1].Name))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(late); m.Files[1].SHA256 != hex.EncodeToString(sum[:]) || m.Files[1].Lines != 3 {
		t.Errorf("the late file: %+v; want its own SHA-256 %x and 3 lines", m.Files[1], sum)
	}

	// A line added to the first file by hand: its size changed, so it is
	// read again.
	grown := append(changed, []byte("{\"added\":1}\n")...)
	if err := os.WriteFile(path, grown, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := fx.pass(f); len(got) != 1 {
		t.Fatalf("wrote %v after the first file grew; want the manifest of 10:00 again", got)
	}
	m = fx.check(h10) // every file's digest matches its bytes now
	if m.Files[0].Lines != first.Lines+1 {
		t.Errorf("the grown file: %+v; want %d lines", m.Files[0], first.Lines+1)
	}
}

// TestSeveralFinalizersWriteOneManifest: finalizers of several consumers
// sharing the folder, running at once, leave one manifest, byte for byte
// what one alone writes, and no temporary file.
func TestSeveralFinalizersWriteOneManifest(t *testing.T) {
	fx := newFixture(t, 2, archive.Config{Compression: archive.CompressionGzip})
	fx.write(0, 0, 99, h10)
	fx.write(1, 0, 49, h10.Add(59*time.Minute))
	fx.clk.Set(h10.Add(3 * time.Hour))
	fx.tick()

	alone := fx.finalizer()
	if got := fx.pass(alone); len(got) != 1 {
		t.Fatalf("wrote %v; want one manifest", got)
	}
	path := filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10), FileName)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for range 4 {
		f := fx.finalizer()
		wg.Go(func() {
			if _, err := f.Pass(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("manifest written by four at once:\n%s\nwant what one wrote:\n%s", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	fx.check(h10)
}

// TestCopiesBesideTheFilesAreNotListed: a compressed copy a user made of a
// closed file (gzip -k) is not the archive's; the manifest lists the file,
// and names like temporary files are not data.
func TestCopiesBesideTheFilesAreNotListed(t *testing.T) {
	fx := newFixture(t, 1, archive.Config{})
	fx.write(0, 0, 4, h10)
	fx.clk.Set(h10.Add(2 * time.Hour))
	fx.tick()
	dir := filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10))
	for _, name := range []string{"tweets-p0-000000000000.jsonl.gz", ".tweets-p0-000000000000.jsonl.gz.tmp", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not the archive's\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if got := fx.pass(fx.finalizer()); len(got) != 1 {
		t.Fatalf("wrote %v; want the manifest of 10:00", got)
	}
	m, err := Read(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 1 || m.Files[0].Name != "tweets-p0-000000000000.jsonl" || m.Lines != 5 {
		t.Errorf("manifest: %+v; want the plain file alone, 5 lines", m)
	}
}

// hooked is Kafka as the finalizer sees it, and the finalizer's reads of
// hour folders, running on before each Offsets call and each folder read
// with what it is ("offsets"; "readdir", and "readdir:<folder's name>" too)
// and its number (from 1): writes that land while a pass is under way.
type hooked struct {
	*ends
	calls map[string]int
	on    func(what string, n int)
}

func (h *hooked) event(what string) {
	if h.calls == nil {
		h.calls = map[string]int{}
	}
	h.calls[what]++
	if h.on != nil {
		h.on(what, h.calls[what])
	}
}

func (h *hooked) Offsets(ctx context.Context, topic string) ([]int64, []int64, error) {
	h.event("offsets")
	return h.ends.Offsets(ctx, topic)
}

func (h *hooked) readDir(dir string) ([]os.DirEntry, error) {
	h.event("readdir")
	h.event("readdir:" + filepath.Base(dir))
	return os.ReadDir(dir)
}

// hooked returns a finalizer over Kafka and the folder through h.
func (fx *fixture) hooked(h *hooked) *Finalizer {
	fx.t.Helper()
	f, err := New(fx.cfg, h, slog.New(slog.DiscardHandler))
	if err != nil {
		fx.t.Fatal(err)
	}
	f.readDir = h.readDir
	return f
}

// TestFileGrowingDuringThePassIsNotListed: a late record on an idle
// partition starts a file in an hour the pass took for closed; more
// records of that hour and one of the current hour close it while the
// pass reads the hours. The manifest written lists every file as it is,
// with its offsets, never as it was half-way.
func TestFileGrowingDuringThePassIsNotListed(t *testing.T) {
	h11 := h10.Add(time.Hour)
	late := func(fx *fixture) { fx.write(1, 5, 5, h11.Add(30*time.Minute)) }
	closing := func(fx *fixture) {
		fx.write(1, 6, 7, h11.Add(31*time.Minute))
		fx.write(1, 8, 8, fx.clk.Now())
	}
	more := func(fx *fixture) { fx.write(1, 6, 7, h11.Add(31*time.Minute)) }
	rotate := func(fx *fixture) {
		fx.clk.Add(11 * time.Minute)
		fx.tick()
	}
	appended := func(fx *fixture) {
		fh, err := os.OpenFile(filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10), "tweets-p1-000000000000.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			fx.t.Fatal(err)
		}
		defer fh.Close()
		if _, err := fh.WriteString(`{"p":1,"o":4}` + "\n"); err != nil {
			fx.t.Fatal(err)
		}
	}
	type at struct {
		what string
		n    int
	}
	for _, tt := range []struct {
		name string
		on   map[at][]func(*fixture)
		late bool // partition 1 gets a late file in 11:00
	}{
		// The file starts while 10:00 is checked and grows while 11:00 is.
		{"grows while read", map[at][]func(*fixture){{"offsets", 2}: {late}, {"offsets", 3}: {closing}}, true},
		// The file starts and closes after the pass indexed the files.
		{"starts and closes after the index", map[at][]func(*fixture){{"offsets", 2}: {late, closing}}, true},
		// The file starts after the pass read the checkpoints, before it
		// indexed the files, and ROTATE_INTERVAL closes it: the
		// partition's newest file, which the checkpoints read do not bound.
		{"starts after the checkpoints, closed by rotation", map[at][]func(*fixture){{"readdir:10", 1}: {late, more, rotate}}, true},
		// A file of 10:00 changes after it was digested, as the pass lists
		// the folder again (its third read: listed, indexed, listed again).
		{"changes after the digest", map[at][]func(*fixture){{"readdir:10", 3}: {appended}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, 2, archive.Config{})
			fx.write(0, 0, 4, h10.Add(5*time.Minute))
			fx.write(1, 0, 4, h10.Add(6*time.Minute))
			fx.clk.Set(h11.Add(5 * time.Minute))
			fx.write(0, 5, 9, h11.Add(5*time.Minute)) // partition 0 moves to 11:00
			fx.clk.Set(h11.Add(3 * time.Hour))
			fx.write(0, 10, 14, h11.Add(3*time.Hour)) // and on to 14:00; partition 1 is idle
			fx.tick()
			h := &hooked{ends: fx.kafka}
			h.on = func(what string, n int) {
				for _, w := range tt.on[at{what, n}] {
					w(fx)
				}
			}
			f := fx.hooked(h)
			fx.pass(f)
			for _, h := range []time.Time{h10, h11} {
				if _, err := os.Stat(filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h), FileName)); err == nil {
					fx.check(h)
				}
			}
			h.on = nil
			fx.clk.Add(11 * time.Minute)
			fx.tick()
			fx.pass(f)
			fx.check(h10)
			m := fx.check(h11)
			if !tt.late {
				return
			}
			// Partition 1's late file has a line for each of its offsets.
			if len(m.Files) != 2 || m.Files[1].FirstOffset != 5 || m.Files[1].LastOffset != 4+m.Files[1].Lines {
				t.Errorf("manifest of 11:00: %+v; want partition 0's file and partition 1's from 5, its last offset 4+lines", m)
			}
		})
	}
}

// TestSettledHoursAreNotReadAgain: once an hour's manifest is current, or
// its folder is empty (a retention job removed its files), later passes
// read neither it nor the other hours' folders until it changes.
func TestSettledHoursAreNotReadAgain(t *testing.T) {
	fx, _ := closedHour(t, 3*time.Hour)
	empty := filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10.Add(time.Hour)))
	if err := os.MkdirAll(empty, 0o750); err != nil {
		t.Fatal(err)
	}
	h := &hooked{ends: fx.kafka}
	f := fx.hooked(h)
	if got := fx.pass(f); len(got) != 1 {
		t.Fatalf("wrote %v; want the manifest of 10:00", got)
	}
	// The folders settle: a change in the same tick of the file system's
	// clock as the last one could not be told.
	old := time.Now().Add(-time.Hour)
	for _, hr := range []time.Time{h10, h10.Add(time.Hour)} {
		if err := os.Chtimes(filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", hr)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []int{2, 0, 0} {
		before := h.calls["readdir"]
		if got := fx.pass(f); len(got) != 0 {
			t.Fatalf("pass %d wrote %v; want nothing", i+2, got)
		}
		if got := h.calls["readdir"] - before; got != want {
			t.Errorf("pass %d read %d hour folders; want %d", i+2, got, want)
		}
	}
	fx.check(h10)

	// A file in the emptied folder is seen again.
	fx.write(0, 5, 6, h10.Add(time.Hour))
	fx.clk.Add(time.Hour)
	fx.tick()
	if got := fx.pass(f); !slices.Equal(got, []string{"tweets/2026-12-02/11/_manifest.json"}) {
		t.Errorf("wrote %v once the emptied hour got a file; want its manifest", got)
	}
}

// TestStaleTemporaryManifestsRemoved: a manifest's temporary file that a
// kill mid-write left is removed once it is old; one another writer may
// be writing now, and other names, are left alone.
func TestStaleTemporaryManifestsRemoved(t *testing.T) {
	fx, dir := closedHour(t, 2*time.Hour)
	stale, fresh := "._manifest.json.4242-0123456789abcdef.tmp", "._manifest.json.4243-fedcba9876543210.tmp"
	others := []string{"._manifest.json.tmp", "._manifest.json.4242-0123456789ABCDEF.tmp", ".tweets-p0-000000000000.jsonl.gz.tmp"}
	old := time.Now().Add(-time.Hour)
	for _, name := range append([]string{stale, fresh}, others...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"vers`), 0o640); err != nil {
			t.Fatal(err)
		}
		if name != fresh {
			if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := fx.pass(fx.finalizer()); len(got) != 1 {
		t.Fatalf("wrote %v; want the manifest of 10:00", got)
	}
	if _, err := os.Stat(filepath.Join(dir, stale)); err == nil {
		t.Errorf("%s, an hour old, is still there", stale)
	}
	for _, name := range append([]string{fresh}, others...) {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v; want it left alone", name, err)
		}
	}
	fx.check(h10)
	for range 100 {
		if name := tempName(); !isTemp(name) {
			t.Fatalf("isTemp(%q) = false for a name tempName made", name)
		}
	}
}

// TestYoungTemporaryManifestKeepsItsFolderRead: a folder holding a
// temporary manifest too young to remove (a consumer restarted right after
// a kill mid-write) is read again at later passes, so the file is removed
// once it is old, even when the folder's manifest is current.
func TestYoungTemporaryManifestKeepsItsFolderRead(t *testing.T) {
	fx, dir := closedHour(t, 2*time.Hour)
	f := fx.finalizer()
	if got := fx.pass(f); len(got) != 1 {
		t.Fatalf("wrote %v; want the manifest of 10:00", got)
	}
	tmp := filepath.Join(dir, "._manifest.json.4242-0123456789abcdef.tmp")
	if err := os.WriteFile(tmp, []byte(`{"vers`), 0o640); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil { // the folder settles
		t.Fatal(err)
	}
	if got := fx.pass(f); len(got) != 0 {
		t.Fatalf("wrote %v; want nothing", got)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("the young temporary file: %v; want it left while young", err)
	}
	if err := os.Chtimes(tmp, old, old); err != nil { // it ages; the folder does not change
		t.Fatal(err)
	}
	fx.pass(f)
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("%s is still there once old", filepath.Base(tmp))
	}
	fx.check(h10)
}

// TestRunMakesAPassWhenStopped: the hours closed just before the consumer
// stops get their manifests then, not at the next start (a replay's make
// run stopped the consumer a second after its end, before the next pass).
func TestRunMakesAPassWhenStopped(t *testing.T) {
	fx := newFixture(t, 1, archive.Config{})
	fx.cfg.Interval = time.Hour // no pass but the first and the last
	f := fx.finalizer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	time.Sleep(300 * time.Millisecond) // the first pass: nothing closed yet
	fx.write(0, 0, 4, h10)
	fx.clk.Set(h10.Add(3 * time.Hour))
	fx.tick()
	if _, err := os.Stat(filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10), FileName)); err == nil {
		t.Fatal("a manifest before the stop: the first pass came after the writes")
	}
	cancel()
	<-done
	fx.check(h10)
}

// TestUnreadableFileHoldsBackOnlyItsHour: a data file that cannot be read
// to its end (cut short, corrupt) keeps its own hour without a manifest
// and no other: the later hour gets its manifest in the same pass, which
// reports the file, logged once as an error naming it. The hour is not
// read again while the file and its folder are unchanged, and gets its
// manifest once the file is mended.
func TestUnreadableFileHoldsBackOnlyItsHour(t *testing.T) {
	h11 := h10.Add(time.Hour)
	fx := newFixture(t, 1, archive.Config{Compression: archive.CompressionGzip})
	fx.write(0, 0, 4, h10)
	fx.clk.Set(h11.Add(15 * time.Minute))
	fx.tick()
	fx.write(0, 5, 9, h11)
	fx.clk.Set(h10.Add(5 * time.Hour))
	fx.tick()
	dir10 := filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h10))
	bad := filepath.Join(dir10, "tweets-p0-000000000000.jsonl.gz")
	whole, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, whole[:len(whole)/2], 0o640); err != nil {
		t.Fatal(err)
	}
	// The folders and the file settle: a change in the same tick of the
	// file system's clock as the last one could not be told.
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{bad, dir10, filepath.Join(fx.dir, archive.LayoutDated.HourDir("tweets", h11))} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	var logs bytes.Buffer
	h := &hooked{ends: fx.kafka}
	f, err := New(fx.cfg, h, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.readDir = h.readDir
	written, err := f.Pass(context.Background())
	if err == nil || !strings.Contains(err.Error(), "hour 2026-12-02T10: reading tweets-p0-000000000000.jsonl.gz") {
		t.Errorf("Pass returned %v; want the error of 10:00's file", err)
	}
	if len(written) != 1 || !strings.HasSuffix(written[0], filepath.Join("11", FileName)) {
		t.Fatalf("wrote %v; want the manifest of 11:00, past the unreadable hour", written)
	}
	fx.check(h11)
	if _, err := os.Stat(filepath.Join(dir10, FileName)); err == nil {
		t.Errorf("10:00 got a manifest from a file cut short")
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), bad) {
		t.Errorf("logged %d errors; want one naming %s:\n%s", n, bad, logs.String())
	}

	// The hour, unchanged, is neither read again nor reported again.
	reads := h.calls["readdir:10"]
	for i := range 2 {
		if written, err := f.Pass(context.Background()); err != nil || len(written) != 0 {
			t.Fatalf("pass %d: wrote %v, %v; want nothing and no error", i+2, written, err)
		}
	}
	if got := h.calls["readdir:10"] - reads; got != 0 {
		t.Errorf("the unchanged unreadable hour was read %d times again; want 0", got)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("logged %d errors after the passes that left the hour alone; want still 1", n)
	}

	// Mended in place (a copy written over it): the folder does not
	// change, the file does.
	if err := os.WriteFile(bad, whole, 0o640); err != nil {
		t.Fatal(err)
	}
	written, err = f.Pass(context.Background())
	if err != nil || len(written) != 1 || !strings.HasSuffix(written[0], filepath.Join("10", FileName)) {
		t.Fatalf("once the file was mended: wrote %v, %v; want the manifest of 10:00", written, err)
	}
	fx.check(h10)
}

// offsetsAway answers Kafka's offsets answers times, then fails as Kafka
// gone would.
type offsetsAway struct {
	*hooked
	answers int
}

func (o *offsetsAway) Offsets(ctx context.Context, topic string) ([]int64, []int64, error) {
	o.event("offsets")
	if o.calls["offsets"] > o.answers {
		return nil, nil, errors.New("kafka away")
	}
	return o.ends.Offsets(ctx, topic)
}

// TestKafkaAwayStopsThePass: an error that is not an hour's own files
// (Kafka gone mid-pass) would fail every later hour too, each after its
// own wait: the pass stops at it and reports it, and the next pass goes on.
func TestKafkaAwayStopsThePass(t *testing.T) {
	fx := newFixture(t, 1, archive.Config{})
	for i := range 6 {
		h := h10.Add(time.Duration(i) * time.Hour)
		fx.clk.Set(h.Add(15 * time.Minute))
		fx.write(0, int64(i*5), int64(i*5+4), h)
		fx.tick()
	}
	fx.clk.Set(h10.Add(10 * time.Hour))
	fx.tick()
	o := &offsetsAway{hooked: &hooked{ends: fx.kafka}, answers: 2}
	f, err := New(fx.cfg, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	written, err := f.Pass(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kafka away") {
		t.Errorf("Pass returned %v; want Kafka's error", err)
	}
	if got := o.calls["offsets"]; got != 3 {
		t.Errorf("Kafka was asked %d times; want 3 (the pass stops at the first failure)", got)
	}
	if len(written) > 1 {
		t.Errorf("wrote %v; want at most the hour before Kafka went away", written)
	}
	o.answers = 1 << 30
	if more, err := f.Pass(context.Background()); err != nil || len(written)+len(more) != 6 {
		t.Errorf("the next pass wrote %v, %v; want the other hours' manifests (6 in all)", more, err)
	}
}
