package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// fakeJetstream reports the counters of a jetstream source.
type fakeJetstream struct{ stats jetstream.Stats }

func (f fakeJetstream) StreamStats() stream.Stats { return f.stats.Stats }
func (f fakeJetstream) Stats() jetstream.Stats    { return f.stats }

// TestAheadOfClockOnMetrics: the events a jetstream source read timed ahead
// of this host's clock are counted on /metrics, labelled with the source.
func TestAheadOfClockOnMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := registerSourceMetrics(reg, "jetstream", fakeJetstream{jetstream.Stats{AheadOfClock: 3}}); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	const name = "tweetpipe_producer_source_ahead_of_clock_total"
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()
		if len(m) != 1 || m[0].GetCounter() == nil {
			t.Fatalf("got %s as %v; want one counter", name, f)
		}
		if got := m[0].GetCounter().GetValue(); got != 3 {
			t.Errorf("got %s %v; want 3", name, got)
		}
		if l := m[0].GetLabel(); len(l) != 1 || l[0].GetName() != "source" || l[0].GetValue() != "jetstream" {
			t.Errorf("got labels %v; want source=jetstream", l)
		}
		return
	}
	t.Errorf("got no %s on /metrics; want it", name)
}
