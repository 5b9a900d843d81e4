package manifest

import (
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// Partition is what the finalizer knows of one partition of a topic: its
// checkpoint, and where it starts and ends in Kafka.
type Partition struct {
	Position   archive.Position
	Start, End int64 // offsets of the oldest message and of the next one
}

// caughtUp reports whether the archive holds every message Kafka had for
// the partition when End was read: it is empty, or the checkpoint is at
// its end.
func (p Partition) caughtUp() bool {
	return p.End <= p.Start || p.Position.Known && p.Position.NextOffset >= p.End
}

// Closed reports whether every partition of a topic has moved past hour
// (a UTC hour), so that its folder holds only complete files and its
// manifest can be written. A partition has moved past the hour when
//
//   - its active file starts after the hour's end: the archive files a
//     record by the hour of its file's first record and never goes back
//     to an earlier hour while a file is open; or
//   - it has no active file of that hour, the archive holds every message
//     Kafka has for it (or it has none), and the hour ended more than grace
//     ago: it is idle. ROTATE_INTERVAL closes a file that gets no more
//     data, so an idle partition has no active file for long.
//
// A partition whose active file is of the hour never has: that file is
// still growing. A partition with messages not yet archived (a consumer
// down, a backlog) holds back its active file's hour and every later one
// (every hour, when it has no active file) until it is archived; not the
// hours before its active file's, though a record of one of them that
// comes after the active file closed starts a file there, as a late record
// does, and the hour is open again until that file is closed. Holding every
// hour for a partition behind Kafka's end would keep a busy topic, whose
// checkpoints always trail the end, from ever being closed.
func Closed(hour time.Time, parts []Partition, now time.Time, grace time.Duration) bool {
	end := hour.Add(time.Hour)
	for _, p := range parts {
		pos := p.Position
		if pos.Active != "" && !pos.ActiveHour.Before(end) {
			continue // moved on
		}
		if pos.Active != "" && pos.ActiveHour.Equal(hour) {
			return false // the hour's file is open
		}
		if !p.caughtUp() || now.Before(end.Add(grace)) {
			return false
		}
	}
	return true
}
