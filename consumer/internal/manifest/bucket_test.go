package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// memBucket is a hand-written Bucket: objects by hour, each partition's
// checkpoint, and the manifests with a version for their ETag.
type memBucket struct {
	pos       []BucketPosition
	objects   map[time.Time][]Object
	facts     map[string]Facts // by object name
	manifests map[time.Time][]byte
	versions  map[time.Time]int
	hourLists int    // Hours calls
	factsErr  string // an object whose facts cannot be read
	// beforePut, when set, runs before a manifest is written: another
	// consumer writing first.
	beforePut func()
}

func newMemBucket(parts int) *memBucket {
	return &memBucket{pos: make([]BucketPosition, parts), objects: map[time.Time][]Object{}, facts: map[string]Facts{},
		manifests: map[time.Time][]byte{}, versions: map[time.Time]int{}}
}

// upload records an object of partition p in hour with lines lines, as
// objstore's upload does: the object, then the checkpoint.
func (b *memBucket) upload(p int, hour time.Time, first, next, lines int64) {
	name := fmt.Sprintf("tweets-p%d-%020d.jsonl", p, first)
	b.objects[hour] = append(b.objects[hour], Object{Name: name, Partition: p, FirstOffset: first, Bytes: 10 * lines})
	slices.SortFunc(b.objects[hour], func(x, y Object) int {
		if x.Partition != y.Partition {
			return x.Partition - y.Partition
		}
		return int(x.FirstOffset - y.FirstOffset)
	})
	b.facts[name] = Facts{LastOffset: next - 1, Lines: lines, SHA256: fmt.Sprintf("%064d", first)}
	b.record(p, hour, next)
}

// record moves partition p's checkpoint past an upload of hour.
func (b *memBucket) record(p int, hour time.Time, next int64) {
	pos := &b.pos[p]
	pos.Known, pos.Next, pos.Hour, pos.Uploads = true, next, hour, pos.Uploads+1
	pos.Recent = append(pos.Recent, hour)
	pos.Recent = pos.Recent[max(0, len(pos.Recent)-4):] // a short memory, to test running past it
}

func (b *memBucket) Position(_ context.Context, _ string, p int) (BucketPosition, error) {
	pos := b.pos[p]
	pos.Recent = slices.Clone(pos.Recent)
	return pos, nil
}

func (b *memBucket) Hours(context.Context, string) ([]time.Time, error) {
	b.hourLists++
	var hs []time.Time
	for h := range b.objects {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, time.Time.Compare)
	return hs, nil
}

func (b *memBucket) Objects(_ context.Context, _ string, hour time.Time) ([]Object, error) {
	return slices.Clone(b.objects[hour]), nil
}

func (b *memBucket) Facts(_ context.Context, _ string, _ time.Time, name string) (Facts, error) {
	if name == b.factsErr {
		return Facts{}, fmt.Errorf("%s has no facts of its upload", name)
	}
	return b.facts[name], nil
}

func (b *memBucket) Manifest(_ context.Context, _ string, hour time.Time) ([]byte, string, error) {
	if b.manifests[hour] == nil {
		return nil, "", nil
	}
	return b.manifests[hour], fmt.Sprint(b.versions[hour]), nil
}

func (b *memBucket) PutManifest(_ context.Context, _ string, hour time.Time, data []byte, etag string) (string, bool, error) {
	if b.beforePut != nil {
		f := b.beforePut
		b.beforePut = nil
		f()
	}
	key := hour.Format("2006-01-02/15/") + FileName
	if (etag == "") != (b.manifests[hour] == nil) || etag != "" && etag != fmt.Sprint(b.versions[hour]) {
		return key, false, nil
	}
	b.manifests[hour], b.versions[hour] = data, b.versions[hour]+1
	return key, true, nil
}

// lines returns the lines the manifest of hour counts, -1 with none.
func (b *memBucket) lines(t *testing.T, hour time.Time) int64 {
	t.Helper()
	if b.manifests[hour] == nil {
		return -1
	}
	m, err := decodeManifest(b.manifests[hour])
	if err != nil {
		t.Fatal(err)
	}
	return m.Lines
}

func TestClosedInBucket(t *testing.T) {
	hour := h10
	const grace = 2 * time.Minute
	at := func(h time.Time, next int64) BucketPosition { return BucketPosition{Known: true, Next: next, Hour: h} }
	afterGrace := hour.Add(time.Hour + grace)
	tests := []struct {
		name  string
		parts []bucketPartition
		now   time.Time
		want  bool
	}{
		{"every last upload of a later hour, backlogs or not", []bucketPartition{
			{Pos: at(hour.Add(time.Hour), 50), End: 60},
			{Pos: at(hour.Add(3*time.Hour), 10), End: 10},
		}, hour.Add(time.Hour), true},
		{"last upload of the hour, more in Kafka", []bucketPartition{
			{Pos: at(hour.Add(time.Hour), 50), End: 50},
			{Pos: at(hour, 10), End: 11},
		}, afterGrace.Add(time.Hour), false},
		{"last upload of the hour, caught up, past the grace", []bucketPartition{
			{Pos: at(hour, 10), End: 10},
		}, afterGrace, true},
		{"caught up, within the grace", []bucketPartition{
			{Pos: at(hour, 10), End: 10},
		}, afterGrace.Add(-time.Second), false},
		{"last upload of an earlier hour, behind", []bucketPartition{
			{Pos: at(hour.Add(-time.Hour), 10), End: 12},
		}, afterGrace, false},
		{"checkpoint of an earlier version (no hour), caught up", []bucketPartition{
			{Pos: BucketPosition{Known: true, Next: 10}, End: 10},
		}, afterGrace, true},
		{"checkpoint of an earlier version (no hour), behind", []bucketPartition{
			{Pos: BucketPosition{Known: true, Next: 10}, End: 11},
		}, afterGrace, false},
		{"empty partition, nothing uploaded", []bucketPartition{
			{Pos: at(hour.Add(time.Hour), 5), End: 5},
			{Start: 7, End: 7},
		}, afterGrace, true},
		{"messages, nothing uploaded", []bucketPartition{
			{Start: 0, End: 3},
		}, afterGrace, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := closedInBucket(hour, tt.parts, tt.now, grace); got != tt.want {
				t.Errorf("closedInBucket = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestBucketPass: an hour's manifest is written once it is closed and
// every object in it is recorded; an upload into an hour with a manifest
// (a late record) has it written again, found from the checkpoints alone
// while they remember the uploads since the last pass, and from a listing
// of every hour when they do not; a manifest another consumer wrote since
// it was read is not replaced.
func TestBucketPass(t *testing.T) {
	b := newMemBucket(2)
	kafka := &ends{end: []int64{10, 10}}
	clk := &clock{now: h10.Add(3 * time.Hour)}
	fin, err := NewBucket(Config{Topics: []string{"tweets"}, Grace: time.Minute, Now: clk.Now}, b, kafka, nil)
	if err != nil {
		t.Fatal(err)
	}
	pass := func() []string {
		t.Helper()
		w, err := fin.Pass(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	h11 := h10.Add(time.Hour)
	b.upload(0, h10, 0, 5, 5)
	b.upload(1, h10, 0, 4, 4)
	b.upload(0, h11, 5, 10, 5)
	b.upload(1, h11, 4, 8, 4)
	// Partition 1's object at 8, a late record's in 10, is put, not
	// recorded yet: 10 is closed, and waits for it.
	b.objects[h10] = append(b.objects[h10], Object{Name: "tweets-p1-00000000000000000008.jsonl", Partition: 1, FirstOffset: 8, Bytes: 20})
	b.facts["tweets-p1-00000000000000000008.jsonl"] = Facts{LastOffset: 9, Lines: 2, SHA256: fmt.Sprintf("%064d", 8)}
	if got := pass(); len(got) != 0 || b.lines(t, h10) != -1 {
		t.Fatalf("wrote %q with partition 1's upload into 10 in flight; want nothing", got)
	}
	b.record(1, h10, 10)
	if got := pass(); len(got) != 2 || b.lines(t, h10) != 11 || b.lines(t, h11) != 9 {
		t.Fatalf("wrote %q, lines %d and %d; want both hours, 11 and 9 lines", got, b.lines(t, h10), b.lines(t, h11))
	}
	if got := pass(); len(got) != 0 {
		t.Fatalf("wrote %q over current manifests", got)
	}

	// A late record of 10 on partition 0, then two more uploads: the
	// checkpoint still remembers the one into 10.
	kafka.set(0, 13)
	b.upload(0, h10, 10, 11, 1)
	b.upload(0, h11, 11, 12, 1)
	b.upload(0, h11.Add(time.Hour), 12, 13, 1)
	lists := b.hourLists
	if got := pass(); len(got) != 2 || b.lines(t, h10) != 12 || b.lines(t, h11) != 10 {
		t.Fatalf("after late uploads: wrote %q, lines %d and %d; want 10 and 11 again, 12 and 10 lines", got, b.lines(t, h10), b.lines(t, h11))
	}
	if b.hourLists != lists {
		t.Fatalf("listed every hour again (%d times) with the checkpoints remembering the uploads", b.hourLists-lists)
	}

	// More uploads than the checkpoint remembers, one of them into 10:
	// every hour is listed again.
	kafka.set(0, 19)
	b.upload(0, h10, 13, 14, 1)
	for o := int64(14); o < 19; o++ {
		b.upload(0, h11.Add(time.Hour), o, o+1, 1)
	}
	if got := pass(); b.lines(t, h10) != 13 || b.hourLists != lists+1 {
		t.Fatalf("after %d uploads: wrote %q, lines of 10 %d, hours listed %d times; want 13 lines, from one listing", 6, got, b.lines(t, h10), b.hourLists-lists)
	}

	// Another consumer writes 10's manifest between this one's read and
	// write: this one leaves it and looks again at the next pass.
	kafka.set(1, 11)
	b.upload(1, h10, 10, 11, 1)
	b.beforePut = func() { b.manifests[h10], b.versions[h10] = []byte(`{"version":1}`), b.versions[h10]+1 }
	if got := pass(); len(got) != 0 || string(b.manifests[h10]) != `{"version":1}` {
		t.Fatalf("wrote %q over another consumer's manifest", got)
	}
	if got := pass(); len(got) != 1 || b.lines(t, h10) != 14 {
		t.Fatalf("the next pass wrote %q, lines of 10 %d; want 10's manifest, 14 lines", got, b.lines(t, h10))
	}
}

func decodeManifest(data []byte) (Manifest, error) {
	var m Manifest
	err := json.Unmarshal(data, &m)
	return m, err
}

// TestBucketPassGoesOnPastABadHour: an hour whose objects cannot be
// described (one put by hand, with no facts of an upload) is reported and
// holds back no other hour's manifest.
func TestBucketPassGoesOnPastABadHour(t *testing.T) {
	b := newMemBucket(1)
	h11 := h10.Add(time.Hour)
	b.upload(0, h10, 0, 5, 5)
	b.upload(0, h11, 5, 10, 5)
	b.facts["tweets-p0-00000000000000000000.jsonl"] = Facts{} // no facts
	b.factsErr = "tweets-p0-00000000000000000000.jsonl"
	fin, err := NewBucket(Config{Topics: []string{"tweets"}, Now: func() time.Time { return h10.Add(3 * time.Hour) }}, b, &ends{end: []int64{10}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	written, err := fin.Pass(context.Background())
	if err == nil || !strings.Contains(err.Error(), "hour 2026-12-02T10") {
		t.Errorf("Pass error = %v; want one naming hour 10", err)
	}
	if len(written) != 1 || b.lines(t, h11) != 5 {
		t.Fatalf("wrote %q; want 11's manifest too", written)
	}
}
