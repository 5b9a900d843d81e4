package archive

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Partition writes the records of one topic partition. It holds the
// partition's lock until Close. It is not safe for concurrent use: one
// goroutine (the partition's consumer) calls its methods.
type Partition struct {
	cfg       Config
	log       *slog.Logger
	topic     string
	partition int
	lock      *os.File
	up        PartitionUploader // nil without Config.Uploader (upload.go)
	// switchKeep is set while closeSwitched keeps the file open at the
	// switch to a bucket in the folder: recovery that finishes its
	// rotation leaves it named in the checkpoint, for closeSwitched to
	// rename (switchRotated).
	switchKeep, switchRotated bool
	// uploadHour is the checkpoint's UploadHour as the records taken so
	// far set it: the hour in the key of the next upload (upload.go).
	uploadHour time.Time

	ckpt      checkpoint           // the checkpoint on disk
	ckptFile  *os.File             // the checkpoint file, open from recovery to Close (checkpoint_slots.go)
	ckptInfo  os.FileInfo          // ckptFile's, to tell it is still at its path
	ckptSeq   uint64               // the highest sequence written to or read from ckptFile
	ckptSlot  int                  // the slot of ckptFile holding the newest durable checkpoint
	ckptStale bool                 // ckptFile may hold a slot not on disk: the next checkpoint is a new file
	syncSlot  func(*os.File) error // fsyncs ckptFile after a slot write; nil is syncData (tests make it fail)
	// dropPages drops n bytes of f from offset off from the page cache
	// once they are fsynced; nil is pagecache.Drop (tests record the calls).
	dropPages func(f *os.File, off, n int64)

	active    *activeFile // the data file being appended to; nil when none
	dl        *os.File    // the dead-letter file dlRel, open; nil until one is needed
	dlRel     string      // the dead-letter file being appended to; "" when none
	dlSize    int64       // bytes written and fsynced to dlRel
	dlCreated time.Time   // when dlRel was created (Config.Now)

	keys     keyWindow        // recently written keys (dedup.go)
	longKey  [longKeyLen]byte // the window's form of the record's key, when digested (windowed)
	keysBuf  []byte           // keys for keysFile, not yet written
	keysFile *os.File         // generation keysGen of the key file; nil until needed
	keysGen  int64
	keysSize int64 // bytes written and fsynced to keysFile

	data    lines  // lines for active, not yet written (the records' own bytes)
	dlBuf   []byte // lines for dl, not yet written
	dlFirst int64  // offset of the first dead letter in dlBuf
	// dataFirst and dataHour are the offset and hour of the first line in
	// data: where a new file starts if the active one is found gone.
	dataFirst int64
	dataHour  time.Time
	fenced    error // another process holds the partition's new lock (relock): nothing more is written, not even by recovery
	broken    bool  // an operation failed part way; recover before the next
	// tickAfter is when Tick may try again after a failed rotation, and
	// tickBackoff how long it waited last: a rotation compresses the whole
	// file, so it is not retried at every Tick while, say, the disk is full.
	tickAfter   time.Time
	tickBackoff time.Duration
	closed      bool
}

// activeFile is the plain data file a partition appends to.
type activeFile struct {
	f       *os.File
	rel     string    // path relative to Dir
	first   int64     // offset of its first record; set only with an uploader
	size    int64     // bytes written and fsynced
	hour    time.Time // UTC hour of its first record
	created time.Time // when it was created (Config.Now)
}

// abs returns the absolute path of rel, a path relative to Dir.
func (p *Partition) abs(rel string) string { return filepath.Join(p.cfg.Dir, rel) }

// NextOffset returns the first offset not yet durably written, or -1 if no
// record of the partition was ever written. With an uploader it is the
// first offset not yet in the bucket (upload.go), -1 if none is.
func (p *Partition) NextOffset() int64 {
	if p.up != nil {
		return p.up.Next()
	}
	return p.ckpt.NextOffset
}

// Append writes recs, in order, fsyncs and checkpoints them. After it returns
// nil every offset up to the last of recs is durable and the caller may
// commit last+1 to Kafka. Records with offsets below NextOffset (or not above
// an earlier record of recs) are skipped. Values that cannot be one line of
// JSON go to the dead-letter file.
//
// On error the Result is zero and nothing was committed beyond NextOffset;
// the caller retries the same records later (or after a restart) and each is
// written once.
func (p *Partition) Append(recs []Record) (Result, error) {
	if err := p.ready(); err != nil {
		return Result{}, err
	}
	res, err := p.append(recs)
	if err != nil {
		p.broken = true
		return Result{}, err
	}
	return res, nil
}

func (p *Partition) append(recs []Record) (Result, error) {
	var (
		res      Result
		now      = p.cfg.Now()
		next     = p.ckpt.NextOffset
		dlOffset int64 // first dead-lettered offset, for the log
		dlReason string
	)
	for i := range recs {
		r := &recs[i]
		if r.Offset < 0 {
			return res, fmt.Errorf("record offset %d is negative", r.Offset)
		}
		if r.Offset < next {
			res.Skipped++
			continue
		}
		p.takeUploadHour(r.Time)
		t := r.Time
		if !validTime(t) {
			t = now
		}

		reason := r.Reason
		if !r.Checked {
			reason = checkValue(r.Value)
		}
		if reason != "" {
			var err error
			if len(p.dlBuf) == 0 {
				p.dlFirst = r.Offset
			}
			if p.dlBuf, err = appendDeadLetter(p.dlBuf, p.topic, p.partition, *r, t, reason); err != nil {
				return res, err
			}
			if res.DeadLettered == 0 {
				dlOffset, dlReason = r.Offset, reason
			}
			res.DeadLettered++
			next = r.Offset + 1
			continue
		}

		w := p.windowed(r)
		if p.isDuplicate(w) {
			res.Duplicates++
			next = r.Offset + 1
			continue
		}

		hour := t.UTC().Truncate(time.Hour)
		if p.active != nil && p.rotateBefore(hour, now) {
			if err := p.commit(next); err != nil {
				return res, err
			}
			if err := p.rotate(); err != nil {
				return res, err
			}
		}
		if p.active == nil {
			if err := p.commit(next); err != nil {
				return res, err
			}
			p.takeUploadHour(r.Time) // the first record past an upload the rotation just made
			if err := p.startFile(r.Offset, hour, now); err != nil {
				return res, err
			}
		}
		if p.data.size == 0 {
			p.dataFirst, p.dataHour = r.Offset, hour
		}
		p.data.add(r.Value)
		p.remember(w)
		res.Written++
		res.Bytes += int64(len(r.Value)) + 1
		next = r.Offset + 1
		if p.dedupOn() && len(p.keys.cur) >= p.cfg.DedupWindow {
			// The key file generation is full: commit, and commit starts
			// the next generation.
			if err := p.commit(next); err != nil {
				return res, err
			}
		}

		// Size rotation happens after the record that reached the limit, so
		// a record larger than the limit still gets written, alone.
		if p.active.size+p.data.size >= p.cfg.RotateMaxBytes {
			if err := p.commit(next); err != nil {
				return res, err
			}
			if err := p.rotate(); err != nil {
				return res, err
			}
		}
	}
	if err := p.commit(next); err != nil {
		return res, err
	}
	if res.DeadLettered > 0 {
		p.log.Warn("dead-lettered records", "count", res.DeadLettered, "offset", dlOffset, "reason", dlReason,
			"path", p.abs(p.dlRel))
	}
	return res, nil
}

// validTime reports whether t is a record time the archive can use: set,
// not before 1970 (Kafka's "no timestamp" is -1) and before the year 10000,
// past which RFC 3339, and so the checkpoint and the dead letters, cannot
// write it. Other times are taken as the time the record was read.
func validTime(t time.Time) bool {
	return !t.IsZero() && t.UnixMilli() >= 0 && t.UTC().Year() <= 9999
}

// rotateBefore reports whether the active file must be rotated before a
// record of the given hour goes in. A record of a later hour starts a file in
// its hour's directory. A record of an earlier hour (a late arrival, common
// when producers' clocks jitter around an hour boundary) stays in the active
// file: going back would open a file per jitter, and a file's hour is that of
// its first record, not a bound on the others.
func (p *Partition) rotateBefore(hour, now time.Time) bool {
	a := p.active
	return hour.After(a.hour) ||
		a.size+p.data.size >= p.cfg.RotateMaxBytes || // reached after a restart
		now.Sub(a.created) >= p.cfg.RotateInterval
}

// maxTickBackoff bounds how long Tick waits after failed rotations.
const maxTickBackoff = time.Minute

// Tick rotates the active file once it is RotateInterval old, even when no
// record has come since. Call it periodically (every few seconds) from the
// goroutine that calls Append. After a failed rotation it waits (1 s,
// doubling up to a minute) before trying again.
func (p *Partition) Tick() error {
	now := p.cfg.Now()
	if now.Before(p.tickAfter) {
		return nil
	}
	if err := p.ready(); err != nil {
		return err
	}
	if p.active != nil && now.Sub(p.active.created) >= p.cfg.RotateInterval {
		if err := p.rotate(); err != nil {
			p.broken = true
			p.tickBackoff = min(max(2*p.tickBackoff, time.Second), maxTickBackoff)
			p.tickAfter = now.Add(p.tickBackoff)
			return fmt.Errorf("%w (next try in %s)", err, p.tickBackoff)
		}
		p.tickBackoff = 0
	}
	if p.dlRel != "" && now.Sub(p.dlCreated) >= p.cfg.RotateInterval {
		p.rotateDeadLetters()
		if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
			p.broken = true
			return err
		}
	}
	return nil
}

// Close closes the partition's files and releases its lock. It does not
// rotate: the active file stays active for whoever opens the partition next.
// After a failed Append it first cuts the files back to the checkpoint, so
// readers do not see lines that are not archived yet linger.
func (p *Partition) Close() error {
	if p.closed {
		return nil
	}
	var errs []error
	if p.broken && p.fenced == nil {
		errs = append(errs, p.ready()) // the next owner recovers anyway if this fails
	}
	p.closed = true
	if p.active != nil {
		errs = append(errs, p.active.f.Sync())
	}
	if p.dl != nil {
		errs = append(errs, p.dl.Sync())
	}
	errs = append(errs, p.closeFiles(), p.closeCheckpoint())
	if err := p.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("releasing lock: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing %s partition %d: %w", p.topic, p.partition, err)
	}
	p.log.Info("partition closed", "offset", p.ckpt.NextOffset)
	return nil
}

// ready returns an error after Close, and recovers after a failure.
func (p *Partition) ready() error {
	if p.closed {
		return fmt.Errorf("%s partition %d is closed", p.topic, p.partition)
	}
	if p.fenced != nil {
		return p.fenced
	}
	if err := p.relock(); err != nil {
		return err
	}
	if !p.broken {
		return nil
	}
	p.closeFiles()
	p.data.reset()
	p.dlBuf, p.keysBuf = p.dlBuf[:0], p.keysBuf[:0]
	err := p.recover()
	if err == nil {
		err = p.dropUploaded()
	}
	if err != nil {
		p.closeFiles()
		return fmt.Errorf("recovering after an earlier error: %w", err)
	}
	p.broken = false
	return nil
}

// closeFiles closes the data and dead-letter files, if open.
func (p *Partition) closeFiles() error {
	var errs []error
	if p.active != nil {
		errs = append(errs, p.active.f.Close())
		p.active = nil
	}
	if p.dl != nil {
		errs = append(errs, p.dl.Close())
		p.dl = nil
	}
	if p.keysFile != nil {
		errs = append(errs, p.keysFile.Close())
		p.keysFile = nil
	}
	return errors.Join(errs...)
}

// closeCheckpoint closes the checkpoint file. Recovery after a failure
// keeps it open; it then writes the checkpoint anew (ckptStale) before
// any slot is written in place again.
func (p *Partition) closeCheckpoint() error {
	if p.ckptFile == nil {
		return nil
	}
	err := p.ckptFile.Close()
	p.ckptFile = nil
	return err
}
