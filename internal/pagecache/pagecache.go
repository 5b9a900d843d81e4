// Package pagecache drops a file's pages from the kernel's page cache: the
// consumer's archive once a batch is fsynced (OUTPUT_PAGE_CACHE=drop), the
// producer's replay as it reads a file (REPLAY_PAGE_CACHE=drop). Its
// cachetest package lets tests count a file's pages there.
package pagecache
