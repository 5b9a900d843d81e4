package group

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
)

// TestOffsets: the runner tells a topic's partitions and where each starts
// and ends, for the manifest finalizer.
func TestOffsets(t *testing.T) {
	const topic = "tweets"
	brokers := cluster(t, topic, 3)
	produce(t, brokers, topic, 0, 100)
	r := New(Config{Brokers: brokers, Settings: Settings{Topics: []string{topic}}}, &memArchive{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	start, end, err := r.Offsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range end {
		sum += e
	}
	if !slices.Equal(start, []int64{0, 0, 0}) || len(end) != 3 || sum != 100 {
		t.Errorf("got start %v, end %v; want 3 partitions from 0, their ends summing to 100", start, end)
	}
	if _, _, err := r.Offsets(context.Background(), "missing"); err == nil {
		t.Errorf("got no error for a topic that does not exist")
	}
}
