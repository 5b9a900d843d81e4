package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// Names of the directories, under Dir, that hold no topic data.
const (
	stateDirName      = "_state"
	deadLetterDirName = "_deadletter"
)

// Layout is how the data files of a topic are put in folders by hour
// (OUTPUT_LAYOUT). The file names are the same in every layout.
type Layout string

// The layouts.
const (
	// LayoutDated: <topic>/<YYYY-MM-DD>/<HH>/, the layout of every version
	// before OUTPUT_LAYOUT, and the default.
	LayoutDated Layout = "dated"
	// LayoutHive: <topic>/dt=<YYYY-MM-DD>/hr=<HH>/, the key=value folders
	// that DuckDB (hive_partitioning), Spark and Athena read as columns.
	LayoutHive Layout = "hive"
)

// Layouts lists the layouts, the default first.
func Layouts() []Layout { return []Layout{LayoutDated, LayoutHive} }

// check returns an error unless l is a layout; "" is not one.
func (l Layout) check() error {
	switch l {
	case LayoutDated, LayoutHive:
		return nil
	}
	return fmt.Errorf("layout %q is not one of dated, hive", string(l))
}

// dateHour returns the folder names of the date and the hour of t (UTC).
func (l Layout) dateHour(t time.Time) (string, string) {
	t = t.UTC()
	date, hour := t.Format("2006-01-02"), t.Format("15")
	if l == LayoutHive {
		return "dt=" + date, "hr=" + hour
	}
	return date, hour
}

// HourDir returns the folder, relative to Dir, of the data files of topic
// whose first record is timed in hour's UTC hour:
//
//	dated: <topic>/<YYYY-MM-DD>/<HH>
//	hive:  <topic>/dt=<YYYY-MM-DD>/hr=<HH>
func (l Layout) HourDir(topic string, hour time.Time) string {
	date, hr := l.dateHour(hour)
	return filepath.Join(topic, date, hr)
}

// DataPath returns where a data file starts, relative to Dir: in the
// HourDir of firstTime, the timestamp of the file's first record,
//
//	<topic>-p<partition>-<firstOffset, 12 digits>.jsonl
//
// The offset is zero-padded so that a directory listing sorts files in
// offset order.
func (l Layout) DataPath(topic string, partition int, firstOffset int64, firstTime time.Time) string {
	return filepath.Join(l.HourDir(topic, firstTime), fmt.Sprintf("%s-p%d-%012d.jsonl", topic, partition, firstOffset))
}

// ParseHour returns the UTC hour that the folder names date and hour (the
// two path elements under a topic's folder) stand for in layout l, and
// false for folders that are not of that layout.
func (l Layout) ParseHour(date, hour string) (time.Time, bool) {
	if l == LayoutHive {
		var ok1, ok2 bool
		date, ok1 = strings.CutPrefix(date, "dt=")
		hour, ok2 = strings.CutPrefix(hour, "hr=")
		if !ok1 || !ok2 {
			return time.Time{}, false
		}
	}
	if len(date) != 10 || len(hour) != 2 {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02 15", date+" "+hour)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// DataPath is LayoutDated.DataPath.
func DataPath(topic string, partition int, firstOffset int64, firstTime time.Time) string {
	return LayoutDated.DataPath(topic, partition, firstOffset, firstTime)
}

// DataFile is what the name of a data file says: its partition, the
// offset of its first record and its compression ("" for none).
type DataFile struct {
	Name        string
	Partition   int
	FirstOffset int64
	Compression string
}

// ParseDataFile reads the base name of a data file of topic:
// <topic>-p<partition>-<first offset, 12 digits or more>.jsonl, with .gz or
// .zst after it once compressed. Other names (temporary files, manifests,
// anything a user put there) give false.
func ParseDataFile(topic, name string) (DataFile, bool) {
	f := DataFile{Name: name}
	rest, ok := strings.CutPrefix(name, topic+"-p")
	if !ok {
		return f, false
	}
	switch {
	case strings.HasSuffix(rest, ".jsonl.gz"):
		rest, f.Compression = strings.TrimSuffix(rest, ".gz"), CompressionGzip
	case strings.HasSuffix(rest, ".jsonl.zst"):
		rest, f.Compression = strings.TrimSuffix(rest, ".zst"), CompressionZstd
	}
	rest, ok = strings.CutSuffix(rest, ".jsonl")
	part, digits, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 || part == "" || len(digits) < 12 || strings.Trim(part, "0123456789") != "" || strings.Trim(digits, "0123456789") != "" {
		return f, false
	}
	p, err1 := strconv.Atoi(part)
	o, err2 := strconv.ParseInt(digits, 10, 64)
	if err1 != nil || err2 != nil || p > math.MaxInt32 || strconv.Itoa(p) != part {
		return f, false
	}
	f.Partition, f.FirstOffset = p, o
	return f, true
}

// layoutFile names the file, under _state, that records the folder's layout.
const layoutFile = "layout"

// checkLayout records l as the layout of the folder dir when it has none
// yet, and refuses a folder written in another layout: files of one topic
// in two layouts would split every reader's glob and every hour's manifest.
// A folder from before OUTPUT_LAYOUT has no record; its layout is read from
// the folders under its topics.
func checkLayout(dir string, l Layout, mode os.FileMode) error {
	path := filepath.Join(dir, stateDirName, layoutFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		had := Layout(strings.TrimSpace(string(data)))
		if had != l {
			return fmt.Errorf("OUTPUT_LAYOUT=%s, but %s holds files in the %s layout (%s): "+
				"set OUTPUT_LAYOUT=%s, or write to another OUTPUT_DIR", l, dir, had, path, had)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading the output layout: %w", err)
	}
	had, where, err := foundLayout(dir)
	if err != nil {
		return err
	}
	if had != "" && had != l {
		return fmt.Errorf("OUTPUT_LAYOUT=%s, but %s holds files in the %s layout (%s): "+
			"set OUTPUT_LAYOUT=%s, or write to another OUTPUT_DIR", l, dir, had, where, had)
	}
	// Consumers started together on a fresh folder each record the layout:
	// each through a temporary name of its own, so that no one renames
	// another's. The record read back afterwards is the one that stands.
	tmp := filepath.Join(dir, stateDirName, fmt.Sprintf(".%s.%d-%016x.tmp", layoutFile, os.Getpid(), rand.Uint64()))
	_, werr := durable.WriteFile(path, []byte(string(l)+"\n"), durable.Replace{Temp: tmp, Mode: mode})
	data, err = os.ReadFile(path)
	switch {
	case err != nil && werr != nil:
		return fmt.Errorf("recording the output layout: %w", werr)
	case err != nil:
		return fmt.Errorf("reading back the output layout: %w", err)
	}
	if had := Layout(strings.TrimSpace(string(data))); had != l {
		return fmt.Errorf("OUTPUT_LAYOUT=%s, but another consumer recorded the %s layout for %s (%s) at the same time: "+
			"set OUTPUT_LAYOUT=%s, or write to another OUTPUT_DIR", l, had, dir, path, had)
	}
	return nil // written, or written by another consumer with the same layout
}

// foundLayout returns the layout of the first hour folder found under the
// topics' folders in dir, and that folder; "" when there is none.
func foundLayout(dir string) (Layout, string, error) {
	topics, err := os.ReadDir(dir)
	if err != nil {
		return "", "", fmt.Errorf("reading output directory: %w", err)
	}
	for _, t := range topics {
		if !t.IsDir() || checkTopic(t.Name()) != nil {
			continue
		}
		dates, err := os.ReadDir(filepath.Join(dir, t.Name()))
		if err != nil {
			return "", "", fmt.Errorf("reading output directory: %w", err)
		}
		for _, d := range dates {
			if !d.IsDir() {
				continue
			}
			hours, err := os.ReadDir(filepath.Join(dir, t.Name(), d.Name()))
			if err != nil {
				return "", "", fmt.Errorf("reading output directory: %w", err)
			}
			for _, h := range hours {
				for _, l := range Layouts() {
					if _, ok := l.ParseHour(d.Name(), h.Name()); ok && h.IsDir() {
						return l, filepath.Join(dir, t.Name(), d.Name(), h.Name()), nil
					}
				}
			}
		}
	}
	return "", "", nil
}

// Hours returns the hours of topic that have a folder in dir (an archive's
// Dir) in layout l, oldest first. Folders of another layout are not read.
func Hours(dir, topic string, l Layout) ([]time.Time, error) {
	dates, err := os.ReadDir(filepath.Join(dir, topic))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hours []time.Time
	for _, d := range dates {
		if !d.IsDir() {
			continue
		}
		if _, ok := l.ParseHour(d.Name(), hourZero(l)); !ok {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dir, topic, d.Name()))
		if err != nil {
			return nil, err
		}
		for _, h := range entries {
			if t, ok := l.ParseHour(d.Name(), h.Name()); ok && h.IsDir() {
				hours = append(hours, t)
			}
		}
	}
	slices.SortFunc(hours, time.Time.Compare)
	return hours, nil
}

// hourZero is the folder of hour 00 in layout l.
func hourZero(l Layout) string {
	_, h := l.dateHour(time.Time{})
	return h
}

// DeadLetterPath returns where a dead-letter file starts, relative to Dir:
//
//	_deadletter/<topic>/<topic>-p<partition>-<first offset, 12 digits>.jsonl
//
// firstOffset is the offset of its first dead letter. Dead-letter files
// rotate like data files (by size and age) and are never compressed.
func DeadLetterPath(topic string, partition int, firstOffset int64) string {
	return filepath.Join(deadLetterDirName, topic, fmt.Sprintf("%s-p%d-%012d.jsonl", topic, partition, firstOffset))
}

// legacyDeadLetterPath is the one dead-letter file a partition had before
// dead letters rotated. A checkpoint naming it goes on appending to it until
// it rotates.
func legacyDeadLetterPath(topic string, partition int) string {
	return filepath.Join(deadLetterDirName, topic, fmt.Sprintf("%s-p%d.jsonl", topic, partition))
}

// checkpointPath returns the checkpoint file of a partition, relative to Dir.
func checkpointPath(topic string, partition int) string {
	return filepath.Join(stateDirName, fmt.Sprintf("%s-%d.json", topic, partition))
}

// lockPath returns the lock file of a partition, relative to Dir. Lock files
// are never removed: removing one while another process waits on it would let
// two processes hold "the" lock on different inodes.
// keysPath returns generation gen of a partition's dedup key file, relative to Dir.
func keysPath(topic string, partition int, gen int64) string {
	return filepath.Join(stateDirName, fmt.Sprintf("%s-%d.keys.%d", topic, partition, gen))
}

func lockPath(topic string, partition int) string {
	return filepath.Join(stateDirName, fmt.Sprintf("%s-%d.lock", topic, partition))
}

// nameMax is the longest file name, in bytes, that the usual file systems
// take (Linux's NAME_MAX).
const nameMax = 255

// MaxTopicLen is the longest topic name the archive can write (209): with
// it, the longest name it gives a file of the topic is nameMax bytes long.
var MaxTopicLen = nameMax - longestNameOverhead()

// longestNames returns the longest name of each file the archive makes
// for a partition of topic: for the largest partition number and offset
// Kafka can give (its types: int32 and int64), and the largest key
// generation. The longest is a compressed data file's temporary name,
// "<topic>-p2147483647-9223372036854775807.jsonl.zst.tmp".
func longestNames(topic string) []string {
	const p, off = math.MaxInt32, math.MaxInt64
	data := filepath.Base(LayoutDated.DataPath(topic, p, off, time.Time{}))
	names := []string{data, data + ".tmp",
		filepath.Base(DeadLetterPath(topic, p, off)),
		filepath.Base(slotsPath(topic, p)) + ".tmp",
		filepath.Base(keysPath(topic, p, math.MaxInt64)) + ".tmp",
		filepath.Base(uploadedPath(topic, p)) + ".tmp",
		filepath.Base(lockPath(topic, p)),
	}
	for _, ext := range compressedExts() {
		names = append(names, data+ext+".tmp")
	}
	return names
}

// longestNameOverhead returns how many bytes the longest of longestNames
// adds to the topic's name.
func longestNameOverhead() int {
	n := 0
	for _, name := range longestNames("") {
		n = max(n, len(name))
	}
	return n
}

// CheckTopicFits returns an error when the names of topic's files would
// be longer than the file system takes: when topic is longer than
// MaxTopicLen. Kafka accepts names of up to 249 characters.
func CheckTopicFits(topic string) error {
	if len(topic) > MaxTopicLen {
		return fmt.Errorf("topic name %.20q... has %d characters: the archive's longest file name, <topic>-p<partition>-<offset>.jsonl.zst.tmp, adds up to %d to it within %d bytes, so at most %d characters fit",
			topic, len(topic), nameMax-MaxTopicLen, nameMax, MaxTopicLen)
	}
	return nil
}

// checkTopic returns an error unless topic is a legal Kafka topic name
// ([a-zA-Z0-9._-]{1,249}, not "." or "..") that does not collide with the
// archive's own directories. Topic names become path elements, so this is
// also what keeps every path inside Dir.
func checkTopic(topic string) error {
	switch {
	case topic == "":
		return fmt.Errorf("topic name is empty")
	case len(topic) > 249:
		return fmt.Errorf("topic name %.20q... is longer than 249 characters", topic)
	case topic == "." || topic == "..":
		return fmt.Errorf("topic name %q is not allowed", topic)
	case topic == stateDirName || topic == deadLetterDirName:
		return fmt.Errorf("topic name %q collides with the archive's own directory", topic)
	}
	for _, r := range topic {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("topic name %q has character %q; Kafka allows only [a-zA-Z0-9._-]", topic, r)
		}
	}
	return nil
}
