package replay

import (
	"os"

	"github.com/tweetpipe/tweetpipe/internal/pagecache"
)

// The values of REPLAY_PAGE_CACHE.
const (
	PageCacheDrop = "drop"
	PageCacheKeep = "keep"
)

// dropEvery is how many bytes are read between two drops of the pages
// read: a few system calls a gigabyte. The kernel's read-ahead past the
// furthest byte read (up to twice read_ahead_kb, 128 KiB on many disks,
// 8 MiB on the machine of docs/performance.md) is not dropped.
const dropEvery = 8 << 20

// fileReader reads a replayed file, plain (Read, from its start) or by
// offsets (ReadAt, a tar's or a zip's members, in time order, which need
// not be the order they are stored in). With drop (REPLAY_PAGE_CACHE=drop) it drops
// the pages before the furthest byte read from the kernel's page cache each
// time it has read dropEvery bytes more, and the whole file's when it is
// closed. A replayed archive's data is read once: its pages would otherwise
// fill the page cache, pushing out what the broker and other programs keep
// there, and on a virtual machine that hands freed memory back to its host
// each new page of the cache costs a fault there (docs/performance.md). The
// advice changes no data; where it is not taken (tmpfs, a system other
// than Linux) the reading is the same.
type fileReader struct {
	f     *os.File
	drop  func(f *os.File, off, n int64) // pagecache.Drop; nil keeps the pages
	pos   int64                          // where Read reads next
	end   int64                          // the furthest byte read, plus one
	since int64                          // bytes read since the last drop
}

// fileReader returns the reader of f, a file opened at its start; the
// caller closes it once the file is read, before f.
func (r *runner) fileReader(f *os.File) *fileReader {
	return &fileReader{f: f, drop: r.cfg.dropper()}
}

// dropper is how the replay drops a file's pages: pagecache.Drop (or the
// tests' dropPages), nil with REPLAY_PAGE_CACHE=keep.
func (c Config) dropper() func(f *os.File, off, n int64) {
	switch {
	case c.PageCache == PageCacheKeep:
		return nil
	case c.dropPages != nil:
		return c.dropPages
	}
	return pagecache.Drop
}

func (d *fileReader) Read(p []byte) (int, error) {
	n, err := d.f.Read(p)
	d.pos += int64(n)
	d.read(d.pos, n)
	return n, err
}

func (d *fileReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.f.ReadAt(p, off)
	d.read(off+int64(n), n)
	return n, err
}

// read notes that n bytes were read, up to end, and once dropEvery bytes
// were read since the last drop, drops the pages before the furthest byte
// read. Each drop is from the file's start: the kernel drops only whole
// folios in the range, and with large folios (2 MiB on ext4 here) one
// across the last drop's end would stay; the range already dropped costs
// the kernel a look-up. Read out of order, a member stored before the
// furthest byte may be dropped before it is read: it is then read from the
// disk, as it would have been.
func (d *fileReader) read(end int64, n int) {
	d.end = max(d.end, end)
	d.since += int64(n)
	if d.drop != nil && d.since >= dropEvery {
		d.drop(d.f, 0, d.end)
		d.since = 0
	}
}

// restart forgets what was read so far, as if nothing had been: a zip's
// central directory, read from the file's end before its members, would
// otherwise make the furthest byte read the file's last, and each drop
// would take the members' pages ahead of the reading.
func (d *fileReader) restart() {
	d.end, d.since = 0, 0
}

// Close drops the whole file's pages (those past the last byte read too:
// a tar's last entries, read ahead); it does not close f.
func (d *fileReader) Close() {
	if d.drop != nil {
		d.drop(d.f, 0, 0)
	}
}
