package archive

// Exactly once
//
// Guarantee: when Partition.Append returns nil, every record of the partition
// up to the last offset passed to it is in the archive exactly once, as one
// line of a data file or one line of the dead-letter file, and stays so
// through crashes, restarts, rebalances and failed writes. This holds as long
// as the caller commits an offset to Kafka only after Append returned nil for
// it and, on gaining a partition, starts from NextOffset when it is not -1.
// A retry of a failed Append, or records handed over again, write nothing
// twice.
//
// How:
//
//  1. Each partition has a checkpoint, _state/<topic>-<partition>.checkpoint:
//     the next offset, the active data file and its size, the active
//     dead-letter file and its size. It is written only after the bytes it
//     counts were fsynced, so it never counts a byte that is not durable,
//     and so that a crash at any point leaves it whole: two slots written
//     in turn, in place, each with a sequence number and a checksum, the
//     valid slot with the higher sequence read (checkpoint_slots.go).
//  2. Bytes past a checkpointed size do not belong to the archive yet.
//     Recovery truncates them. Their records' offsets were not committed, so
//     Kafka hands them over again and they are written again.
//  3. Only files the checkpoint names can hold such bytes. Before the first
//     byte goes into a new data or dead-letter file, a checkpoint naming it
//     with size 0 is written. A file that stopped being active is complete
//     and is never written or truncated again, and a new file is never
//     created over one that holds bytes. A data or dead-letter file that
//     is not as the archive left it (moved, removed or replaced, found
//     missing, or shorter than written) is left to whoever did that, and
//     logged: the next line starts a new file. What it held is gone from
//     the archive by their hand; nothing after it is lost.
//  4. Append skips records below the checkpoint's next offset, so offsets
//     handed over again after a lost Kafka commit are not written twice.
//  5. Rotation happens while the checkpoint still names the file. The file is
//     compressed into a temp file and fsynced; a checkpoint naming the
//     compressed file and its size is written; the temp file gets the final
//     name (a hard link, which never replaces a file) before the plain file
//     is removed; then a checkpoint with no active file is written.
//     Recovery finishes the rotation only when the checkpoint names the
//     compressed file and the file there has the size it gives: then the
//     plain file is removed. Any other compressed file beside the active one
//     (gzip -k, zstd, a cron job) is not the archive's: the plain file stays
//     active, and at rotation it stays plain rather than take the name.
//  6. An flock on _state/<topic>-<partition>.lock, held from Partition to
//     Close, keeps two processes sharing a volume from writing one partition.
//  7. When an operation fails part way, the partition is marked broken and
//     the next Append or Tick first runs recovery again, the code that runs at
//     start, so a failed write leaves nothing behind.
//  8. The dedup window's key file is counted like the data file, and a key
//     is written only with its line (dedup.go). Recovery finishes a start of
//     the next key file generation that a crash cut short. A key file found
//     missing or cut short is not data lost: the window starts empty.
//
// crash_test.go stops the archive at every point between two of its file
// operations (crash.go), and at pairs of them, and checks that recovery and
// redelivery leave the same files, byte for byte, as a run without a crash.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// snapshot returns the checkpoint describing the partition's files as they
// are durably now, with next as the next offset.
func (p *Partition) snapshot(next int64) checkpoint {
	c := checkpoint{
		Topic:          p.topic,
		Partition:      p.partition,
		NextOffset:     next,
		DeadLetter:     p.dlRel,
		DeadLetterSize: p.dlSize,
		KeysGen:        p.keysGen,
		KeysSize:       p.keysSize,
		UploadHour:     p.uploadHour,
	}
	if p.dlRel != "" {
		c.DeadLetterCreated = p.dlCreated
	}
	if a := p.active; a != nil {
		c.Active, c.ActiveSize, c.ActiveHour, c.ActiveCreated = a.rel, a.size, a.hour, a.created
	}
	return c
}

// writeCheckpoint replaces the partition's checkpoint with c (see
// checkpoint_slots.go). The in-memory copy follows the file: it changes
// whenever readers see c, even if the fsync after the write failed.
func (p *Partition) writeCheckpoint(c checkpoint) error {
	data, err := encodeCheckpoint(c)
	if err != nil {
		return err
	}
	if err := p.storeCheckpoint(c, data); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	return nil
}

// commit writes and fsyncs the buffered lines, then checkpoints them with
// next as the next offset (rules 1 and 3).
func (p *Partition) commit(next int64) error {
	crashPoint("commit")
	if len(p.dlBuf) > 0 {
		// Before the data: a new dead-letter file is checkpointed first,
		// and that checkpoint must count no data byte not yet committed.
		if err := p.openDeadLetters(); err != nil {
			return err
		}
	}
	if p.data.size > 0 {
		if err := p.dropActiveIfGone(); err != nil {
			return err
		}
		if p.active == nil {
			// Gone: the buffered lines start a new file, named by the
			// first of them. The checkpoint naming it counts none of them.
			if err := p.startFile(p.dataFirst, p.dataHour, p.cfg.Now()); err != nil {
				return err
			}
		}
		a := p.active
		if err := p.data.writeTo(a.f); err != nil {
			return fmt.Errorf("writing data file: %w", err)
		}
		crashPoint("commit: data written")
		if err := a.f.Sync(); err != nil {
			return fmt.Errorf("syncing data file: %w", err)
		}
		if p.cfg.DropPageCache {
			p.dropWritten(a.f, a.size, a.size+p.data.size)
		}
		a.size += p.data.size
		p.data.reset()
	}
	if len(p.dlBuf) > 0 {
		if _, err := p.dl.Write(p.dlBuf); err != nil {
			return fmt.Errorf("writing dead-letter file: %w", err)
		}
		crashPoint("commit: dead letters written")
		if err := p.dl.Sync(); err != nil {
			return fmt.Errorf("syncing dead-letter file: %w", err)
		}
		p.dlSize += int64(len(p.dlBuf))
		p.dlBuf = p.dlBuf[:0]
	}
	if err := p.writeKeys(); err != nil {
		return err
	}
	c := p.snapshot(next)
	if c != p.ckpt {
		if err := p.writeCheckpoint(c); err != nil {
			return err
		}
	}
	return p.shiftKeys()
}

// openDeadLetters makes p.dl the dead-letter file to append the buffered
// dead letters to. The current one rotates once it reaches RotateMaxBytes
// or RotateInterval, like a data file; one that was moved or removed while
// open is left to whoever did that, logged. A new one is named by the
// offset of its first dead letter and checkpointed, with size 0, before it
// is created (rule 3).
func (p *Partition) openDeadLetters() error {
	now := p.cfg.Now()
	if p.dlRel != "" && (p.dlSize >= p.cfg.RotateMaxBytes || now.Sub(p.dlCreated) >= p.cfg.RotateInterval) {
		p.rotateDeadLetters()
	}
	if p.dl != nil {
		what, err := notAsWritten(p.dl, p.abs(p.dlRel), p.dlSize)
		if err != nil {
			return fmt.Errorf("checking dead-letter file: %w", err)
		}
		if what == "" {
			return nil
		}
		p.log.Warn("the dead-letter file was "+what+"; starting a new one", "path", p.abs(p.dlRel))
		_ = p.dl.Close() // its bytes were fsynced; it is not ours any more
		p.dl, p.dlRel, p.dlSize = nil, "", 0
	}
	if p.dlRel == "" {
		rel := DeadLetterPath(p.topic, p.partition, p.dlFirst)
		if fi, err := os.Stat(p.abs(rel)); err == nil && fi.Size() > 0 {
			return fmt.Errorf("refusing to overwrite %s: it holds %d bytes no checkpoint covers (was %s removed?)",
				p.abs(rel), fi.Size(), p.abs(stateDirName))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checking new dead-letter file: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(p.abs(rel)), p.cfg.dirMode()); err != nil {
			return fmt.Errorf("creating dead-letter directory: %w", err)
		}
		p.dlRel, p.dlSize, p.dlCreated = rel, 0, now
		if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
			return err
		}
	}
	// The checkpoint names the file with its size, so creating it, or
	// opening the one recovery found missing with size 0, is safe.
	path := p.abs(p.dlRel)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, p.cfg.FileMode)
	if err != nil {
		return fmt.Errorf("opening dead-letter file: %w", err)
	}
	crashPoint("dead letters: file created")
	if err := syncDirs(filepath.Dir(path), p.cfg.Dir); err != nil {
		_ = f.Close()
		return err
	}
	p.dl = f
	return nil
}

// rotateDeadLetters closes the current dead-letter file: it is complete and
// never written again. The next checkpoint names none, or the next one.
func (p *Partition) rotateDeadLetters() {
	if p.dl != nil {
		_ = p.dl.Close() // its bytes were fsynced with the checkpoint that counts them
		p.dl = nil
	}
	p.log.Info("rotated dead-letter file", "path", p.abs(p.dlRel), "bytes", p.dlSize)
	p.dlRel, p.dlSize = "", 0
}

// movedAway reports whether the open file f is no longer at path: removed,
// renamed, or replaced by another file.
func movedAway(f *os.File, path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	open, err := f.Stat()
	if err != nil {
		return false, err
	}
	return !os.SameFile(fi, open), nil
}

// notAsWritten says how the open file f, of which the archive wrote size
// bytes, is no longer what it wrote at path: "" when it still is, else
// what happened (removed, moved or replaced; cut short by someone).
func notAsWritten(f *os.File, path string, size int64) (string, error) {
	gone, err := movedAway(f, path)
	switch {
	case err != nil:
		return "", err
	case gone:
		return "removed, moved or replaced", nil
	}
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if fi.Size() < size {
		return fmt.Sprintf("cut to %d bytes", fi.Size()), nil
	}
	return "", nil
}

// activeGone ends the message about an active data file that someone
// removed or changed, while running (dropActiveIfGone) or stopped
// (recoverFiles).
const activeGone = "the lines it held are not in the archive any more; the next lines start a new file (leave the active file alone: see docs/guarantee.md)"

// dropActiveIfGone looks at the active data file before the archive writes
// to it or rotates it: one removed, moved, replaced or cut short while open
// (rm, gzip without -k, logrotate's copytruncate) is left to whoever did
// that, logged, and the active file is none; the next line starts a new
// file (rule 3). Without the look, lines would go on into a file no path
// names, and be lost at its rotation.
func (p *Partition) dropActiveIfGone() error {
	a := p.active
	if a == nil {
		return nil
	}
	path := p.abs(a.rel)
	what, err := notAsWritten(a.f, path, a.size)
	if err != nil {
		return fmt.Errorf("checking data file %s: %w", path, err)
	}
	if what == "" {
		return nil
	}
	p.log.Error("the active data file was "+what+" while the consumer had it open: "+activeGone,
		"path", path, "bytes_written", a.size)
	_ = a.f.Close() // its bytes were fsynced; it is not the archive's any more
	p.active = nil
	return nil
}

// startFile makes a new active data file for a record at offset first whose
// hour is hour. There must be no active file: the caller rotates and
// commits first, or (commit, the active file found gone) holds the lines
// for the new one, which the checkpoint written here does not count.
func (p *Partition) startFile(first int64, hour, now time.Time) error {
	rel := p.cfg.Layout.DataPath(p.topic, p.partition, first, hour)
	path := p.abs(rel)
	// Rule 3: never create over bytes. Such a file can only exist if the
	// checkpoints were lost or removed; stop rather than destroy it.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return fmt.Errorf("refusing to overwrite %s: it holds %d bytes no checkpoint covers (was %s removed?)",
			path, fi.Size(), p.abs(stateDirName))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking new data file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), p.cfg.dirMode()); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}

	c := p.snapshot(p.ckpt.NextOffset)
	c.Active, c.ActiveSize, c.ActiveHour, c.ActiveCreated = rel, 0, hour, now
	if err := p.writeCheckpoint(c); err != nil {
		return err
	}

	// The checkpoint names the file, so truncating it is safe.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, p.cfg.FileMode)
	if err != nil {
		return fmt.Errorf("creating data file: %w", err)
	}
	crashPoint("new data file created")
	if err := syncDirs(filepath.Dir(path), p.cfg.Dir); err != nil {
		_ = f.Close()
		return err
	}
	p.active = &activeFile{f: f, rel: rel, first: first, hour: hour, created: now}
	return nil
}

// rotate closes the active file, compresses it if configured, and
// checkpoints that there is no active file (rule 5). Nothing may be
// buffered: the caller commits first.
func (p *Partition) rotate() error {
	if err := p.dropActiveIfGone(); err != nil {
		return err
	}
	a := p.active
	if a == nil {
		// Gone (logged): nothing to close, compress or upload; the
		// checkpoint names no active file any more.
		return p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset))
	}
	p.active = nil
	path := p.abs(a.rel)
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("closing data file %s: %w", path, err)
	}
	crashPoint("rotate: data file closed")
	final := path
	switch {
	case a.size == 0:
		// Only a file left empty by a crash; drop it rather than archive it.
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("removing empty data file: %w", err)
		}
		crashPoint("rotate: empty data file removed")
		if err := durable.SyncDir(filepath.Dir(path)); err != nil {
			return err
		}
	case p.cfg.Compression != CompressionNone:
		var err error
		if final, err = p.compressActive(a); err != nil {
			return err
		}
	}
	uploaded := p.up != nil && a.size > 0
	if uploaded {
		if err := p.upload(final, a.first, a.hour); err != nil {
			return err
		}
	}
	if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
		return err
	}
	if uploaded {
		if err := p.dropStaged(final); err != nil {
			return err
		}
	}
	if a.size > 0 {
		p.log.Info("rotated data file", "path", final, "bytes", a.size)
		if p.cfg.OnRotate != nil {
			p.cfg.OnRotate(final)
		}
	}
	return nil
}

// recover reads the checkpoint and brings the files back to it (rules 2 and
// 5). It runs when the partition is opened and after a failed operation.
func (p *Partition) recover() error {
	if err := p.recoverFiles(); err != nil {
		return err
	}
	// A crash between a commit that filled the key file generation and the
	// checkpoint of the next one: start it now, as the commit would have,
	// or the window would hold other keys than after a run without the
	// crash.
	return p.shiftKeys()
}

func (p *Partition) recoverFiles() error {
	c, found, legacy, err := p.loadCheckpoint()
	switch {
	case err != nil:
		return err
	case !found:
		// A partition seen for the first time.
		c := checkpoint{
			Topic:      p.topic,
			Partition:  p.partition,
			NextOffset: -1,
		}
		if err := p.writeCheckpoint(c); err != nil {
			return err
		}
	case c.Topic != p.topic || c.Partition != p.partition:
		name := checkpointPath(p.topic, p.partition)
		if !legacy {
			name = slotsPath(p.topic, p.partition)
		}
		return fmt.Errorf("checkpoint %s is for %s partition %d", p.abs(name), c.Topic, c.Partition)
	case legacy:
		// A folder of an earlier version: the checkpoint file takes over.
		if err := p.writeCheckpoint(c); err != nil {
			return err
		}
	case p.ckptStale:
		// The checkpoint file was just opened, or a slot write failed:
		// what was read may not be on disk. Written as a new file, it is,
		// before recovery acts on it and before any write in place.
		if err := p.writeCheckpoint(c); err != nil {
			return err
		}
	default:
		p.ckpt = c
	}
	p.uploadHour = p.ckpt.UploadHour

	if err := p.recoverDeadLetters(); err != nil {
		return err
	}
	if err := p.recoverKeys(); err != nil {
		return err
	}

	if p.ckpt.Active == "" {
		return nil
	}
	path := p.abs(p.ckpt.Active)
	for _, ext := range compressedExts() {
		// A temp file is what an interrupted compression left behind.
		if err := os.Remove(path + ext + ".tmp"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing partial compressed file: %w", err)
		}
	}
	if done, err := p.rotatedBefore(); err != nil || done {
		switch {
		case err != nil:
			return err
		case p.up != nil:
			return p.uploadRotated()
		case p.switchKeep:
			p.switchRotated = true
			return nil
		}
		// Finished as a folder rotation: the checkpoint names no active
		// file, as after one that was not interrupted. Named there, the
		// rotated file would be taken for a staged one (resetStaging
		// drops what the checkpoint names), or for a file lost once moved
		// away.
		return p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset))
	}
	f, size, err := p.truncateTo(p.ckpt.Active, p.ckpt.ActiveSize)
	var lost *lostError
	if errors.As(err, &lost) {
		// Removed or cut short while the consumer was stopped: left to
		// whoever did that (rule 3); the next line starts a new file.
		p.log.Error("the active data file "+lost.what+" while the consumer was stopped: "+activeGone,
			"path", lost.path, "checkpoint", p.abs(slotsPath(p.topic, p.partition)), "bytes_written", lost.want)
		return p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset))
	}
	if err != nil {
		return err
	}
	if f != nil {
		p.active = &activeFile{f: f, rel: p.ckpt.Active, size: size, hour: p.ckpt.ActiveHour, created: p.ckpt.ActiveCreated}
		if p.up != nil {
			if p.active.first, err = firstOffset(p.ckpt.Active); err != nil {
				_ = f.Close()
				p.active = nil
				return err
			}
		}
	}
	return nil
}

// recoverDeadLetters opens the checkpoint's dead-letter file, cut to its
// size. One that is missing was moved or removed by someone: the next dead
// letter starts a new one.
func (p *Partition) recoverDeadLetters() error {
	c := p.ckpt
	p.dlRel, p.dlSize, p.dlCreated = c.DeadLetter, c.DeadLetterSize, c.DeadLetterCreated
	if c.DeadLetter == "" {
		return nil
	}
	ok, err := exists(p.abs(c.DeadLetter))
	if err != nil {
		return fmt.Errorf("checking dead-letter file: %w", err)
	}
	if !ok && c.DeadLetterSize > 0 {
		p.log.Warn("the dead-letter file is missing (moved or removed); the next dead letter starts a new one",
			"path", p.abs(c.DeadLetter), "bytes", c.DeadLetterSize)
		p.dlRel, p.dlSize = "", 0
		return nil
	}
	f, size, err := p.truncateTo(c.DeadLetter, c.DeadLetterSize)
	var lost *lostError
	if errors.As(err, &lost) {
		p.log.Warn("the dead-letter file "+lost.what+" (by someone else); the next dead letter starts a new one",
			"path", lost.path, "bytes", lost.want)
		p.dlRel, p.dlSize = "", 0
		return nil
	}
	if err != nil {
		return err
	}
	p.dl, p.dlSize = f, size
	return nil
}

// rotatedBefore finishes a rotation that a crash interrupted after the
// compressed file got its name: the checkpoint names that file and its
// size, and the file found there has that size. Then the plain file, if
// still there, is a leftover and goes. A compressed file the checkpoint does
// not name is not the archive's (gzip -k, a cron job) and is left alone; the
// plain file stays active.
func (p *Partition) rotatedBefore() (bool, error) {
	if p.ckpt.Rotated == "" {
		return false, nil
	}
	compressed := p.abs(p.ckpt.Rotated)
	fi, err := os.Stat(compressed)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("checking compressed file: %w", err)
	case fi.Size() != p.ckpt.RotatedSize:
		p.log.Warn("a file the archive did not write has the rotated file's name; the data file stays active",
			"path", p.abs(p.ckpt.Active), "other", compressed, "bytes", fi.Size())
		return false, nil
	}
	path := p.abs(p.ckpt.Active)
	ok, err := exists(path)
	if err != nil {
		return false, fmt.Errorf("checking data file: %w", err)
	}
	if ok {
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("removing data file already compressed: %w", err)
		}
		crashPoint("recover: compressed file's plain file removed")
		if err := durable.SyncDir(filepath.Dir(path)); err != nil {
			return false, err
		}
		p.log.Info("finished interrupted rotation", "path", compressed)
	}
	return true, nil
}

// truncateTo opens the file rel for appending and cuts it to size, the size
// a checkpoint gives it. It returns a nil file when rel does not exist and
// size is 0 (the checkpoint was written before the file was created). A file
// shorter than its checkpoint, or missing, has lost data: that is an error,
// not something to paper over.
func (p *Partition) truncateTo(rel string, size int64) (*os.File, int64, error) {
	path := p.abs(rel)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if size > 0 {
			return nil, 0, &lostError{path: path, ckpt: p.abs(slotsPath(p.topic, p.partition)), what: "is missing", want: size}
		}
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("opening file to recover: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("checking file to recover: %w", err)
	}
	switch {
	case fi.Size() < size:
		_ = f.Close()
		return nil, 0, &lostError{path: path, ckpt: p.abs(slotsPath(p.topic, p.partition)),
			what: fmt.Sprintf("was cut to %d bytes", fi.Size()), want: size}
	case fi.Size() > size:
		if err := f.Truncate(size); err != nil {
			_ = f.Close()
			return nil, 0, fmt.Errorf("truncating to the checkpoint: %w", err)
		}
		crashPoint("recover: truncated")
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, 0, fmt.Errorf("syncing truncated file: %w", err)
		}
		p.log.Warn("removed bytes written after the last checkpoint", "path", path, "bytes", fi.Size()-size)
	}
	return f, size, nil
}

// lostError is a file a checkpoint counts bytes of that is missing, or
// shorter than that: someone removed or cut it.
type lostError struct {
	path, ckpt string
	what       string // "is missing", "was cut to N bytes"
	want       int64  // the bytes the checkpoint counts
}

func (e *lostError) Error() string {
	return fmt.Sprintf("%s %s, checkpoint %s says it holds %d bytes: data was lost", e.path, e.what, e.ckpt, e.want)
}

// fileSize returns the size of path, 0 if it does not exist.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
