package archive

import (
	"fmt"
	"path/filepath"
	"time"
)

// Names of the directories, under Dir, that hold no topic data.
const (
	stateDirName      = "_state"
	deadLetterDirName = "_deadletter"
)

// DataPath returns where a data file starts, relative to Dir:
//
//	<topic>/<YYYY-MM-DD>/<HH>/<topic>-p<partition>-<firstOffset, 12 digits>.jsonl
//
// The date and hour are those of firstTime in UTC, the timestamp of the file's
// first record. The offset is zero-padded so that a directory listing sorts
// files in offset order.
func DataPath(topic string, partition int, firstOffset int64, firstTime time.Time) string {
	t := firstTime.UTC()
	name := fmt.Sprintf("%s-p%d-%012d.jsonl", topic, partition, firstOffset)
	return filepath.Join(topic, t.Format("2006-01-02"), t.Format("15"), name)
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
