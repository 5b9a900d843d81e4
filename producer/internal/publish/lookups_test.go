package publish

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
)

// countLookups passes every request on and counts the metadata requests.
type countLookups struct {
	kafka.RoundTripper
	n atomic.Int64
}

func (c *countLookups) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if _, ok := req.(*metadata.Request); ok {
		c.n.Add(1)
	}
	return c.RoundTripper.RoundTrip(ctx, addr, req)
}

// fakeMetadata answers metadata requests itself: topics it knows with their
// partitions, others with UnknownTopicOrPartition; err, when set, instead.
type fakeMetadata struct {
	mu     sync.Mutex
	asked  []string
	topics map[string]int
	err    error
}

func (f *fakeMetadata) RoundTrip(_ context.Context, _ net.Addr, req kafka.Request) (kafka.Response, error) {
	m, ok := req.(*metadata.Request)
	if !ok {
		return nil, fmt.Errorf("unexpected request %T", req)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, m.TopicNames...)
	if f.err != nil {
		return nil, f.err
	}
	r := &metadata.Response{}
	for _, t := range m.TopicNames {
		n, ok := f.topics[t]
		if !ok {
			r.Topics = append(r.Topics, metadata.ResponseTopic{Name: t, ErrorCode: int16(kafka.UnknownTopicOrPartition)})
			continue
		}
		r.Topics = append(r.Topics, metadata.ResponseTopic{Name: t, Partitions: make([]metadata.ResponsePartition, n)})
	}
	return r, nil
}

func (f *fakeMetadata) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

func partitionsOf(t *testing.T, rt kafka.RoundTripper, topic string) (int, error) {
	t.Helper()
	resp, err := rt.RoundTrip(context.Background(), kafka.TCP("127.0.0.1:1"), &metadata.Request{TopicNames: []string{topic}})
	if err != nil {
		return 0, err
	}
	for _, tp := range resp.(*metadata.Response).Topics {
		if tp.Name == topic {
			if tp.ErrorCode != 0 {
				return 0, kafka.Error(tp.ErrorCode)
			}
			return len(tp.Partitions), nil
		}
	}
	return 0, errors.New("topic missing from the answer")
}

// TestLookupsOnceACall: within a call (between two next), a topic's
// partitions are asked of the transport once; a new call asks again; a
// topic the transport answers with an error, and a failed request, are
// asked again every time.
func TestLookupsOnceACall(t *testing.T) {
	f := &fakeMetadata{topics: map[string]int{"tweets": 3, "tweets.control": 1}}
	l := newLookups(f)
	lookup := func(topic string, want int) {
		t.Helper()
		if n, err := partitionsOf(t, l, topic); err != nil || n != want {
			t.Fatalf("%s: %d partitions, %v; want %d", topic, n, err, want)
		}
	}
	l.next()
	for range 100 {
		lookup("tweets", 3)
		lookup("tweets.control", 1)
	}
	if got := f.count(); got != 2 {
		t.Errorf("100 lookups of two topics in one call asked the transport %d times; want 2", got)
	}

	f.mu.Lock()
	f.topics["tweets"] = 6 // the topic grew: the next call sees it
	f.mu.Unlock()
	l.next()
	lookup("tweets", 6)
	lookup("tweets", 6)
	if got := f.count(); got != 3 {
		t.Errorf("after next, the transport was asked %d times in all; want 3", got)
	}

	for range 3 {
		if _, err := partitionsOf(t, l, "absent"); !errors.Is(err, kafka.UnknownTopicOrPartition) {
			t.Fatalf("absent topic: %v; want UnknownTopicOrPartition", err)
		}
	}
	if got := f.count(); got != 6 {
		t.Errorf("3 lookups of an unknown topic: the transport asked %d times in all; want 6 (not kept)", got)
	}

	f.mu.Lock()
	f.err = errors.New("unreachable")
	f.mu.Unlock()
	l.next()
	for range 2 {
		if _, err := partitionsOf(t, l, "tweets"); err == nil {
			t.Fatal("a failed lookup answered from an earlier call's answer")
		}
	}
	if got := f.count(); got != 8 {
		t.Errorf("2 failed lookups: the transport asked %d times in all; want 8 (not kept)", got)
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	lookup("tweets", 6)
	lookup("tweets", 6)
	if got := f.count(); got != 9 {
		t.Errorf("after the transport answered again, %d requests in all; want 9", got)
	}
}

// TestLookupsPassOtherRequests: requests for several topics, or that may
// create a topic, go to the transport every time.
func TestLookupsPassOtherRequests(t *testing.T) {
	f := &fakeMetadata{topics: map[string]int{"a": 1, "b": 1}}
	l := newLookups(f)
	l.next()
	for range 2 {
		if _, err := l.RoundTrip(context.Background(), kafka.TCP("127.0.0.1:1"), &metadata.Request{TopicNames: []string{"a", "b"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.RoundTrip(context.Background(), kafka.TCP("127.0.0.1:1"), &metadata.Request{TopicNames: []string{"a"}, AllowAutoTopicCreation: true}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count(); got != 6 {
		t.Errorf("the transport was asked for %d topics; want 6", got)
	}
}

// TestPublisherLooksUpOnceABatch: the publisher's writers ask the transport
// for a topic's partitions once for each batch they hand kafka-go, not once
// for each record (kafka-go's Writer asks for every message).
func TestPublisherLooksUpOnceABatch(t *testing.T) {
	brokers := startCluster(t)
	ensure(t, brokers, "tweets", "tweets.control")
	cfg := testConfig(brokers)
	c := &countLookups{RoundTripper: &kafka.Transport{}}
	cfg.Transport = c
	const n = 2000
	cfg.PendingMax = n // all queued before Run: full batches
	sendQueued(t, cfg, n)
	// Batches of KAFKA_BATCH_SIZE (100) records: n/100 calls of kafka-go's
	// WriteMessages, each asking once (kafka-go asks for each record).
	if got := c.n.Load(); got > n/10 {
		t.Errorf("%d metadata requests for %d records in batches of up to %d; want at most %d", got, n, cfg.BatchSize, n/10)
	}
	if got := readAll(t, brokers, "tweets", 3); len(got) != n {
		t.Errorf("%d statuses in Kafka; want %d", len(got), n)
	}
}
