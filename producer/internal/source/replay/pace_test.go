package replay

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// TestPace: at REPLAY_SPEED=10 two posts one second apart are sent at least
// 100 ms apart; at 0 they are not held back.
func TestPace(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.json"), []byte(
		`{"id_str":"1","text":"a","user":{},"timestamp_ms":"1520424000000"}`+"\n"+
			`{"id_str":"2","text":"b","user":{},"timestamp_ms":"1520424001000"}`+"\n"))
	for _, tt := range []struct {
		speed   float64
		atLeast time.Duration
	}{{10, 95 * time.Millisecond}, {1, 990 * time.Millisecond}} {
		var times []time.Time
		s := New(Config{Path: dir, Speed: tt.speed}, quiet())
		if err := s.Run(context.Background(), func(context.Context, source.Record) error {
			times = append(times, time.Now())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if gap := times[1].Sub(times[0]); gap < tt.atLeast {
			t.Errorf("speed %g: posts 1 s apart were sent %s apart; want at least %s", tt.speed, gap, tt.atLeast)
		}
	}
}

// TestStopWhilePaced: a stop during a long wait returns at once, nil.
func TestStopWhilePaced(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.json"), []byte(
		`{"id_str":"1","text":"a","user":{},"timestamp_ms":"1520424000000"}`+"\n"+
			`{"id_str":"2","text":"b","user":{},"timestamp_ms":"1520427600000"}`+"\n"))
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := New(Config{Path: dir, Speed: 1}, quiet()).Run(ctx, func(context.Context, source.Record) error {
		n++
		cancel()
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("Run = %v after %d records; want nil after 1", err, n)
	}
}
