package spool

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// batch100 is 100 records of 4 KiB values, a spooled produce batch.
func batch100() []Record {
	value := bytes.Repeat([]byte("x"), 4096)
	rs := make([]Record, 100)
	for i := range rs {
		rs[i] = Record{Topic: "statuses", Key: []byte(strconv.Itoa(1_700_000_000_000 + i)), Value: value,
			Time: time.Unix(1_700_000_000, 0), Headers: []Header{{Key: "source", Value: []byte("replay")}}}
	}
	return rs
}

func benchmarkAppend(b *testing.B, opts Options) {
	s := open(b, b.TempDir(), opts)
	defer closeSpool(b, s)
	rs := batch100()
	b.SetBytes(100 * 4096) // value bytes per Append
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Append(rs...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend: batches of 100 records of 4 KiB, fsync included.
func BenchmarkAppend(b *testing.B) { benchmarkAppend(b, Options{}) }

// BenchmarkAppendNoSync: the same without fsync, to show what fsync costs.
func BenchmarkAppendNoSync(b *testing.B) { benchmarkAppend(b, Options{NoSync: true}) }

// BenchmarkDrain: Peek 100 and Remove them (head file fsynced), the reader
// side while the spool empties after an outage.
func BenchmarkDrain(b *testing.B) {
	s := open(b, b.TempDir(), Options{})
	defer closeSpool(b, s)
	rs := batch100()
	b.SetBytes(100 * 4096)
	for b.Loop() {
		b.StopTimer()
		if err := s.Append(rs...); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		got, err := s.Peek(100, 0)
		if err != nil || len(got) != 100 {
			b.Fatalf("Peek: %d records, %v", len(got), err)
		}
		if err := s.Remove(100); err != nil {
			b.Fatal(err)
		}
	}
}
