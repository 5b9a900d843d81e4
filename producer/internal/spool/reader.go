package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// recordReader reads the records of one segment front to back, between two
// offsets, through a buffer: memory stays bounded by the buffer and the
// largest record.
type recordReader struct {
	br  *bufio.Reader
	off int64 // offset of the next record in the segment
	end int64 // offset where the records to read end
}

func newRecordReader() *recordReader {
	return &recordReader{br: bufio.NewReaderSize(nil, 64<<10)}
}

// reset points the reader at the records of f between off and end.
func (rr *recordReader) reset(f io.ReaderAt, off, end int64) {
	rr.br.Reset(io.NewSectionReader(f, off, end-off))
	rr.off, rr.end = off, end
}

// size returns the framed size of the next record without reading it: io.EOF
// at the end, errTruncated or errLength for a damaged header.
func (rr *recordReader) size() (int64, error) {
	left := rr.end - rr.off
	switch {
	case left == 0:
		return 0, io.EOF
	case left < recordHeaderLen:
		return 0, errTruncated
	}
	h, err := rr.br.Peek(recordHeaderLen)
	if err != nil {
		return 0, fmt.Errorf("reading record header: %w", noEOF(err))
	}
	n := int64(binary.LittleEndian.Uint32(h))
	switch {
	case n < minPayloadLen || n > maxPayloadLen:
		return 0, errLength
	case n > left-recordHeaderLen:
		return 0, errTruncated
	}
	return recordHeaderLen + n, nil
}

// next reads the next record and checks its checksum. The payload goes into
// buf when it fits, else into a new slice. After errChecksum the reader has
// moved past the damaged record (its length was plausible); after any other
// error it is stuck.
func (rr *recordReader) next(buf []byte) ([]byte, error) {
	size, err := rr.size()
	if err != nil {
		return nil, err
	}
	var hdr [recordHeaderLen]byte
	if _, err := io.ReadFull(rr.br, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading record header: %w", noEOF(err))
	}
	n := int(size - recordHeaderLen)
	p := buf[:0]
	if cap(p) < n {
		p = make([]byte, n)
	}
	p = p[:n]
	if _, err := io.ReadFull(rr.br, p); err != nil {
		return nil, fmt.Errorf("reading record: %w", noEOF(err))
	}
	rr.off += size
	if checksum(hdr[:4], p) != binary.LittleEndian.Uint32(hdr[4:]) {
		return nil, errChecksum
	}
	return p, nil
}

// noEOF turns an end of file inside the bounds the spool knows into
// io.ErrUnexpectedEOF: the file shrank under the spool, which is an I/O
// problem, not the normal end of the records.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// scanResult is what a segment holds between the scan's start and end.
type scanResult struct {
	count int64 // records
	bytes int64 // their framed size
	end   int64 // offset just past the last record kept
}

// scanSegment checks every record of a segment from start to size (CRC and
// payload) and counts them. In the last segment a damaged or unfinished tail
// is the Append a crash interrupted: the result ends before that Append and
// the caller truncates the rest. Anywhere else damage is an error, and so is
// damage in the last segment when a later Append follows it (a record with
// flagFirst after the damage), because that Append began only after the
// damaged one had been made durable.
func scanSegment(f io.ReaderAt, start, size int64, last bool) (scanResult, error) {
	rr := newRecordReader()
	rr.reset(f, start, size)
	res := scanResult{end: start}
	committed := res // up to the last record that ended an Append
	var buf []byte
	for {
		at := rr.off
		p, err := rr.next(buf)
		switch {
		case err == io.EOF:
			if committed != res {
				if !last {
					return scanResult{}, fmt.Errorf("offset %d: %w: segment ends inside an append", res.end, ErrCorrupt)
				}
				return committed, nil // the Append's last records never reached the disk
			}
			return res, nil
		case errors.Is(err, ErrCorrupt):
			if !last {
				return scanResult{}, fmt.Errorf("offset %d: %w", at, err)
			}
			later, lerr := laterAppend(f, at+1, size)
			if lerr != nil {
				return scanResult{}, lerr
			}
			if later >= 0 {
				return scanResult{}, fmt.Errorf("offset %d: %w (an append at offset %d follows it)", at, err, later)
			}
			return committed, nil
		case err != nil:
			return scanResult{}, fmt.Errorf("offset %d: %w", at, err)
		}
		buf = p
		_, flags, err := decodeRecord(p)
		if err != nil {
			// The checksum matched: these bytes were written like this.
			return scanResult{}, fmt.Errorf("offset %d: %w", at, err)
		}
		res.count++
		res.bytes += rr.off - at
		res.end = rr.off
		if flags&flagLast != 0 {
			committed = res
		}
	}
}

// laterAppend searches f between from and size, at every offset, for an
// intact record that starts an Append, and returns its offset or -1. A
// record found by chance in damaged bytes would need a matching CRC-32C.
// It reads the bytes once through a buffer, plus each plausible candidate.
func laterAppend(f io.ReaderAt, from, size int64) (int64, error) {
	if from >= size {
		return -1, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, from, size-from), 64<<10)
	rr := newRecordReader()
	var buf []byte
	for off := from; off+recordHeaderLen+minPayloadLen <= size; off++ {
		h, err := br.Peek(recordHeaderLen)
		if err != nil {
			return 0, fmt.Errorf("reading offset %d: %w", off, noEOF(err))
		}
		n := int64(binary.LittleEndian.Uint32(h))
		if _, err := br.Discard(1); err != nil {
			return 0, fmt.Errorf("reading offset %d: %w", off, noEOF(err))
		}
		if n < minPayloadLen || n > maxPayloadLen || off+recordHeaderLen+n > size {
			continue
		}
		rr.reset(f, off, size)
		p, err := rr.next(buf)
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				continue
			}
			return 0, err
		}
		buf = p
		if _, flags, err := decodeRecord(p); err == nil && flags&flagFirst != 0 {
			return off, nil
		}
	}
	return -1, nil
}
