// Package source holds the contract every producer source meets.
//
// A source reads posts from somewhere (a stream, files, a generator) and hands
// each one, as the raw bytes it received, to the pipeline. Sources that can
// resume (a replay position, a stream cursor) attach an Ack to each record;
// the pipeline calls it only once the record is durable (Kafka acknowledged
// it, or the producer's spool fsynced it while Kafka was away), so a
// restart resumes from what is kept, never from what was merely read.
package source

import (
	"context"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
)

// Record is one message as a source read it: framing removed, bytes unchanged.
type Record struct {
	// Value is the message exactly as received (no trailing line terminator).
	Value []byte
	// Ack, when not nil, is called once Kafka has acknowledged this record,
	// or the spool (SPOOL_DIR) holds it on disk, whichever comes first.
	// Records are acknowledged in the order they were emitted.
	Ack func()
	// Classified, when its Kind is set, is the record's classification by
	// the classifier the publisher is configured with for this source
	// (publish.Config.Classify), which accepted it (no error): a source
	// that has classified Value already hands its result over, and the
	// publisher uses it instead of classifying Value again. Its Value is
	// not read (Value is). A record left unset is classified by the
	// publisher, as is every record of the sources that do not classify.
	Classified message.Message
	// Read, when set, is when the source read the record, which the
	// publisher takes as its own reading of the clock (a source that reads
	// the clock for each record anyway hands it over). Zero: the publisher
	// reads the clock.
	Read time.Time
	// From and Line say where the source read the record (replay: the
	// file, or the file and its member, and the line's number from 1), for
	// the messages that name a record the pipeline cannot publish. Empty
	// for a stream's records.
	From string
	Line int64
}

// Emit hands one record to the pipeline. It blocks while the pipeline is full
// and returns an error only when ctx is done or the pipeline has stopped; a
// source returns that error from Run.
type Emit func(ctx context.Context, r Record) error

// Source produces records until ctx is done, the input ends, or a fatal error.
type Source interface {
	// Name is the value of SOURCE that selects this source (synthetic, replay, ...).
	Name() string
	// Run emits records. It returns nil when a finite input is exhausted or ctx
	// is cancelled, and an error that says what to fix when it cannot go on.
	Run(ctx context.Context, emit Emit) error
}

// Connector is implemented by sources that hold a connection (a stream):
// Connected reports whether it is open now. /readyz uses it.
type Connector interface {
	Connected() bool
}
