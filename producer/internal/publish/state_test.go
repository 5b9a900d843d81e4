package publish

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// wantTransitions is the state machine as it is meant to be, one
// line a (state, event) pair, every pair: "state event -> next: actions",
// "-> next" alone for an event with no actions, and "refused" for a pair
// that cannot happen.
const wantTransitions = `
sending record -> sending: memory
sending kafkaAway -> sending: spoolMemory
sending spooledFlightsOut -> spooling
sending spooledNoFlights -> draining: drainNext
sending spoolTooSmall -> sending: backlog
sending landed -> sending: ackFlight
sending lastLanded -> sending: ackFlight
sending batchSent refused
sending batchStopped refused
sending spoolHoldsMore refused
sending spoolEmpty refused
sending idle -> stopped
sending stop -> stopping: windDown
sending quiet refused
sending failed -> stopped: fail
spooling record -> spooling: append
spooling kafkaAway -> spooling
spooling spooledFlightsOut refused
spooling spooledNoFlights refused
spooling spoolTooSmall refused
spooling landed -> spooling: ackFlight
spooling lastLanded -> draining: ackFlight, drainNext
spooling batchSent refused
spooling batchStopped refused
spooling spoolHoldsMore refused
spooling spoolEmpty refused
spooling idle refused
spooling stop -> stopping: windDown
spooling quiet refused
spooling failed -> stopped: fail
draining record -> draining: append
draining kafkaAway -> draining
draining spooledFlightsOut refused
draining spooledNoFlights refused
draining spoolTooSmall refused
draining landed refused
draining lastLanded refused
draining batchSent -> draining: removeSent
draining batchStopped -> draining
draining spoolHoldsMore -> draining: appendWaiting, drainNext
draining spoolEmpty -> sending: unpark
draining idle refused
draining stop -> stopping: windDown
draining quiet refused
draining failed -> stopped: fail
stopping record -> stopping: memory
stopping kafkaAway -> stopping
stopping spooledFlightsOut refused
stopping spooledNoFlights refused
stopping spoolTooSmall refused
stopping landed -> stopping: ackFlight
stopping lastLanded -> stopping: ackFlight
stopping batchSent -> stopping: removeSent
stopping batchStopped -> stopping
stopping spoolHoldsMore -> stopping
stopping spoolEmpty -> stopping
stopping idle refused
stopping stop refused
stopping quiet -> stopped: spoolHeld
stopping failed -> stopped: fail
stopped record refused
stopped kafkaAway refused
stopped spooledFlightsOut refused
stopped spooledNoFlights refused
stopped spoolTooSmall refused
stopped landed refused
stopped lastLanded refused
stopped batchSent refused
stopped batchStopped refused
stopped spoolHoldsMore refused
stopped spoolEmpty refused
stopped idle refused
stopped stop refused
stopped quiet refused
stopped failed refused
`

// outcome is step's answer for a pair, written as in wantTransitions.
func outcome(t *table, s state, e event) string {
	next, actions, ok := t.step(s, e)
	if !ok {
		return fmt.Sprintf("%s %s refused", s, e)
	}
	out := fmt.Sprintf("%s %s -> %s", s, e, next)
	if len(actions) > 0 {
		names := make([]string, len(actions))
		for i, a := range actions {
			names[i] = a.String()
		}
		out += ": " + strings.Join(names, ", ")
	}
	return out
}

// TestEveryTransition: step's answer for every (state, event) pair,
// those refused and those ignored included.
func TestEveryTransition(t *testing.T) {
	want := strings.Split(strings.TrimSpace(wantTransitions), "\n")
	if len(want) != int(numStates)*int(numEvents) {
		t.Fatalf("wantTransitions lists %d pairs; want all %d", len(want), int(numStates)*int(numEvents))
	}
	tb := newTable(transitions())
	i := 0
	for s := range numStates {
		for e := range numEvents {
			t.Run(s.String()+"/"+e.String(), func(t *testing.T) {
				if got := outcome(tb, s, e); got != want[i] {
					t.Errorf("got %q; want %q", got, want[i])
				}
			})
			i++
		}
	}
	if _, _, ok := tb.step(numStates, evRecord); ok {
		t.Error("step accepted a state out of range")
	}
	if _, _, ok := tb.step(sending, numEvents); ok {
		t.Error("step accepted an event out of range")
	}
}

// TestTransitionTableShape: what the loop relies on. An action with an
// outcome ends its row (handle runs the outcome after the row's actions),
// every state but stopped can stop and fail, stopped accepts nothing, and
// every state is reached from where Run begins.
func TestTransitionTableShape(t *testing.T) {
	rows := transitions()
	withOutcome := []action{acSpoolMemory, acDrainNext, acRemoveSent}
	for _, r := range rows {
		for i, a := range r.actions {
			if slices.Contains(withOutcome, a) && i != len(r.actions)-1 {
				t.Errorf("%s on %s: %s has an outcome but is not the last action", r.from, r.ev, a)
			}
		}
	}
	tb := newTable(rows)
	for s := range numStates {
		_, _, canFail := tb.step(s, evFailed)
		_, _, canStop := tb.step(s, evStop)
		_, _, canQuiet := tb.step(s, evQuiet)
		switch s {
		case stopped:
			if canFail || canStop {
				t.Errorf("stopped accepts an event")
			}
		case stopping:
			if !canFail || !canQuiet {
				t.Errorf("stopping: fails %v, ends on quiet %v; want both", canFail, canQuiet)
			}
		default:
			if !canFail || !canStop {
				t.Errorf("%s: fails %v, stops %v; want both", s, canFail, canStop)
			}
		}
	}
	reached := map[state]bool{}
	for _, empty := range []bool{true, false} {
		s, _ := initial(empty)
		reached[s] = true
	}
	for range numStates {
		for _, r := range rows {
			if reached[r.from] {
				reached[r.to] = true
			}
		}
	}
	for s := range numStates {
		if !reached[s] {
			t.Errorf("%s is never reached", s)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("newTable took two rows for one pair")
		}
	}()
	newTable(append(rows, transition{from: sending, ev: evRecord, to: spooling}))
}

// TestRefusedEventFailsRun: a pair that cannot happen stops the loop with
// an error rather than going on in a state that does not hold.
func TestRefusedEventFailsRun(t *testing.T) {
	p, err := New(testConfig([]string{"127.0.0.1:1"}), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	l := p.newLoop(t.Context())
	l.setState(draining)
	l.handle(evLanded)
	if l.state != stopped || l.err == nil || !strings.Contains(l.err.Error(), "landed in state draining cannot happen") {
		t.Fatalf("state %s, error %v; want stopped, with the pair named", l.state, l.err)
	}
}
