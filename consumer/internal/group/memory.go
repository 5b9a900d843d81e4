package group

import (
	"math"
	"runtime/debug"

	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
)

// DefaultBufferBudget is the memory the partitions' buffers share when no
// soft memory limit is in force: half the default MEMORY_LIMIT.
const DefaultBufferBudget = 40 << 20

// Floors of a partition's share, below which it is not cut: a smaller
// batch or fetch costs more in round trips and fsyncs than it saves.
const (
	minBatchBytes    = 64 << 10
	minFetchBytes    = 64 << 10
	minQueueCapacity = 10
	queueCapacity    = 100 // kafka-go's default, when nothing is cut
)

// partitionLimits are what one partition's loop may hold: its batches, the
// bytes one fetch may return and how many messages its reader queues.
type partitionLimits struct {
	Batch         batch.Limits
	FetchMaxBytes int
	QueueCapacity int
}

// bufferBudget is the memory the batches and fetches of all the partitions
// held share: BufferBudget when set, else half the soft memory limit in
// force (MEMORY_LIMIT or GOMEMLIMIT), else DefaultBufferBudget.
func (c Config) bufferBudget() int64 {
	if c.BufferBudget > 0 {
		return c.BufferBudget
	}
	if limit := debug.SetMemoryLimit(-1); limit < math.MaxInt64 {
		return limit / 2
	}
	return DefaultBufferBudget
}

// limits returns what each of n partitions may hold. A partition holds two
// batches (one being filled, one being written) and a fetch with about as
// much again decompressed: 2*BATCH_MAX_BYTES + 2*KAFKA_FETCH_MAX_BYTES. While
// n of those fit the budget, each partition gets the configured limits, so
// few partitions batch as configured. Beyond, the budget is cut in n
// shares, each split as the configured limits are (the batch's bytes, the
// fetch's bytes and the reader's queue shrink by one factor), down to the
// floors above: more partitions then take no more memory, only smaller
// batches. BATCH_MAX_BYTES and KAFKA_FETCH_MAX_BYTES stay the ceilings.
func (c Config) limits(n int) partitionLimits {
	b := c.Batch.MaxBytes
	if b <= 0 {
		b = batch.DefaultMaxBytes
	}
	f := int64(c.FetchMaxBytes)
	if f <= 0 {
		f = 1 << 20 // kafka-go's default
	}
	l := partitionLimits{Batch: c.Batch, FetchMaxBytes: int(f), QueueCapacity: queueCapacity}
	l.Batch.MaxBytes = b
	per := 2*b + 2*f
	share := c.bufferBudget() / int64(max(n, 1))
	if share >= per {
		return l
	}
	l.Batch.MaxBytes = max(b*share/per, min(b, minBatchBytes))
	l.FetchMaxBytes = int(max(f*share/per, min(f, minFetchBytes)))
	l.QueueCapacity = int(max(queueCapacity*share/per, minQueueCapacity))
	return l
}

// memoryNeed estimates the live memory of n partitions consumed at once:
// their batches and fetches (see limits), the dedup window's two
// generations of keys per partition (128-bit digests in a map: about 50
// bytes each), plus 20 MiB for the rest.
func (c Config) memoryNeed(n int) int64 {
	l := c.limits(n)
	per := 2*int64(l.Batch.MaxBytes) + 2*int64(l.FetchMaxBytes) + 2*50*int64(c.DedupWindow)
	return 20<<20 + int64(n)*per
}

// warnMemory logs when the partitions just assigned need more memory than
// the soft memory limit (MEMORY_LIMIT or GOMEMLIMIT): the collector would
// then run nearly all the time, and throughput falls by half or more.
func (r *Runner) warnMemory(n int) {
	limit := debug.SetMemoryLimit(-1) // reads the limit in force
	if need := r.cfg.memoryNeed(n); limit < math.MaxInt64 && need > limit {
		r.log.Warn("the partitions assigned need more memory than the soft memory limit: garbage collection will take much of the CPU; "+
			"raise MEMORY_LIMIT (and the container's memory) or run more consumers, or lower DEDUP_WINDOW",
			"partitions", n, "estimated_mib", need>>20, "memory_limit_mib", limit>>20)
	}
}
