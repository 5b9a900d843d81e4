package archive

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/crashpoint"
)

// cloneBucket copies a memBucket's state (objects, next, keys, uploads).
func cloneBucket(b *memBucket) *memBucket {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &memBucket{objects: maps.Clone(b.objects), next: b.next, keys: b.keys, uploads: slices.Clone(b.uploads)}
}

// folderLines returns every line of every data file under dir/topic.
func folderLines(t *testing.T, dir, topic string) []string {
	t.Helper()
	var out []string
	for _, rel := range dataFiles(t, dir, topic) {
		if strings.HasSuffix(rel, ".tmp") {
			continue
		}
		out = append(out, readLines(t, filepath.Join(dir, rel))...)
	}
	return out
}

// wantKeptNames fails unless every data file under dir/topic has a kept
// name (keptName): none is in the way of a staged file.
func wantKeptNames(t *testing.T, what, dir string) {
	t.Helper()
	for _, rel := range dataFiles(t, dir, "tweets") {
		if !isKept(rel) {
			t.Errorf("%s: %s has a staged file's name; want it kept under %s", what, rel, keptName(rel))
		}
	}
}

// wantKept fails unless every value of from..to is in the folder dir or
// in the bucket, and no value is in two objects of the bucket.
func wantKept(t *testing.T, what, dir string, b *memBucket, from, to int64) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range folderLines(t, dir, "tweets") {
		have[l] = true
	}
	count := map[string]int{}
	for _, l := range b.lines() {
		have[l] = true
		count[l]++
	}
	for _, v := range values(from, to) {
		if !have[v] {
			t.Errorf("%s: %s (committed to Kafka) is in neither the folder %q nor the bucket %q",
				what, v, dataFiles(t, dir, "tweets"), b.objectKeys())
		}
	}
	for l, n := range count {
		if n > 1 {
			t.Errorf("%s: %s is in %d objects of the bucket %q", what, l, n, b.objectKeys())
		}
	}
}

// TestUploadSwitchCompressedFileKeptAfterTakeover: a compressing folder is
// switched to a bucket that knows nothing of the partition; the open file
// is compressed at the first open and its upload fails. The partition
// moves to host B, which starts at Kafka's committed offset (10) and
// uploads. When host A gets the partition back, the compressed file
// (0-9, committed to Kafka, in no object) stays in its folder.
func TestUploadSwitchCompressedFileKeptAfterTakeover(t *testing.T) {
	clk := newClock(t0())
	dirA := t.TempDir()
	writeInFolder(t, dirA, clk, CompressionGzip, 0, 9) // the loop commits 10 to Kafka

	b := newMemBucket()
	cfg := Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, Compression: CompressionGzip}
	cfgA := cfg
	cfgA.Dir = dirA
	hostA := testArchive(t, cfgA)
	b.fail = 1
	if _, err := hostA.Partition(context.Background(), "tweets", 0); err == nil {
		t.Fatal("host A's first open with the bucket failing returned nil; want the upload's error")
	}

	uploadOnAnotherHost(t, testArchive(t, cfg), clk, 10, 19)

	pa := openPartition(t, hostA, "tweets", 0)
	if got := pa.NextOffset(); got != 20 {
		t.Errorf("host A NextOffset = %d; want the bucket's 20", got)
	}
	wantKept(t, "after host A got the partition back", dirA, b, 0, 19)
	wantKeptNames(t, "after host A got the partition back", dirA)
	if got := folderLines(t, dirA, "tweets"); !slices.Equal(got, values(0, 9)) {
		t.Errorf("host A's folder holds %q; want %q", got, values(0, 9))
	}
	if err := pa.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestUploadSwitchCrashKeepsOpenFile: the first open after the switch to a
// bucket crashes at each point, and the partition opens again: records
// 0-9 (committed to Kafka while the folder was a folder) are in the
// folder or the bucket, none in two objects, plain or compressed, the
// bucket empty or ahead (another host uploaded 10-19 first), also when an
// open before compressed the file and failed to upload it.
func TestUploadSwitchCrashKeepsOpenFile(t *testing.T) {
	for _, tt := range []struct {
		name         string
		compression  string
		bucketAhead  bool
		uploadFailed bool // an open before compressed the file and failed to upload it
	}{
		{"plain, bucket empty", CompressionNone, false, false},
		{"gzip, bucket empty", CompressionGzip, false, false},
		{"plain, bucket ahead", CompressionNone, true, false},
		{"gzip, bucket ahead", CompressionGzip, true, false},
		{"gzip, upload failed, bucket ahead", CompressionGzip, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0())
			base := t.TempDir()
			writeInFolder(t, base, clk, tt.compression, 0, 9)
			b0 := newMemBucket()
			cfg := Config{Uploader: b0, Now: clk.Now, RotateInterval: time.Minute, Compression: tt.compression}
			if tt.uploadFailed {
				c := cfg
				c.Dir = base
				b0.fail = 1
				if _, err := testArchive(t, c).Partition(context.Background(), "tweets", 0); err == nil {
					t.Fatal("open with the bucket failing returned nil; want the upload's error")
				}
			}
			last := int64(9)
			if tt.bucketAhead {
				uploadOnAnotherHost(t, testArchive(t, cfg), clk, 10, 19)
				last = 19
			}
			points := 0
			for k := 1; ; k++ {
				if k > 200 {
					t.Fatal("the open still crashes after 200 points")
				}
				dir := t.TempDir()
				if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
					t.Fatal(err)
				}
				b := cloneBucket(b0)
				c := cfg
				c.Dir, c.Uploader = dir, b
				var opened *Partition
				var err error
				_, disarm := crash.Arm(k)
				point := crashpoint.Try(func() { opened, err = testArchive(t, c).Partition(context.Background(), "tweets", 0) })
				disarm()
				if point == "" {
					if err != nil {
						t.Fatalf("open without a crash: %v", err)
					}
					wantKept(t, "without a crash", dir, b, 0, last)
					if tt.bucketAhead {
						wantKeptNames(t, "without a crash", dir)
					}
					_ = opened.Close()
					break
				}
				points++
				again := t.TempDir()
				if err := os.CopyFS(again, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				c.Dir = again
				pa, err := testArchive(t, c).Partition(context.Background(), "tweets", 0)
				if err != nil {
					t.Errorf("crash at %d %q: reopening: %v", k, point, err)
					continue
				}
				wantKept(t, fmt.Sprintf("crash at %d %q", k, point), again, b, 0, last)
				if tt.bucketAhead {
					wantKeptNames(t, fmt.Sprintf("crash at %d %q", k, point), again)
				}
				_ = pa.Close()
			}
			if points == 0 {
				t.Fatal("no crash point in the open")
			}
		})
	}
}

// TestUploadSwitchMarkFailsAfterUploadKeepsFile: the file open at the
// switch is uploaded (the bucket knew nothing of the partition), then
// writing the upload mark fails. The next open cannot tell that upload
// from another host's, so the file stays in the folder, plain or
// compressed, and the partition starts at the bucket's offset.
func TestUploadSwitchMarkFailsAfterUploadKeepsFile(t *testing.T) {
	for _, compression := range []string{CompressionNone, CompressionGzip} {
		t.Run(compression, func(t *testing.T) {
			clk := newClock(t0())
			dirA := t.TempDir()
			writeInFolder(t, dirA, clk, compression, 0, 9)
			b := newMemBucket()
			a := testArchive(t, Config{Dir: dirA, Uploader: b, Now: clk.Now, RotateInterval: time.Minute, Compression: compression})
			tmp := filepath.Join(dirA, uploadedPath("tweets", 0)+".tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Partition(context.Background(), "tweets", 0); err == nil {
				t.Fatal("open with the upload mark failing returned nil; want the error")
			}
			if err := os.Remove(tmp); err != nil {
				t.Fatal(err)
			}
			pa := openPartition(t, a, "tweets", 0)
			if got := pa.NextOffset(); got != 10 {
				t.Errorf("NextOffset = %d; want the bucket's 10", got)
			}
			if got := b.lines(); !slices.Equal(got, values(0, 9)) {
				t.Errorf("bucket lines = %q; want %q", got, values(0, 9))
			}
			if got := folderLines(t, dirA, "tweets"); !slices.Equal(got, values(0, 9)) {
				t.Errorf("folder holds %q (%q); want %q", got, dataFiles(t, dirA, "tweets"), values(0, 9))
			}
			if err := pa.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUploadSwitchKeptFileNotInStagedFilesWay: the folder's open file
// started at offset 5, the first record of hour 11, in a batch whose
// commit did not reach Kafka (Kafka holds 3). Host B switched first,
// started at 3 and rotated at 5 (the hour changes there): the bucket's next
// is 5. Host A keeps its file (5, hour 11) in the folder and starts at 5;
// its first staged file also starts at 5 in hour 11. The kept file's name
// is not that one's, so the partition moves on (plain: startFile refused
// to overwrite the kept file; compressed: the rotation found the kept file
// under its compressed name), and the kept file holds 5-9 still.
func TestUploadSwitchKeptFileNotInStagedFilesWay(t *testing.T) {
	hour11 := t0().Add(time.Hour)
	for _, compression := range []string{CompressionNone, CompressionGzip} {
		t.Run(compression, func(t *testing.T) {
			clk := newClock(t0())
			dirA := t.TempDir()
			folder := testArchive(t, Config{Dir: dirA, Now: clk.Now, Compression: compression})
			p := openPartition(t, folder, "tweets", 0)
			mustAppend(t, p, recs(0, 2, t0())) // Kafka: 3
			batch := append(recs(3, 4, t0()), recs(5, 9, hour11)...)
			mustAppend(t, p, batch) // its commit is lost: Kafka still holds 3
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}

			b := newMemBucket()
			cfg := Config{Uploader: b, Now: clk.Now, RotateInterval: time.Minute, Compression: compression}
			pb := openPartition(t, testArchive(t, cfg), "tweets", 0)
			mustAppend(t, pb, batch) // from Kafka's 3: uploads 3-4 before 5, of hour 11
			if err := pb.Close(); err != nil {
				t.Fatal(err)
			}
			if b.next != 5 {
				t.Fatalf("bucket next = %d; want 5 (uploads %v)", b.next, b.uploads)
			}

			cfg.Dir = dirA
			pa := openPartition(t, testArchive(t, cfg), "tweets", 0)
			if got := pa.NextOffset(); got != 5 {
				t.Fatalf("host A NextOffset = %d; want the bucket's 5", got)
			}
			ext := compressedExt(compression)
			kept := keptName(DataPath("tweets", 0, 5, hour11)) + ext
			if got := readLines(t, filepath.Join(dirA, kept)); !slices.Equal(got, values(5, 9)) {
				t.Fatalf("kept file %s holds %q; want %q (folder %q)", kept, got, values(5, 9), dataFiles(t, dirA, "tweets"))
			}
			if _, err := pa.Append(recs(5, 9, hour11)); err != nil {
				t.Fatalf("Append of 5-9 again: %v", err)
			}
			clk.Set(t0().Add(2 * time.Minute))
			if err := pa.Tick(); err != nil {
				t.Fatalf("Tick: %v", err)
			}
			if got := pa.NextOffset(); got != 10 {
				t.Errorf("host A NextOffset = %d; want 10", got)
			}
			if got, want := b.lines(), values(3, 9); !slices.Equal(got, want) {
				t.Errorf("bucket lines = %q; want %q (uploads %v)", got, want, b.uploads)
			}
			want := []string{DataPath("tweets", 0, 0, t0()) + ext, kept}
			if got := dataFiles(t, dirA, "tweets"); !slices.Equal(got, want) {
				t.Errorf("host A's folder holds %q; want %q", got, want)
			}
			if err := pa.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKeptNameInTopicName: a topic's name may hold ".kept.jsonl" (Kafka
// allows dots); a folder of such a topic, without a bucket, reopens after
// a clean close, and only the name's own extension carries the marker.
func TestKeptNameInTopicName(t *testing.T) {
	for _, topic := range []string{"logs.kept.jsonl", "a.kept.jsonl.b", "x.kept"} {
		t.Run(topic, func(t *testing.T) {
			rel := DataPath(topic, 0, 5, t0())
			for _, name := range []string{rel, rel + ".gz"} {
				if isKept(name) {
					t.Errorf("isKept(%s) = true; want false: a staged file's name", name)
				}
				kept := keptName(name)
				if !isKept(kept) || unkept(kept) != name {
					t.Errorf("keptName(%s) = %s: isKept %v, unkept %s; want a kept name that unkept gives back", name, kept, isKept(kept), unkept(kept))
				}
			}
			a := testArchive(t, Config{})
			p := openPartition(t, a, topic, 0)
			if _, err := p.Append(recs(0, 2, t0())); err != nil {
				t.Fatalf("Append: %v", err)
			}
			if err := p.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			p, err := a.Partition(context.Background(), topic, 0)
			if err != nil {
				t.Fatalf("reopening after a clean Close: %v", err)
			}
			if err := p.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}
