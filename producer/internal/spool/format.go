package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"
)

// On-disk format: segments version 1, head file version 2. All integers
// are little endian.
//
// Segment file spool-<20-digit sequence>.log:
//
//	header   8 bytes   "TPSPOOL" + version byte 0x01
//	records  ...
//
// Record:
//
//	length   uint32    payload length (minPayloadLen..maxPayloadLen)
//	crc      uint32    CRC-32C (Castagnoli) of the length field and the payload
//	payload  length bytes:
//	  flags    byte    flagFirst | flagLast | flagTime; other bits must be 0
//	  topic    uvarint n, n bytes
//	  key      uvarint n: 0 = nil, else n-1 bytes
//	  value    uvarint n: 0 = nil, else n-1 bytes
//	  time     only with flagTime: varint Unix seconds (years 1 to 9999 UTC),
//	           uvarint nanoseconds (below 1e9)
//	  headers  uvarint count (no headers read back as nil), then count times:
//	           uvarint n, n bytes of key; uvarint n: 0 = nil, else n-1 bytes of value
//
// flagFirst and flagLast mark the first and the last record written by one
// Append, so that recovery can tell an Append that never finished (cut
// away whole) from damage to records an earlier Append made durable (an
// error). See the package documentation.
//
// Head file spool.head, version 2 (548 bytes): two slots of 36 bytes, at
// offsets 0 and 512 (two sectors of one block), each "TPSHEAD" + version
// byte 0x02, uint64 generation, uint64 segment sequence, uint64 offset of
// the oldest record not yet removed, uint32 CRC-32C of the 32 bytes before
// it. Generation g lives in slot g%2. The head is the valid slot of the
// higher generation. A new head goes into the other slot, written in place
// and fsynced: moving the head allocates nothing, so a spool drains on a
// full disk, and a write torn by a crash spoils only the slot written.
const (
	segmentMagic     = "TPSPOOL\x01"
	segmentHeaderLen = int64(len(segmentMagic))
	recordHeaderLen  = 8
	// minPayloadLen is the smallest payload: flags, empty topic, nil key,
	// nil value, no headers. It also makes a zeroed record header invalid.
	minPayloadLen = 5
	// maxPayloadLen bounds one record; Append refuses larger ones with
	// ErrTooLarge, and recovery takes a larger length for damage.
	maxPayloadLen = 128 << 20

	// A record's time lies in years 1 to 9999 (UTC), as Unix seconds.
	minUnix = -62135596800
	maxUnix = 253402300799

	headMagic    = "TPSHEAD\x02"
	headSlotLen  = len(headMagic) + 8 + 8 + 8 + 4
	headSlot1Off = 512
	headFileLen  = headSlot1Off + headSlotLen

	segmentPrefix = "spool-"
	segmentSuffix = ".log"
	headName      = "spool.head"
	lockName      = "spool.lock"
)

// Payload flags.
const (
	flagFirst  byte = 1 << iota // first record of an Append
	flagLast                    // last record of an Append
	flagTime                    // the record has a time
	knownFlags = flagFirst | flagLast | flagTime
)

// ErrCorrupt is wrapped by every error about damaged spool files; the
// message names the file and the offset.
var ErrCorrupt = errors.New("corrupt spool data")

// Kinds of damage a record reader meets. Recovery tells a torn append from
// corruption by where they occur, not by their kind.
var (
	errTruncated = fmt.Errorf("%w: record runs past the end of the segment", ErrCorrupt)
	errLength    = fmt.Errorf("%w: impossible record length", ErrCorrupt)
	errChecksum  = fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
)

// checksum is the CRC-32C of a record's length field and payload.
func checksum(length, payload []byte) uint32 {
	t := crc32.MakeTable(crc32.Castagnoli) // cached by the crc32 package
	return crc32.Update(crc32.Update(0, t, length), t, payload)
}

// segmentName is the file name of segment seq.
func segmentName(seq uint64) string {
	return fmt.Sprintf("%s%020d%s", segmentPrefix, seq, segmentSuffix)
}

// parseSegmentName returns the sequence of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, segmentPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, segmentSuffix)
	if !ok || len(digits) != 20 || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return seq, true
}

// appendRecord appends r, framed, to dst.
func appendRecord(dst []byte, r Record, flags byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderLen)...)
	if !r.Time.IsZero() {
		flags |= flagTime
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(r.Topic)))
	dst = append(dst, r.Topic...)
	dst = appendNullable(dst, r.Key)
	dst = appendNullable(dst, r.Value)
	if flags&flagTime != 0 {
		if sec := r.Time.Unix(); sec < minUnix || sec > maxUnix {
			return dst[:start], fmt.Errorf("record time %v: outside years 1 to 9999", r.Time)
		}
		dst = binary.AppendVarint(dst, r.Time.Unix())
		dst = binary.AppendUvarint(dst, uint64(r.Time.Nanosecond()))
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendUvarint(dst, uint64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullable(dst, h.Value)
	}
	n := len(dst) - start - recordHeaderLen
	if n > maxPayloadLen {
		return dst[:start], fmt.Errorf("%w: %d bytes encoded, at most %d", ErrTooLarge, n, maxPayloadLen)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	binary.LittleEndian.PutUint32(dst[start+4:], checksum(dst[start:start+4], dst[start+recordHeaderLen:]))
	return dst, nil
}

// appendNullable keeps nil apart from empty: Kafka does too (a null key is
// not an empty key).
func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// decodeRecord decodes a payload whose checksum matched. Key, Value and
// header values share p's memory.
func decodeRecord(p []byte) (Record, byte, error) {
	d := decoder{p: p}
	var r Record
	flags := d.byte()
	if flags&^knownFlags != 0 {
		return Record{}, 0, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	r.Topic = string(d.bytes())
	r.Key = d.nullable()
	r.Value = d.nullable()
	if flags&flagTime != 0 {
		sec := d.varint()
		nsec := d.uvarint()
		if sec < minUnix || sec > maxUnix || nsec >= uint64(time.Second) {
			d.fail("time out of range")
		}
		r.Time = time.Unix(sec, int64(nsec)).UTC()
	}
	n := d.uvarint()
	if n > uint64(len(d.p))/2 { // every header takes at least 2 bytes
		d.fail("impossible header count")
	}
	if n > 0 && d.err == nil {
		r.Headers = make([]Header, n)
		for i := range r.Headers {
			r.Headers[i] = Header{Key: string(d.bytes()), Value: d.nullable()}
		}
	}
	if d.err == nil && len(d.p) > 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Record{}, 0, d.err
	}
	return r, flags, nil
}

// decoder reads a payload front to back; the first problem sticks.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	d.p = nil
}

func (d *decoder) byte() byte {
	if len(d.p) == 0 {
		d.fail("payload too short")
		return 0
	}
	b := d.p[0]
	d.p = d.p[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

// take returns the next n bytes, capacity clipped so that appending to them
// cannot overwrite what follows.
func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.p)) {
		d.fail("field runs past the payload")
		return nil
	}
	b := d.p[:n:n]
	d.p = d.p[n:]
	return b
}

func (d *decoder) bytes() []byte { return d.take(d.uvarint()) }

func (d *decoder) nullable() []byte {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	return d.take(n - 1)
}

// encodeHeadSlot returns the head slot of generation gen for p.
func encodeHeadSlot(gen uint64, p position) []byte {
	b := make([]byte, 0, headSlotLen)
	b = append(b, headMagic...)
	b = binary.LittleEndian.AppendUint64(b, gen)
	b = binary.LittleEndian.AppendUint64(b, p.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.off))
	return binary.LittleEndian.AppendUint32(b, checksum(nil, b))
}

// headSlotOff is where the slot of generation gen starts.
func headSlotOff(gen uint64) int64 { return int64(gen%2) * headSlot1Off }

// decodeHead parses a head file and returns the head, its generation, and
// whether a slot is unreadable (a write torn by a crash, or damage) while
// the other is read.
func decodeHead(b []byte) (p position, gen uint64, spoiled bool, err error) {
	if len(b) != headFileLen {
		return position{}, 0, false, fmt.Errorf("%w: not a head file (%d bytes)", ErrCorrupt, len(b))
	}
	found := false
	take := func(sp position, sgen uint64) {
		if !found || sgen > gen {
			p, gen, found = sp, sgen, true
		}
	}
	for slot, off := range []int{0, headSlot1Off} {
		if sp, sgen, ok := decodeHeadSlot(b[off : off+headSlotLen]); ok && sgen%2 == uint64(slot) {
			take(sp, sgen)
		} else {
			spoiled = true
		}
	}
	if !found {
		return position{}, 0, false, fmt.Errorf("%w: no valid head in the head file", ErrCorrupt)
	}
	if p.off < segmentHeaderLen {
		return position{}, 0, false, fmt.Errorf("%w: head offset %d inside the segment header", ErrCorrupt, p.off)
	}
	return p, gen, spoiled, nil
}

// decodeHeadSlot parses one slot of a head file; ok is false for
// a slot never written or torn.
func decodeHeadSlot(b []byte) (p position, gen uint64, ok bool) {
	if string(b[:len(headMagic)]) != headMagic || checksum(nil, b[:headSlotLen-4]) != binary.LittleEndian.Uint32(b[headSlotLen-4:]) {
		return position{}, 0, false
	}
	gen = binary.LittleEndian.Uint64(b[len(headMagic):])
	p = position{
		seq: binary.LittleEndian.Uint64(b[len(headMagic)+8:]),
		off: int64(binary.LittleEndian.Uint64(b[len(headMagic)+16:])),
	}
	return p, gen, true
}
