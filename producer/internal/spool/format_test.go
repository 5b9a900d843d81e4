package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// sameRecord reports how a and b differ, or "" when they do not. nil and
// empty keys and values differ: Kafka keeps them apart.
func sameRecord(a, b Record) string {
	nullable := func(what string, x, y []byte) string {
		if (x == nil) != (y == nil) || !bytes.Equal(x, y) {
			return fmt.Sprintf("%s %q (nil %t); want %q (nil %t)", what, x, x == nil, y, y == nil)
		}
		return ""
	}
	if a.Topic != b.Topic {
		return fmt.Sprintf("topic %q; want %q", a.Topic, b.Topic)
	}
	if d := nullable("key", a.Key, b.Key); d != "" {
		return d
	}
	if d := nullable("value", a.Value, b.Value); d != "" {
		return d
	}
	if !a.Time.Equal(b.Time) {
		return fmt.Sprintf("time %v; want %v", a.Time, b.Time)
	}
	if len(a.Headers) != len(b.Headers) { // no headers come back as nil: Kafka has no null list
		return fmt.Sprintf("headers %v; want %v", a.Headers, b.Headers)
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key {
			return fmt.Sprintf("header %d key %q; want %q", i, a.Headers[i].Key, b.Headers[i].Key)
		}
		if d := nullable(fmt.Sprintf("header %d value", i), a.Headers[i].Value, b.Headers[i].Value); d != "" {
			return d
		}
	}
	return ""
}

// sampleRecords cover every field: binary bytes, nil and empty, unicode,
// zero and set times, no headers and several.
func sampleRecords() []Record {
	binaryValue := make([]byte, 300)
	for i := range binaryValue {
		binaryValue[i] = byte(i)
	}
	return []Record{
		{Topic: "statuses", Key: []byte("1234567890"), Value: []byte(`{"id_str":"1234567890","text":"hi"}`),
			Time:    time.Date(2013, 5, 6, 7, 8, 9, 123456789, time.UTC),
			Headers: []Header{{Key: "source", Value: []byte("replay")}, {Key: "kind", Value: []byte("status")}}},
		{Topic: "control", Key: nil, Value: []byte(`{"limit":{"track":5}}`)},
		{Topic: "statuses", Key: []byte{}, Value: []byte{}, Headers: []Header{}},
		{Topic: "statuses", Key: []byte{0, 0xff, 0x80}, Value: binaryValue, Time: time.Unix(0, 1).UTC()},
		{Topic: "tweets-ü-日本", Key: []byte("ключ"), Value: []byte("{\"text\":\"naïve café 🐦 \\u0000\"}"),
			Time:    time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Headers: []Header{{Key: "", Value: nil}, {Key: "é", Value: []byte{}}, {Key: "bin", Value: []byte{0}}}},
		{Topic: "", Value: nil, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Topic: "t", Value: []byte(strings.Repeat("x", 70000))},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for i, want := range sampleRecords() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			b, err := appendRecord([]byte("prefix"), want, flagFirst)
			if err != nil {
				t.Fatal(err)
			}
			b = b[len("prefix"):]
			n := binary.LittleEndian.Uint32(b)
			if int(n) != len(b)-recordHeaderLen {
				t.Fatalf("length field %d; want %d", n, len(b)-recordHeaderLen)
			}
			if checksum(b[:4], b[8:]) != binary.LittleEndian.Uint32(b[4:]) {
				t.Fatal("checksum does not match")
			}
			got, flags, err := decodeRecord(b[8:])
			if err != nil {
				t.Fatal(err)
			}
			if d := sameRecord(got, want); d != "" {
				t.Error(d)
			}
			if flags&flagFirst == 0 || flags&flagLast != 0 {
				t.Errorf("flags %#x; want flagFirst, not flagLast", flags)
			}
		})
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	valid, err := appendRecord(nil, Record{Topic: "t", Key: []byte("k"), Value: []byte("v"),
		Time: time.Unix(1, 0), Headers: []Header{{Key: "h", Value: []byte("x")}}}, flagFirst|flagLast)
	if err != nil {
		t.Fatal(err)
	}
	payload := valid[recordHeaderLen:]
	tests := []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"unknown flag", append([]byte{0x80}, payload[1:]...)},
		{"topic past the end", []byte{0, 9, 'a'}},
		{"cut short", payload[:len(payload)-1]},
		{"trailing bytes", append(bytes.Clone(payload), 0)},
		{"bad varint", []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"huge header count", []byte{0, 0, 0, 0, 0xff, 0x7f}},
		{"nanoseconds out of range", []byte{flagTime, 0, 0, 0, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0}},
		{"year past 9999", append([]byte{flagTime, 0, 0, 0}, append(binary.AppendVarint(nil, maxUnix+1), 0, 0)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeRecord(tt.p); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v; want ErrCorrupt", err)
			}
		})
	}
}

func TestAppendRecordRejectsTimeOutOfRange(t *testing.T) {
	_, err := appendRecord(nil, Record{Topic: "t", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, 0)
	if err == nil {
		t.Fatal("got nil; want an error for year 10000")
	}
}

func TestSegmentName(t *testing.T) {
	tests := []struct {
		name string
		seq  uint64
		ok   bool
	}{
		{"spool-00000000000000000001.log", 1, true},
		{"spool-18446744073709551615.log", 1<<64 - 1, true},
		{"spool-1.log", 0, false},
		{"spool-0000000000000000000x.log", 0, false},
		{"spool-00000000000000000001.log.tmp", 0, false},
		{"spool.head", 0, false},
		{"spool-99999999999999999999.log", 0, false}, // overflows uint64
	}
	for _, tt := range tests {
		seq, ok := parseSegmentName(tt.name)
		if seq != tt.seq || ok != tt.ok {
			t.Errorf("parseSegmentName(%q) = %d, %t; want %d, %t", tt.name, seq, ok, tt.seq, tt.ok)
		}
	}
	if got := segmentName(42); got != "spool-00000000000000000042.log" {
		t.Errorf("segmentName(42) = %q", got)
	}
}

// headFile returns a version 2 head file with these slots (nil: zeros).
func headFile(slot0, slot1 []byte) []byte {
	b := make([]byte, headFileLen)
	copy(b[headSlotOff(0):], slot0)
	copy(b[headSlotOff(1):], slot1)
	return b
}

// TestHeadRoundTrip: the head is the valid slot of the higher generation;
// a damaged slot (a torn write) leaves the other, and says so; both damaged
// is ErrCorrupt, and so is a file of another length.
func TestHeadRoundTrip(t *testing.T) {
	older, newer := position{seq: 7, off: 12345}, position{seq: 8, off: 99}
	for _, tt := range []struct {
		b       []byte
		newerAt int // the slot of the higher generation
	}{
		{headFile(encodeHeadSlot(4, newer), encodeHeadSlot(3, older)), 0},
		{headFile(encodeHeadSlot(6, older), encodeHeadSlot(7, newer)), 1},
	} {
		b, newerAt := tt.b, tt.newerAt
		if got, _, spoiled, err := decodeHead(b); err != nil || got != newer || spoiled {
			t.Fatalf("decodeHead = %v, %v (spoiled %v); want %v", got, err, spoiled, newer)
		}
		newerOff, olderOff := headSlotOff(uint64(newerAt)), headSlotOff(uint64(1-newerAt))
		for i := range int64(headSlotLen) {
			bad := bytes.Clone(b)
			bad[newerOff+i] ^= 1
			if got, _, spoiled, err := decodeHead(bad); err != nil || got != older || !spoiled {
				t.Errorf("byte %d of the newer slot flipped: got %v, %v (spoiled %v); want the older slot's %v, spoiled", i, got, err, spoiled, older)
			}
			bad[olderOff+i] ^= 1
			if _, _, _, err := decodeHead(bad); !errors.Is(err, ErrCorrupt) {
				t.Errorf("byte %d of both slots flipped: got %v; want ErrCorrupt", i, err)
			}
		}
		if _, _, _, err := decodeHead(append(bytes.Clone(b), 0)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("long head file: got %v; want ErrCorrupt", err)
		}
	}

	whole := headFile(encodeHeadSlot(4, newer), encodeHeadSlot(3, older))
	for _, n := range []int{0, 28, 300, headFileLen - 1} {
		if _, _, _, err := decodeHead(whole[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("head file of %d bytes: got %v; want ErrCorrupt", n, err)
		}
	}
}
