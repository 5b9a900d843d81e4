package archive

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memBucket is a hand-written object store: objects keyed, as objstore
// keys them, by the upload's hour, the bucket's next offset when the file
// was uploaded (the file's first offset for the first one) and the file's
// extension, and one checkpoint per partition.
type memBucket struct {
	mu      sync.Mutex
	objects map[objectKey][]byte
	next    int64 // -1: nothing uploaded
	fail    int   // uploads still to fail
	// lose is how many uploads still to put without recording them: an
	// owner that died between the put and the checkpoint.
	lose    int
	uploads []string // "first-next" of each upload call that succeeded
	keys    Keys
}

// objectKey is what an object's key is made of.
type objectKey struct {
	hour  time.Time
	first int64
	ext   string // .jsonl, .jsonl.gz
}

func (k objectKey) String() string {
	return k.hour.Format("2006-01-02T15") + "/" + strconv.FormatInt(k.first, 10) + k.ext
}

func newMemBucket() *memBucket { return &memBucket{objects: map[objectKey][]byte{}, next: -1} }

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

func (u *memUploader) Upload(_ context.Context, path string, first, next int64, hour time.Time, keys Keys) error {
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
	if next <= first { // as objstore refuses it
		return fmt.Errorf("next offset %d not past the first %d", next, first)
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
	u.b.objects[objectKey{hour, first, path[strings.LastIndex(path, ".jsonl"):]}] = data
	if u.b.lose > 0 {
		u.b.lose--
		return errors.New("killed after the put")
	}
	u.b.next, u.next = next, next
	u.b.keys, u.keys = Keys{Prev: bytes.Clone(keys.Prev), Cur: bytes.Clone(keys.Cur)}, keys
	u.b.uploads = append(u.b.uploads, strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(next, 10))
	return nil
}

// sortedKeys returns the objects' keys by first offset.
func (b *memBucket) sortedKeys() []objectKey {
	keys := make([]objectKey, 0, len(b.objects))
	for k := range b.objects {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b objectKey) int {
		if c := cmp.Compare(a.first, b.first); c != 0 {
			return c
		}
		if c := a.hour.Compare(b.hour); c != 0 {
			return c
		}
		return cmp.Compare(a.ext, b.ext)
	})
	return keys
}

// lines returns every line across the bucket's objects, in key order.
func (b *memBucket) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, k := range b.sortedKeys() {
		for _, l := range strings.SplitAfter(string(b.objects[k]), "\n") {
			if l != "" {
				out = append(out, strings.TrimSuffix(l, "\n"))
			}
		}
	}
	return out
}

// objectKeys returns the objects' keys as "<UTC hour>/<first offset><ext>",
// by first offset.
func (b *memBucket) objectKeys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, k := range b.sortedKeys() {
		out = append(out, k.String())
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

// TestUploadRebuiltUnderSameKey: a file whose put landed but whose owner
// died before recording it is rebuilt by the partition's next owner, on
// another host and hours later, and lands under the very same key (the
// hour of the Kafka timestamp of the record at the bucket's next offset,
// and that offset), replacing it whole: the bucket holds every status
// once. The record there is a dead letter, then one with no timestamp
// (filed under the epoch's hour, not under the time either host read it).
func TestUploadRebuiltUnderSameKey(t *testing.T) {
	b := newMemBucket()
	clk := newClock(t0())
	cfg := Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, DedupWindow: 100}
	hostA, hostB := testArchive(t, cfg), testArchive(t, cfg)
	h1, h2, h3 := t0().Add(-3*time.Hour), t0().Add(-2*time.Hour), t0().Add(-time.Hour)
	status := func(off int64, key string, ts time.Time) Record {
		return Record{Offset: off, Time: ts, Value: []byte(value(off)), Key: []byte(key), Dedup: true}
	}
	statuses := func(from, to int64, ts time.Time) []Record {
		var rs []Record
		for o := from; o <= to; o++ {
			rs = append(rs, status(o, "k"+strconv.FormatInt(o, 10), ts))
		}
		return rs
	}
	tick := func(p *Partition, at time.Time) error {
		clk.Set(at)
		return p.Tick()
	}

	// A uploads 0-4, then stages 5-9 (5 a dead letter of hour h2, 6 a copy
	// of 4 that the window drops, 7-9 of h3); its put lands, and it dies
	// before recording it.
	pa := openPartition(t, hostA, "tweets", 0)
	mustAppend(t, pa, statuses(0, 4, h1))
	if err := tick(pa, t0().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	round2 := append([]Record{{Offset: 5, Time: h2, Value: []byte("not json")}, status(6, "k4", h1)}, statuses(7, 9, h3)...)
	mustAppend(t, pa, round2)
	b.lose = 1
	if err := tick(pa, t0().Add(2*time.Minute)); err == nil {
		t.Fatal("Tick with the checkpoint lost returned nil; want the error")
	}
	_ = pa.Close()

	// B, two hours later, starts at the bucket's 5 and builds that file
	// again, with 10 and 11 in it too.
	pb := openPartition(t, hostB, "tweets", 0)
	if got := pb.NextOffset(); got != 5 {
		t.Fatalf("host B NextOffset = %d; want the bucket's 5", got)
	}
	mustAppend(t, pb, append(round2, statuses(10, 11, h3)...))
	if err := tick(pb, t0().Add(2*time.Hour+time.Minute)); err != nil {
		t.Fatal(err)
	}
	// B stages 12-14, 12 with no timestamp; its put lands, and it dies.
	round4 := append([]Record{status(12, "k12", time.Time{})}, statuses(13, 14, h3)...)
	mustAppend(t, pb, round4)
	b.lose = 1
	if err := tick(pb, t0().Add(2*time.Hour+2*time.Minute)); err == nil {
		t.Fatal("Tick with the checkpoint lost returned nil; want the error")
	}
	_ = pb.Close()

	// A, three hours later still, builds that one again.
	clk.Set(t0().Add(5 * time.Hour))
	pa = openPartition(t, hostA, "tweets", 0)
	if got := pa.NextOffset(); got != 12 {
		t.Fatalf("host A NextOffset = %d; want the bucket's 12", got)
	}
	mustAppend(t, pa, append(round4, statuses(15, 15, h3)...))
	if err := tick(pa, t0().Add(5*time.Hour+time.Minute)); err != nil {
		t.Fatal(err)
	}

	wantKeys := []string{"2024-03-09T07/0.jsonl", "2024-03-09T08/5.jsonl", "1970-01-01T00/12.jsonl"}
	if got := b.objectKeys(); !slices.Equal(got, wantKeys) {
		t.Fatalf("object keys = %q; want %q (uploads %v)", got, wantKeys, b.uploads)
	}
	want := append(append(values(0, 4), values(7, 11)...), values(12, 15)...)
	if got := b.lines(); !slices.Equal(got, want) {
		t.Fatalf("bucket lines = %q; want %q", got, want)
	}
}

// TestUploadHour: the hour in an upload's key is the UTC hour of the
// record's Kafka timestamp, and the epoch's for one the archive cannot use.
func TestUploadHour(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	for _, tt := range []struct {
		in, want time.Time
	}{
		{time.Date(2026, 11, 26, 17, 59, 59, 999e6, time.UTC), time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 26, 23, 30, 0, 0, time.FixedZone("IST", 5*3600+1800)), time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)},
		{time.Time{}, epoch},
		{time.UnixMilli(-1), epoch},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), epoch},
	} {
		if got := UploadHour(tt.in); !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("UploadHour(%s) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// TestUploadStagedByEarlierVersion: a staging folder whose checkpoint
// took records past the bucket's offset without noting the upload's hour
// (an earlier version wrote it) starts again at the bucket's offset, so
// that the hour comes from the record there, as on any other host.
func TestUploadStagedByEarlierVersion(t *testing.T) {
	b := newMemBucket()
	clk := newClock(t0())
	a := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute})
	h2, h3 := t0().Add(-2*time.Hour), t0().Add(-time.Hour)
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(0, 4, h2))
	clk.Set(t0().Add(time.Minute))
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	staged := append([]Record{{Offset: 5, Time: h2, Value: []byte("not json")}}, recs(6, 9, h3)...)
	mustAppend(t, p, staged)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	js := readCheckpointJSON(t, a.cfg.Dir)
	earlier := regexp.MustCompile(`\s*"upload_hour": "[^"]*",?`).ReplaceAll(js, nil)
	earlier = regexp.MustCompile(`,(\s*})`).ReplaceAll(earlier, []byte("$1"))
	if bytes.Equal(earlier, js) {
		t.Fatalf("test setup: no upload_hour in %s", js)
	}
	writeCheckpointJSON(t, a.cfg.Dir, earlier)

	p = openPartition(t, a, "tweets", 0)
	if got := p.ckpt.NextOffset; got != 5 {
		t.Fatalf("staging checkpoint's next offset = %d; want the bucket's 5", got)
	}
	mustAppend(t, p, append(staged, recs(10, 10, h3)...))
	clk.Set(t0().Add(2 * time.Minute))
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.objectKeys(), []string{"2024-03-09T08/0.jsonl", "2024-03-09T08/5.jsonl"}; !slices.Equal(got, want) {
		t.Fatalf("object keys = %q; want %q", got, want)
	}
	if got, want := b.lines(), values(0, 4); !slices.Equal(got[:5], want) || !slices.Equal(got[5:], values(6, 10)) {
		t.Fatalf("bucket lines = %q; want 0-4 and 6-10", got)
	}
}

// TestUploadSwitchFromFolderUploadsOpenFile: a folder switched to a bucket
// that knows nothing of the partition uploads the file that was open at
// the switch (its records are committed to Kafka) before it takes a
// record, so the partition can move to another host at once, and come
// back, without losing them.
func TestUploadSwitchFromFolderUploadsOpenFile(t *testing.T) {
	clk := newClock(t0())
	dirA := t.TempDir()
	writeInFolder(t, dirA, clk, CompressionNone, 0, 9) // the loop commits 10 to Kafka

	b := newMemBucket()
	hostA := testArchive(t, Config{Dir: dirA, Uploader: b, Now: clk.Now, RotateInterval: time.Minute})
	hostB := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute})
	pa := openPartition(t, hostA, "tweets", 0)
	if got := pa.NextOffset(); got != 10 {
		t.Errorf("host A NextOffset after the switch = %d; want 10, the open file uploaded (uploads %v)", got, b.uploads)
	}
	if got := pa.ckpt.NextOffset; got != 10 {
		t.Errorf("host A staging checkpoint's next offset = %d; want 10", got)
	}
	if err := pa.Close(); err != nil {
		t.Fatal(err)
	}

	// The partition moves to B, which starts at Kafka's committed 10.
	uploadOnAnotherHost(t, hostB, clk, 10, 19)

	// And back to A.
	pa = openPartition(t, hostA, "tweets", 0)
	if got := pa.NextOffset(); got != 20 {
		t.Fatalf("host A NextOffset back from B = %d; want 20", got)
	}
	mustAppend(t, pa, recs(20, 24, t0().Add(time.Minute)))
	clk.Set(t0().Add(3 * time.Minute))
	if err := pa.Tick(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.lines(), values(0, 24); !slices.Equal(got, want) {
		t.Fatalf("bucket lines = %q; want %q (uploads %v)", got, want, b.uploads)
	}
	if got, want := b.objectKeys(), []string{"2024-03-09T10/0.jsonl", "2024-03-09T10/10.jsonl", "2024-03-09T10/20.jsonl"}; !slices.Equal(got, want) {
		t.Errorf("object keys = %q; want %q", got, want)
	}
}

// TestUploadSwitchFromFolderKeepsOpenFile: a folder switched to a bucket
// that another host already uploaded to (the bucket's chain started past
// this folder's records) cannot upload its open file: it closes it where
// it is, as an ordinary file of the folder under its kept name (keptName),
// and starts at the bucket's offset. Nothing is dropped; with compression the kept file is
// compressed as a rotated folder file is. So too when an earlier version
// opened the folder with the bucket empty and kept the file open (its
// upload mark says -1).
func TestUploadSwitchFromFolderKeepsOpenFile(t *testing.T) {
	for _, tt := range []struct {
		name, compression string
		marked            bool
	}{
		{"none", CompressionNone, false},
		{"gzip", CompressionGzip, false},
		{"kept open by an earlier version", CompressionNone, true},
	} {
		compression := tt.compression
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0())
			dirA := t.TempDir()
			writeInFolder(t, dirA, clk, compression, 0, 9)
			if tt.marked {
				if err := os.WriteFile(filepath.Join(dirA, uploadedPath("tweets", 0)), []byte("-1\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			}

			// B switched first, started at Kafka's committed 10, and uploaded.
			b := newMemBucket()
			cfg := Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, Compression: compression}
			uploadOnAnotherHost(t, testArchive(t, cfg), clk, 10, 19)

			cfg.Dir = dirA
			pa := openPartition(t, testArchive(t, cfg), "tweets", 0)
			if got := pa.NextOffset(); got != 20 {
				t.Fatalf("host A NextOffset = %d; want the bucket's 20", got)
			}
			if pa.active != nil {
				t.Errorf("host A still has %s open; want it closed as a folder file", pa.active.rel)
			}
			want := keptName(DataPath("tweets", 0, 0, t0())) + compressedExt(compression)
			if got := dataFiles(t, dirA, "tweets"); !slices.Equal(got, []string{want}) {
				t.Fatalf("host A's folder holds %q; want %q", got, []string{want})
			}
			if got := readLines(t, filepath.Join(dirA, want)); !slices.Equal(got, values(0, 9)) {
				t.Fatalf("%s holds %q; want %q", want, got, values(0, 9))
			}
			mustAppend(t, pa, recs(20, 24, t0().Add(time.Minute)))
			clk.Set(t0().Add(3 * time.Minute))
			if err := pa.Tick(); err != nil {
				t.Fatal(err)
			}
			if got, want := b.lines(), values(10, 24); !slices.Equal(got, want) {
				t.Fatalf("bucket lines = %q; want %q", got, want)
			}
			if got := dataFiles(t, dirA, "tweets"); !slices.Equal(got, []string{want}) {
				t.Errorf("host A's folder holds %q at the end; want %q", got, []string{want})
			}
		})
	}
}

// TestUploadMarkFailsAfterUpload: the upload lands and is recorded in the
// bucket, then writing the upload mark fails (a full disk). Recovery sees
// the staged file below the bucket's next offset and drops it as
// uploaded: the retried batch goes into a new file, and the bucket holds
// every record once, under one key each (not the same file again under
// the next key, nor an upload refused for ever). Plain and compressed,
// with the retried batch starting with a record or a dead letter.
func TestUploadMarkFailsAfterUpload(t *testing.T) {
	for _, tt := range []struct {
		name, compression string
		deadLetterFirst   bool
	}{
		{"plain", CompressionNone, false},
		{"plain, dead letter first", CompressionNone, true},
		{"gzip", CompressionGzip, false},
		{"gzip, dead letter first", CompressionGzip, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newMemBucket()
			clk := newClock(t0())
			a := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, Compression: tt.compression})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, recs(0, 9, t0()))
			// The upload mark's temp file cannot be created.
			tmp := filepath.Join(a.cfg.Dir, uploadedPath("tweets", 0)+".tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			clk.Set(t0().Add(time.Minute))
			if err := p.Tick(); err == nil {
				t.Fatal("Tick with the upload mark failing returned nil; want the error")
			}
			if err := os.Remove(tmp); err != nil {
				t.Fatal(err)
			}
			batch := recs(10, 12, t0().Add(time.Minute))
			want := values(0, 12)
			if tt.deadLetterFirst {
				batch[0].Value = []byte("not json")
				want = append(values(0, 9), values(11, 12)...)
			}
			if _, err := p.Append(batch); err != nil {
				t.Fatalf("Append after the upload mark failed: %v (uploads %v)", err, b.uploads)
			}
			if got := p.NextOffset(); got != 10 {
				t.Errorf("NextOffset = %d; want 10", got)
			}
			clk.Set(t0().Add(3 * time.Minute))
			if err := p.Tick(); err != nil {
				t.Fatal(err)
			}
			if got := b.lines(); !slices.Equal(got, want) {
				t.Errorf("bucket lines = %q; want %q (uploads %v)", got, want, b.uploads)
			}
			if got, want := b.uploads, []string{"0-10", "10-13"}; !slices.Equal(got, want) {
				t.Errorf("uploads = %q; want %q", got, want)
			}
			if files := dataFiles(t, a.cfg.Dir, "tweets"); len(files) != 0 {
				t.Errorf("staging folder still holds %q; want nothing", files)
			}
			mark, err := os.ReadFile(filepath.Join(a.cfg.Dir, uploadedPath("tweets", 0)))
			if err != nil || string(mark) != "13\n" {
				t.Errorf("upload mark = %q, %v; want 13", mark, err)
			}
		})
	}
}

// TestUploadCompressionDoesNotFallBack: with an uploader, a rotated file
// that cannot be compressed (the disk is full, or a file the archive did
// not write has the compressed name) is not uploaded plain: the rotation
// fails and is retried. Uploaded plain, a put whose checkpoint was then
// lost would be followed, once compression works again, by the same
// records compressed under the same offset with another extension: two
// objects.
func TestUploadCompressionDoesNotFallBack(t *testing.T) {
	for _, tt := range []struct {
		name     string
		obstacle func(t *testing.T, compressed string) // makes compressing to compressed fail
	}{
		{"compressed name taken", func(t *testing.T, compressed string) {
			if err := os.WriteFile(compressed, []byte("a copy made by hand"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"disk full", func(t *testing.T, compressed string) {
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skip("no /dev/full to stand for a full disk")
			}
			if err := os.Symlink("/dev/full", compressed+".tmp"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newMemBucket()
			clk := newClock(t0())
			a := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, Compression: CompressionGzip})
			p := openPartition(t, a, "tweets", 0)
			mustAppend(t, p, recs(0, 9, t0()))
			compressed := p.abs(p.active.rel) + ".gz"
			tt.obstacle(t, compressed)
			b.lose = 1 // a put that lands is not recorded
			clk.Set(t0().Add(time.Minute))
			err := p.Tick()
			if err == nil {
				t.Fatal("Tick with the file unable to be compressed returned nil; want the error")
			}
			t.Logf("Tick: %v", err)
			if got := b.objectKeys(); len(got) != 0 {
				t.Errorf("objects after the failed rotation = %q; want none (nothing uploaded plain)", got)
			}
			for _, path := range []string{compressed, compressed + ".tmp"} {
				if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			}
			b.lose = 0
			clk.Set(t0().Add(3 * time.Minute)) // past Tick's wait
			if err := p.Tick(); err != nil {
				t.Fatalf("Tick once the file can be compressed: %v (uploads %v)", err, b.uploads)
			}
			if got, want := b.objectKeys(), []string{"2024-03-09T10/0.jsonl.gz"}; !slices.Equal(got, want) {
				t.Errorf("object keys = %q; want %q", got, want)
			}
			if got := b.lines(); !slices.Equal(got, values(0, 9)) {
				t.Errorf("bucket lines = %q; want %q", got, values(0, 9))
			}
		})
	}
}

// TestUploadShortKeyFileNamed: a dedup key file found shorter than the
// checkpoint counts when an upload reads it is an error naming the key
// file and the checkpoint, so that an operator knows which files.
func TestUploadShortKeyFileNamed(t *testing.T) {
	b := newMemBucket()
	clk := newClock(t0())
	a := testArchive(t, Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, DedupWindow: 100})
	p := openPartition(t, a, "tweets", 0)
	rs := recs(0, 4, t0())
	for i := range rs {
		rs[i].Key, rs[i].Dedup = []byte(strconv.Itoa(i)), true
	}
	mustAppend(t, p, rs)
	keys := p.abs(keysPath("tweets", 0, p.keysGen))
	if err := os.Truncate(keys, p.keysSize-1); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0().Add(time.Minute))
	err := p.Tick()
	if err == nil {
		t.Fatal("Tick with a short key file returned nil; want the error")
	}
	for _, path := range []string{keys, p.abs(slotsPath("tweets", 0))} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
}
