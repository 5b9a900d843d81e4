package archive

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/crashpoint"
)

// crashScript is what the crash tests archive, batch by batch: statuses
// with repeated keys, values that are dead-lettered, records that are not
// deduplicated, a later hour, and enough lines to rotate by size several
// times and to start several generations of the key window.
func crashScript() [][]Record {
	hour11 := time.Date(2024, 3, 9, 11, 5, 0, 0, time.UTC)
	bad := func(o int64) Record { return Record{Offset: o, Time: t0(), Value: []byte("not json")} }
	unmarked := keyed(17, "a", "b")
	for i := range unmarked {
		unmarked[i].Dedup = false
	}
	return [][]Record{
		keyed(0, "a", "b", "a", "c"),
		append([]Record{bad(4)}, keyed(5, "d", "e")...),
		atTime(keyed(7, "f", "b", "g"), hour11),
		atTime(keyed(10, "h", "i", "a", "j", "k", "l", "m"), hour11),
		unmarked,
		append(atTime(keyed(19, "n", "o", "n"), hour11), bad(22)),
		atTime(keyed(23, "p", "q", "r", "s", "t", "u", "v", "w"), hour11),
	}
}

func crashConfig(dir string) Config {
	return Config{Dir: dir, DedupWindow: 3, RotateMaxBytes: 60, Compression: CompressionGzip, Now: newClock(t0()).Now}
}

// runCrashScript archives crashScript in a new directory, crashing at the
// crash points whose numbers (counted from 1 over the whole run) are in
// crashes. After each crash it goes on in a copy of the directory (the
// crashed run's files and lock stay behind, as after a SIGKILL), as a
// restarted consumer does: it opens the partition and hands the records
// over again from the offset last committed (the end of the last Append
// that returned nil), or from NextOffset when that is further. It returns
// the final directory and the crash points passed and crashed at.
func runCrashScript(t *testing.T, crashes ...int) (dir string, passed int, crashedAt []string) {
	t.Helper()
	return runCrashScriptWith(t, nil, crashes...)
}

// runCrashScriptWith is runCrashScript that, after each crash, calls
// damage, when not nil, with the copy of the directory the run goes on in
// and the point crashed at: what a power loss at that point, rather than a
// SIGKILL, may leave.
func runCrashScriptWith(t *testing.T, damage func(t *testing.T, dir, point string), crashes ...int) (dir string, passed int, crashedAt []string) {
	t.Helper()
	reached, disarm := crash.Arm(crashes...)
	defer disarm()
	try := crashpoint.Try

	dir = memDir(t)
	committed := int64(-1)
	for {
		var p *Partition
		var err error
		point := try(func() {
			var a *Archive
			if a, err = Open(crashConfig(dir), nil); err == nil {
				p, err = a.Partition(t.Context(), "tweets", 0)
			}
		})
		if err != nil {
			t.Fatalf("opening the partition after crashing at %q: %v", crashedAt, err)
		}
		if point == "" {
			start := max(committed, p.NextOffset())
			for _, batch := range crashScript() {
				batch = slices.DeleteFunc(batch, func(r Record) bool { return r.Offset < start })
				if len(batch) == 0 {
					continue
				}
				if point = try(func() { _, err = p.Append(batch) }); point != "" {
					break
				}
				if err != nil {
					t.Fatalf("Append after crashing at %q: %v", crashedAt, err)
				}
				committed = batch[len(batch)-1].Offset + 1
			}
		}
		if point == "" {
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			return dir, reached(), crashedAt
		}
		crashedAt = append(crashedAt, point)
		copied := memDir(t)
		if err := os.CopyFS(copied, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		dir = copied
		if damage != nil {
			damage(t, dir, point)
		}
	}
}

// memDir returns a new directory in memory (/dev/shm) when there is one,
// removed when the test ends: a thousand runs with their fsyncs take over a
// minute on disk. The test is about what recovery makes of the files, not
// about the disk.
func memDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "tweetpipe-crash-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// sameAsReference fails the test now unless got (archiveFiles of a run
// with crashes) holds exactly the files of ref, each with the same content.
// what names the run in the messages ("crashes at [3 5] [...]").
func sameAsReference(t *testing.T, what string, ref, got map[string]string) {
	t.Helper()
	for rel, want := range ref {
		if got[rel] != want {
			t.Errorf("%s: %s differs from a run without a crash:\n got %q\nwant %q", what, rel, got[rel], want)
		}
	}
	for rel := range got {
		if _, ok := ref[rel]; !ok {
			t.Errorf("%s: %s is left over", what, rel)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// archiveFiles returns every file under dir but the locks, by relative
// path, with its bytes; for a checkpoint file, the checkpoint it holds (its
// newest valid slot): the slots' sequence numbers and which slot holds it
// depend on how many checkpoints the crashes made the archive write.
func archiveFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".lock") {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = string(data)
		if strings.HasSuffix(path, ".checkpoint") {
			js, _, _, ok := decodeSlots(data)
			if !ok {
				t.Errorf("%s holds no valid checkpoint", rel)
			}
			files[rel] = string(js)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCrashAtEveryPoint stops the archive at each point between its file
// operations, once, and at each pair of points close together (a crash
// while recovering from one), and checks that after recovery and
// redelivery the output directory is byte for byte the one a run without a
// crash leaves: every line once, the same files, rotations, dead letters,
// key window and checkpoint.
func TestCrashAtEveryPoint(t *testing.T) {
	refDir, points, _ := runCrashScript(t)
	ref := archiveFiles(t, refDir)
	if points < 50 {
		t.Fatalf("the script passed %d crash points; want it to exercise more", points)
	}
	var lines int
	for rel := range ref {
		if strings.HasPrefix(rel, "tweets") {
			lines += strings.Count(decompressed(t, filepath.Join(refDir, rel)), "\n")
		}
	}
	t.Logf("a run without a crash passes %d crash points and writes %d lines in %d files", points, lines, len(ref))

	pairs := 0
	for first := 1; first <= points; first++ {
		for gap := 0; gap <= 4; gap++ {
			crashes := []int{first}
			if gap > 0 {
				crashes = append(crashes, first+gap)
			}
			dir, _, at := runCrashScript(t, crashes...)
			sameAsReference(t, fmt.Sprintf("crashes at %v %q", crashes, at), ref, archiveFiles(t, dir))
			pairs++
		}
	}
	t.Logf("%d runs with one or two crashes, each leaving the output of the run without one", pairs)
}

// TestCrashTornCheckpoint: a power loss after a checkpoint slot was
// written and before its fsync returned may leave that slot torn or with
// a bad checksum. At each such point, once, and with a second crash close
// after it (while recovering from it), recovery falls back on the other
// slot, the checkpoint before, and after redelivery the output directory
// is byte for byte the one a run without a crash leaves.
func TestCrashTornCheckpoint(t *testing.T) {
	refDir, points, _ := runCrashScript(t)
	ref := archiveFiles(t, refDir)

	// The crash points where a slot was written and not yet fsynced.
	var slotPoints []int
	for n := 1; n <= points; n++ {
		if _, _, at := runCrashScript(t, n); len(at) == 1 && at[0] == "checkpoint: slot written" {
			slotPoints = append(slotPoints, n)
		}
	}
	if len(slotPoints) < 20 {
		t.Fatalf("the script wrote %d checkpoint slots; want it to exercise more", len(slotPoints))
	}

	damages := []struct {
		name   string
		damage func(slot []byte) // the slot's bytes as written
	}{
		{"torn in its JSON", func(b []byte) { clear(b[slotHeader+(len(b)-slotHeader)/2:]) }},
		{"torn in its header", func(b []byte) { clear(b[slotHeader/2:]) }},
		{"bad checksum", func(b []byte) { b[len(b)-3] ^= 0x20 }},
	}
	runs := 0
	for _, d := range damages {
		// tear damages the slot written last: the valid one with the
		// higher sequence.
		tear := func(t *testing.T, dir, point string) {
			if point != "checkpoint: slot written" {
				return
			}
			name := filepath.Join(dir, slotsPath("tweets", 0))
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			js, _, slot, ok := decodeSlots(data)
			if !ok {
				t.Fatalf("%s holds no valid checkpoint before the damage", name)
			}
			d.damage(data[slot*slotSize : slot*slotSize+slotHeader+len(js)])
			if _, _, other, ok := decodeSlots(data); !ok || other == slot {
				t.Fatalf("%s: the damaged slot still reads as valid, or no slot is left", d.name)
			}
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, first := range slotPoints {
			for gap := 0; gap <= 4; gap++ {
				crashes := []int{first}
				if gap > 0 {
					crashes = append(crashes, first+gap)
				}
				dir, _, at := runCrashScriptWith(t, tear, crashes...)
				sameAsReference(t, fmt.Sprintf("%s, crashes at %v %q", d.name, crashes, at), ref, archiveFiles(t, dir))
				runs++
			}
		}
	}
	t.Logf("%d runs with a damaged checkpoint slot, at %d slot writes, each leaving the output of the run without a crash", runs, len(slotPoints))
}

// decompressed returns a data file's contents.
func decompressed(t *testing.T, path string) string {
	t.Helper()
	return strings.Join(readLines(t, path), "\n") + "\n"
}

// TestCrashPointsAreReached: the crash points this test relies on are
// where the script takes the archive (a renamed point would silently leave
// its state untested).
func TestCrashPointsAreReached(t *testing.T) {
	reached, disarm := crash.Record()
	defer disarm()
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, crashConfig(dir)), "tweets", 0)
	for _, batch := range crashScript() {
		mustAppend(t, p, batch)
	}
	seen := reached()
	for _, point := range []string{
		"commit", "commit: data written", "commit: dead letters written", "commit: keys written",
		"atomic: temp file written", "atomic: renamed", "new data file created",
		"rotate: data file closed", "rotate: compressed to temp file", "rotate: compressed file renamed",
		"rotate: plain file removed", "keys: next generation checkpointed",
		"rotate: compressed file linked", "dead letters: file created",
		"checkpoint: slot written",
	} {
		if !seen[point] {
			t.Errorf("crash point %q not reached", point)
		}
	}
}
