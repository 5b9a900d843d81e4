package archive

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// The checkpoint file, _state/<topic>-<partition>.checkpoint, is two slots
// of slotSize bytes. Each write goes, in place, into the slot that does not
// hold the newest checkpoint known to be durable, and is followed by an
// fdatasync of the file: no file is created or renamed, and no directory
// fsynced. A slot is
//
//	ckpt <sequence, 16 hex digits> <length, 8 hex digits> <CRC-32C, 8 hex digits>\n<JSON checkpoint>
//
// and the rest of the slot is not read. The CRC-32C (Castagnoli) covers
// everything before it on the first line and the JSON. Reading takes the
// valid slot with the higher sequence: a write that a crash tore, or that
// a power loss kept from the disk, leaves the slot before it, which still
// counts only bytes that were durable when it was written.
//
// The file is created whole, the first checkpoint in slot 0, by the
// temp-file-and-rename of durable.WriteFile, so that it exists only with a
// valid slot: one found with none is corrupt. It is written whole that way
// again, with the checkpoint read, whenever the partition is opened, and
// after a slot's write or fsync failed: the slots read may be the page
// cache's and not the disk's, and writing the other one in place could
// leave none valid on disk. A folder of an earlier version has
// _state/<topic>-<partition>.json instead; it is read once and removed once
// the checkpoint file holds what it said.
const (
	slotSize   = 4096
	slotMagic  = "ckpt "
	slotHeader = len(slotMagic) + 16 + 1 + 8 + 1 + 8 + 1 // through the newline
)

// crc32c is the table of the slots' checksum.
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// slotsPath returns the checkpoint file of a partition, relative to Dir.
func slotsPath(topic string, partition int) string {
	return filepath.Join(stateDirName, fmt.Sprintf("%s-%d.checkpoint", topic, partition))
}

// encodeSlot returns the slot holding the checkpoint JSON js with sequence
// seq. It is shorter than slotSize; the caller writes it at the slot's
// start.
func encodeSlot(seq uint64, js []byte) ([]byte, error) {
	if len(js) > slotSize-slotHeader {
		return nil, fmt.Errorf("encoding checkpoint: %d bytes do not fit a slot of %d", len(js), slotSize)
	}
	b := make([]byte, 0, slotHeader+len(js))
	b = append(b, slotMagic...)
	b = appendHex(b, seq, 16)
	b = append(b, ' ')
	b = appendHex(b, uint64(len(js)), 8)
	b = append(b, ' ')
	sum := crc32.Update(crc32.Checksum(b, crc32c), crc32c, js)
	b = appendHex(b, uint64(sum), 8)
	b = append(b, '\n')
	return append(b, js...), nil
}

func appendHex(b []byte, v uint64, digits int) []byte {
	s := strconv.FormatUint(v, 16)
	for range digits - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// decodeSlot returns the checkpoint JSON and the sequence of a slot's
// bytes, and false when they hold no valid slot (never written, torn, or
// damaged).
func decodeSlot(b []byte) (js []byte, seq uint64, ok bool) {
	if len(b) < slotHeader || !bytes.HasPrefix(b, []byte(slotMagic)) || b[slotHeader-1] != '\n' {
		return nil, 0, false
	}
	h := b[len(slotMagic) : slotHeader-1]
	if h[16] != ' ' || h[25] != ' ' {
		return nil, 0, false
	}
	seq, err1 := strconv.ParseUint(string(h[:16]), 16, 64)
	n, err2 := strconv.ParseUint(string(h[17:25]), 16, 32)
	sum, err3 := strconv.ParseUint(string(h[26:34]), 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || n > uint64(len(b)-slotHeader) {
		return nil, 0, false
	}
	js = b[slotHeader : slotHeader+int(n)]
	if crc32.Update(crc32.Checksum(b[:len(slotMagic)+26], crc32c), crc32c, js) != uint32(sum) {
		return nil, 0, false
	}
	return js, seq, true
}

// decodeSlots returns the newest valid slot of a checkpoint file's bytes:
// its JSON, sequence and index; false when neither is valid.
func decodeSlots(data []byte) (js []byte, seq uint64, slot int, ok bool) {
	for i := range 2 {
		if i*slotSize >= len(data) {
			break
		}
		b, s, valid := decodeSlot(data[i*slotSize : min((i+1)*slotSize, len(data))])
		if valid && (!ok || s > seq) {
			js, seq, slot, ok = b, s, i, true
		}
	}
	return js, seq, slot, ok
}

// readCheckpoint reads the checkpoint of a topic partition in dir without
// its lock, for ReadPosition and the staging folder's check: found is false
// when there is none. A writer may be writing a slot meanwhile; that slot
// then reads as torn and the other one, the checkpoint before, is taken.
// Should both read torn (the writer wrote one and started the other during
// the read), it reads again.
func readCheckpoint(dir, topic string, partition int) (c checkpoint, found bool, err error) {
	name := filepath.Join(dir, slotsPath(topic, partition))
	for try := 0; ; try++ {
		data, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			if try > 0 {
				return checkpoint{}, false, nil
			}
			c, found, err := readLegacyCheckpoint(dir, topic, partition)
			if found || err != nil {
				return c, found, err
			}
			continue // a writer may have just switched from the old file
		}
		if err != nil {
			return checkpoint{}, false, fmt.Errorf("reading checkpoint: %w", err)
		}
		js, _, _, ok := decodeSlots(data)
		if !ok {
			if try < 3 {
				time.Sleep(time.Millisecond)
				continue
			}
			return checkpoint{}, false, fmt.Errorf("checkpoint %s is corrupt: neither slot holds a valid checkpoint", name)
		}
		c, err := decodeCheckpoint(name, js)
		return c, err == nil, err
	}
}

// readLegacyCheckpoint reads the checkpoint file of an earlier version,
// _state/<topic>-<partition>.json; found is false when there is none.
func readLegacyCheckpoint(dir, topic string, partition int) (c checkpoint, found bool, err error) {
	name := filepath.Join(dir, checkpointPath(topic, partition))
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("reading checkpoint: %w", err)
	}
	c, err = decodeCheckpoint(name, data)
	return c, err == nil, err
}

// loadCheckpoint reads the partition's checkpoint for its writer: from the
// open checkpoint file when there is one (recovery after a failure), else
// from the folder. legacy is true when it came from an earlier version's
// file; found is false when there is none.
func (p *Partition) loadCheckpoint() (c checkpoint, found, legacy bool, err error) {
	name := p.abs(slotsPath(p.topic, p.partition))
	opened := false
	if p.ckptFile == nil {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			c, found, err := readLegacyCheckpoint(p.cfg.Dir, p.topic, p.partition)
			return c, found, found, err
		}
		if err != nil {
			return checkpoint{}, false, false, fmt.Errorf("opening checkpoint: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return checkpoint{}, false, false, fmt.Errorf("checking checkpoint: %w", err)
		}
		p.ckptFile, p.ckptInfo, opened = f, fi, true
	}
	data := make([]byte, 2*slotSize)
	n, err := p.ckptFile.ReadAt(data, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return checkpoint{}, false, false, fmt.Errorf("reading checkpoint: %w", err)
	}
	js, seq, slot, ok := decodeSlots(data[:n])
	if !ok {
		return checkpoint{}, false, false, fmt.Errorf("checkpoint %s is corrupt: neither slot holds a valid checkpoint", name)
	}
	if c, err = decodeCheckpoint(name, js); err != nil {
		return checkpoint{}, false, false, err
	}
	// After a failed write, the slot written may hold a higher sequence
	// than the one known durable; the checkpoint written next goes above.
	p.ckptSeq = max(p.ckptSeq, seq)
	if opened {
		p.ckptSlot = slot
		// What this process reads may be what the page cache holds and
		// not the disk: a slot written by a process that crashed before
		// its fsync, or one whose fsync failed (Linux then marks the pages
		// clean, and a later fsync reports nothing). Writing in place into
		// the other slot could then overwrite the only durable checkpoint;
		// recovery writes c as a new file first (recoverFiles).
		p.ckptStale = true
	}
	return c, true, false, nil
}

// storeCheckpoint makes c, encoded as js, the partition's checkpoint: in
// place when its checkpoint file is open and still at its path, else by
// creating the file anew.
func (p *Partition) storeCheckpoint(c checkpoint, js []byte) error {
	path := p.abs(slotsPath(p.topic, p.partition))
	if p.ckptFile != nil && !p.ckptStale {
		if fi, err := os.Stat(path); err == nil && os.SameFile(fi, p.ckptInfo) {
			return p.writeSlot(c, js)
		}
		// Moved, removed or replaced: write a whole new file at its
		// path, as the first checkpoint is.
	}
	// Also when the open file may hold a slot that is not durable
	// (ckptStale): a new file, fsynced and renamed over it, is durable
	// whole, and the writes in place start again from it.
	return p.createCheckpoint(c, js, path)
}

// writeSlot writes c into the slot that does not hold the newest durable
// checkpoint and fsyncs it. Only once that succeeded is the slot the
// durable one. After a failure nothing more is written in place: the slot
// may read back as written while the disk holds something else, so the
// next checkpoint is a new file (ckptStale).
func (p *Partition) writeSlot(c checkpoint, js []byte) error {
	slot := 1 - p.ckptSlot
	seq := p.ckptSeq + 1
	b, err := encodeSlot(seq, js)
	if err != nil {
		return err
	}
	n, err := p.ckptFile.WriteAt(b, int64(slot)*slotSize)
	if n > 0 {
		p.ckptSeq = seq
	}
	if n == len(b) {
		p.ckpt = c // what readers see from now on
	}
	if err == nil {
		crashPoint("checkpoint: slot written")
		if p.syncSlot != nil {
			err = p.syncSlot(p.ckptFile)
		} else {
			err = syncData(p.ckptFile)
		}
	}
	if err != nil {
		p.ckptStale = true
		return err
	}
	p.ckptSlot = slot
	return nil
}

// createCheckpoint writes the checkpoint file at path whole, c in slot 0,
// by temp file and rename, opens it for the writes in place that follow,
// and removes the file of an earlier version if there is one.
func (p *Partition) createCheckpoint(c checkpoint, js []byte, path string) error {
	seq := p.ckptSeq + 1
	b, err := encodeSlot(seq, js)
	if err != nil {
		return err
	}
	file := make([]byte, 2*slotSize)
	copy(file, b)
	if err := p.relock(); err != nil { // creates _state again if it was removed
		return err
	}
	renamed, err := durable.WriteFile(path, file, durable.Replace{Temp: path + ".tmp", Mode: p.cfg.FileMode, Reach: crashPoint})
	if renamed {
		p.ckpt = c
		p.ckptSeq = seq
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening checkpoint: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("checking checkpoint: %w", err)
	}
	if p.ckptFile != nil {
		_ = p.ckptFile.Close() // it is not at the path any more
	}
	p.ckptFile, p.ckptInfo, p.ckptSlot, p.ckptStale = f, fi, 0, false
	return p.removeLegacyCheckpoint()
}

// ErrFenced is the error of a partition that lost its lock to another
// process (relock): it writes nothing more until it is opened again.
var ErrFenced = errors.New("the partition is fenced")

// relock takes the partition's lock again when its file is no longer the
// one the partition holds (removed with _state, or alone): the flock on the
// removed file fences nothing, and a second consumer of the folder could
// lock a new file and write the partition too. It runs before every batch
// and rotation (ready: a stat of the lock file) and whenever a checkpoint
// file is created. A new lock file another process holds already fences
// the partition (ErrFenced): everything after fails, naming the lock.
func (p *Partition) relock() error {
	path := p.abs(lockPath(p.topic, p.partition))
	held, err := p.lock.Stat()
	if err != nil {
		return fmt.Errorf("checking the partition's lock: %w", err)
	}
	fi, err := os.Stat(path)
	if err == nil && os.SameFile(fi, held) {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking the partition's lock %s: %w", path, err)
	}
	if err := p.makeStateDir(); err != nil {
		return err
	}
	f, err := durable.TryLock(path, p.cfg.FileMode)
	if errors.Is(err, durable.ErrLocked) {
		// The files are the other process's now, the data, key and
		// checkpoint files included: recovery must not touch them either.
		p.fenced = fmt.Errorf("the partition's lock file %s was removed while this consumer held it, and another process has locked the new one: "+
			"this consumer writes nothing more to the partition until it is opened again: %w", path, ErrFenced)
		return p.fenced
	}
	if err != nil {
		return fmt.Errorf("locking %s again: %w", path, err)
	}
	p.log.Warn("the partition's lock file was removed while this consumer held it; locked again", "path", path)
	_ = p.lock.Close()
	p.lock = f
	return nil
}

// makeStateDir creates _state again when it was removed while the
// partition was open (Open creates it): without it no checkpoint could be
// written until a restart, and no record archived. What it held went with
// it: every partition takes its lock again (relock) and writes its
// checkpoint anew at its next batch, and the dedup windows start empty at
// the next start (their key files are gone).
func (p *Partition) makeStateDir() error {
	dir := p.abs(stateDirName)
	ok, err := exists(dir)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if ok {
		return nil
	}
	p.log.Warn("the folder "+stateDirName+" was removed while the consumer ran; creating it again. "+
		"The partitions' checkpoints are written anew at their next batch, each taking its lock again, "+
		"and their dedup windows start empty at the next start",
		"path", dir)
	if err := os.MkdirAll(dir, p.cfg.dirMode()); err != nil {
		return fmt.Errorf("creating %s again: %w", dir, err)
	}
	return syncDirs(dir, p.cfg.Dir)
}

// removeLegacyCheckpoint removes the checkpoint file of an earlier version,
// if there is one, once the checkpoint file has taken over. Fsyncing the
// directory makes the checkpoint file's name durable too, should a crash
// have come between its rename and the fsync after.
func (p *Partition) removeLegacyCheckpoint() error {
	legacy := p.abs(checkpointPath(p.topic, p.partition))
	if err := os.Remove(legacy); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("removing checkpoint of an earlier version: %w", err)
	}
	crashPoint("checkpoint: earlier version's file removed")
	return durable.SyncDir(filepath.Dir(legacy))
}
