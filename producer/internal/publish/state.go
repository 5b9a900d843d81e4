package publish

// The publisher's states. One goroutine, Run's loop (loop.go), owns them
// and everything they govern: the flights out, the spool's appends and
// removals, the backlog, the records waiting for room in the spool, and
// every acknowledgement to a source. Emit, the acker and the spool's
// drainer only send it events; kafka-go's completion callback only fills
// in a flight's outcome, writing a failed batch again first (flight.go). The transitions are the table below;
// docs/architecture.md draws it, and TestDiagramMatchesTransitions checks
// that the two agree.

import "fmt"

// state is what the loop does with a new record, and what it waits for.
type state uint8

const (
	// sending: records go through the memory queue to kafka-go, in
	// batches (flights); Kafka's acknowledgements come back in order.
	sending state = iota
	// spooling: Kafka is away. New records go to the spool; it holds
	// copies of the flights still out, which the loop waits for.
	spooling
	// draining: no flight is out. New records go to the spool, which is
	// sent, oldest first, one batch at a time.
	draining
	// stopping: ctx ended. The loop waits for the acker and the batch
	// being drained, then spools what memory holds.
	stopping
	// stopped: Run returns.
	stopped
	numStates
)

func (s state) String() string {
	if s < numStates {
		return [numStates]string{"sending", "spooling", "draining", "stopping", "stopped"}[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// event is what the loop learns: from Emit, the acker, the drainer, ctx,
// or as the outcome of one of its own actions.
type event uint8

const (
	// evRecord: a record came in that the loop must place (an Emit asking
	// while the spool takes records, or one left in the memory queue).
	evRecord event = iota
	// evKafkaAway: Emit found the memory queue full while Kafka is
	// unreachable.
	evKafkaAway
	// evSpooledFlightsOut: the spool took what memory held; flights are
	// out (their copies in the spool).
	evSpooledFlightsOut
	// evSpooledNoFlights: the spool took what memory held; no flight is out.
	evSpooledNoFlights
	// evSpoolTooSmall: the spool could not take what memory held.
	evSpoolTooSmall
	// evLanded: Kafka holds the oldest flight; others are out.
	evLanded
	// evLastLanded: Kafka holds the oldest flight, and no other is out.
	evLastLanded
	// evBatchSent: Kafka holds the batch sent from the spool.
	evBatchSent
	// evBatchStopped: ctx ended before Kafka held the batch sent from the
	// spool; it stays in the spool.
	evBatchStopped
	// evSpoolHoldsMore: the spool holds records to send.
	evSpoolHoldsMore
	// evSpoolEmpty: the spool holds nothing to send.
	evSpoolEmpty
	// evIdle: Close was called, and memory, the flights and the spool are
	// empty.
	evIdle
	// evStop: ctx ended (SHUTDOWN_TIMEOUT).
	evStop
	// evQuiet: stopping, the acker has returned and no batch from the
	// spool is out.
	evQuiet
	// evFailed: the spool could not be written or read.
	evFailed
	numEvents
)

func (e event) String() string {
	if e < numEvents {
		return [numEvents]string{
			"record", "kafkaAway", "spooledFlightsOut", "spooledNoFlights", "spoolTooSmall",
			"landed", "lastLanded", "batchSent", "batchStopped", "spoolHoldsMore", "spoolEmpty",
			"idle", "stop", "quiet", "failed",
		}[e]
	}
	return fmt.Sprintf("event(%d)", e)
}

// action is what the loop does on a transition, in the order listed.
type action uint8

const (
	// acMemory: the record goes to the memory queue (Emit puts it there).
	acMemory action = iota
	// acAppend: the record goes to the spool, behind any waiting for room
	// in it, and is acknowledged once it is there.
	acAppend
	// acSpoolMemory: copies of the flights' records, then the backlog and
	// the queue, go to the spool in one append and are acknowledged, in
	// order; the outcome is evSpooledFlightsOut, evSpooledNoFlights,
	// evSpoolTooSmall or evFailed.
	acSpoolMemory
	// acBacklog: what memory held stays in memory, as the backlog, sent
	// before anything queued later; a warning says so once.
	acBacklog
	// acAckFlight: the landed flight's records are counted and
	// acknowledged, unless the spool took copies of them: those copies
	// are then counted as landed, to be removed unsent.
	acAckFlight
	// acDrainNext: the copies of landed flights are removed from the
	// spool's head, and its next batch is sent; evSpoolEmpty when none.
	acDrainNext
	// acRemoveSent: the batch Kafka holds is removed from the spool; the
	// outcome is evSpoolHoldsMore or evSpoolEmpty (or evFailed).
	acRemoveSent
	// acAppendWaiting: the records waiting for room in the spool go to it.
	acAppendWaiting
	// acUnpark: the records waiting for room in the spool go to memory,
	// ahead of every later record.
	acUnpark
	// acWindDown: no more flights go to the acker; it stops once ctx ended.
	acWindDown
	// acSpoolHeld: what memory holds (flights the spool has no copies of,
	// the backlog, the queue) goes to the spool, or, without one, Run
	// reports how many records were not acknowledged.
	acSpoolHeld
	// acFail: Run returns the error.
	acFail
	numActions
)

func (a action) String() string {
	if a < numActions {
		return [numActions]string{
			"memory", "append", "spoolMemory", "backlog", "ackFlight", "drainNext",
			"removeSent", "appendWaiting", "unpark", "windDown", "spoolHeld", "fail",
		}[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// transition is one row of the table: in state from, event ev leads to
// state to, through actions.
type transition struct {
	from    state
	ev      event
	to      state
	actions []action
}

// transitions is every (state, event) pair the loop accepts. A pair not
// listed cannot happen (step refuses it); a row with no actions that stays
// in its state is an event ignored there.
func transitions() []transition {
	return []transition{
		{sending, evRecord, sending, []action{acMemory}},
		{sending, evKafkaAway, sending, []action{acSpoolMemory}},
		{sending, evSpooledFlightsOut, spooling, nil},
		{sending, evSpooledNoFlights, draining, []action{acDrainNext}},
		{sending, evSpoolTooSmall, sending, []action{acBacklog}},
		{sending, evLanded, sending, []action{acAckFlight}},
		{sending, evLastLanded, sending, []action{acAckFlight}},
		{sending, evIdle, stopped, nil},
		{sending, evStop, stopping, []action{acWindDown}},
		{sending, evFailed, stopped, []action{acFail}},

		{spooling, evRecord, spooling, []action{acAppend}},
		{spooling, evKafkaAway, spooling, nil},
		{spooling, evLanded, spooling, []action{acAckFlight}},
		{spooling, evLastLanded, draining, []action{acAckFlight, acDrainNext}},
		{spooling, evStop, stopping, []action{acWindDown}},
		{spooling, evFailed, stopped, []action{acFail}},

		{draining, evRecord, draining, []action{acAppend}},
		{draining, evKafkaAway, draining, nil},
		{draining, evBatchSent, draining, []action{acRemoveSent}},
		{draining, evBatchStopped, draining, nil},
		{draining, evSpoolHoldsMore, draining, []action{acAppendWaiting, acDrainNext}},
		{draining, evSpoolEmpty, sending, []action{acUnpark}},
		{draining, evStop, stopping, []action{acWindDown}},
		{draining, evFailed, stopped, []action{acFail}},

		{stopping, evRecord, stopping, []action{acMemory}},
		{stopping, evKafkaAway, stopping, nil},
		{stopping, evLanded, stopping, []action{acAckFlight}},
		{stopping, evLastLanded, stopping, []action{acAckFlight}},
		{stopping, evBatchSent, stopping, []action{acRemoveSent}},
		{stopping, evBatchStopped, stopping, nil},
		{stopping, evSpoolHoldsMore, stopping, nil},
		{stopping, evSpoolEmpty, stopping, nil},
		{stopping, evQuiet, stopped, []action{acSpoolHeld}},
		{stopping, evFailed, stopped, []action{acFail}},
	}
}

// table indexes transitions by state and event.
type table [numStates][numEvents]*transition

func newTable(rows []transition) *table {
	var t table
	for i := range rows {
		r := &rows[i]
		if t[r.from][r.ev] != nil {
			panic(fmt.Sprintf("publish: two transitions for %s on %s", r.from, r.ev))
		}
		t[r.from][r.ev] = r
	}
	return &t
}

// step is the publisher's state machine: in state s, event e leads to the
// state it returns, through the actions it returns, in order. ok is false
// for a pair that cannot happen.
func (t *table) step(s state, e event) (next state, actions []action, ok bool) {
	if s >= numStates || e >= numEvents || t[s][e] == nil {
		return s, nil, false
	}
	r := t[s][e]
	return r.to, r.actions, true
}

// initial is the state Run begins in, and what it does first: a spool left
// by an earlier run is sent before anything new.
func initial(spoolEmpty bool) (state, []action) {
	if spoolEmpty {
		return sending, nil
	}
	return draining, []action{acDrainNext}
}
