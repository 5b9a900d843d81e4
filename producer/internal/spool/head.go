package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// readHead reads the head file; ok is false when there is none. The file
// stays open in s.hf for writeHead.
func (s *Spool) readHead() (p position, ok bool, err error) {
	f, err := os.OpenFile(s.path(headName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return position{}, false, nil
	}
	if err != nil {
		return position{}, false, fmt.Errorf("reading head file: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(headFileLen)+1))
	if err != nil {
		_ = f.Close()
		return position{}, false, fmt.Errorf("reading head file: %w", err)
	}
	p, gen, spoiled, err := decodeHead(b)
	if err != nil {
		_ = f.Close()
		return position{}, false, fmt.Errorf("reading %s: %w", s.path(headName), err)
	}
	if spoiled {
		s.log.Warn("spool: one slot of the head file is unreadable (a write a crash cut short, or damage); using the other: records removed last may be sent again",
			"file", s.path(headName), "generation", gen)
	}
	s.hf, s.hgen = f, gen
	return p, true, nil
}

// commitHead durably records p as the head, then deletes the segments
// before p's. The caller holds mu (or is Open).
func (s *Spool) commitHead(p position) error {
	if err := s.writeHead(p); err != nil {
		return err
	}
	s.head = p
	s.peeked = nil
	for len(s.segs) > 0 && s.segs[0].seq < p.seq {
		seq := s.segs[0].seq
		if s.r != nil && s.rseq == seq {
			_ = s.r.Close() // read-only
			s.r = nil
		}
		// The head no longer points into it: a segment left behind is
		// deleted by the next Open.
		if err := os.Remove(s.path(segmentName(seq))); err != nil {
			s.log.Warn("spool: deleting a consumed segment", "file", s.path(segmentName(seq)), "err", err)
		}
		crashPoint("head: consumed segment deleted")
		s.segs = s.segs[1:]
	}
	return nil
}

// writeHead makes p the head durably. It writes the slot of the head file
// the current head is not in, in place, and fsyncs it: nothing is
// allocated, so it works on a full disk, and a crash tearing the write
// leaves the current head's slot as it was. Without a head file (a new
// spool) it creates one.
func (s *Spool) writeHead(p position) error {
	if s.hf == nil {
		return s.createHead(p)
	}
	gen := s.hgen + 1
	_, err := s.hf.WriteAt(encodeHeadSlot(gen, p), headSlotOff(gen))
	if err == nil {
		crashPoint("head: slot written")
		err = s.sync(s.hf)
	}
	if err != nil {
		// The other slot still holds the current head, and the next try
		// writes this slot again.
		return fmt.Errorf("writing head file: %w", err)
	}
	s.hgen = gen
	return nil
}

// createHead writes a head file holding p in both slots: temporary file,
// fsync, rename, directory fsync. The file stays open for writeHead.
func (s *Spool) createHead(p position) error {
	tmp, path := s.path(headName+".tmp"), s.path(headName)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("writing head file: %w", err)
	}
	crashPoint("head: temp file created")
	b := make([]byte, headFileLen)
	copy(b[headSlotOff(0):], encodeHeadSlot(0, p))
	copy(b[headSlotOff(1):], encodeHeadSlot(1, p))
	_, err = f.Write(b)
	if err == nil {
		crashPoint("head: temp file written")
		err = s.sync(f)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		crashPoint("head: renamed")
		err = s.syncDir()
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("writing head file: %w", err)
	}
	s.hf, s.hgen = f, 1
	return nil
}
