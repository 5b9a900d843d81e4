package archive

// Deduplication window
//
// Exactly once per Kafka offset does not stop a post that reached Kafka
// twice (a producer retry after a broker timeout, a source that resumes a
// few seconds early) from being archived twice: the copies have different
// offsets. Records marked Dedup carry a key (the post's id); the partition
// drops a record whose key is among the keys of the last DedupWindow to
// 2*DedupWindow records it wrote. The producer partitions by key, so copies
// of a post meet in the same partition. A key longer than maxKeyLen bytes
// is kept as its SHA-512 digest, so what the window holds per key is
// bounded whatever the records carry. (Earlier versions took the digest of
// keys over 64 bytes: see oldDigests.)
//
// The window survives restarts: each written key is appended, base64 and a
// newline, to _state/<topic>-<partition>.keys.<gen>, fsynced with the batch
// and counted in the checkpoint (KeysGen, KeysSize) like the data file, so
// recovery truncates it to the checkpoint with the rest. A key is buffered
// only once its line is, so no checkpoint counts a key without its line:
// otherwise a record whose write was cut short would come again and be
// dropped as a copy of itself. When generation
// gen holds DedupWindow keys, generation gen+1 starts (checkpointed first)
// and gen-1 is deleted; the window is always the keys of gen-1 and gen.

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// maxKeyLen is the longest key the window keeps as it is. Post ids are
// about 20 bytes; the at:// URIs that key Jetstream's creates and deletes
// about 70, whose SHA-512 cost the consumer 6.5 % of its CPU on them (an
// update's key adds "#<cid>", about 130 bytes, and is digested). A key of
// exactly longKeyLen bytes is digested too, as earlier versions did: a line
// of that length is always a digest, which they read back as one.
const maxKeyLen = 128

// oldMaxKeyLen is the longest key kept as it is by earlier versions: their
// key files hold the digests of keys of oldMaxKeyLen+1 to maxKeyLen bytes.
const oldMaxKeyLen = 64

// windowKey returns what the window keeps for key: key itself, or for a
// longer one or one of longKeyLen bytes its SHA-512 digest and a '#',
// longKeyLen bytes.
func windowKey(key []byte) []byte {
	if !digested(key) {
		return key
	}
	return digestIn(new([longKeyLen]byte), key)
}

// longKeyLen is the length of what the window keeps for a long key.
const longKeyLen = sha512.Size + 1

// digested reports whether the window keeps key as its digest.
func digested(key []byte) bool { return len(key) > maxKeyLen || len(key) == longKeyLen }

// digestIn writes key's SHA-512 digest and a '#' into digest.
func digestIn(digest *[longKeyLen]byte, key []byte) []byte {
	*(*[sha512.Size]byte)(digest[:]) = sha512.Sum512(key)
	digest[sha512.Size] = '#'
	return digest[:]
}

// isDigest reports whether a key file's key is taken for a digest: a line
// of longKeyLen bytes, as this version and those that digested keys over
// oldMaxKeyLen bytes write only for digests (the versions before those
// kept every key whole: a key of 65 bytes they wrote is taken for a
// digest and matches no more; at worst one copy of it is archived twice).
// It may be an earlier version's digest of a key of oldMaxKeyLen+2 to
// maxKeyLen bytes.
func isDigest(k []byte) bool { return len(k) == longKeyLen }

// keyWindow is the in-memory set of recent keys, in two generations, a set
// each. It holds each key as a 128-bit digest (two maphash sums under seeds
// drawn at reset), not the key itself: about 20 to 40 bytes a key and no
// allocation once both sets have grown, where strings in one set and two
// lists took about 90 bytes and an allocation a key. Two different keys
// share a digest with a chance of about 2^-128 a pair, as for the SHA-512
// digest of a long key; the seeds are the process's own, so no one can
// make records that collide. The key files keep the keys themselves, so the
// window is rebuilt exactly after a restart.
type keyWindow struct {
	seeds [2]maphash.Seed
	prev  map[keyDigest]struct{} // keys of generation gen-1
	cur   map[keyDigest]struct{} // keys of generation gen
	// oldDigests is the number of shifts until the window holds no
	// digest read from a key file: one may be an earlier version's digest
	// of a key of oldMaxKeyLen+2 to maxKeyLen bytes, which this one keeps
	// as it is. While it is not 0, such a key is looked up in both forms:
	// a copy of a record written before an upgrade is still dropped. (This
	// version's own digests, of keys of 65 or over maxKeyLen bytes, cannot
	// be told from those: after a restart whose window holds one, keys of
	// oldMaxKeyLen+2 to maxKeyLen bytes that are not held pay a SHA-512
	// and a second look-up for two generations.)
	oldDigests int
}

// keyDigest is what keyWindow keeps of a key.
type keyDigest [2]uint64

func (w *keyWindow) reset() {
	w.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	w.prev, w.cur = make(map[keyDigest]struct{}), make(map[keyDigest]struct{})
	w.oldDigests = 0
}

func (w *keyWindow) digest(key []byte) keyDigest {
	return keyDigest{maphash.Bytes(w.seeds[0], key), maphash.Bytes(w.seeds[1], key)}
}

func (w *keyWindow) has(key []byte) bool { return w.holds(w.digest(key)) }

func (w *keyWindow) holds(d keyDigest) bool {
	if _, ok := w.cur[d]; ok {
		return true
	}
	_, ok := w.prev[d]
	return ok
}

func (w *keyWindow) add(d keyDigest) { w.cur[d] = struct{}{} }

// shift starts a new generation: the keys of the oldest one leave, and its
// set, emptied, holds the next one's.
func (w *keyWindow) shift() {
	clear(w.prev)
	w.prev, w.cur = w.cur, w.prev
	if w.oldDigests > 0 {
		w.oldDigests--
	}
}

// dedupOn reports whether this partition keeps a window.
func (p *Partition) dedupOn() bool { return p.cfg.DedupWindow > 0 }

// windowed is what the window keeps of one record: its key as the key file
// holds it, its digest, and the record's key itself. key is empty for a
// record the window does not hold (no window, not a status, no key); for
// a digested key it is the partition's array, good until the next record's
// windowed. digest is good while the window's seeds are: a commit keeps
// them, only recoverKeys draws new ones.
type windowed struct {
	key    []byte
	raw    []byte
	digest keyDigest
}

// windowed returns what the window keeps of r, taking a long key's SHA-512
// and the digest once for both the look-up and remember.
func (p *Partition) windowed(r *Record) windowed {
	if !p.dedupOn() || !r.Dedup || len(r.Key) == 0 {
		return windowed{}
	}
	k := r.Key
	if digested(k) {
		k = digestIn(&p.longKey, k)
	}
	return windowed{key: k, raw: r.Key, digest: p.keys.digest(k)}
}

// isDuplicate reports whether w is the key of a record written earlier.
func (p *Partition) isDuplicate(w windowed) bool {
	if len(w.key) == 0 {
		return false
	}
	return p.keys.holds(w.digest) || p.keys.oldDigests > 0 && p.heldInOldForm(w.raw)
}

// heldInOldForm reports whether the window holds a record's key raw, if it
// is one this version keeps as it is and earlier versions digested, in
// their form (while the window may hold their digests, oldDigests).
func (p *Partition) heldInOldForm(raw []byte) bool {
	if len(raw) <= oldMaxKeyLen || digested(raw) {
		return false
	}
	var old [longKeyLen]byte // not the partition's array: it may hold this record's key
	return p.keys.has(digestIn(&old, raw))
}

// WindowHolds reports whether r's key is among the keys of the statuses the
// partition wrote last (the dedup window). comparable is false for a record
// the window could not hold whether written or not: no window, not a
// status (Dedup), no key, or a value the partition dead-letters. Call it
// before Append.
func (p *Partition) WindowHolds(r *Record) (held, comparable bool) {
	if !p.dedupOn() || !r.Dedup || len(r.Key) == 0 {
		return false, false
	}
	if !r.Checked {
		r.Check()
	}
	if r.Reason != "" {
		return false, false
	}
	return p.isDuplicate(p.windowed(r)), true
}

// WindowEnd returns the offset the dedup window runs to: the folder's
// checkpoint, which with an uploader may be past NextOffset (the bucket's);
// and whether the window holds no key at all (DEDUP_WINDOW was 0 until
// now, or nothing was written with a key).
func (p *Partition) WindowEnd() (next int64, empty bool) {
	return p.ckpt.NextOffset, len(p.keys.cur)+len(p.keys.prev) == 0
}

// remember adds a record's key (from windowed) to the window and buffers it
// for the key file. Call it once the record's line is buffered for the
// active file, after any commit that makes room for it (a new file, a
// rotation): a checkpoint must never count a key whose line it does not
// count, or after a crash the record would be dropped as a copy of itself.
func (p *Partition) remember(w windowed) {
	if len(w.key) == 0 {
		return
	}
	p.keys.add(w.digest)
	p.keysBuf = base64.StdEncoding.AppendEncode(p.keysBuf, w.key)
	p.keysBuf = append(p.keysBuf, '\n')
}

// writeKeys writes and fsyncs the buffered keys (part of commit).
func (p *Partition) writeKeys() error {
	if len(p.keysBuf) == 0 {
		return nil
	}
	if p.keysFile == nil {
		// The file of a generation the checkpoint counts no byte of yet
		// (keysFile is open whenever it counts some) is emptied, as
		// startFile empties a new data file: one already at its name is
		// not this window's (left by a checkpoint moved away), and its
		// keys would come before the new ones, the bytes a restart
		// keeps.
		flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
		if p.keysSize == 0 {
			flag |= os.O_TRUNC
		}
		if err := p.makeStateDir(); err != nil {
			return err
		}
		path := p.abs(keysPath(p.topic, p.partition, p.keysGen))
		f, err := os.OpenFile(path, flag, p.cfg.FileMode)
		if err != nil {
			return fmt.Errorf("opening dedup key file: %w", err)
		}
		// Its name must be durable before a checkpoint counts its bytes,
		// as a data file's is.
		if err := syncDirs(filepath.Dir(path), p.cfg.Dir); err != nil {
			_ = f.Close()
			return err
		}
		p.keysFile = f
	}
	if _, err := p.keysFile.Write(p.keysBuf); err != nil {
		return fmt.Errorf("writing dedup key file: %w", err)
	}
	crashPoint("commit: keys written")
	if err := p.keysFile.Sync(); err != nil {
		return fmt.Errorf("syncing dedup key file: %w", err)
	}
	p.keysSize += int64(len(p.keysBuf))
	p.keysBuf = p.keysBuf[:0]
	return nil
}

// shiftKeys starts the next key file generation once the current one is
// full: checkpoint first, then the oldest file goes.
func (p *Partition) shiftKeys() error {
	if !p.dedupOn() || len(p.keys.cur) < p.cfg.DedupWindow {
		return nil
	}
	if p.keysFile != nil {
		if err := p.keysFile.Close(); err != nil {
			return fmt.Errorf("closing dedup key file: %w", err)
		}
		p.keysFile = nil
	}
	p.keysGen++
	p.keysSize = 0
	p.keys.shift()
	if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
		return err
	}
	crashPoint("keys: next generation checkpointed")
	return p.removeOldKeys()
}

// removeOldKeys removes the key file generation that left the window, if
// it is still there. Recovery calls it too, for a crash just before.
func (p *Partition) removeOldKeys() error {
	if p.keysGen < 2 {
		return nil
	}
	old := p.abs(keysPath(p.topic, p.partition, p.keysGen-2))
	if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing old dedup key file: %w", err)
	}
	return nil
}

// recoverKeys loads the window from the key files, truncating the current
// one to the checkpoint (part of recover). One missing, or the current one
// cut short, starts an empty window (forgetKeys).
func (p *Partition) recoverKeys() error {
	p.keys.reset()
	p.keysBuf = p.keysBuf[:0]
	p.keysGen, p.keysSize = p.ckpt.KeysGen, p.ckpt.KeysSize
	if !p.dedupOn() {
		return nil
	}
	if err := p.removeOldKeys(); err != nil {
		return err
	}
	if p.keysGen > 0 {
		prev := p.abs(keysPath(p.topic, p.partition, p.keysGen-1))
		ok, err := exists(prev)
		if err != nil {
			return fmt.Errorf("checking dedup key file: %w", err)
		}
		if !ok {
			return p.forgetKeys(prev, "is missing")
		}
		keys, err := readKeys(prev, -1)
		if err != nil {
			return err
		}
		p.addKeys(keys)
		p.keys.shift()
	}
	rel := keysPath(p.topic, p.partition, p.keysGen)
	f, size, err := p.truncateTo(rel, p.keysSize)
	var lost *lostError
	if errors.As(err, &lost) {
		return p.forgetKeys(lost.path, lost.what, "bytes", lost.want)
	}
	if err != nil {
		return err
	}
	p.keysFile, p.keysSize = f, size
	if f == nil {
		return nil
	}
	keys, err := readKeys(p.abs(rel), size)
	if err != nil {
		return err
	}
	p.addKeys(keys)
	return nil
}

// addKeys adds the keys read from a key file to the window. A digest
// (isDigest) may have been written by an earlier version for a key this
// one keeps as it is: both forms are looked up until it has left the
// window, two shifts later (oldDigests).
func (p *Partition) addKeys(keys [][]byte) {
	for _, k := range keys {
		p.keys.add(p.keys.digest(k))
		if isDigest(k) {
			p.keys.oldDigests = 2
		}
	}
}

// forgetKeys starts an empty window at the next generation, checkpointed,
// when a key file of the window is not as the archive wrote it: the
// previous generation's missing, or the current one's missing or shorter
// than the checkpoint counts (moved, removed or cut by someone). The key
// files are an index of what was written, not archived data: losing them
// loses the window, not records, so the partition goes on rather than
// stop. The keys the other file, or a file cut short, still holds go too:
// a file cut short may not be what the archive wrote, and a key of
// something else drops a new status, where a key forgotten only lets a
// copy through.
func (p *Partition) forgetKeys(path, what string, attrs ...any) error {
	p.log.Warn("the dedup key file "+what+" (moved, removed or cut by someone): the dedup window starts empty, "+
		"so a status written before now and sent again (a producer's retry or re-send) may be written again",
		append([]any{"path", path, "checkpoint", p.abs(slotsPath(p.topic, p.partition))}, attrs...)...)
	// The window's files go before the checkpoint below makes the
	// current generation the previous one, which a restart reads whole:
	// that one is left empty, not missing, or every restart would find it
	// missing and start over until a generation fills.
	if p.keysGen > 0 {
		if err := os.Remove(p.abs(keysPath(p.topic, p.partition, p.keysGen-1))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing dedup key file: %w", err)
		}
	}
	if err := p.makeStateDir(); err != nil {
		return err
	}
	prev := p.abs(keysPath(p.topic, p.partition, p.keysGen))
	if _, err := durable.WriteFile(prev, nil, durable.Replace{Temp: prev + ".tmp", Mode: p.cfg.FileMode}); err != nil {
		return fmt.Errorf("emptying dedup key file: %w", err)
	}
	p.keys.reset()
	p.keysGen++
	p.keysSize = 0
	c := p.ckpt
	c.KeysGen, c.KeysSize = p.keysGen, 0
	return p.writeCheckpoint(c)
}

// readKeys reads the first size bytes of a key file (all of it when size is
// -1; a missing file is empty).
func readKeys(path string, size int64) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && size <= 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading dedup key file: %w", err)
	}
	if size >= 0 && int64(len(data)) >= size {
		data = data[:size]
	}
	// Lines are read without a length limit: files of earlier versions
	// hold long keys whole.
	var keys [][]byte
	for line := 1; len(data) > 0; line++ {
		text, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		k, err := base64.StdEncoding.AppendDecode(nil, text)
		if err != nil {
			return nil, fmt.Errorf("dedup key file %s line %d is corrupt: %w", path, line, err)
		}
		// A long key kept whole by an earlier version becomes its
		// digest. (A line of longKeyLen bytes is taken for a digest
		// already: isDigest.)
		if len(k) > maxKeyLen {
			k = windowKey(k)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
