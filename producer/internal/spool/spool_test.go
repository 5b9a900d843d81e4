package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logBuffer is a logger whose lines a test can read.
type logBuffer struct{ logbuf.Buffer }

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func open(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func closeSpool(t testing.TB, s *Spool) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// rec is record i of a test stream: its number is in the key and the value.
func rec(i int) Record {
	return Record{
		Topic:   "statuses",
		Key:     []byte(strconv.Itoa(i)),
		Value:   []byte(fmt.Sprintf(`{"id_str":"%d","text":"%s"}`, i, strings.Repeat("x", i%50))),
		Time:    time.Unix(1_700_000_000+int64(i), 0).UTC(),
		Headers: []Header{{Key: "source", Value: []byte("test")}},
	}
}

func recs(from, to int) []Record {
	var rs []Record
	for i := from; i < to; i++ {
		rs = append(rs, rec(i))
	}
	return rs
}

func appendEach(t testing.TB, s *Spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := s.Append(rec(i)); err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
}

// peekAll reads every record the spool holds.
func peekAll(t testing.TB, s *Spool) []Record {
	t.Helper()
	got, err := s.Peek(1<<30, 0)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	return got
}

// checkRecords compares what a spool gave with rec(from) .. rec(to-1).
func checkRecords(t testing.TB, got []Record, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("got %d records; want %d (%d to %d)", len(got), to-from, from, to-1)
	}
	for i, r := range got {
		if d := sameRecord(r, rec(from+i)); d != "" {
			t.Fatalf("record %d: %s", from+i, d)
		}
	}
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "spool-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRoundTrip: every field comes back as it went in, from the open spool
// and after reopening it.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	want := sampleRecords()
	if err := s.Append(want[:3]...); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(want[3:]...); err != nil {
		t.Fatal(err)
	}
	check := func(s *Spool) {
		t.Helper()
		got := peekAll(t, s)
		if len(got) != len(want) {
			t.Fatalf("got %d records; want %d", len(got), len(want))
		}
		for i := range want {
			if d := sameRecord(got[i], want[i]); d != "" {
				t.Errorf("record %d: %s", i, d)
			}
		}
		if s.Len() != int64(len(want)) || s.Empty() {
			t.Errorf("Len %d, Empty %t; want %d, false", s.Len(), s.Empty(), len(want))
		}
	}
	check(s)
	bytes := s.Bytes()
	closeSpool(t, s)

	s = open(t, dir, Options{})
	defer closeSpool(t, s)
	check(s)
	if s.Bytes() != bytes {
		t.Errorf("Bytes after reopening %d; want %d", s.Bytes(), bytes)
	}
}

// TestOrderAcrossSegments: with small segments, records come back in Append
// order across many files, whatever the Peek limits.
func TestOrderAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 1000, NoSync: true})
	defer closeSpool(t, s)
	n := 0
	for b := 1; n < 500; b = b%7 + 1 { // batches of 1 to 7
		if err := s.Append(recs(n, n+b)...); err != nil {
			t.Fatal(err)
		}
		n += b
	}
	if files := len(segmentFiles(t, dir)); files < 20 {
		t.Fatalf("%d segment files; want many", files)
	}
	checkRecords(t, peekAll(t, s), 0, n)

	next := 0
	for limit := 1; !s.Empty(); limit = limit%13 + 1 {
		got, err := s.Peek(limit, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkRecords(t, got, next, next+len(got))
		if len(got) != min(limit, n-next) {
			t.Fatalf("Peek(%d) gave %d records with %d left", limit, len(got), n-next)
		}
		if err := s.Remove(len(got)); err != nil {
			t.Fatal(err)
		}
		next += len(got)
	}
	if next != n {
		t.Fatalf("drained %d records; want %d", next, n)
	}
}

// TestPeekLimits: maxBytes counts framed records, and a record larger than
// maxBytes still comes out alone rather than block the spool.
func TestPeekLimits(t *testing.T) {
	s := open(t, t.TempDir(), Options{NoSync: true})
	defer closeSpool(t, s)
	big := Record{Topic: "statuses", Value: bytes.Repeat([]byte("b"), 10_000)}
	if err := s.Append(big, rec(1), rec(2), rec(3)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Peek(10, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Value) != 10_000 {
		t.Fatalf("Peek(10, 100) gave %d records; want the big one alone", len(got))
	}
	if err := s.Remove(1); err != nil {
		t.Fatal(err)
	}
	one := s.Bytes() / 3 // the three small records have nearly the same size
	got, err = s.Peek(10, int(2*one+one/2))
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, got, 1, 3)
	if got, _ := s.Peek(0, 0); len(got) != 0 {
		t.Errorf("Peek(0, 0) gave %d records; want 0", len(got))
	}
}

// TestRemove: Remove without a Peek before it, more than Len, negative.
func TestRemove(t *testing.T) {
	s := open(t, t.TempDir(), Options{SegmentBytes: 500, NoSync: true})
	defer closeSpool(t, s)
	appendEach(t, s, 0, 50)
	if err := s.Remove(17); err != nil { // reads the records: no Peek marks
		t.Fatal(err)
	}
	if _, err := s.Peek(5, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(9); err != nil { // past the 5 peeked
		t.Fatal(err)
	}
	checkRecords(t, peekAll(t, s), 26, 50)
	if err := s.Remove(25); err == nil {
		t.Error("Remove(25) of 24: got nil; want an error")
	}
	if err := s.Remove(-1); err == nil {
		t.Error("Remove(-1): got nil; want an error")
	}
	if s.Len() != 24 {
		t.Errorf("Len %d after failed Removes; want 24", s.Len())
	}
}

// TestRemoveDeletesSegments: consumed segments leave the disk; a drained
// spool keeps one empty segment.
func TestRemoveDeletesSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 1000})
	defer closeSpool(t, s)
	appendEach(t, s, 0, 100)
	before := segmentFiles(t, dir)
	if len(before) < 5 {
		t.Fatalf("%d segments; want at least 5", len(before))
	}
	// Remove the records of the first two segments and one more.
	inFirstTwo := 0
	for _, name := range before[:2] {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := scanSegment(f, segmentHeaderLen, fileSize(t, name), false)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		inFirstTwo += int(res.count)
	}
	if err := s.Remove(inFirstTwo + 1); err != nil {
		t.Fatal(err)
	}
	after := segmentFiles(t, dir)
	if len(after) != len(before)-2 || after[0] != before[2] {
		t.Fatalf("segments after removing the first two: %v; want %v", after, before[2:])
	}
	if err := s.Remove(int(s.Len())); err != nil {
		t.Fatal(err)
	}
	after = segmentFiles(t, dir)
	if len(after) != 1 || fileSize(t, after[0]) != segmentHeaderLen {
		t.Fatalf("drained spool holds %v; want one empty segment", after)
	}
	if !s.Empty() || s.Bytes() != 0 {
		t.Errorf("Empty %t, Bytes %d; want true, 0", s.Empty(), s.Bytes())
	}
	// It goes on working.
	appendEach(t, s, 100, 103)
	checkRecords(t, peekAll(t, s), 100, 103)
}

// TestReopenContinuesFromHead: after Close, Open starts at the first record
// not removed, even inside an Append and inside a segment.
func TestReopenContinuesFromHead(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 2000})
	if err := s.Append(recs(0, 10)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(recs(10, 40)...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(4, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(4); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(9); err != nil { // into the second Append
		t.Fatal(err)
	}
	closeSpool(t, s)

	s = open(t, dir, Options{SegmentBytes: 2000})
	if s.Len() != 27 {
		t.Fatalf("Len after reopening %d; want 27", s.Len())
	}
	checkRecords(t, peekAll(t, s), 13, 40)
	appendEach(t, s, 40, 45)
	if err := s.Remove(20); err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)

	s = open(t, dir, Options{SegmentBytes: 2000})
	defer closeSpool(t, s)
	checkRecords(t, peekAll(t, s), 33, 45)
}

// TestOpenLock: a directory is open once at a time.
func TestOpenLock(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if _, err := Open(dir, Options{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: got %v; want in use", err)
	}
	closeSpool(t, s)
	closeSpool(t, open(t, dir, Options{}))
}

func TestClosed(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	closeSpool(t, s)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Append(rec(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append: got %v; want ErrClosed", err)
	}
	if _, err := s.Peek(1, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Peek: got %v; want ErrClosed", err)
	}
	if err := s.Remove(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Remove: got %v; want ErrClosed", err)
	}
}

// TestMaxBytes: Append refuses what would go past MaxBytes, writes nothing
// of it, and takes records again once some are removed.
func TestMaxBytes(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxBytes: 2000, NoSync: true})
	defer closeSpool(t, s)
	n := 0
	for ; ; n++ {
		err := s.Append(rec(n))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 || s.Bytes() > 2000 {
		t.Fatalf("%d records, %d bytes before ErrFull; want some, at most 2000", n, s.Bytes())
	}
	size := fileSize(t, segmentFiles(t, dir)[0])
	if err := s.Append(rec(n), rec(n+1)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append of two: got %v; want ErrFull", err)
	}
	if got := fileSize(t, segmentFiles(t, dir)[0]); got != size {
		t.Errorf("segment grew from %d to %d bytes on ErrFull", size, got)
	}
	if err := s.Remove(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(rec(n)); err != nil {
		t.Fatalf("Append after Remove: %v", err)
	}
	checkRecords(t, peekAll(t, s), 2, n+1)
}

// TestConcurrent: one goroutine appends while another peeks and removes;
// every record comes out once, in order. Run with -race.
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 4000, MaxBytes: 20_000})
	const total = 3000
	done := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; n < total; {
			b := min(1+r.IntN(20), total-n)
			err := s.Append(recs(n, n+b)...)
			if errors.Is(err, ErrFull) {
				time.Sleep(100 * time.Microsecond)
				continue
			}
			if err != nil {
				done <- err
				return
			}
			n += b
		}
		done <- nil
	}()

	r := rand.New(rand.NewPCG(3, 4))
	next := 0
	writerDone := false
	for next < total {
		got, err := s.Peek(1+r.IntN(50), r.IntN(3000))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			if !writerDone {
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("Append: %v", err)
					}
					writerDone = true
				case <-time.After(100 * time.Microsecond):
				}
				continue
			}
			t.Fatalf("spool empty after %d of %d records", next, total)
		}
		checkRecords(t, got, next, next+len(got))
		k := len(got)
		if r.IntN(4) == 0 { // sometimes fewer than peeked, as after a partial Kafka write
			k = 1 + r.IntN(k)
		}
		if err := s.Remove(k); err != nil {
			t.Fatal(err)
		}
		next += k
	}
	if !writerDone {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if !s.Empty() {
		t.Errorf("Len %d after draining; want 0", s.Len())
	}
	closeSpool(t, s)
	s = open(t, dir, Options{})
	defer closeSpool(t, s)
	if !s.Empty() {
		t.Errorf("reopened spool holds %d records; want 0", s.Len())
	}
}
