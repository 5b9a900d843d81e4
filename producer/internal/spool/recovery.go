package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// recover reads the directory into s; see the package documentation.
func (s *Spool) recover() error {
	if err := os.Remove(s.path(headName + ".tmp")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing an unfinished head file: %w", err)
	}
	crashPoint("open: unfinished head removed")
	seqs, err := s.listSegments()
	if err != nil {
		return err
	}
	head, haveHead, err := s.readHead()
	if err != nil {
		return err
	}
	next := uint64(1) // sequence of a new segment
	if len(seqs) > 0 {
		next = seqs[len(seqs)-1] + 1
	}
	if haveHead {
		// The head read may be one a crash left written but not fsynced:
		// make it durable before acting on it, or a power loss after the
		// deletions below could bring back an older head whose segments
		// are gone.
		if err := s.sync(s.hf); err != nil {
			return fmt.Errorf("syncing head file: %w", err)
		}
		next = max(next, head.seq+1)
		// Segments before the head's were consumed; a crash kept them.
		for len(seqs) > 0 && seqs[0] < head.seq {
			if err := os.Remove(s.path(segmentName(seqs[0]))); err != nil {
				return fmt.Errorf("deleting consumed segment: %w", err)
			}
			crashPoint("open: consumed segment deleted")
			seqs = seqs[1:]
		}
	}
	// A last segment without its header is a creation a crash
	// interrupted; no record was written to it.
	if n := len(seqs); n > 0 {
		torn, err := tornCreation(s.path(segmentName(seqs[n-1])))
		if err != nil {
			return err
		}
		if torn {
			s.log.Warn("spool: deleting a segment whose creation was interrupted", "file", s.path(segmentName(seqs[n-1])))
			if err := os.Remove(s.path(segmentName(seqs[n-1]))); err != nil {
				return fmt.Errorf("deleting torn segment: %w", err)
			}
			crashPoint("open: torn segment deleted")
			seqs = seqs[:n-1]
		}
	}
	if len(seqs) == 0 {
		if err := s.startSegment(next); err != nil {
			return err
		}
		s.segs = []segment{{seq: next, size: segmentHeaderLen}}
		return s.commitHead(position{seq: next, off: segmentHeaderLen})
	}
	if !haveHead {
		head = position{seq: seqs[0], off: segmentHeaderLen}
	}
	// Segments are numbered without gaps and the spool deletes only
	// segments before the head's: a missing one was taken away by hand
	// (see "Damage" in the package documentation). Its records are gone
	// either way; say so and go on with the rest.
	if seqs[0] != head.seq {
		s.log.Warn("spool: segments missing, their records are lost", "from", segmentName(head.seq), "to", segmentName(seqs[0]-1))
		head = position{seq: seqs[0], off: segmentHeaderLen}
		haveHead = false // commit the new head below
	}
	for i, seq := range seqs {
		if i > 0 && seq != seqs[i-1]+1 {
			s.log.Warn("spool: segments missing, their records are lost", "from", segmentName(seqs[i-1]+1), "to", segmentName(seq-1))
		}
		start := segmentHeaderLen
		if seq == head.seq {
			start = head.off
		}
		if err := s.recoverSegment(seq, start, i == len(seqs)-1); err != nil {
			return err
		}
	}
	s.head = head
	if to := s.normalize(head); to != head || !haveHead {
		return s.commitHead(to)
	}
	return nil
}

// recoverSegment checks the records of segment seq from start, cuts a torn
// tail off the last segment, and adds the segment to s.
func (s *Spool) recoverSegment(seq uint64, start int64, last bool) error {
	path := s.path(segmentName(seq))
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return fmt.Errorf("opening segment: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening segment: %w", err)
	}
	size := fi.Size()
	if err := checkSegmentHeader(f, size); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if start > size {
		return fmt.Errorf("%w: head offset %d is past the end of %s (%d bytes)", ErrCorrupt, start, path, size)
	}
	res, err := scanSegment(f, start, size, last)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if res.end < size {
		s.log.Warn("spool: cutting off an append a crash interrupted", "file", path, "offset", res.end, "bytes", size-res.end)
		if err := f.Truncate(res.end); err != nil {
			return fmt.Errorf("truncating torn append: %w", err)
		}
		crashPoint("open: torn append cut")
		if err := s.sync(f); err != nil {
			return fmt.Errorf("truncating torn append: %w", err)
		}
	}
	s.segs = append(s.segs, segment{seq: seq, size: res.end})
	s.count += res.count
	s.bytes += res.bytes
	if last {
		keep = true
		s.w, s.wseq, s.wsize = f, seq, res.end
	}
	return nil
}

// checkSegmentHeader checks the magic and version at the start of a segment.
func checkSegmentHeader(f io.ReaderAt, size int64) error {
	if size < segmentHeaderLen {
		return fmt.Errorf("%w: no segment header", ErrCorrupt)
	}
	b := make([]byte, segmentHeaderLen)
	if _, err := f.ReadAt(b, 0); err != nil {
		return fmt.Errorf("reading segment header: %w", noEOF(err))
	}
	if string(b) != segmentMagic {
		return fmt.Errorf("%w: not a version 1 spool segment", ErrCorrupt)
	}
	return nil
}

// tornCreation reports whether a segment file holds no more than an
// incomplete header: what a crash while creating it leaves.
func tornCreation(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading last segment: %w", err)
	}
	defer f.Close() // read-only
	b, err := io.ReadAll(io.LimitReader(f, segmentHeaderLen+1))
	if err != nil {
		return false, fmt.Errorf("reading last segment: %w", err)
	}
	return int64(len(b)) <= segmentHeaderLen && string(b) != segmentMagic, nil
}

// listSegments returns the sequences of the segment files, in order.
func (s *Spool) listSegments() ([]uint64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing spool directory: %w", err)
	}
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}
