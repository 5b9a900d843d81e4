package group

import (
	"sync"
	"sync/atomic"
)

// Stats are running totals; safe to read at any time.
type Stats struct {
	Consumed     atomic.Int64 // messages fetched
	Written      atomic.Int64 // lines durably written
	Bytes        atomic.Int64 // value bytes durably written
	DeadLettered atomic.Int64
	Skipped      atomic.Int64 // already archived before (redelivered after a crash)
	Duplicates   atomic.Int64 // statuses dropped: their key was written recently
	// DeletedUnread counts records Kafka deleted (retention) before they
	// were fetched: offsets skipped below the partition's start.
	DeletedUnread atomic.Int64
	Batches       atomic.Int64
	WriteErrors   atomic.Int64
	CommitErrors  atomic.Int64
	Partitions    atomic.Int64 // partitions owned now
	// PartitionsStopped counts owned partitions not consumed: their offsets
	// went back (a topic deleted and created again), or their archive does
	// not open (a checkpoint that cannot be read, a full disk); the log
	// says which and why.
	PartitionsStopped atomic.Int64
	Lag               atomic.Int64 // sum over owned partitions of high water mark - next offset
	Ready             atomic.Bool  // joined the group

	lags   sync.Map // partitionKey -> *atomic.Int64, for owned partitions
	topics sync.Map // topic -> *TopicCounts
}

type partitionKey struct {
	topic     string
	partition int
}

// TopicCounts are one topic's running totals.
type TopicCounts struct {
	Consumed, Written, Bytes, DeadLettered, Duplicates atomic.Int64
}

// Topic returns the totals of one topic.
func (s *Stats) Topic(topic string) *TopicCounts {
	if v, ok := s.topics.Load(topic); ok {
		return v.(*TopicCounts)
	}
	v, _ := s.topics.LoadOrStore(topic, &TopicCounts{})
	return v.(*TopicCounts)
}

// EachTopic calls fn with every topic's totals.
func (s *Stats) EachTopic(fn func(topic string, c *TopicCounts)) {
	s.topics.Range(func(k, v any) bool {
		fn(k.(string), v.(*TopicCounts))
		return true
	})
}

// EachLag calls fn with the lag of every partition this instance owns.
func (s *Stats) EachLag(fn func(topic string, partition int, lag int64)) {
	s.lags.Range(func(k, v any) bool {
		key := k.(partitionKey)
		fn(key.topic, key.partition, v.(*atomic.Int64).Load())
		return true
	})
}
