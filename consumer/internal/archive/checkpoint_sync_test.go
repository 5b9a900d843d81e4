package archive

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// errEIO is what an injected failed fsync of a checkpoint slot returns.
var errEIO = &os.PathError{Op: "fdatasync", Path: "checkpoint", Err: syscall.EIO}

// TestCheckpointSlotSyncFails injects a failed fsync of a checkpoint slot:
// the Append fails, and its retry writes the checkpoint as a new file, not
// in place into the file whose slot may not be on disk, and archives each
// record once.
func TestCheckpointSlotSyncFails(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir}), "tweets", 0)
	mustAppend(t, p, recs(0, 1, t0()))
	path := filepath.Join(dir, slotsPath("tweets", 0))
	failed, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	calls := 0
	p.syncSlot = func(*os.File) error { calls++; return errEIO }
	if _, err := p.Append(recs(2, 3, t0())); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with a failed slot fsync: got %v; want EIO", err)
	}
	if calls != 1 {
		t.Fatalf("slot fsyncs: got %d; want 1", calls)
	}
	p.syncSlot = nil
	mustAppend(t, p, recs(2, 3, t0()))

	now, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(failed, now) {
		t.Errorf("after a failed slot fsync the checkpoint was written in place again; want a new file")
	}
	if got, want := allLines(t, dir, "tweets"), values(0, 3); !slices.Equal(got, want) {
		t.Errorf("lines: got %q; want %q", got, want)
	}
	if got := p.NextOffset(); got != 4 {
		t.Errorf("NextOffset: got %d; want 4", got)
	}
}

// TestPowerLossAfterFailedSlotSync: a slot's fsync fails (EIO) and the
// process restarts. Linux marked the failed pages clean, so the restarted
// process reads that slot as written although the disk may hold anything
// there. A power loss during its next checkpoint write must still leave a
// valid checkpoint on disk.
//
// The disk is modelled in the test: the checkpoint file's durable bytes are
// those of its last successful slot fsync, with the slot whose fsync failed
// torn; a file created since the restart was created by durable.WriteFile
// (fsync, rename, directory fsync) and is durable as written. At the power
// loss the slot being written (the one with the higher sequence) is torn.
func TestPowerLossAfterFailedSlotSync(t *testing.T) {
	rel := slotsPath("tweets", 0)
	tear := func(data []byte, slot int) { clear(data[slot*slotSize+slotHeader/2 : (slot+1)*slotSize]) }

	// The first process: a failed slot fsync, then it dies.
	dir1 := memDir(t)
	p1 := openPartition(t, testArchive(t, Config{Dir: dir1}), "tweets", 0)
	var durableImage []byte // the checkpoint file as last fsynced
	p1.syncSlot = func(f *os.File) error {
		if err := syncData(f); err != nil {
			return err
		}
		b, err := os.ReadFile(f.Name())
		durableImage = b
		return err
	}
	mustAppend(t, p1, recs(0, 0, t0()))
	mustAppend(t, p1, recs(1, 1, t0()))
	mustAppend(t, p1, recs(2, 2, t0()))
	if durableImage == nil {
		t.Fatal("no slot was written in place")
	}
	p1.syncSlot = func(f *os.File) error {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		_, _, slot, _ := decodeSlots(data)
		tear(durableImage, slot) // the failed write-back left it half written
		return errEIO
	}
	if _, err := p1.Append(recs(3, 3, t0())); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with a failed slot fsync: got %v; want EIO", err)
	}
	if _, _, _, ok := decodeSlots(durableImage); !ok {
		t.Fatal("the model lost the durable checkpoint before the restart")
	}

	// The restarted process sees the files as the page cache holds them.
	dir2 := memDir(t)
	if err := os.CopyFS(dir2, os.DirFS(dir1)); err != nil {
		t.Fatal(err)
	}
	restarted, err := os.Stat(filepath.Join(dir2, rel))
	if err != nil {
		t.Fatal(err)
	}
	p2 := openPartition(t, testArchive(t, Config{Dir: dir2}), "tweets", 0)
	dir3 := memDir(t) // what the disk holds after the power loss
	p2.syncSlot = func(f *os.File) error {
		if err := os.CopyFS(dir3, os.DirFS(dir2)); err != nil {
			return err
		}
		data, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		_, _, slot, _ := decodeSlots(data) // the slot just written
		fi, err := os.Stat(f.Name())
		if err != nil {
			return err
		}
		onDisk := data
		if os.SameFile(fi, restarted) {
			onDisk = slices.Clone(durableImage)
		}
		tear(onDisk, slot)
		if err := os.WriteFile(filepath.Join(dir3, rel), onDisk, 0o644); err != nil {
			return err
		}
		return errors.New("power lost")
	}
	next := p2.NextOffset() // 3, or 4 if the slot that failed counts offset 3
	if _, err := p2.Append(recs(next, next, t0())); err == nil {
		t.Fatal("Append: no checkpoint slot was written after the restart")
	}

	// After the power loss.
	p3, err := testArchive(t, Config{Dir: dir3}).Partition(t.Context(), "tweets", 0)
	if err != nil {
		t.Fatalf("opening after the power loss: %v", err)
	}
	defer p3.Close()
	if got := p3.NextOffset(); got < 3 {
		t.Fatalf("NextOffset after the power loss: got %d; want at least 3 (offsets 0 to 2 were acknowledged)", got)
	}
	mustAppend(t, p3, recs(p3.NextOffset(), next+1, t0()))
	if got, want := allLines(t, dir3, "tweets"), values(0, next+1); !slices.Equal(got, want) {
		t.Errorf("lines: got %q; want %q", got, want)
	}
}
