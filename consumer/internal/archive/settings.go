package archive

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// Settings are the consumer's variables for the archive, which its config
// embeds: ROTATE_*, DEDUP_WINDOW and OUTPUT_COMPRESSION, OUTPUT_FILE_MODE,
// OUTPUT_LAYOUT and OUTPUT_PAGE_CACHE, as the environment gives them.
// OUTPUT_DIR is the service's: OUTPUT_URL may set it, and the manifests
// read it too.
type Settings struct {
	RotateMaxBytes int64         `envconfig:"ROTATE_MAX_BYTES" default:"134217728" desc:"a file is closed once it is this large"`
	RotateInterval time.Duration `envconfig:"ROTATE_INTERVAL" default:"1h" desc:"... or this old, even when no new data arrives"`
	DedupWindow    int           `envconfig:"DEDUP_WINDOW" default:"20000" desc:"per partition, a status whose key is among the last this many written is dropped as a duplicate (0: off)"`
	Compression    string        `envconfig:"OUTPUT_COMPRESSION" default:"none" desc:"none, gzip or zstd, applied when a file is closed"`
	FileMode       string        `envconfig:"OUTPUT_FILE_MODE" default:"0640" desc:"permission of the files written, octal; folders also get x where r is set (0640: owner and group only; 0644: every user of the host may read)"`
	Layout         string        `envconfig:"OUTPUT_LAYOUT" default:"dated" desc:"folders by hour: dated (<topic>/<YYYY-MM-DD>/<HH>/) or hive (<topic>/dt=<YYYY-MM-DD>/hr=<HH>/, for DuckDB, Spark, Athena); a folder written in one is refused in the other"`
	PageCache      string        `envconfig:"OUTPUT_PAGE_CACHE" default:"drop" desc:"drop: once a batch is fsynced, its pages leave the kernel's page cache, so the archive does not crowd out what the broker and readers keep there, and the manifests and compression read the files around it (not in a staging folder for OUTPUT_URL); keep: the kernel decides what stays (docs/performance.md)"`
}

// Validate checks the settings; each error names the variable.
func (s Settings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.RotateMaxBytes < 1024 {
		bad("ROTATE_MAX_BYTES=%d: accepts 1024 or more", s.RotateMaxBytes)
	}
	if s.RotateInterval < time.Second {
		bad("ROTATE_INTERVAL=%s: accepts 1s or more", s.RotateInterval)
	}
	if s.DedupWindow < 0 || s.DedupWindow > 10_000_000 {
		bad("DEDUP_WINDOW=%d: accepts 0 (off) to 10000000", s.DedupWindow)
	}
	switch s.Compression {
	case CompressionNone, CompressionGzip, CompressionZstd:
	default:
		bad("OUTPUT_COMPRESSION=%q: accepts none, gzip or zstd", s.Compression)
	}
	if m, err := strconv.ParseUint(s.FileMode, 8, 32); err != nil || m > 0o777 || m&0o600 != 0o600 {
		bad("OUTPUT_FILE_MODE=%q: accepts an octal mode from 0600 to 0777 (the owner must read and write)", s.FileMode)
	}
	if !slices.Contains(Layouts(), Layout(s.Layout)) {
		bad("OUTPUT_LAYOUT=%q: accepts dated or hive", s.Layout)
	}
	if s.PageCache != PageCacheDrop && s.PageCache != PageCacheKeep {
		bad("OUTPUT_PAGE_CACHE=%q: accepts drop or keep", s.PageCache)
	}
	return errors.Join(errs...)
}

// Config returns the configuration of an archive in dir with these
// settings; call it on validated Settings. The caller adds what the
// environment does not say (Uploader, OnRotate).
func (s Settings) Config(dir string) Config {
	mode, _ := strconv.ParseUint(s.FileMode, 8, 32)
	return Config{
		Dir:            dir,
		RotateMaxBytes: s.RotateMaxBytes,
		RotateInterval: s.RotateInterval,
		DedupWindow:    s.DedupWindow,
		Compression:    s.Compression,
		FileMode:       os.FileMode(mode),
		Layout:         Layout(s.Layout),
		DropPageCache:  s.PageCache == PageCacheDrop,
	}
}
