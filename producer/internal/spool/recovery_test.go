package spool

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTornLastRecord: a crash while the last record was written leaves the
// last segment cut at any byte of it. Open keeps every record before it,
// cuts the rest and says so in the log; the spool then works as before.
func TestTornLastRecord(t *testing.T) {
	base := t.TempDir()
	s := open(t, base, Options{SegmentBytes: 1500})
	appendEach(t, s, 0, 29)
	last := segmentFiles(t, base)
	lastName := filepath.Base(last[len(last)-1])
	start := fileSize(t, last[len(last)-1])
	appendEach(t, s, 29, 30) // the record the crash interrupts
	end := fileSize(t, last[len(last)-1])
	if len(segmentFiles(t, base)) != len(last) {
		t.Fatal("the last record went to a new segment; want it in the same one")
	}
	closeSpool(t, s)

	for cut := start; cut < end; cut++ {
		dir := t.TempDir()
		copyDir(t, base, dir)
		if err := os.Truncate(filepath.Join(dir, lastName), cut); err != nil {
			t.Fatal(err)
		}
		var log logBuffer
		s, err := Open(dir, Options{Logger: log.logger()})
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		checkRecords(t, peekAll(t, s), 0, 29)
		cutLogged := strings.Contains(log.String(), "cutting off an append") &&
			strings.Contains(log.String(), lastName)
		if cutLogged != (cut > start) {
			t.Errorf("cut at %d (record at %d): logged %t; want %t: %s", cut, start, cutLogged, cut > start, log.String())
		}
		if got := fileSize(t, filepath.Join(dir, lastName)); got != start {
			t.Errorf("cut at %d: file is %d bytes after Open; want %d", cut, got, start)
		}
		appendEach(t, s, 29, 31)
		closeSpool(t, s)
		s = open(t, dir, Options{})
		checkRecords(t, peekAll(t, s), 0, 31)
		closeSpool(t, s)
	}
}

// TestTornAppendIsDroppedWhole: an Append is all or nothing, even when a
// power loss kept later pages of it and not earlier ones (a zeroed stretch
// inside), or kept all its records but the last.
func TestTornAppendIsDroppedWhole(t *testing.T) {
	base := t.TempDir()
	s := open(t, base, Options{})
	appendEach(t, s, 0, 5)
	seg := segmentFiles(t, base)[0]
	start := fileSize(t, seg)
	if err := s.Append(recs(5, 50)...); err != nil {
		t.Fatal(err)
	}
	end := fileSize(t, seg)
	lastStart := end - int64(len(mustEncode(t, rec(49))))
	closeSpool(t, s)

	tests := []struct {
		name   string
		damage func(b []byte) []byte
		keep   int // records kept
	}{
		{"zeroed stretch inside", func(b []byte) []byte {
			clear(b[start+300 : start+900])
			return b
		}, 5},
		{"last record missing", func(b []byte) []byte { return b[:lastStart] }, 5},
		{"cut and zeros after", func(b []byte) []byte { return append(b[:start+100], make([]byte, 5000)...) }, 5},
		// An Append of which only zeros reached the disk, after a whole
		// one; 8 MiB also shows recovery reads damage through a buffer.
		{"8 MiB of zeros after a whole append", func(b []byte) []byte { return append(b, make([]byte, 8<<20)...) }, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			path := filepath.Join(dir, filepath.Base(seg))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(b), 0o640); err != nil {
				t.Fatal(err)
			}
			var log logBuffer
			s, err := Open(dir, Options{Logger: log.logger()})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer closeSpool(t, s)
			checkRecords(t, peekAll(t, s), 0, tt.keep)
			if !strings.Contains(log.String(), "cutting off an append") {
				t.Errorf("no warning logged: %q", log.String())
			}
			want := start
			if tt.keep == 50 {
				want = end
			}
			if got := fileSize(t, path); got != want {
				t.Errorf("segment is %d bytes; want %d", got, want)
			}
		})
	}
}

func mustEncode(t *testing.T, r Record) []byte {
	t.Helper()
	b, err := appendRecord(nil, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCorruptRecord: damage to a record an Append made durable is an error
// naming the file and the offset, from Open, or from Peek when it appears
// while the spool is open. Nothing is skipped silently.
func TestCorruptRecord(t *testing.T) {
	base := t.TempDir()
	s := open(t, base, Options{SegmentBytes: 1500})
	appendEach(t, s, 0, 60)
	closeSpool(t, s)
	segs := segmentFiles(t, base)
	if len(segs) < 3 {
		t.Fatalf("%d segments; want at least 3", len(segs))
	}
	// The second record of a segment starts after the header and the first.
	second := func(path string) int64 {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return segmentHeaderLen + recordHeaderLen + int64(binary.LittleEndian.Uint32(b[segmentHeaderLen:]))
	}

	tests := []struct {
		name  string
		seg   int   // index in segs
		delta int64 // from the start of the segment's second record
	}{
		{"payload byte in a middle segment", 1, 20},
		{"checksum in the first segment", 0, 5},
		{"length in a middle segment", 1, 1},
		{"payload byte in the last segment", len(segs) - 1, 12},
		{"length in the last segment", len(segs) - 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			path := filepath.Join(dir, filepath.Base(segs[tt.seg]))
			off := second(path) + tt.delta
			flipByte(t, path, off)
			_, err := Open(dir, Options{Logger: quiet()})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: got %v; want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), filepath.Base(path)) || !strings.Contains(err.Error(), "offset") {
				t.Errorf("error %q does not name the file and the offset", err)
			}
		})
	}

	t.Run("while open", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		s := open(t, dir, Options{SegmentBytes: 1500})
		defer closeSpool(t, s)
		path := filepath.Join(dir, filepath.Base(segs[1]))
		flipByte(t, path, second(path)+20)
		_, err := s.Peek(1000, 0)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(path)) {
			t.Fatalf("Peek: got %v; want ErrCorrupt naming %s", err, filepath.Base(path))
		}
		if s.Len() != 60 {
			t.Errorf("Len %d after a failed Peek; want 60", s.Len())
		}
	})
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestCrashLeftovers: what a crash leaves between steps of Remove and of a
// segment's creation is cleaned up by Open, and no record is lost.
func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 1000})
	appendEach(t, s, 0, 40)
	before := segmentFiles(t, dir)
	consumed, err := os.ReadFile(before[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(20); err != nil {
		t.Fatal(err)
	}
	after := segmentFiles(t, dir)
	closeSpool(t, s)
	if len(after) == len(before) {
		t.Fatal("Remove(20) deleted no segment")
	}

	// A crash after the head's rename, before the deletion of the first
	// segment; a head file half written; a segment half created.
	if err := os.WriteFile(before[0], consumed, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spool.head.tmp"), []byte("TPS"), 0o640); err != nil {
		t.Fatal(err)
	}
	seq, _ := parseSegmentName(filepath.Base(after[len(after)-1]))
	torn := filepath.Join(dir, segmentName(seq+1))
	if err := os.WriteFile(torn, []byte("TPSP"), 0o640); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, Options{SegmentBytes: 1000})
	defer closeSpool(t, s)
	checkRecords(t, peekAll(t, s), 20, 40)
	for _, path := range []string{before[0], torn, filepath.Join(dir, "spool.head.tmp")} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s still there after Open (%v)", filepath.Base(path), err)
		}
	}
	appendEach(t, s, 40, 45)
	checkRecords(t, peekAll(t, s), 20, 45)
}

// TestCorruptHeadAndMissingSegments: a damaged head file (both slots) stops Open with an
// error naming it; once it is deleted the spool starts from its oldest
// segment. A missing segment (set aside by hand) is warned about and the
// others are read.
func TestCorruptHeadAndMissingSegments(t *testing.T) {
	base := t.TempDir()
	s := open(t, base, Options{SegmentBytes: 1000})
	appendEach(t, s, 0, 40)
	if err := s.Remove(3); err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)
	segs := segmentFiles(t, base)
	// count returns how many records a segment of base holds.
	count := func(path string) int {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		res, err := scanSegment(f, segmentHeaderLen, fileSize(t, path), false)
		if err != nil {
			t.Fatal(err)
		}
		return int(res.count)
	}

	t.Run("head", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		// Both slots: one damaged slot is a torn write, and the other is
		// the head (TestTornHeadWrite).
		flipByte(t, filepath.Join(dir, headName), 10)
		flipByte(t, filepath.Join(dir, headName), headSlot1Off+10)
		_, err := Open(dir, Options{Logger: quiet()})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), headName) {
			t.Fatalf("Open: got %v; want ErrCorrupt naming %s", err, headName)
		}
		if err := os.Remove(filepath.Join(dir, headName)); err != nil {
			t.Fatal(err)
		}
		s := open(t, dir, Options{})
		defer closeSpool(t, s)
		checkRecords(t, peekAll(t, s), 0, 40)
	})
	for _, tt := range []struct {
		name string
		seg  int
	}{{"middle segment", 1}, {"head segment", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			name := filepath.Base(segs[tt.seg])
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			var log logBuffer
			s, err := Open(dir, Options{Logger: log.logger()})
			if err != nil {
				t.Fatal(err)
			}
			defer closeSpool(t, s)
			if !strings.Contains(log.String(), "records are lost") || !strings.Contains(log.String(), name) {
				t.Errorf("log %q does not warn about %s", log.String(), name)
			}
			first := count(segs[0])
			want := recs(first, 40) // without the head segment
			if tt.seg == 1 {
				want = append(recs(3, first), recs(first+count(segs[1]), 40)...)
			}
			got := peekAll(t, s)
			if len(got) != len(want) {
				t.Fatalf("got %d records; want %d", len(got), len(want))
			}
			for i := range want {
				if d := sameRecord(got[i], want[i]); d != "" {
					t.Fatalf("record %d: %s", i, d)
				}
			}
		})
	}
}

// TestTornHeadWrite: a crash tearing the write of the head's next slot
// (only its first bytes reached the disk) leaves the slot of the head
// before it, so Open starts from that head.
func TestTornHeadWrite(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 1000})
	appendEach(t, s, 0, 40)
	if err := s.Remove(10); err != nil {
		t.Fatal(err)
	}
	next := s.hgen + 1
	closeSpool(t, s)
	// The file holds the last two heads, one a slot: a new one never goes
	// over the last.
	b, err := os.ReadFile(filepath.Join(dir, headName))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{next - 1, next - 2} {
		off := headSlotOff(want)
		if _, gen, ok := decodeHeadSlot(b[off : off+int64(headSlotLen)]); !ok || gen != want {
			t.Fatalf("slot at %d: generation %d (valid %v); want %d", off, gen, ok, want)
		}
	}
	torn := encodeHeadSlot(next, position{seq: 99, off: 99})[:20]
	f, err := os.OpenFile(filepath.Join(dir, headName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(torn, headSlotOff(next)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var log logBuffer
	s = open(t, dir, Options{SegmentBytes: 1000, Logger: log.logger()})
	defer closeSpool(t, s)
	checkRecords(t, peekAll(t, s), 10, 40)
	if !strings.Contains(log.String(), "one slot of the head file is unreadable") {
		t.Errorf("Open after a torn head write logged %q; want a warning about the slot", log.String())
	}
}
