package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/group"
	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

// TestProgressCountsDuplicates: the progress line says how many copies the
// dedup window dropped; a run that only dropped copies (a replay published
// again) showed written=0 skipped=0 and nothing else.
func TestProgressCountsDuplicates(t *testing.T) {
	var s group.Stats
	s.Written.Store(3)
	s.Duplicates.Store(7)
	var logs logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		progress(ctx, 10*time.Millisecond, "data", &s, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "msg=progress") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if line := logs.String(); !strings.Contains(line, "written=3") || !strings.Contains(line, "duplicates=7") {
		t.Fatalf("progress logged:\n%s\nwant written=3 and duplicates=7", line)
	}
}
