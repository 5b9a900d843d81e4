package publish

import (
	"context"
	"net"
	"slices"
	"sync/atomic"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
)

// lookups sits between a kafka-go writer and its transport and answers the
// writer's partition lookups once per WriteMessages call. kafka-go's
// WriteMessages asks its transport for the topic's metadata for every
// message it is given (Writer.partitions), to count the partitions; the
// transport answers from its cache, but builds a new filtered copy of it
// each time: with the request itself, four heap allocations and a lock
// a message, about half of the producer's allocations on statuses.
//
// A caller calls next before each WriteMessages; a lookup of one topic
// (without auto-creation) is then answered with the answer the transport
// gave since, if it gave one for that topic without an error, and passed
// on otherwise. So every answer a call gets was the transport's answer
// after that call began, as it is without lookups: a call sees the same
// partitions for all of its messages of a topic, unless a concurrent call
// asked again. Errors and every other request go through as they are.
type lookups struct {
	kafka.RoundTripper
	call   atomic.Uint64
	latest atomic.Pointer[answers]
}

// answers are the transport's answers since call began, one per topic.
type answers struct {
	call   uint64
	topics []string
	resps  []*metadata.Response
}

func newLookups(rt kafka.RoundTripper) *lookups {
	if rt == nil {
		rt = kafka.DefaultTransport
	}
	return &lookups{RoundTripper: rt}
}

// next begins a WriteMessages call: answers from before are not used again.
func (l *lookups) next() { l.call.Add(1) }

func (l *lookups) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	m, ok := req.(*metadata.Request)
	if !ok || len(m.TopicNames) != 1 || m.AllowAutoTopicCreation {
		return l.RoundTripper.RoundTrip(ctx, addr, req)
	}
	topic, call := m.TopicNames[0], l.call.Load()
	have := l.latest.Load()
	if have != nil && have.call == call {
		if i := slices.Index(have.topics, topic); i >= 0 {
			return have.resps[i], nil
		}
	}
	resp, err := l.RoundTripper.RoundTrip(ctx, addr, req)
	if err != nil {
		return resp, err
	}
	r, ok := resp.(*metadata.Response)
	if !ok || !hasPartitions(r, topic) {
		return resp, nil
	}
	a := &answers{call: call, topics: []string{topic}, resps: []*metadata.Response{r}}
	if have != nil && have.call == call {
		a.topics = append(a.topics, have.topics...)
		a.resps = append(a.resps, have.resps...)
	}
	l.latest.Store(a) // a concurrent call's answers may be lost: it asks again
	return resp, nil
}

// hasPartitions: r has topic's partitions, with no error.
func hasPartitions(r *metadata.Response, topic string) bool {
	for _, t := range r.Topics {
		if t.Name == topic {
			return t.ErrorCode == 0 && len(t.Partitions) > 0
		}
	}
	return false
}
