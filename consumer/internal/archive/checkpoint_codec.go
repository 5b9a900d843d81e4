package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// checkpointVersion is written into every checkpoint; a decoder meeting any
// other version refuses the file rather than guess.
const checkpointVersion = 1

// checkpoint is what a partition has durably written. See checkpoint.go for
// how it is used.
type checkpoint struct {
	Topic     string
	Partition int
	// NextOffset is the first offset not yet durably written; -1 when no
	// record was ever written.
	NextOffset int64
	// Active is the data file being appended to, relative to Dir, or "" when
	// there is none. Only this file may hold bytes past a checkpoint.
	Active string
	// ActiveSize is how many bytes of Active are durable and belong there.
	ActiveSize int64
	// ActiveHour is the UTC hour of Active's first record (zero when Active
	// is ""); records of later hours rotate the file.
	ActiveHour time.Time
	// ActiveCreated is when Active was created (zero when Active is ""); the
	// file rotates RotateInterval later.
	ActiveCreated time.Time
	// DeadLetter is the partition's dead-letter file being appended to,
	// relative to Dir, or "" when there is none; DeadLetterSize is how many
	// of its bytes are durable and belong there, and DeadLetterCreated when
	// it was created (zero for a file of an earlier version: it rotates at
	// the next dead letter).
	DeadLetter        string
	DeadLetterSize    int64
	DeadLetterCreated time.Time
	// KeysGen is the generation of the dedup window's key file being
	// appended to (see dedup.go), and KeysSize how many of its bytes are
	// durable and belong there. Generation KeysGen-1, when there is one, is
	// complete. Both are 0 while deduplication has never run.
	KeysGen  int64
	KeysSize int64
	// Rotated is set while Active is being rotated into a compressed file:
	// that file's path, relative to Dir, and RotatedSize its size. It is
	// written after the compressed file is complete and before it gets its
	// name, so a file found at Rotated with RotatedSize bytes is the
	// rotation's own, and the plain file may go. Any other file of that name
	// (a copy made by gzip -k, zstd or a cron job) is not the archive's and
	// proves nothing.
	Rotated     string
	RotatedSize int64
	// UploadHour is, with an uploader, the UTC hour of the Kafka timestamp
	// of the first record the partition took (wrote, dead-lettered or
	// dropped) at or after the bucket's next offset, zero until it took
	// one: the hour in the key of the next upload (upload.go).
	UploadHour time.Time
}

// checkpointJSON is the file format. Every field is a pointer so that the
// decoder can tell a missing field from a zero one.
type checkpointJSON struct {
	Version        *int       `json:"version"`
	Topic          *string    `json:"topic"`
	Partition      *int       `json:"partition"`
	NextOffset     *int64     `json:"next_offset"`
	Active         *string    `json:"active"`
	ActiveSize     *int64     `json:"active_size"`
	ActiveHour     *time.Time `json:"active_hour,omitempty"`
	ActiveCreated  *time.Time `json:"active_created,omitempty"`
	DeadLetter     *string    `json:"deadletter"`
	DeadLetterSize *int64     `json:"deadletter_size"`
	DeadLetterNew  *time.Time `json:"deadletter_created,omitempty"`
	KeysGen        *int64     `json:"keys_gen,omitempty"`
	KeysSize       *int64     `json:"keys_size,omitempty"`
	Rotated        *string    `json:"rotated,omitempty"`
	RotatedSize    *int64     `json:"rotated_size,omitempty"`
	UploadHour     *time.Time `json:"upload_hour,omitempty"`
}

// encodeCheckpoint returns the file contents for c.
func encodeCheckpoint(c checkpoint) ([]byte, error) {
	v := checkpointVersion
	j := checkpointJSON{
		Version:        &v,
		Topic:          &c.Topic,
		Partition:      &c.Partition,
		NextOffset:     &c.NextOffset,
		Active:         &c.Active,
		ActiveSize:     &c.ActiveSize,
		DeadLetter:     &c.DeadLetter,
		DeadLetterSize: &c.DeadLetterSize,
		KeysGen:        &c.KeysGen,
		KeysSize:       &c.KeysSize,
	}
	if c.DeadLetter != "" && !c.DeadLetterCreated.IsZero() {
		created := c.DeadLetterCreated.UTC()
		j.DeadLetterNew = &created
	}
	if c.Rotated != "" {
		j.Rotated, j.RotatedSize = &c.Rotated, &c.RotatedSize
	}
	if c.Active != "" {
		hour, created := c.ActiveHour.UTC(), c.ActiveCreated.UTC()
		j.ActiveHour, j.ActiveCreated = &hour, &created
	}
	if !c.UploadHour.IsZero() {
		hour := c.UploadHour.UTC()
		j.UploadHour = &hour
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding checkpoint: %w", err)
	}
	return append(b, '\n'), nil
}

// decodeCheckpoint parses the contents of the checkpoint file name. It is
// strict: unknown or missing fields, trailing data, a path that could leave
// Dir or does not follow the layout, and out-of-range numbers are errors,
// each naming the file. A checkpoint it accepts re-encodes to an equal one.
func decodeCheckpoint(name string, data []byte) (checkpoint, error) {
	c, err := decodeCheckpointJSON(data)
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint %s is corrupt: %w", name, err)
	}
	return c, nil
}

func decodeCheckpointJSON(data []byte) (checkpoint, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j checkpointJSON
	if err := dec.Decode(&j); err != nil {
		return checkpoint{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return checkpoint{}, errors.New("unexpected data after the JSON object")
	}

	switch {
	case j.Version == nil:
		return checkpoint{}, errors.New(`missing field "version"`)
	case *j.Version != checkpointVersion:
		return checkpoint{}, fmt.Errorf("version %d, this program reads version %d", *j.Version, checkpointVersion)
	case j.Topic == nil:
		return checkpoint{}, errors.New(`missing field "topic"`)
	case j.Partition == nil:
		return checkpoint{}, errors.New(`missing field "partition"`)
	case j.NextOffset == nil:
		return checkpoint{}, errors.New(`missing field "next_offset"`)
	case j.Active == nil:
		return checkpoint{}, errors.New(`missing field "active"`)
	case j.ActiveSize == nil:
		return checkpoint{}, errors.New(`missing field "active_size"`)
	case j.DeadLetter == nil:
		return checkpoint{}, errors.New(`missing field "deadletter"`)
	case j.DeadLetterSize == nil:
		return checkpoint{}, errors.New(`missing field "deadletter_size"`)
	}
	c := checkpoint{
		Topic:          *j.Topic,
		Partition:      *j.Partition,
		NextOffset:     *j.NextOffset,
		Active:         *j.Active,
		ActiveSize:     *j.ActiveSize,
		DeadLetter:     *j.DeadLetter,
		DeadLetterSize: *j.DeadLetterSize,
	}
	// The key file fields came after version 1's first release: missing
	// means no dedup state yet.
	if j.KeysGen != nil {
		c.KeysGen = *j.KeysGen
	}
	if j.KeysSize != nil {
		c.KeysSize = *j.KeysSize
	}
	if c.KeysGen < 0 || c.KeysSize < 0 {
		return checkpoint{}, fmt.Errorf("keys_gen %d or keys_size %d is negative", c.KeysGen, c.KeysSize)
	}
	if err := checkTopic(c.Topic); err != nil {
		return checkpoint{}, err
	}
	if c.Partition < 0 || c.Partition > math.MaxInt32 {
		return checkpoint{}, fmt.Errorf("partition %d out of range", c.Partition)
	}
	if c.NextOffset < -1 {
		return checkpoint{}, fmt.Errorf("next_offset %d out of range", c.NextOffset)
	}
	if c.ActiveSize < 0 {
		return checkpoint{}, fmt.Errorf("active_size %d is negative", c.ActiveSize)
	}
	if c.DeadLetterSize < 0 {
		return checkpoint{}, fmt.Errorf("deadletter_size %d is negative", c.DeadLetterSize)
	}
	if err := checkDeadLetterPath(c); err != nil {
		return checkpoint{}, err
	}
	if j.DeadLetterNew != nil {
		if c.DeadLetter == "" {
			return checkpoint{}, errors.New("deadletter_created with no dead-letter file")
		}
		c.DeadLetterCreated = j.DeadLetterNew.UTC()
	}

	if j.UploadHour != nil {
		c.UploadHour = j.UploadHour.UTC()
		if c.UploadHour.IsZero() || !c.UploadHour.Equal(c.UploadHour.Truncate(time.Hour)) {
			return checkpoint{}, fmt.Errorf("upload_hour %s is not a whole hour", c.UploadHour.Format(time.RFC3339Nano))
		}
	}

	if (j.Rotated == nil) != (j.RotatedSize == nil) {
		return checkpoint{}, errors.New("rotated and rotated_size go together")
	}
	if j.Rotated != nil {
		c.Rotated, c.RotatedSize = *j.Rotated, *j.RotatedSize
		ok := false
		for _, ext := range compressedExts() {
			ok = ok || (c.Active != "" && c.Rotated == c.Active+ext)
		}
		if !ok {
			return checkpoint{}, fmt.Errorf("rotated %q is not the active file %q compressed", c.Rotated, c.Active)
		}
		if c.RotatedSize < 0 {
			return checkpoint{}, fmt.Errorf("rotated_size %d is negative", c.RotatedSize)
		}
	}

	if c.Active == "" {
		switch {
		case c.ActiveSize != 0:
			return checkpoint{}, fmt.Errorf("active_size %d with no active file", c.ActiveSize)
		case j.ActiveHour != nil || j.ActiveCreated != nil:
			return checkpoint{}, errors.New("active_hour or active_created with no active file")
		}
		return c, nil
	}
	if j.ActiveHour == nil {
		return checkpoint{}, errors.New(`missing field "active_hour"`)
	}
	if j.ActiveCreated == nil {
		return checkpoint{}, errors.New(`missing field "active_created"`)
	}
	c.ActiveHour, c.ActiveCreated = j.ActiveHour.UTC(), j.ActiveCreated.UTC()
	if !c.ActiveHour.Equal(c.ActiveHour.Truncate(time.Hour)) {
		return checkpoint{}, fmt.Errorf("active_hour %s is not a whole hour", c.ActiveHour.Format(time.RFC3339Nano))
	}
	if err := checkActivePath(c); err != nil {
		return checkpoint{}, err
	}
	return c, nil
}

// checkDeadLetterPath returns an error unless c.DeadLetter is "" (with
// size 0), the path DeadLetterPath gives for c's topic and partition and
// some offset, or the one of an earlier version.
func checkDeadLetterPath(c checkpoint) error {
	switch c.DeadLetter {
	case "":
		if c.DeadLetterSize != 0 {
			return fmt.Errorf("deadletter_size %d with no dead-letter file", c.DeadLetterSize)
		}
		return nil
	case legacyDeadLetterPath(c.Topic, c.Partition):
		return nil
	}
	if first, ok := offsetInName(c.DeadLetter, c.Topic, c.Partition); !ok || c.DeadLetter != DeadLetterPath(c.Topic, c.Partition, first) {
		return fmt.Errorf("deadletter %q is not a dead-letter file of %s partition %d", c.DeadLetter, c.Topic, c.Partition)
	}
	return nil
}

// offsetInName returns the first offset in the name of a data or
// dead-letter file of topic and partition: <topic>-p<partition>-<offset,
// at least 12 digits>.jsonl.
func offsetInName(path, topic string, partition int) (int64, bool) {
	prefix := fmt.Sprintf("%s-p%d-", topic, partition)
	digits, ok := strings.CutPrefix(filepath.Base(path), prefix)
	if ok {
		digits, ok = strings.CutSuffix(digits, ".jsonl")
	}
	if ok && len(digits) >= 12 && strings.Trim(digits, "0123456789") == "" {
		if n, err := strconv.ParseInt(digits, 10, 64); err == nil {
			return n, true
		}
	}
	return -1, false
}

// checkActivePath returns an error unless c.Active is exactly the path
// DataPath gives, in one of the layouts, for c's topic, partition and active
// hour, for some offset.
// A file kept in the folder at the switch to a bucket has its kept name
// (keptName) there.
func checkActivePath(c checkpoint) error {
	active := c.Active
	if isKept(active) && keptName(unkept(active)) == active {
		active = unkept(active)
	}
	first, ok := offsetInName(active, c.Topic, c.Partition)
	if ok && (active == LayoutDated.DataPath(c.Topic, c.Partition, first, c.ActiveHour) ||
		active == LayoutHive.DataPath(c.Topic, c.Partition, first, c.ActiveHour)) {
		return nil
	}
	return fmt.Errorf("active %q is not a data file of %s partition %d for hour %s",
		c.Active, c.Topic, c.Partition, c.ActiveHour.Format(time.RFC3339))
}
