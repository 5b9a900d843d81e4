package e2e

import (
	"strings"
	"testing"
)

func TestRaceReports(t *testing.T) {
	out := strings.Join([]string{
		"time=1 level=INFO msg=a",
		"==================",
		"WARNING: DATA RACE",
		"Write at 0x1 by goroutine 7:",
		"  main.f()",
		"==================",
		"time=2 level=INFO msg=b",
		"==================",
		"WARNING: DATA RACE",
		"Read at 0x2 by goroutine 9:",
		"==================",
		"Found 2 data race(s)",
	}, "\n") + "\n"
	got := raceReports(out)
	want := []string{
		"WARNING: DATA RACE\nWrite at 0x1 by goroutine 7:\n  main.f()",
		"WARNING: DATA RACE\nRead at 0x2 by goroutine 9:",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d reports %q; want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("report %d = %q; want %q", i, got[i], want[i])
		}
	}
	if r := raceReports("time=1 level=INFO msg=a\n"); len(r) != 0 {
		t.Errorf("no race in the output, got %q", r)
	}
}
