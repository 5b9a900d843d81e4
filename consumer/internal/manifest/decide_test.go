package manifest

import (
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

func TestClosed(t *testing.T) {
	hour := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	const grace = 2 * time.Minute
	active := func(h time.Time, next int64) archive.Position {
		return archive.Position{Known: true, NextOffset: next, Active: "x", ActiveHour: h}
	}
	idle := func(next int64) archive.Position { return archive.Position{Known: true, NextOffset: next} }
	afterGrace := hour.Add(time.Hour + grace)
	tests := []struct {
		name  string
		parts []Partition
		now   time.Time
		want  bool
	}{
		{"every active file in a later hour", []Partition{
			{Position: active(hour.Add(time.Hour), 50), End: 60},
			{Position: active(hour.Add(3*time.Hour), 10), End: 10},
		}, hour.Add(time.Hour), true},
		{"one active file in the hour", []Partition{
			{Position: active(hour.Add(time.Hour), 50), End: 50},
			{Position: active(hour, 10), End: 10},
		}, afterGrace.Add(time.Hour), false},
		{"idle and caught up, past the grace", []Partition{
			{Position: active(hour.Add(time.Hour), 50), End: 60},
			{Position: idle(10), End: 10},
		}, afterGrace, true},
		{"idle and caught up, within the grace", []Partition{
			{Position: idle(10), End: 10},
		}, afterGrace.Add(-time.Second), false},
		{"idle with messages not archived", []Partition{
			{Position: idle(10), End: 11},
		}, afterGrace.Add(time.Hour), false},
		{"active file of an earlier hour, caught up", []Partition{
			{Position: active(hour.Add(-time.Hour), 10), End: 10},
		}, afterGrace, true},
		{"active file of an earlier hour, behind", []Partition{
			{Position: active(hour.Add(-time.Hour), 10), End: 12},
		}, afterGrace, false},
		{"empty partition nobody opened", []Partition{
			{Position: active(hour.Add(time.Hour), 5), End: 5},
			{Position: archive.Position{}, Start: 0, End: 0},
		}, afterGrace, true},
		{"partition emptied by retention, never written", []Partition{
			{Position: archive.Position{Known: true, NextOffset: -1}, Start: 40, End: 40},
		}, afterGrace, true},
		{"partition with messages nobody opened", []Partition{
			{Position: archive.Position{}, Start: 0, End: 3},
		}, afterGrace, false},
		{"partition opened, nothing written yet", []Partition{
			{Position: archive.Position{Known: true, NextOffset: -1}, Start: 0, End: 3},
		}, afterGrace, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Closed(hour, tt.parts, tt.now, grace); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}
