package publish

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

// v42 is version i of a status with id 42: what the order tests send.
func v42(i int) []byte { return []byte(fmt.Sprintf(`{"id_str":"42","text":"%d","user":{}}`, i)) }

// textOf is the version of a value made by v42.
func textOf(t *testing.T, v []byte) int {
	s := strings.TrimPrefix(string(v), `{"id_str":"42","text":"`)
	n, err := strconv.Atoi(s[:strings.IndexByte(s, '"')])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// firstSeenOrder drops the copies, keeping the first of each version.
func firstSeenOrder(order []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, n := range order {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// checkAscending fails unless the versions are in the order sent.
func checkAscending(t *testing.T, what string, order []int) {
	t.Helper()
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("%s: key 42 version %d comes after version %d (position %d of %d)", what, order[i], order[i-1], i, len(order))
		}
	}
}

// TestFullSpoolWaiterKeepsKeyOrder: a record waits for room in a full spool
// while Run drains it; the spool empties and the records after it go to
// the memory queue. The waiting record must not be spooled behind them:
// Kafka gets every version of the key in the order sent.
func TestFullSpoolWaiterKeepsKeyOrder(t *testing.T) {
	b := newStoppableBroker(t)
	ensure(t, b.addr(), "tweets", "tweets.control")
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{MaxBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	cfg := testConfig(b.addr())
	cfg.PendingMax, cfg.BatchSize = 20, 5
	cfg.WriteTimeout = time.Second
	cfg.Spool, cfg.SpoolDir = sp, dir
	b.stop()
	p, err := New(cfg, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for i := range 200 {
			if err := p.Emit(context.Background(), source.Record{Value: v42(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for p.Stats.Spooled.Load() == 0 || sp.Bytes()+200 < 2000 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // an Emit now waits on ErrFull
	b.start()
	<-emitted
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var order []int
	for _, m := range readAll(t, b.addr(), "tweets", 3) {
		order = append(order, textOf(t, m.Value))
	}
	t.Logf("key 42 in Kafka (%d messages), first copies: %v", len(order), firstSeenOrder(order))
	checkAscending(t, "Kafka, first copies", firstSeenOrder(order))
}
