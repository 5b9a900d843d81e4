// Package archive writes Kafka records into JSON Lines files under one output
// directory, exactly once, and is the only code that touches that directory.
//
// Layout, relative to Config.Dir:
//
//	<topic>/<YYYY-MM-DD>/<HH>/<topic>-p<partition>-<first offset>.jsonl   data, one value per line
//	<topic>/<YYYY-MM-DD>/<HH>/<...>.jsonl.gz or .jsonl.zst                 rotated, compressed
//	(with Layout hive the hour folders are <topic>/dt=<YYYY-MM-DD>/hr=<HH>/)
//	_deadletter/<topic>/<topic>-p<partition>-<first offset>.jsonl         values that cannot be a line
//	_state/<topic>-<partition>.json                                       checkpoint
//	_state/<topic>-<partition>.lock                                       partition lock
//	_state/layout                                                         the folder's Layout
//
// Each partition has at most one active (plain, growing) data file and one
// active dead-letter file; users can tail -F them. Rotated files are complete
// and never change again; dead-letter files rotate like data files but are
// not compressed. Files are created with Config.FileMode (0640), folders
// with search added (0750).
//
// Exactly once: when Partition.Append returns nil, every record up to the
// last offset it was given is in the archive once (a data line or a dead
// letter) and stays so through crashes, restarts, rebalances and failed
// writes, provided the caller commits offsets only after that and resumes a
// partition from NextOffset. checkpoint.go explains how.
package archive

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// Defaults for Config fields left at zero.
const (
	DefaultRotateMaxBytes = 128 << 20 // 128 MiB
	DefaultRotateInterval = time.Hour
	DefaultFileMode       = 0o640
)

// dirMode returns the permission of directories: the file mode plus search
// wherever it allows reading.
func (c Config) dirMode() os.FileMode {
	return c.FileMode | (c.FileMode&0o444)>>2
}

// Config says where and how to archive.
type Config struct {
	Dir            string        // OUTPUT_DIR
	RotateMaxBytes int64         // ROTATE_MAX_BYTES, default 128 MiB
	RotateInterval time.Duration // ROTATE_INTERVAL, default 1h
	// Compression is "none", "gzip" or "zstd" ("" means none), applied when
	// a file is rotated.
	Compression string
	// Now returns the current time; nil means time.Now. Tests inject a clock.
	Now func() time.Time
	// OnRotate, when not nil, is called with the final path (compressed or
	// not) of every rotated data file, for metrics. It is called from the
	// goroutine calling Append or Tick, possibly for several partitions at
	// once, so it must be quick and safe for concurrent use.
	OnRotate func(path string)
	// FileMode is the permission of every file the archive creates
	// (OUTPUT_FILE_MODE, default 0640: an archive of other people's posts
	// is not for every user of the machine); directories get the same
	// bits plus search (x) wherever read is set (0750). The process umask
	// still applies.
	FileMode os.FileMode
	// Uploader, when not nil, makes Dir a staging folder: every data file
	// is uploaded when it closes, and NextOffset counts what was uploaded
	// (upload.go).
	Uploader Uploader
	// DedupWindow is how many recently written keys (per partition, at
	// least; up to twice as many) a record marked Dedup is checked against.
	// 0 turns deduplication off.
	DedupWindow int
	// Layout puts the data files in folders by hour (OUTPUT_LAYOUT; ""
	// means LayoutDated). Open refuses a Dir written in another layout.
	Layout Layout
	// DropPageCache drops each batch's whole pages from the kernel's page
	// cache once the batch is fsynced, and has a closed file compressed
	// from a read around it (OUTPUT_PAGE_CACHE=drop, the service's default;
	// cache.go). False leaves the cache to the kernel, as does an Uploader:
	// its staging files are read back whole for the upload, then removed.
	DropPageCache bool
}

// withDefaults fills unset fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, fmt.Errorf("output directory is not set")
	}
	switch {
	case c.RotateMaxBytes == 0:
		c.RotateMaxBytes = DefaultRotateMaxBytes
	case c.RotateMaxBytes < 0:
		return c, fmt.Errorf("rotate max bytes %d is negative", c.RotateMaxBytes)
	}
	switch {
	case c.RotateInterval == 0:
		c.RotateInterval = DefaultRotateInterval
	case c.RotateInterval < 0:
		return c, fmt.Errorf("rotate interval %s is negative", c.RotateInterval)
	}
	switch c.Compression {
	case "":
		c.Compression = CompressionNone
	case CompressionNone, CompressionGzip, CompressionZstd:
	default:
		return c, fmt.Errorf("compression %q is not one of none, gzip, zstd", c.Compression)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Uploader != nil {
		c.DropPageCache = false // see DropPageCache
	}
	if c.Layout == "" {
		c.Layout = LayoutDated
	}
	if err := c.Layout.check(); err != nil {
		return c, err
	}
	switch {
	case c.FileMode == 0:
		c.FileMode = DefaultFileMode
	case c.FileMode&^os.ModePerm != 0 || c.FileMode&0o600 != 0o600:
		return c, fmt.Errorf("file mode %#o is not permission bits with read and write for the owner", c.FileMode)
	}
	return c, nil
}

// Record is one Kafka record to archive.
type Record struct {
	Offset int64
	// Time is the Kafka record timestamp; it picks the file's date and hour
	// directory. A zero, pre-1970 (Kafka's "no timestamp" is -1) or
	// year 10000 and later time means Config.Now at the time of Append.
	Time  time.Time
	Value []byte
	// Key is the Kafka record key. With Dedup set and Config.DedupWindow
	// above 0, a record whose key was written recently is dropped as a
	// duplicate (dedup.go).
	Key   []byte
	Dedup bool
	// Checked says Reason is Check's answer for Value, found before the
	// record was handed over: Append takes it instead of checking the value
	// again. The consumer checks each value as it fetches it, so that the
	// check runs while the batch before is written and fsynced.
	Checked bool
	// Reason is why Value cannot be a line ("" when it can); see Checked.
	Reason string
}

// Check checks the value, as Append would, and keeps the answer in the
// record (Checked, Reason).
func (r *Record) Check() {
	r.Reason, r.Checked = checkValue(r.Value), true
}

// Result counts what one Append did with its records.
type Result struct {
	Written      int   // lines appended to data files
	DeadLettered int   // records sent to the dead-letter file
	Skipped      int   // records with offsets already written
	Duplicates   int   // records dropped because their key was written recently
	Bytes        int64 // bytes appended to data files, newlines included
}

// Archive is the output directory. It is safe for concurrent use; each
// Partition it returns is not.
type Archive struct {
	cfg Config
	log *slog.Logger
}

// Open prepares cfg.Dir (creating it if needed) and checks that it is
// writable, so a bad OUTPUT_DIR fails at start with an error naming it.
// A nil log discards.
func Open(cfg Config, log *slog.Logger) (*Archive, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("checking archive config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolving output directory %s: %w", cfg.Dir, err)
	}
	cfg.Dir = dir
	if err := os.MkdirAll(dir, cfg.dirMode()); err != nil {
		return nil, fmt.Errorf("creating output directory %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return nil, fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	_ = probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("output directory %s: removing write test: %w", dir, err)
	}
	for _, sub := range []string{stateDirName, deadLetterDirName} {
		if err := os.MkdirAll(filepath.Join(dir, sub), cfg.dirMode()); err != nil {
			return nil, fmt.Errorf("output directory %s: creating %s: %w", dir, sub, err)
		}
	}
	if err := checkLayout(dir, cfg.Layout, cfg.FileMode); err != nil {
		return nil, err
	}
	if err := durable.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	}
	if fs, err := networkFS(dir); err != nil {
		log.Warn("could not tell the output directory's file system", "path", dir, "error", err)
	} else if fs != "" {
		log.Warn("the output directory is on a network file system: its locks may not keep two consumers on two hosts "+
			"from writing one partition, and fsync may not make writes durable; run the consumers of one directory on one host, "+
			"or use a local disk", "path", dir, "fs", fs)
	}
	return &Archive{cfg: cfg, log: log}, nil
}

// CheckpointFile is the file that holds a partition's checkpoint: an
// operator moves it away to start the partition afresh.
func (a *Archive) CheckpointFile(topic string, partition int) string {
	return filepath.Join(a.cfg.Dir, slotsPath(topic, partition))
}

// Partition takes the lock of a topic partition, waiting while another
// process holds it until ctx is done, then recovers its files from the
// checkpoint (see checkpoint.go) and returns it ready for Append. Call it when
// the partition is assigned, and Close when it is revoked. The caller seeks
// the partition to NextOffset when that is not -1.
func (a *Archive) Partition(ctx context.Context, topic string, partition int) (*Partition, error) {
	if err := checkTopic(topic); err != nil {
		return nil, fmt.Errorf("opening partition: %w", err)
	}
	if err := CheckTopicFits(topic); err != nil {
		return nil, fmt.Errorf("opening partition: %w", err)
	}
	if partition < 0 || partition > math.MaxInt32 {
		return nil, fmt.Errorf("opening partition: partition %d out of range", partition)
	}
	log := a.log.With("topic", topic, "partition", partition)
	lock, err := lockFile(ctx, filepath.Join(a.cfg.Dir, lockPath(topic, partition)), a.cfg.FileMode, log)
	if err != nil {
		return nil, fmt.Errorf("locking %s partition %d: %w", topic, partition, err)
	}
	p := &Partition{
		cfg:       a.cfg,
		log:       log,
		topic:     topic,
		partition: partition,
		lock:      lock,
	}
	if a.cfg.Uploader != nil {
		if err := p.syncStaging(ctx); err != nil {
			_ = p.closeCheckpoint()
			_ = lock.Close()
			return nil, fmt.Errorf("opening %s partition %d: %w", topic, partition, err)
		}
	}
	if err := p.recover(); err != nil {
		p.closeFiles()
		_ = p.closeCheckpoint()
		_ = lock.Close()
		return nil, fmt.Errorf("recovering %s partition %d: %w", topic, partition, err)
	}
	active := ""
	if p.active != nil {
		active = p.active.rel
	}
	log.Info("partition opened", "offset", p.ckpt.NextOffset, "active", active)
	return p, nil
}
