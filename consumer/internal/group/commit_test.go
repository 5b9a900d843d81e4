package group

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestCommitterStartsAtTheAssignedOffset: a partition released before this
// owner committed anything reports the offset the group had committed (the
// "partition released" log line's next_offset), not 0, and an offset not
// past it is not committed again (gen is nil here: a commit would panic).
func TestCommitterStartsAtTheAssignedOffset(t *testing.T) {
	for _, tt := range []struct {
		assigned, want int64
	}{{644, 644}, {-2, 0}} { // -2: kafka-go's "none committed" (FirstOffset)
		c := newCommitter(&Runner{}, slog.New(slog.DiscardHandler), nil, "tweets", 2, tt.assigned)
		go c.run()
		if tt.assigned > 0 {
			c.post(tt.assigned - 44)
			c.post(tt.assigned)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.close(ctx)
		cancel()
		if got := c.next(); got != tt.want {
			t.Errorf("assigned %d: next() = %d; want %d", tt.assigned, got, tt.want)
		}
	}
}
