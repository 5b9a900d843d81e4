package group

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/retry"
)

// committer commits one partition's offsets to Kafka off its writer's path.
// The writer hands it the next offset after each batch the archive made
// durable (post) and goes on with the next batch; the committer commits the
// newest offset it was handed, so the batches written while a commit is on
// its way are covered by the next one. Only offsets the archive has fsynced
// and checkpointed are ever handed over, so the guarantee is the one of a
// commit made by the writer itself: a crash between the checkpoint and the
// commit makes Kafka hand the records over again, and the archive skips
// them.
//
// A failed commit is made again as soon as a newer offset comes, or, while
// none does, after a wait that doubles from a second to 30 s. Without that
// the committed offset of a partition that receives nothing more stays
// behind what the archive holds, and whatever waits for the group to catch
// up (lag, a drain) waits as long.
type committer struct {
	r         *Runner
	log       *slog.Logger
	gen       *kafka.Generation
	topic     string
	partition int

	wake    chan struct{} // a new offset was posted, or close was called
	stopped chan struct{} // closed when run returns

	mu        sync.Mutex
	want      int64 // newest offset posted
	committed int64 // next offset committed to Kafka
	closing   bool
}

// newCommitter starts from committed, the partition's offset the group
// had committed when it was assigned (negative: none), so that next says
// it until this owner commits another.
func newCommitter(r *Runner, log *slog.Logger, gen *kafka.Generation, topic string, partition int, committed int64) *committer {
	committed = max(committed, 0)
	return &committer{r: r, log: log, gen: gen, topic: topic, partition: partition,
		wake: make(chan struct{}, 1), stopped: make(chan struct{}), want: committed, committed: committed}
}

// post hands over next, the offset after the last one the archive holds.
// An offset not past one handed over before changes nothing.
func (c *committer) post(next int64) {
	c.mu.Lock()
	newer := next > c.want
	if newer {
		c.want = next
	}
	c.mu.Unlock()
	if newer {
		c.signal()
	}
}

func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close asks run to commit what was posted, once more if it is not
// committed yet, and to return; it waits for that, or for ctx to end (the
// shutdown timeout), after which a commit on its way still ends on its own:
// Kafka refuses it if the generation is over.
func (c *committer) close(ctx context.Context) {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.signal()
	select {
	case <-c.stopped:
	case <-ctx.Done():
	}
}

// next returns the next offset committed to Kafka.
func (c *committer) next() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed
}

// run commits until close is called, then once more if what was posted is
// not committed yet.
func (c *committer) run() {
	defer close(c.stopped)
	wait := retry.Backoff{Initial: time.Second, Max: 30 * time.Second}
	retryTimer := time.NewTimer(time.Hour)
	retryTimer.Stop()
	defer retryTimer.Stop()
	failing := false
	for {
		posted := false
		select {
		case <-c.wake:
			posted = true
		case <-retryTimer.C:
		}
		c.mu.Lock()
		want, committed, closing := c.want, c.committed, c.closing
		c.mu.Unlock()
		if want > committed && (posted || failing) {
			err := c.commit(want)
			switch {
			case err != nil && closing:
				c.r.Stats.CommitErrors.Add(1)
				c.log.Warn("committing offset failed while releasing the partition; the archive checkpoint covers it, and its next owner starts there",
					"offset", want, "error", err)
			case err != nil:
				c.r.Stats.CommitErrors.Add(1)
				if posted {
					// A new batch's commit: the wait starts again at a second.
					wait.Reset()
				}
				failing = true
				in := wait.Next()
				retryTimer.Reset(in)
				c.log.Warn("committing offset failed; the archive checkpoint covers it, retrying", "offset", want, "retry_in", in, "error", err)
			case failing:
				failing = false
				retryTimer.Stop()
				c.log.Info("committed the offset the archive checkpoint covers", "offset", want)
			}
		}
		if closing {
			return
		}
	}
}

// commit commits next to Kafka with the partition's generation (which
// Kafka refuses once it has ended), and records it as committed.
func (c *committer) commit(next int64) error {
	c.r.commitMu.Lock()
	err := c.gen.CommitOffsets(map[string]map[int]int64{c.topic: {c.partition: next}})
	c.r.commitMu.Unlock()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.committed = next
	c.mu.Unlock()
	return nil
}
