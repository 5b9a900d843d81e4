package publish

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// TestAsyncBatchesHalfTheBatchSize: the async writer cuts a partition's
// batch at half KAFKA_BATCH_SIZE records, so that the records in flight
// (two batches of KAFKA_BATCH_SIZE at the defaults) fill the batches of a
// few partitions without waiting for KAFKA_BATCH_TIMEOUT. Here a second of
// linger: every produce request is cut by its size.
func TestAsyncBatchesHalfTheBatchSize(t *testing.T) {
	c, brokers := newKfake(t, "tweets", "tweets.control")
	var most, requests atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, rt := range kreq.(*kmsg.ProduceRequest).Topics {
			for _, rp := range rt.Partitions {
				var rb kmsg.RecordBatch
				if err := rb.ReadFrom(rp.Records); err != nil {
					t.Errorf("reading a produce request's batch: %v", err)
					continue
				}
				requests.Add(1)
				for n := rb.NumRecords; ; {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
			}
		}
		return nil, nil, false
	})
	cfg := testConfig(brokers)
	cfg.BatchTimeout = time.Second
	const n = 1200
	cfg.PendingMax = n // all queued before Run: full flights of BatchSize
	sendQueued(t, cfg, n)
	if got, want := most.Load(), int32(cfg.BatchSize/2); got != want {
		t.Errorf("the largest produce request held %d records of a partition (%d requests); want %d, half KAFKA_BATCH_SIZE", got, requests.Load(), want)
	}
}

// sendQueued queues n statuses in a publisher of cfg before Run (cfg's
// PendingMax must take them all, so that Run finds full batches), runs it
// to the end and checks that all n were sent.
func sendQueued(t *testing.T, cfg Config, n int) {
	t.Helper()
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		v := fmt.Appendf(nil, `{"id_str":"%d","text":"t","user":{},"timestamp_ms":"1520424000123"}`, i+1)
		if err := p.Emit(context.Background(), source.Record{Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats.Statuses.Load(); got != int64(n) {
		t.Fatalf("%d statuses sent; want %d", got, n)
	}
}
