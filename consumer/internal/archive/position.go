package archive

import "time"

// Position is where a partition's archive stands, as its checkpoint says:
// read-only, for readers of the output directory such as the manifest
// finalizer.
type Position struct {
	// Known is false when the partition has no checkpoint: no consumer
	// has opened it in this directory. The other fields are then zero.
	Known bool
	// NextOffset is the first offset not yet durably written; -1 when no
	// record was ever written.
	NextOffset int64
	// Active is the data file being appended to, relative to Dir ("" when
	// none), and ActiveHour the UTC hour of its first record.
	Active     string
	ActiveHour time.Time
}

// ReadPosition reads the checkpoint of a topic partition in dir, an
// archive's Dir. It takes no lock and changes nothing: the writer never
// writes over the newest whole checkpoint, and a slot it is writing reads
// as torn (checkpoint_slots.go), so it reads one whole checkpoint, which
// may be replaced the moment after.
func ReadPosition(dir, topic string, partition int) (Position, error) {
	c, found, err := readCheckpoint(dir, topic, partition)
	if err != nil || !found {
		return Position{}, err
	}
	return Position{Known: true, NextOffset: c.NextOffset, Active: c.Active, ActiveHour: c.ActiveHour}, nil
}
