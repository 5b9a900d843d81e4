package replay

import "os"

// The values of REPLAY_PAGE_CACHE.
const (
	PageCacheDrop = "drop"
	PageCacheKeep = "keep"
)

// dropEvery is how many bytes a file is read past the last drop before
// the pages read are dropped again: a few system calls a gigabyte, and
// the kernel's read-ahead, a few hundred kilobytes past the reading, is
// left alone.
const dropEvery = 8 << 20

// fileReader reads a replayed file, plain (Read, from its start) or by
// offsets in increasing order (ReadAt, a tar's members). With drop
// (REPLAY_PAGE_CACHE=drop) it drops the pages it has read from the kernel's
// page cache every dropEvery bytes, and the whole file's when it is closed. A
// replayed archive is read once, front to back: its pages would otherwise
// fill the page cache, pushing out what the broker and other programs keep
// there, and on a virtual machine that hands freed memory back to its host
// each new page of the cache costs a fault there (docs/performance.md). The
// advice changes no data; where it is not taken (tmpfs, another system)
// the reading is the same.
type fileReader struct {
	f       *os.File
	drop    bool
	pos     int64 // where Read reads next
	end     int64 // the furthest byte read, plus one
	dropped int64 // end at the last drop
}

// fileReader returns the reader of f, a file opened at its start; the
// caller closes it once the file is read, before f.
func (r *runner) fileReader(f *os.File) *fileReader {
	return &fileReader{f: f, drop: r.cfg.PageCache != PageCacheKeep}
}

func (d *fileReader) Read(p []byte) (int, error) {
	n, err := d.f.Read(p)
	d.pos += int64(n)
	d.read(d.pos)
	return n, err
}

func (d *fileReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.f.ReadAt(p, off)
	d.read(off + int64(n))
	return n, err
}

// read notes that the file was read up to end, and once it is dropEvery
// bytes past the last drop, drops the pages before it. Each drop is from
// the file's start: the kernel drops only whole folios in the range, and
// with large folios (2 MiB on ext4 here) one straddling the last drop's end
// would stay; the range already dropped costs the kernel a look-up.
func (d *fileReader) read(end int64) {
	d.end = max(d.end, end)
	if d.drop && d.end-d.dropped >= dropEvery {
		dropCached(d.f, 0, d.end)
		d.dropped = d.end
	}
}

// Close drops the whole file's pages (those past the last byte read too:
// a tar's last entries, read ahead); it does not close f.
func (d *fileReader) Close() {
	if d.drop {
		dropCached(d.f, 0, 0)
	}
}
