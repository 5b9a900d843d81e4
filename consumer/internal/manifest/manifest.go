// Package manifest writes, for every hour of a topic that every partition
// has moved past, a _manifest.json in the hour's folder listing its data
// files: name, partition, offsets, lines, bytes and the SHA-256 of the
// file as stored. Like the _SUCCESS file of Hadoop's output committers and
// Secor's finalizer, it tells a reader (a batch job, an upload) that the
// hour is complete.
//
// The finalizer runs beside the consumer group, off the archive's write
// path: it reads the folder, the partitions' checkpoints (through
// archive.ReadPosition) and Kafka's end offsets, and writes nothing but
// manifests, each by atomic replace. Several consumers sharing a folder
// each run one; they write the same manifest, or one of them does.
package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// FileName is the manifest's name in an hour's folder. Spark, Hive and
// Athena skip names starting with _ when they read a folder.
const FileName = "_manifest.json"

// Version is written into every manifest.
const Version = 1

// Manifest is the content of a _manifest.json.
type Manifest struct {
	Version int       `json:"version"`
	Topic   string    `json:"topic"`
	Hour    time.Time `json:"hour"`  // the UTC hour of the folder
	Lines   int64     `json:"lines"` // the sum over Files
	Bytes   int64     `json:"bytes"` // the sum over Files, as stored
	Files   []File    `json:"files"` // by partition, then first offset
}

// File is one data file of the hour.
type File struct {
	Name        string `json:"name"` // base name, in the manifest's folder
	Partition   int    `json:"partition"`
	FirstOffset int64  `json:"first_offset"`
	// LastOffset bounds the offsets of the file's lines: every line comes
	// from an offset in [FirstOffset, LastOffset]. It is the offset
	// before the partition's next data file, or before the partition's
	// next offset when there was none. Offsets in the range with no line
	// were dead-lettered or dropped as duplicates.
	LastOffset int64  `json:"last_offset"`
	Lines      int64  `json:"lines"` // lines (records) in the file, decompressed
	Bytes      int64  `json:"bytes"` // size of the file as stored
	SHA256     string `json:"sha256"`
}

// Read reads the manifest at path.
func Read(path string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("reading manifest %s: %w", path, err)
	}
	if m.Version != Version {
		return m, fmt.Errorf("reading manifest %s: version %d, want %d", path, m.Version, Version)
	}
	return m, nil
}

// encode returns the file content of m: the same bytes for the same
// manifest, whoever writes it.
func encode(m Manifest) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Defaults for Config fields left at zero.
const (
	DefaultGrace    = 2 * time.Minute
	DefaultInterval = 10 * time.Second
)

// Config says where to look and how long to wait.
type Config struct {
	Dir    string         // OUTPUT_DIR
	Layout archive.Layout // OUTPUT_LAYOUT
	Topics []string       // KAFKA_TOPICS
	// Grace is how long after an hour's end an idle partition is taken to
	// have moved past it (MANIFEST_GRACE).
	Grace time.Duration
	// Interval is how often the folder is looked at (MANIFEST_INTERVAL).
	Interval time.Duration
	FileMode os.FileMode // of the manifests; 0: archive.DefaultFileMode
	// Uncached reads the data files around the page cache
	// (archive.ReadUncached), as the archive drops their pages
	// (OUTPUT_PAGE_CACHE=drop).
	Uncached bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnWrite, when not nil, is called after each manifest written, with
	// its path, for metrics.
	OnWrite func(path string, m Manifest)
}

// Offsets tells a topic's partitions (the slices' index) and, for each,
// the offset of its oldest message and of its next one in Kafka. The
// consumer group's Runner has it.
type Offsets interface {
	Offsets(ctx context.Context, topic string) (start, end []int64, err error)
}

// Finalizer writes the manifests of the hours that are closed.
type Finalizer struct {
	cfg   Config
	kafka Offsets
	log   *slog.Logger
	// done holds the hour folders (relative to Dir) whose manifest lists
	// their files, with the folder's modification time then: a folder
	// unchanged since is not read again. Only the goroutine calling Pass
	// touches it.
	done map[string]time.Time
	// temps holds the hour folders (relative to Dir) where the last read
	// found a temporary manifest too young to remove: they are read again.
	temps map[string]bool
	// failed holds the hour folders (relative to Dir) with a data file that
	// could not be read: they are not read again until it or the folder
	// changes.
	failed map[string]*unreadable
	// readDir lists an hour's folder: os.ReadDir, or a test's counter.
	readDir func(string) ([]os.DirEntry, error)
}

// New returns a finalizer; Run runs it. A nil log discards.
func New(cfg Config, kafka Offsets, log *slog.Logger) (*Finalizer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("manifest: output directory is not set")
	}
	if cfg.Layout == "" {
		cfg.Layout = archive.LayoutDated
	}
	if cfg.FileMode == 0 {
		cfg.FileMode = archive.DefaultFileMode
	}
	cfg, log, err := cfg.withDefaults(log)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("manifest: resolving output directory %s: %w", cfg.Dir, err)
	}
	cfg.Dir = dir
	return &Finalizer{cfg: cfg, kafka: kafka, log: log.With("component", "manifest"),
		done: map[string]time.Time{}, temps: map[string]bool{}, failed: map[string]*unreadable{}, readDir: os.ReadDir}, nil
}

// Run makes a pass every Interval until ctx ends. A pass that fails (Kafka
// away, a file that cannot be read) is logged and made again at the next;
// an hour whose data file cannot be read is read again only once the file
// or its folder changes.
func (f *Finalizer) Run(ctx context.Context) {
	runPasses(ctx, f.cfg.Interval, f.log, "writing manifests; trying again later", f.Pass)
}

// withDefaults checks what both finalizers take from cfg and fills in the
// defaults: the interval, the clock and a logger that discards.
func (cfg Config) withDefaults(log *slog.Logger) (Config, *slog.Logger, error) {
	if cfg.Grace < 0 {
		return cfg, nil, fmt.Errorf("manifest: grace %s is negative", cfg.Grace)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return cfg, log, nil
}

// finalPassTimeout bounds the pass made when the consumer stops.
const finalPassTimeout = 5 * time.Second

// runPasses calls pass every interval until ctx ends, and once more then
// (at most finalPassTimeout): the hours the consumer closed just before it
// stopped (a replay's end) get their manifests now, not at the next start.
// A pass that fails is logged with msg and made again at the next.
func runPasses(ctx context.Context, interval time.Duration, log *slog.Logger, msg string, pass func(context.Context) ([]string, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := pass(ctx); err != nil && ctx.Err() == nil {
			log.Warn(msg, "error", err, "retry_in", interval)
		}
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalPassTimeout)
			defer cancel()
			if _, err := pass(final); err != nil {
				log.Info("the last pass before stopping did not finish; the next start makes it", "error", err)
			}
			return
		case <-t.C:
		}
	}
}

// passTopics makes passTopic for each topic and returns every key or path
// written, and the topics' errors, each naming its topic.
func passTopics(ctx context.Context, topics []string, passTopic func(context.Context, string) ([]string, error)) ([]string, error) {
	var written []string
	var errs []error
	for _, topic := range topics {
		w, err := passTopic(ctx, topic)
		written = append(written, w...)
		if err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", topic, err))
		}
	}
	return written, errors.Join(errs...)
}
