package archive

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/crashpoint"
)

func TestDecodeSlots(t *testing.T) {
	slot := func(seq uint64, js string) []byte {
		b, err := encodeSlot(seq, []byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	file := func(s0, s1 []byte) []byte {
		b := make([]byte, 2*slotSize)
		copy(b, s0)
		copy(b[slotSize:], s1)
		return b
	}
	older, newer := slot(7, `{"n":7}`), slot(8, `{"n":8}`)
	damaged := func(b []byte, f func(b []byte)) []byte {
		b = slices.Clone(b)
		f(b)
		return b
	}
	tests := []struct {
		name     string
		data     []byte
		wantJSON string // "" for no valid slot
		wantSlot int
	}{
		{"first checkpoint, slot 1 never written", file(older, nil), `{"n":7}`, 0},
		{"newer in slot 1", file(older, newer), `{"n":8}`, 1},
		{"newer in slot 0", file(newer, older), `{"n":8}`, 0},
		{"newer torn in its JSON", file(older, newer[:len(newer)-2]), `{"n":7}`, 0},
		{"newer torn in its header", file(damaged(newer, func(b []byte) { clear(b[20:]) }), older), `{"n":7}`, 1},
		{"newer with a bad checksum", file(older, damaged(newer, func(b []byte) { b[len(b)-2] = '9' })), `{"n":7}`, 0},
		{"newer with a length past the slot", file(damaged(newer, func(b []byte) { copy(b[22:], "ffff") }), older), `{"n":7}`, 1},
		{"newer with a damaged sequence", file(older, damaged(newer, func(b []byte) { b[20] = '9' })), `{"n":7}`, 0},
		{"file cut short in slot 1", file(older, newer)[:slotSize+10], `{"n":7}`, 0},
		{"neither valid", file(newer[:30], older[:len(older)-1]), "", 0},
		{"zeros", file(nil, nil), "", 0},
		{"empty file", nil, "", 0},
		{"an earlier version's JSON", []byte(`{"version":1}`), "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js, _, slot, ok := decodeSlots(tt.data)
			if tt.wantJSON == "" {
				if ok {
					t.Errorf("got slot %d %q; want no valid slot", slot, js)
				}
				return
			}
			if !ok || string(js) != tt.wantJSON || slot != tt.wantSlot {
				t.Errorf("got slot %d %q (valid %v); want slot %d %q", slot, js, ok, tt.wantSlot, tt.wantJSON)
			}
		})
	}
}

// TestCheckpointFitsSlot: the longest checkpoint there can be (a topic name
// of 249 characters, every path set, the Hive layout) fits a slot.
func TestCheckpointFitsSlot(t *testing.T) {
	topic := strings.Repeat("t", 249)
	hour := time.Date(2024, 3, 9, 10, 0, 0, 0, time.UTC)
	active := LayoutHive.DataPath(topic, math.MaxInt32, math.MaxInt64, hour)
	c := checkpoint{
		Topic: topic, Partition: math.MaxInt32, NextOffset: math.MaxInt64,
		Active: active, ActiveSize: math.MaxInt64, ActiveHour: hour, ActiveCreated: hour.Add(59*time.Minute + 999*time.Millisecond),
		DeadLetter: DeadLetterPath(topic, math.MaxInt32, math.MaxInt64), DeadLetterSize: math.MaxInt64, DeadLetterCreated: hour,
		KeysGen: math.MaxInt64, KeysSize: math.MaxInt64,
		Rotated: active + compressedExt(CompressionZstd), RotatedSize: math.MaxInt64,
	}
	js, err := encodeCheckpoint(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeCheckpoint("x", js); err != nil {
		t.Fatalf("the longest checkpoint does not decode: %v", err)
	}
	slot, err := encodeSlot(math.MaxUint64, js)
	if err != nil {
		t.Fatalf("the longest checkpoint, %d bytes: %v", len(js), err)
	}
	if got, seq, _, ok := decodeSlots(slot); !ok || seq != math.MaxUint64 || string(got) != string(js) {
		t.Errorf("the longest checkpoint does not read back from its slot")
	}
	t.Logf("the longest checkpoint takes %d of a slot's %d bytes", len(slot), slotSize)
}

// TestCheckpointOfEarlierVersion: a folder written by an earlier version,
// whose checkpoint is _state/<topic>-<partition>.json, opens where it
// stood, and the checkpoint file takes over; a crash at any point of that
// switch, and a second one close after it, leaves the output of a run
// without one. ReadPosition reads the folder before, during and after.
func TestCheckpointOfEarlierVersion(t *testing.T) {
	cfg := func(dir string) Config {
		return Config{Dir: dir, Compression: CompressionGzip, RotateMaxBytes: 40, DedupWindow: 3, Now: newClock(t0()).Now}
	}
	legacy := memDir(t)
	p := openPartition(t, testArchive(t, cfg(legacy)), "tweets", 0)
	mustAppend(t, p, recs(0, 4, t0()))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	js := readCheckpointJSON(t, legacy)
	if err := os.WriteFile(filepath.Join(legacy, checkpointPath("tweets", 0)), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(legacy, slotsPath("tweets", 0))); err != nil {
		t.Fatal(err)
	}
	if pos, err := ReadPosition(legacy, "tweets", 0); err != nil || !pos.Known || pos.NextOffset != 5 {
		t.Fatalf("ReadPosition of an earlier version's folder: got %+v, %v; want offset 5", pos, err)
	}

	// run opens a copy of the legacy folder and appends the rest, with the
	// crashes given, going on in a copy of the folder after each.
	run := func(crashes ...int) (dir string, passed int, crashedAt []string) {
		reached, disarm := crash.Arm(crashes...)
		defer disarm()
		dir = memDir(t)
		if err := os.CopyFS(dir, os.DirFS(legacy)); err != nil {
			t.Fatal(err)
		}
		for {
			var err error
			point := crashpoint.Try(func() {
				var a *Archive
				var p *Partition
				if a, err = Open(cfg(dir), nil); err != nil {
					return
				}
				if p, err = a.Partition(t.Context(), "tweets", 0); err != nil {
					return
				}
				if pos, perr := ReadPosition(dir, "tweets", 0); perr != nil || !pos.Known || pos.NextOffset < 5 {
					t.Errorf("ReadPosition after opening: got %+v, %v; want offset 5 or more", pos, perr)
				}
				// Kafka hands over again from the offset committed, 5:
				// Append skips what the checkpoint already counts. A
				// later batch makes a rotation due at the end of the
				// first happen in a run that crashed there too.
				if _, err = p.Append(recs(5, 9, t0())); err != nil {
					return
				}
				if _, err = p.Append(recs(10, 12, t0())); err == nil {
					err = p.Close()
				}
			})
			if err != nil {
				t.Fatalf("after crashing at %q: %v", crashedAt, err)
			}
			if point == "" {
				return dir, reached(), crashedAt
			}
			crashedAt = append(crashedAt, point)
			if pos, err := ReadPosition(dir, "tweets", 0); err != nil || !pos.Known || pos.NextOffset < 5 {
				t.Errorf("ReadPosition after crashing at %q: got %+v, %v; want offset 5 or more", crashedAt, pos, err)
			}
			copied := memDir(t)
			if err := os.CopyFS(copied, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			dir = copied
		}
	}

	refDir, points, _ := run()
	ref := archiveFiles(t, refDir)
	if _, ok := ref[checkpointPath("tweets", 0)]; ok {
		t.Errorf("%s is left over after the switch", checkpointPath("tweets", 0))
	}
	if _, ok := ref[slotsPath("tweets", 0)]; !ok {
		t.Fatalf("no %s after the switch", slotsPath("tweets", 0))
	}
	if got := allLines(t, refDir, "tweets"); !slices.Equal(got, values(0, 12)) {
		t.Fatalf("lines: got %q; want %q", got, values(0, 12))
	}
	seen := map[string]bool{}
	for first := 1; first <= points; first++ {
		for gap := 0; gap <= 2; gap++ {
			crashes := []int{first}
			if gap > 0 {
				crashes = append(crashes, first+gap)
			}
			dir, _, at := run(crashes...)
			for _, point := range at {
				seen[point] = true
			}
			sameAsReference(t, fmt.Sprintf("crashes at %v %q", crashes, at), ref, archiveFiles(t, dir))
		}
	}
	for _, point := range []string{"atomic: temp file written", "atomic: renamed", "checkpoint: earlier version's file removed"} {
		if !seen[point] {
			t.Errorf("no crash at %q, a point of the switch", point)
		}
	}
}

// TestReadPositionWhileWriting: ReadPosition, which takes no lock, reads a
// whole checkpoint while the partition writes its slots in place: never an
// error, and never an offset behind one it read before.
func TestReadPositionWhileWriting(t *testing.T) {
	dir := memDir(t)
	p := openPartition(t, testArchive(t, Config{Dir: dir, RotateMaxBytes: 200}), "tweets", 0)
	done := make(chan struct{})
	errs := make(chan error, 1)
	reads := 0
	go func() {
		defer close(errs)
		last := int64(-1)
		for {
			select {
			case <-done:
				return
			default:
			}
			pos, err := ReadPosition(dir, "tweets", 0)
			if err == nil && (!pos.Known || pos.NextOffset < last) {
				err = fmt.Errorf("got %+v after offset %d", pos, last)
			}
			if err != nil {
				errs <- err
				return
			}
			last = pos.NextOffset
			reads++
		}
	}()
	for o := int64(0); o < 2000; o++ {
		mustAppend(t, p, recs(o, o, t0()))
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatalf("ReadPosition while writing: %v", err)
	}
	t.Logf("%d reads during 2000 checkpoints", reads)
}
