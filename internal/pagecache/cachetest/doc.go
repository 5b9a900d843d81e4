// Package cachetest helps tests look at the page cache (Linux only): how
// many of a file's pages the kernel holds there.
package cachetest
