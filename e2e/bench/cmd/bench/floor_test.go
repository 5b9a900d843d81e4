package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestReadFloor checks the consumer's floor reads every message of every
// partition once, in order, each value a line, and returns when it has:
// with kafka-go's Reader, and with its Conn.ReadBatch (-conn).
func TestReadFloor(t *testing.T) { bothFloors(t, testReadFloor) }

// bothFloors runs test with the floor read by a kafka-go Reader and by
// its Conn.ReadBatch (-conn).
func bothFloors(t *testing.T, test func(t *testing.T, conn bool)) {
	for _, conn := range []bool{false, true} {
		t.Run(map[bool]string{false: "reader", true: "conn"}[conn], func(t *testing.T) { test(t, conn) })
	}
}

func testReadFloor(t *testing.T, conn bool) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const topic, partitions, n = "floor", 3, 3000
	addr := c.ListenAddrs()[0]
	if err := newAdmin(addr).create(ctx, partitions, topic); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Balancer: &kafka.Hash{},
		Compression: kafka.Zstd, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint(i % 17)), Value: fmt.Appendf(nil, `{"i":%d,"text":"%s"}`, i, strings.Repeat("x", i%50))}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// What each partition must hold, in order: the writer's hash of the key.
	want := make([][]byte, partitions)
	for _, m := range msgs {
		p := (&kafka.Hash{}).Balance(m, 0, 1, 2)
		want[p] = append(append(want[p], m.Value...), '\n')
	}

	out := t.TempDir()
	err = readFloor(ctx, floorConfig{brokers: []string{addr}, topic: topic, partitions: partitions, n: n, out: out,
		fetchMaxBytes: 1 << 20, queue: 100, maxWait: 100 * time.Millisecond, conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	for p := range partitions {
		got, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("%s-%d.jsonl", topic, p)))
		if err != nil {
			t.Fatal(err)
		}
		if len(want[p]) == 0 {
			t.Fatalf("partition %d got no messages from the writer: the test's keys do not spread", p)
		}
		if !bytes.Equal(got, want[p]) {
			t.Errorf("partition %d: %d bytes written, want %d (the values in order, a line each)", p, len(got), len(want[p]))
		}
	}
}

// TestReadFloorTooFew checks the floor reports a topic holding fewer
// messages than it was told to read, rather than returning as if done.
func TestReadFloorTooFew(t *testing.T) { bothFloors(t, testReadFloorTooFew) }

func testReadFloorTooFew(t *testing.T, conn bool) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := newAdmin(addr).create(ctx, 1, "few"); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "few", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	err = readFloor(ctx, floorConfig{brokers: []string{addr}, topic: "few", partitions: 1, n: 2, out: t.TempDir(),
		fetchMaxBytes: 1 << 20, queue: 10, maxWait: 100 * time.Millisecond, conn: conn})
	if err == nil || !strings.Contains(err.Error(), "read 1 of 2 messages") {
		t.Fatalf("readFloor on 1 of 2 messages: %v; want an error saying so", err)
	}
}
