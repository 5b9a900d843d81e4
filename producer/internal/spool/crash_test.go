package spool

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tweetpipe/tweetpipe/internal/crashpoint"
)

// crashOp is one step of the crash script: append a batch of record ids, or
// send and remove up to drain records, two at a time (-1: all of them).
type crashOp struct {
	batch []int
	drain int
}

// crashScript appends 60 records in 24 batches of 1 to 4, with a drain of
// three after every third batch, a full drain in the middle (the spool
// empties and starts a new segment) and at the end, then one more batch
// and drain. With 300-byte segments it rolls over many segments.
func crashScript() []crashOp {
	var ops []crashOp
	next := 0
	for i := range 24 {
		var b []int
		for range 1 + i%4 {
			b = append(b, next)
			next++
		}
		ops = append(ops, crashOp{batch: b})
		if i%3 == 2 {
			ops = append(ops, crashOp{drain: 3})
		}
		if i == 15 {
			ops = append(ops, crashOp{drain: -1})
		}
	}
	return append(ops, crashOp{drain: -1}, crashOp{batch: []int{next, next + 1}}, crashOp{drain: -1})
}

// crashRun is what one run of the script delivered and left.
type crashRun struct {
	delivered []int    // record ids in the order sent, copies included
	lost      [][]int  // batches whose Append crashed and were not handed over again
	dir       string   // the final directory
	points    int      // crash points passed
	at        []string // the crash points crashed at
}

// memDir returns a new directory in memory (/dev/shm) when there is one:
// thousands of runs with their fsyncs take minutes on disk, and the test is
// about what recovery makes of the files, not about the disk.
func memDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "tweetpipe-spool-crash-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// runSpoolCrash runs crashScript, crashing at the crash points whose numbers
// (from 1, over the whole run) are in crashes. After a crash it reopens a
// copy of the directory, as a restarted producer would, and redoes the step
// that crashed: records sent but not removed are sent again; an Append that
// did not return nil is handed over again when resume is true (a source
// that resumes from its last acknowledged position) and is gone otherwise.
func runSpoolCrash(t *testing.T, resume bool, crashes ...int) crashRun {
	t.Helper()
	var run crashRun
	passed, disarm := crash.Arm(crashes...)
	defer disarm()
	try := crashpoint.Try
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("crashes %v at %q: %s: %v", crashes, run.at, what, err)
	}

	var log logBuffer
	opts := Options{SegmentBytes: 300, Logger: log.logger()}
	run.dir = memDir(t)
	ops := crashScript()
	pc := 0
	var crashedBatch []int // the Append that crashed, to look for after reopening
	for {
		var s *Spool
		var err error
		point := try(func() { s, err = Open(run.dir, opts) })
		if point == "" && err != nil {
			fail("Open", err)
		}
		if point == "" && crashedBatch != nil {
			// The Append that crashed is in the spool whole or not at all.
			var held []Record
			if point = try(func() { held, err = s.Peek(1<<30, 0) }); point == "" {
				if err != nil {
					fail("Peek", err)
				}
				n := 0
				for _, r := range held {
					id, _ := strconv.Atoi(string(r.Key))
					if slices.Contains(crashedBatch, id) {
						n++
					}
				}
				// Whole copies only: one handed over again and crashed too
				// makes two.
				if n%len(crashedBatch) != 0 {
					t.Errorf("crashes %v at %q: %d records of the %d of the Append that crashed are in the spool", crashes, run.at, n, len(crashedBatch))
				}
				crashedBatch = nil
			}
		}
		for point == "" && pc < len(ops) {
			op := ops[pc]
			if op.batch != nil {
				if point = try(func() { err = s.Append(crashRecords(op.batch)...) }); point != "" {
					crashedBatch = op.batch
					if !resume {
						run.lost = append(run.lost, op.batch)
						pc++
					}
					break
				}
				if err != nil {
					fail("Append", err)
				}
				pc++
				continue
			}
			for left := op.drain; point == "" && left != 0 && !s.Empty(); {
				k := 2
				if left > 0 {
					k = min(k, left)
				}
				var got []Record
				if point = try(func() { got, err = s.Peek(k, 0) }); point != "" {
					break
				}
				if err != nil {
					fail("Peek", err)
				}
				for _, r := range got {
					id, _ := strconv.Atoi(string(r.Key))
					run.delivered = append(run.delivered, id)
				}
				if point = try(func() { err = s.Remove(len(got)) }); point != "" {
					break
				}
				if err != nil {
					fail("Remove", err)
				}
				if left > 0 {
					left -= len(got)
				}
			}
			if point == "" {
				pc++
			}
		}
		if point == "" {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(log.String(), "lost") {
				t.Errorf("crashes %v at %q: recovery says records were lost: %s", crashes, run.at, log.String())
			}
			run.points = passed()
			return run
		}
		run.at = append(run.at, point)
		copied := memDir(t)
		if err := os.CopyFS(copied, os.DirFS(run.dir)); err != nil {
			t.Fatal(err)
		}
		run.dir = copied
	}
}

func crashRecords(ids []int) []Record {
	var rs []Record
	for _, id := range ids {
		rs = append(rs, rec(id))
	}
	return rs
}

// firstCopies drops repeated ids, keeping the first of each.
func firstCopies(ids []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestSpoolCrashAtEveryPoint stops the spool at each point between its file
// operations, once and in pairs up to three points apart (a crash while
// recovering from one), for a source that resumes and one that does not.
// Every record appended is delivered, in order, each once apart from the
// few sent again after a crash between send and Remove; an Append that
// crashed is delivered whole or (when not handed over again) not at all;
// and the files left are the ones a run without a crash leaves.
func TestSpoolCrashAtEveryPoint(t *testing.T) {
	ref := runSpoolCrash(t, true)
	for i, id := range ref.delivered {
		if id != i {
			t.Fatalf("a run without a crash delivered %v", ref.delivered)
		}
	}
	refNames := dirNames(t, ref.dir)
	t.Logf("a run without a crash passes %d crash points, delivers %d records, leaves %v", ref.points, len(ref.delivered), refNames)

	runs := 0
	for _, resume := range []bool{true, false} {
		for first := 1; first <= ref.points; first++ {
			for gap := 0; gap <= 3; gap++ {
				crashes := []int{first}
				if gap > 0 {
					crashes = append(crashes, first+gap)
				}
				run := runSpoolCrash(t, resume, crashes...)
				// An Append that crashed and was not handed over again is
				// delivered if it got into the spool, whole (checked above).
				var want []int
				for _, op := range crashScript() {
					if len(op.batch) == 0 {
						continue
					}
					lost := slices.ContainsFunc(run.lost, func(b []int) bool { return slices.Equal(b, op.batch) })
					if !lost || slices.Contains(run.delivered, op.batch[0]) {
						want = append(want, op.batch...)
					}
				}
				if got := firstCopies(run.delivered); !slices.Equal(got, want) {
					t.Errorf("crashes %v at %q (resume %v): delivered (first copies) %v; want %v", crashes, run.at, resume, got, want)
				}
				if d := len(run.delivered) - len(want); d > 4 {
					t.Errorf("crashes %v at %q (resume %v): %d records sent twice; want at most 4 (two sends of two)", crashes, run.at, resume, d)
				}
				if names := dirNames(t, run.dir); len(names) != len(refNames) {
					t.Errorf("crashes %v at %q (resume %v): files left %v; want as many as %v", crashes, run.at, resume, names, refNames)
				}
				if t.Failed() {
					t.FailNow()
				}
				runs++
			}
		}
	}
	t.Logf("%d runs with one or two crashes", runs)
}

// TestSpoolCrashPointsAreReached: the script takes the spool through every
// crash point but the recovery ones (a renamed point would silently leave
// its state untested).
func TestSpoolCrashPointsAreReached(t *testing.T) {
	reached, disarm := crash.Record()
	defer disarm()
	s, err := Open(memDir(t), Options{SegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, op := range crashScript() {
		if op.batch != nil {
			if err := s.Append(crashRecords(op.batch)...); err != nil {
				t.Fatal(err)
			}
			continue
		}
		for left := op.drain; left != 0 && !s.Empty(); left-- {
			if _, err := s.Peek(1, 0); err != nil {
				t.Fatal(err)
			}
			if err := s.Remove(1); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := reached()
	for _, point := range []string{
		"append", "append: written", "segment: created", "segment: header written",
		"head: temp file created", "head: temp file written", "head: renamed", "head: slot written",
		"head: consumed segment deleted", "reclaim: new segment started",
	} {
		if !seen[point] {
			t.Errorf("crash point %q not reached", point)
		}
	}
}
