package archive

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// clock is a hand-set clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *clock { return &clock{now: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// t0 is the default test time: well inside an hour.
func t0() time.Time { return time.Date(2024, 3, 9, 10, 15, 0, 0, time.UTC) }

// rotations records OnRotate calls.
type rotations struct {
	mu    sync.Mutex
	paths []string
}

func (r *rotations) add(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = append(r.paths, path)
}

func (r *rotations) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

// testArchive opens an archive in a new temporary directory. cfg.Dir is
// set if empty; cfg.Now defaults to a clock at t0.
func testArchive(t testing.TB, cfg Config) *Archive {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Now == nil {
		cfg.Now = newClock(t0()).Now
	}
	a, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return a
}

// openPartition opens a partition and closes it when the test ends.
func openPartition(t testing.TB, a *Archive, topic string, partition int) *Partition {
	t.Helper()
	p, err := a.Partition(context.Background(), topic, partition)
	if err != nil {
		t.Fatalf("Partition(%s, %d): %v", topic, partition, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// value is the test value of offset n.
func value(n int64) string { return fmt.Sprintf(`{"n":%d}`, n) }

// recs returns records for offsets from..to inclusive, all at time ts.
func recs(from, to int64, ts time.Time) []Record {
	var rs []Record
	for o := from; o <= to; o++ {
		rs = append(rs, Record{Offset: o, Time: ts, Value: []byte(value(o))})
	}
	return rs
}

// values returns the test values of offsets from..to inclusive.
func values(from, to int64) []string {
	var vs []string
	for o := from; o <= to; o++ {
		vs = append(vs, value(o))
	}
	return vs
}

func mustAppend(t testing.TB, p *Partition, rs []Record) Result {
	t.Helper()
	res, err := p.Append(rs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// writeInFolder stands for a consumer that archived to the folder dir
// alone, before it was switched to a bucket: it takes the records first to
// last of the hour t0 into tweets-0 and stops, its file left open (the
// loop committed last+1 to Kafka).
func writeInFolder(t testing.TB, dir string, clk *clock, compression string, first, last int64) {
	t.Helper()
	p := openPartition(t, testArchive(t, Config{Dir: dir, Now: clk.Now, Compression: compression}), "tweets", 0)
	mustAppend(t, p, recs(first, last, t0()))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// uploadOnAnotherHost stands for another consumer that owns the partition
// meanwhile: archive a (its own staging folder, the shared bucket) takes
// the records first to last of the hour t0, the clock moves a minute so
// the file closes on the rotation interval and is uploaded, and the
// partition is closed.
func uploadOnAnotherHost(t testing.TB, a *Archive, clk *clock, first, last int64) {
	t.Helper()
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(first, last, t0()))
	clk.Set(t0().Add(time.Minute))
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// readLines returns the lines of a data file, decompressing by extension.
// Each line must end with \n.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	switch filepath.Ext(path) {
	case ".gz":
		zr, err := gzip.NewReader(f) // the standard library reads what klauspost writes
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		r = zr
	case ".zst":
		zr, err := zstd.NewReader(f)
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: %q", path, data[max(0, len(data)-40):])
	}
	return strings.Split(string(data[:len(data)-1]), "\n")
}

// dataFiles returns the data files of topic, relative to dir, sorted.
func dataFiles(t testing.TB, dir, topic string) []string {
	t.Helper()
	var files []string
	root := filepath.Join(dir, topic)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// deadLetters returns the lines of every dead-letter file of topic, files
// in path order (so in offset order).
func deadLetters(t testing.TB, dir, topic string) []string {
	t.Helper()
	var lines []string
	for _, f := range dataFiles(t, filepath.Join(dir, deadLetterDirName), topic) {
		lines = append(lines, readLines(t, filepath.Join(dir, deadLetterDirName, f))...)
	}
	return lines
}

// allLines returns the lines of every data file of topic, files in path
// order.
func allLines(t testing.TB, dir, topic string) []string {
	t.Helper()
	var lines []string
	for _, f := range dataFiles(t, dir, topic) {
		lines = append(lines, readLines(t, filepath.Join(dir, f))...)
	}
	return lines
}

// appendBytes appends raw bytes to a file, as a crash after a write and
// before a checkpoint leaves them.
func appendBytes(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readCheckpointJSON returns the checkpoint of tweets partition 0 in dir as
// JSON: its checkpoint file's newest valid slot.
func readCheckpointJSON(t testing.TB, dir string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, slotsPath("tweets", 0)))
	if err != nil {
		t.Fatal(err)
	}
	js, _, _, ok := decodeSlots(data)
	if !ok {
		t.Fatalf("%s holds no valid checkpoint", slotsPath("tweets", 0))
	}
	return js
}

// writeCheckpointJSON replaces the checkpoint file of tweets partition 0 in
// dir with one holding js, as the archive creates it.
func writeCheckpointJSON(t testing.TB, dir string, js []byte) {
	t.Helper()
	slot, err := encodeSlot(1, js)
	if err != nil {
		t.Fatal(err)
	}
	file := make([]byte, 2*slotSize)
	copy(file, slot)
	if err := os.WriteFile(filepath.Join(dir, slotsPath("tweets", 0)), file, 0o644); err != nil {
		t.Fatal(err)
	}
}
