// Package spool is a durable first-in first-out queue of records in a local
// directory: where the producer keeps what it accepted while Kafka is away.
// Append makes records durable before it returns, Peek reads the oldest back
// from disk, Remove drops them once Kafka has acknowledged them.
//
// Files in the directory:
//
//	spool-<20-digit sequence>.log   segments, oldest first; Append writes to the last
//	spool.head                      the oldest record not yet removed: segment and offset,
//	                                in two slots written in turn, in place
//	spool.head.tmp                  a head file being created; deleted by Open
//	spool.lock                      flock held while the spool is open
//
// format.go describes their bytes. A segment grows to Options.SegmentBytes
// (one Append is never split, so a large one can go past it); once Remove
// has consumed a segment it is deleted, and when Remove empties the spool
// the last segment is replaced by an empty one (on a full disk, where there
// is no room for one, its records are freed in place instead), so a drained
// spool holds no old records. Draining writes no new block: a full disk
// does not stop it, and it gives the space back.
//
// # Guarantee
//
// When Append returns nil its records are on disk (written and fsynced) and
// stay there, across crashes and restarts, until Remove drops them; Peek
// returns them in Append order. Delivery is at least once: records Kafka
// acknowledged but Remove did not yet drop are sent again after a crash, and
// the consumer deduplicates them by key.
//
// # Crashes, step by step
//
//   - During Append, before its fsync returned: the last segment may hold
//     any part of the Append's bytes (after a power loss even later pages
//     without earlier ones). Open cuts the file back to where that Append
//     began and logs a warning with the file, offset and bytes: an Append
//     is kept whole or not at all. It never returned nil, so nothing
//     accepted is lost.
//   - After Append returned nil: its records are kept.
//   - While a new segment is created: a last segment with no complete
//     header is deleted by Open; it held no record.
//   - After Kafka acknowledged records, before Remove's new head reached
//     the disk (including a crash that tore the write of its slot): the
//     other slot's head stands, the records are sent again (at least once).
//   - After the new head was fsynced, before consumed segments were
//     deleted: Open deletes every segment older than the head's.
//   - While the head file is created (a new spool): spool.head.tmp is
//     deleted by Open, and the head is the oldest segment's start.
//
// # Damage
//
// A record whose length, checksum or encoding is wrong is an error wrapping
// ErrCorrupt that names the file and the offset, from Open (which checks
// every record not yet removed) or from Peek (damage that appeared later):
// the spool never skips records on its own. To start anyway, move that
// segment out of the directory: Open then warns that its records are lost
// and goes on with the other segments. The head file has two slots: one
// unreadable is warned about and the other used (records removed last may
// be sent again); both unreadable stop Open the same way as a damaged
// segment, and deleting the file makes the spool start from its oldest
// segment (records already sent are sent again). One limit: damage
// inside the last Append of the last segment looks exactly like a torn
// Append and is cut away like one, with the same warning. Damage with a
// later Append after it cannot be a torn write, because an Append starts only
// after the previous one is on disk.
//
// # Use
//
// One process per directory (Open takes a lock). Append may run in one
// goroutine while Peek and Remove run in another; an Append waits for no
// reader while it writes and fsyncs. Open reads every record not yet
// removed once, sequentially, to check and count them.
package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// Record is one Kafka message, as the publisher will write it.
type Record struct {
	Topic   string
	Key     []byte    // nil and empty are kept apart
	Value   []byte    // nil and empty are kept apart
	Time    time.Time // zero when unset; read back in UTC
	Headers []Header
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// DefaultSegmentBytes is the segment size when Options.SegmentBytes is 0.
const DefaultSegmentBytes = 64 << 20

// Options tune a spool; the zero value is durable and unbounded.
type Options struct {
	// SegmentBytes is the size past which Append starts a new segment file.
	// 0 means DefaultSegmentBytes.
	SegmentBytes int64
	// MaxBytes bounds Bytes: Append returns ErrFull rather than go past it.
	// 0 means unlimited. The disk holds up to one segment more: the
	// consumed part of the oldest segment. Draining needs no free space
	// (see the package documentation).
	MaxBytes int64
	// NoSync skips every fsync. The spool then survives the process
	// crashing (the kernel holds the writes) but not the machine losing
	// power. For tests and benchmarks.
	NoSync bool
	// Logger receives recovery warnings; nil means slog.Default().
	Logger *slog.Logger
}

// Sentinels, checked with errors.Is.
var (
	ErrFull     = errors.New("spool full")
	ErrClosed   = errors.New("spool closed")
	ErrTooLarge = errors.New("record too large for the spool")
)

// position is where a record starts: a segment and a byte offset in it.
type position struct {
	seq uint64
	off int64
}

// segment is a segment file and how far its records go.
type segment struct {
	seq  uint64
	size int64 // end of the records Append made durable
}

// mark is where a peeked record ends, and the bytes from the head up to it.
type mark struct {
	end   position
	bytes int64
}

// Spool is a durable FIFO of records. Open it with Open.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	// wmu serialises Append and the creation of segments. It is held
	// across the write and the fsync; mu is not. Lock order: wmu, then mu.
	wmu   sync.Mutex
	w     *os.File // the last segment
	wseq  uint64
	wsize int64  // bytes of w that are written and durable
	wbuf  []byte // encoding buffer
	wErr  error  // a failed fsync: nothing more is appended

	mu     sync.Mutex
	closed bool      // set holding wmu and mu; read holding either
	segs   []segment // from the head's segment to the last
	head   position
	hf     *os.File // the head file, written in place; nil until Open has one
	hgen   uint64   // generation of the head in hf
	count  int64
	bytes  int64
	r      *os.File // segment being read, or nil
	rseq   uint64
	rr     *recordReader
	buf    []byte // payload buffer for Remove
	// peeked marks the records the last Peek returned, while the head is
	// still peekedFrom, so that Remove need not read them again.
	peeked     []mark
	peekedFrom position
}

// Open opens the spool in dir, creating dir if needed, and recovers it: a
// torn last Append is cut away (logged), consumed segments left by a crash
// are deleted, every record not yet removed is checked and counted.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.SegmentBytes < 0 || opts.MaxBytes < 0 {
		return nil, fmt.Errorf("spool options: SegmentBytes=%d and MaxBytes=%d must not be negative", opts.SegmentBytes, opts.MaxBytes)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating spool directory: %w", err)
	}
	lock, err := durable.TryLock(filepath.Join(dir, lockName), 0o640)
	if err != nil {
		return nil, fmt.Errorf("locking spool %s: %w", dir, err)
	}
	s := &Spool{dir: dir, opts: opts, log: opts.Logger, lock: lock, rr: newRecordReader()}
	if err := s.recover(); err != nil {
		_ = s.closeFiles()
		return nil, fmt.Errorf("opening spool %s: %w", dir, err)
	}
	if s.count > 0 {
		s.log.Info("spool holds records from a previous run", "dir", dir, "count", s.count, "bytes", s.bytes)
	}
	return s, nil
}

// Append adds records at the tail, as one unit: when it returns nil they are
// durable; after a crash during Append either all of them are in the spool
// or none. It returns ErrFull, writing nothing, when they would take Bytes
// past Options.MaxBytes (so a batch larger than MaxBytes never fits). After
// a failed fsync every later Append fails: what reached the disk is known
// again only after Close and Open.
func (s *Spool) Append(recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.wErr != nil {
		return s.wErr
	}
	buf := s.wbuf[:0]
	for i, r := range recs {
		var flags byte
		if i == 0 {
			flags |= flagFirst
		}
		if i == len(recs)-1 {
			flags |= flagLast
		}
		var err error
		if buf, err = appendRecord(buf, r, flags); err != nil {
			return fmt.Errorf("encoding record %d: %w", i, err)
		}
	}
	if cap(buf) <= 4<<20 { // keep a usual batch's buffer, not an outsized one
		s.wbuf = buf
	}
	n := int64(len(buf))

	s.mu.Lock()
	used := s.bytes
	s.mu.Unlock()
	if s.opts.MaxBytes > 0 && used+n > s.opts.MaxBytes {
		return ErrFull
	}
	if s.wsize > segmentHeaderLen && s.wsize+n > s.opts.SegmentBytes {
		if err := s.roll(); err != nil {
			return err
		}
	}
	crashPoint("append")
	if _, err := s.w.WriteAt(buf, s.wsize); err != nil {
		// Take the partial write back, so the next Append starts clean.
		if terr := s.w.Truncate(s.wsize); terr != nil {
			s.wErr = fmt.Errorf("spool unusable after a failed append to %s: %w", s.w.Name(), errors.Join(err, terr))
			return s.wErr
		}
		return fmt.Errorf("appending to %s: %w", s.w.Name(), err)
	}
	crashPoint("append: written")
	if err := s.sync(s.w); err != nil {
		// After a failed fsync the kernel may have dropped the pages: what
		// is on disk is unknown until Open checks it again.
		s.wErr = fmt.Errorf("spool unusable after a failed fsync of %s: %w", s.w.Name(), err)
		return s.wErr
	}
	s.wsize += n

	s.mu.Lock()
	s.segs[len(s.segs)-1].size = s.wsize
	s.count += int64(len(recs))
	s.bytes += n
	s.mu.Unlock()
	return nil
}

// roll starts the next segment and makes it the one Append writes to.
// The caller holds wmu.
func (s *Spool) roll() error {
	old := s.w
	if err := s.startSegment(s.wseq + 1); err != nil {
		return err
	}
	s.mu.Lock()
	s.segs = append(s.segs, segment{seq: s.wseq, size: s.wsize})
	s.mu.Unlock()
	_ = old.Close() // every Append to it was fsynced; nothing is left to flush
	return nil
}

// startSegment creates segment seq durably and makes it the writer's file.
func (s *Spool) startSegment(seq uint64) error {
	path := s.path(segmentName(seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("creating segment: %w", err)
	}
	crashPoint("segment: created")
	_, err = f.Write([]byte(segmentMagic))
	if err == nil {
		crashPoint("segment: header written")
		err = s.sync(f)
	}
	if err == nil {
		err = s.syncDir()
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("creating segment %s: %w", path, err)
	}
	s.w, s.wseq, s.wsize = f, seq, segmentHeaderLen
	return nil
}

// Peek returns the oldest records not yet removed, in order, without
// removing them: at most maxRecords records, and no more than maxBytes of framed
// record size (see Bytes) unless the first record alone is larger, which is
// then returned alone. maxBytes <= 0 means no byte limit. The records are
// read from disk and belong to the caller. Peek sees only records whose
// Append has returned.
func (s *Spool) Peek(maxRecords, maxBytes int) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var recs []Record
	marks := s.peeked[:0]
	s.peeked = nil
	p := s.head
	var total int64
	for i := 0; i < len(s.segs) && len(recs) < maxRecords; i++ {
		seg := s.segs[i]
		if p.seq != seg.seq {
			p = position{seq: seg.seq, off: segmentHeaderLen}
		}
		if p.off >= seg.size {
			continue
		}
		if err := s.readFrom(p, seg.size); err != nil {
			return nil, err
		}
		for len(recs) < maxRecords && s.rr.off < seg.size {
			at := s.rr.off
			size, err := s.rr.size()
			if err != nil {
				return nil, s.readError(at, err)
			}
			if maxBytes > 0 && len(recs) > 0 && total+size > int64(maxBytes) {
				s.peeked, s.peekedFrom = marks, s.head
				return recs, nil
			}
			payload, err := s.rr.next(nil)
			if err != nil {
				return nil, s.readError(at, err)
			}
			r, _, err := decodeRecord(payload)
			if err != nil {
				return nil, s.readError(at, err)
			}
			recs = append(recs, r)
			total += size
			p.off = s.rr.off
			marks = append(marks, mark{end: p, bytes: total})
		}
	}
	s.peeked, s.peekedFrom = marks, s.head
	return recs, nil
}

// readFrom points s.rr at segment p.seq from p.off to end, opening the
// segment if needed. The caller holds mu.
func (s *Spool) readFrom(p position, end int64) error {
	if s.r == nil || s.rseq != p.seq {
		if s.r != nil {
			_ = s.r.Close() // read-only
			s.r = nil
		}
		f, err := os.Open(s.path(segmentName(p.seq)))
		if err != nil {
			return fmt.Errorf("opening segment to read: %w", err)
		}
		s.r, s.rseq = f, p.seq
	}
	s.rr.reset(s.r, p.off, end)
	return nil
}

// readError names the file and offset of a failed read.
func (s *Spool) readError(off int64, err error) error {
	return fmt.Errorf("reading %s at offset %d: %w", s.path(segmentName(s.rseq)), off, err)
}

// Remove drops the n oldest records, durably: after a crash they do not come
// back. Call it once Kafka has acknowledged them. Segments it consumes
// entirely are deleted. Removing more records than Len is an error and
// removes nothing.
func (s *Spool) Remove(n int) error {
	if n < 0 {
		return fmt.Errorf("removing %d records: negative count", n)
	}
	if n == 0 {
		return nil
	}
	s.mu.Lock()
	emptied, err := s.remove(int64(n))
	s.mu.Unlock()
	if err != nil || !emptied {
		return err
	}
	s.reclaim()
	return nil
}

// remove moves the head past n records; it reports whether the spool is now
// empty. The caller holds mu.
func (s *Spool) remove(n int64) (bool, error) {
	if s.closed {
		return false, ErrClosed
	}
	if n > s.count {
		return false, fmt.Errorf("removing %d records: the spool holds %d", n, s.count)
	}
	to, bytes, err := s.advance(n)
	if err != nil {
		return false, err
	}
	if err := s.commitHead(s.normalize(to)); err != nil {
		return false, err
	}
	s.count -= n
	s.bytes -= bytes
	return s.count == 0, nil
}

// advance returns the position n records past the head and the bytes they
// take, from the last Peek's marks when it covered them, else by reading the
// records. The caller holds mu.
func (s *Spool) advance(n int64) (position, int64, error) {
	if s.peekedFrom == s.head && n <= int64(len(s.peeked)) {
		m := s.peeked[n-1]
		return m.end, m.bytes, nil
	}
	p := s.head
	var total int64
	for i := 0; i < len(s.segs) && n > 0; i++ {
		seg := s.segs[i]
		if p.seq != seg.seq {
			p = position{seq: seg.seq, off: segmentHeaderLen}
		}
		if err := s.readFrom(p, seg.size); err != nil {
			return position{}, 0, err
		}
		for n > 0 && s.rr.off < seg.size {
			at := s.rr.off
			payload, err := s.rr.next(s.buf)
			if err != nil {
				return position{}, 0, s.readError(at, err)
			}
			s.buf = payload
			total += s.rr.off - at
			n--
		}
		p.off = s.rr.off
	}
	if n > 0 { // count and segments disagree: a bug, not damage
		return position{}, 0, fmt.Errorf("removing records: %d fewer on disk than counted", n)
	}
	return p, total, nil
}

// normalize moves a position at the end of a segment that is not the last
// to the start of the next one. The caller holds mu (or is Open).
func (s *Spool) normalize(p position) position {
	for i, seg := range s.segs[:len(s.segs)-1] {
		if seg.seq == p.seq && p.off >= seg.size {
			p = position{seq: s.segs[i+1].seq, off: segmentHeaderLen}
		}
	}
	return p
}

// reclaim replaces a fully consumed last segment by an empty one, so that a
// drained spool keeps no old records on disk; without room for a new
// segment (Linux) it frees the old one's records in place. Best effort: a
// failure is logged and leaves the spool as it was.
func (s *Spool) reclaim() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	drained := !s.closed && s.wErr == nil && s.count == 0 &&
		s.wsize > segmentHeaderLen && s.head == position{seq: s.wseq, off: s.wsize}
	s.mu.Unlock()
	if !drained {
		return
	}
	if err := s.roll(); err != nil {
		// No room for a new segment (a full disk): free the consumed
		// records' blocks in place. The head does not move and nothing
		// before it is read again, so a crash at any point leaves the
		// spool as it is.
		if perr := punchHole(s.w, segmentHeaderLen, s.wsize-segmentHeaderLen); perr != nil {
			s.log.Warn("spool: starting an empty segment after draining", "err", err, "freeing_in_place", perr)
		}
		return
	}
	crashPoint("reclaim: new segment started")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.commitHead(s.normalize(s.head)); err != nil {
		s.log.Warn("spool: moving the head after draining", "err", err)
	}
}

// Len returns the number of records not yet removed.
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Bytes returns the framed size of the records not yet removed: their
// encoded topic, key, value, time and headers plus 8 bytes each.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Empty reports whether every record appended has been removed.
func (s *Spool) Empty() bool { return s.Len() == 0 }

// Close closes the files and releases the directory. Records not yet
// removed stay for the next Open. Close waits for an Append in progress.
func (s *Spool) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.closeFiles(); err != nil {
		return fmt.Errorf("closing spool %s: %w", s.dir, err)
	}
	return nil
}

// closeFiles closes every file s holds, the lock last.
func (s *Spool) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{s.w, s.r, s.hf, s.lock} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	s.w, s.r, s.hf, s.lock = nil, nil, nil, nil
	return errors.Join(errs...)
}

func (s *Spool) path(name string) string { return filepath.Join(s.dir, name) }

// sync fsyncs f unless Options.NoSync.
func (s *Spool) sync(f *os.File) error {
	if s.opts.NoSync {
		return nil
	}
	return f.Sync()
}

// syncDir fsyncs the directory, making file creations, renames and
// deletions in it durable, unless Options.NoSync.
func (s *Spool) syncDir() error {
	if s.opts.NoSync {
		return nil
	}
	return durable.SyncDir(s.dir)
}
