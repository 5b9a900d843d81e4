package archive

import (
	"os"

	"github.com/tweetpipe/tweetpipe/internal/pagecache"
)

// The page cache
//
// A data file is written once and read, if at all, later: by a reader
// tailing it, the hour's manifest, an upload, a batch job. By default
// (OUTPUT_PAGE_CACHE=drop) each batch's whole pages are dropped from the
// page cache as soon as the batch is fsynced, so the archive does not fill
// the cache at the rate it writes and crowd out what the broker and readers
// keep there. The hour's manifest reads each file back once the hour is
// closed, and OUTPUT_COMPRESSION reads a closed file to compress it: with
// drop both read around the page cache (ReadUncached, O_DIRECT). Read back
// through the cache, a million dropped 1 KB-class statuses (1.5 GB) cost
// the kernel 1.65 s here, around it 0.11 s.
//
// On the 2-core virtual machine of the documented benchmark, whose kernel
// hands freed memory back to its host, drop took the consumer from 67,394
// and 71,388 msg/s to 102,327 and 98,516 on a million 5 KB-class statuses,
// with 27 % less CPU, and cost 0.15 µs of CPU a 1 KB-class status and 0.09
// µs a Jetstream event (docs/performance.md). keep leaves the page cache to
// the kernel; a reader of a dropped range reads it from the disk. Dropping
// is advice to the kernel (posix_fadvise DONTNEED): where it is not
// supported, the pages stay, and nothing else changes.
//
// A staging folder's files (OUTPUT_URL=s3://...) are not dropped: each is
// read whole twice when it closes, for its digest and its upload (the S3
// client reads the file's parts at their offsets, which O_DIRECT would
// constrain), then removed, so its pages leave the cache then.

// dropWritten drops the whole pages of f between the byte offsets from and
// to, just written and fsynced, from the page cache. The page holding to,
// partly written, stays: the next batch appends to it, and had it been
// dropped the kernel would read it back from the disk before writing.
// The page holding from, left by the batch before, goes with this one.
func (p *Partition) dropWritten(f *os.File, from, to int64) {
	page := int64(os.Getpagesize())
	from, to = from-from%page, to-to%page
	if to <= from {
		return
	}
	drop := p.dropPages
	if drop == nil {
		drop = pagecache.Drop
	}
	drop(f, from, to-from)
}

// The values of OUTPUT_PAGE_CACHE.
const (
	PageCacheDrop = "drop"
	PageCacheKeep = "keep"
)
