package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memBucket is a hand-written object store: objects keyed, as objstore
// keys them, by the bucket's next offset when the file was uploaded (the
// file's first offset for the first one), and one checkpoint per partition.
type memBucket struct {
	mu      sync.Mutex
	objects map[int64][]byte // by key offset
	next    int64            // -1: nothing uploaded
	fail    int              // uploads still to fail
	uploads []string         // "first-next" of each upload call that succeeded
	keys    Keys
}

func newMemBucket() *memBucket { return &memBucket{objects: map[int64][]byte{}, next: -1} }

func (b *memBucket) Partition(context.Context, string, int) (PartitionUploader, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &memUploader{b: b, next: b.next, keys: b.keys}, nil
}

// memUploader sees the bucket as it was when the partition opened, as a
// real uploader does; uploads go to the shared bucket.
type memUploader struct {
	b    *memBucket
	next int64
	keys Keys
}

func (u *memUploader) Next() int64 { return u.next }

func (u *memUploader) Keys() ([]byte, []byte) { return u.keys.Prev, u.keys.Cur }

func (u *memUploader) Upload(_ context.Context, path string, first, next int64, keys Keys) error {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if u.b.fail > 0 {
		u.b.fail--
		return errors.New("connection reset by peer")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if u.next >= 0 {
		first = u.next
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return err
		}
	}
	u.b.objects[first] = data
	u.b.next, u.next = next, next
	u.b.keys, u.keys = Keys{Prev: bytes.Clone(keys.Prev), Cur: bytes.Clone(keys.Cur)}, keys
	u.b.uploads = append(u.b.uploads, strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(next, 10))
	return nil
}

// lines returns every line across the bucket's objects, in key order.
func (b *memBucket) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	keys := make([]int64, 0, len(b.objects))
	for k := range b.objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		for _, l := range strings.SplitAfter(string(b.objects[k]), "\n") {
			if l != "" {
				out = append(out, strings.TrimSuffix(l, "\n"))
			}
		}
	}
	return out
}

// TestUploadOnClose: a closed file goes to the bucket, leaves the staging
// folder, and only then counts in NextOffset (what the group commits).
func TestUploadOnClose(t *testing.T) {
	b := newMemBucket()
	clk := newClock(t0())
	a := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute})
	p := openPartition(t, a, "tweets", 0)
	if got := p.NextOffset(); got != -1 {
		t.Fatalf("NextOffset of a new partition = %d; want -1", got)
	}
	mustAppend(t, p, recs(0, 9, t0()))
	if got := p.NextOffset(); got != -1 {
		t.Fatalf("NextOffset with the file only staged = %d; want -1 (nothing in the bucket)", got)
	}
	clk.Set(t0().Add(time.Minute))
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	if got := p.NextOffset(); got != 10 {
		t.Fatalf("NextOffset after the upload = %d; want 10", got)
	}
	if got, want := b.lines(), values(0, 9); !slices.Equal(got, want) {
		t.Fatalf("bucket lines = %q; want %q", got, want)
	}
	if files := dataFiles(t, a.cfg.Dir, "tweets"); len(files) != 0 {
		t.Fatalf("staging folder still holds %q after the upload; want nothing", files)
	}
	mustAppend(t, p, recs(10, 14, t0().Add(time.Minute)))
	if got := p.NextOffset(); got != 10 {
		t.Fatalf("NextOffset with 10-14 staged = %d; want 10", got)
	}
}

// TestUploadTakeover: two staging folders (two hosts) share one bucket;
// each takes the partition over from the bucket's state alone, the one left
// behind drops what it staged, and the bucket holds every record once.
func TestUploadTakeover(t *testing.T) {
	b := newMemBucket()
	clk := newClock(t0())
	hostA := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateMaxBytes: 1024})
	hostB := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateMaxBytes: 1024})
	ts := t0()

	// A uploads one file (size rotation) and stages more, then dies.
	pa := openPartition(t, hostA, "tweets", 0)
	mustAppend(t, pa, recs(0, 119, ts)) // 10 bytes a line: rotates at 103 lines
	upA := pa.NextOffset()
	if upA <= 0 {
		t.Fatalf("host A uploaded nothing: NextOffset %d", upA)
	}
	_ = pa.Close()

	// B starts where the bucket ends, not where A's staging ends.
	pb := openPartition(t, hostB, "tweets", 0)
	if got := pb.NextOffset(); got != upA {
		t.Fatalf("host B NextOffset = %d; want the bucket's %d", got, upA)
	}
	mustAppend(t, pb, recs(upA, 299, ts))
	upB := pb.NextOffset()
	if upB <= upA {
		t.Fatalf("host B uploaded nothing past %d", upA)
	}
	_ = pb.Close()

	// A again: its staged records are behind the bucket and go.
	pa = openPartition(t, hostA, "tweets", 0)
	if got := pa.NextOffset(); got != upB {
		t.Fatalf("host A NextOffset after B's uploads = %d; want %d", got, upB)
	}
	mustAppend(t, pa, recs(upB, 499, ts))
	clk.Set(ts.Add(2 * time.Hour))
	if err := pa.Tick(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.lines(), values(0, 499); !slices.Equal(got, want) {
		t.Fatalf("bucket holds %d lines, want %d once each, in order (uploads %v)", len(got), len(want), b.uploads)
	}
}

// TestUploadRetriedAfterFailure: a compressed file whose upload failed is
// uploaded by the recovery that follows, with the same offsets; nothing is
// lost or doubled, and the crash-free path's files stay the same.
func TestUploadRetriedAfterFailure(t *testing.T) {
	b := newMemBucket()
	clk := newClock(t0())
	a := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, Compression: CompressionGzip})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(0, 9, t0()))
	clk.Set(t0().Add(time.Minute))
	b.fail = 1
	if err := p.Tick(); err == nil {
		t.Fatal("Tick with a failing upload returned nil; want the error")
	}
	if got := p.NextOffset(); got != -1 {
		t.Fatalf("NextOffset after a failed upload = %d; want -1", got)
	}
	mustAppend(t, p, recs(10, 12, t0().Add(time.Minute)))
	if got := p.NextOffset(); got != 10 {
		t.Fatalf("NextOffset after recovery uploaded the file = %d; want 10 (uploads %v)", got, b.uploads)
	}
	clk.Set(t0().Add(3 * time.Minute))
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.lines(), values(0, 12); !slices.Equal(got, want) {
		t.Fatalf("bucket lines = %q; want %q", got, want)
	}
	if files := dataFiles(t, a.cfg.Dir, "tweets"); len(files) != 0 {
		t.Fatalf("staging folder still holds %q; want nothing", files)
	}
	if _, err := os.Stat(filepath.Join(a.cfg.Dir, uploadedPath("tweets", 0))); err != nil {
		t.Fatalf("upload mark: %v", err)
	}
}

// TestUploadTakeoverKeepsDedupWindow: the dedup window goes with the
// partition through the bucket: a copy of a status that the producer sent
// again reaches a consumer on another host, which drops it.
func TestUploadTakeoverKeepsDedupWindow(t *testing.T) {
	b := newMemBucket()
	clk := newClock(t0())
	hostA := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, DedupWindow: 100})
	hostB := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, DedupWindow: 100})
	status := func(off int64, id string) Record {
		return Record{Offset: off, Time: t0(), Value: []byte(`{"id_str":"` + id + `"}`), Key: []byte(id), Dedup: true}
	}
	pa := openPartition(t, hostA, "tweets", 0)
	mustAppend(t, pa, []Record{status(0, "100"), status(1, "101")})
	clk.Set(t0().Add(time.Minute))
	if err := pa.Tick(); err != nil {
		t.Fatal(err)
	}
	_ = pa.Close()

	pb := openPartition(t, hostB, "tweets", 0)
	if got := pb.NextOffset(); got != 2 {
		t.Fatalf("host B NextOffset = %d; want 2", got)
	}
	res := mustAppend(t, pb, []Record{status(2, "101"), status(3, "102")}) // 101 sent again
	if res.Duplicates != 1 || res.Written != 1 {
		t.Fatalf("host B: %+v; want the copy of 101 dropped and 102 written", res)
	}
	clk.Set(t0().Add(2 * time.Minute))
	if err := pb.Tick(); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"id_str":"100"}`, `{"id_str":"101"}`, `{"id_str":"102"}`}
	if got := b.lines(); !slices.Equal(got, want) {
		t.Fatalf("bucket lines = %q; want %q", got, want)
	}
}
