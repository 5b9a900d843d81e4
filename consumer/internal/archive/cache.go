package archive

// The page cache
//
// A data file is written once and read, if at all, later: by a reader
// tailing it, the hour's manifest, an upload, a batch job. By default
// (OUTPUT_PAGE_CACHE=drop) each batch's pages are dropped from the page
// cache as soon as the batch is fsynced, so the archive does not fill the
// cache at the rate it writes and crowd out what the broker and readers
// keep there; the next batch is copied into pages the kernel has just
// freed. On the 2-core virtual machine of the documented benchmark, whose
// kernel hands freed memory back to its host, that took the consumer from
// 62,254 to 75,117 msg/s to 93,455 to 100,878 on a million 5 KB-class
// statuses (docs/performance.md). A reader of a dropped range reads it from
// the disk. Dropping is advice to the kernel (posix_fadvise DONTNEED):
// where it is not supported, the pages stay, and nothing else changes.

// The values of OUTPUT_PAGE_CACHE.
const (
	PageCacheDrop = "drop"
	PageCacheKeep = "keep"
)
