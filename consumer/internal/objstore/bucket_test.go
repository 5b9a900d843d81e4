package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/manifest"
)

// The Store is the manifests' bucket.
var _ manifest.Bucket = (*Store)(nil)

// kafkaEnds is a topic's offsets in Kafka, for the finalizer.
type kafkaEnds struct{ start, end []int64 }

func (k *kafkaEnds) Offsets(context.Context, string) ([]int64, []int64, error) {
	return k.start, k.end, nil
}

// zstdFile returns a staged zstd file of lines.
func zstdFile(t *testing.T, name string, lines ...string) (string, []byte) {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	data := enc.EncodeAll([]byte(strings.Join(lines, "\n")+"\n"), nil)
	enc.Close()
	return stagedFile(t, name, string(data)), data
}

// TestBucketManifests: once every partition has moved past an hour, as
// the bucket's checkpoints and Kafka's offsets say, a _manifest.json goes
// in the hour's folder in the bucket, listing its objects with the lines,
// offsets and SHA-256 their uploads stored; a second consumer (another
// host) finds it current and writes nothing; an object a late record puts
// in the hour later has it written again.
func TestBucketManifests(t *testing.T) {
	s := testStore(t)
	s.cfg.Layout = archive.LayoutHive
	ctx := context.Background()
	h17, h18 := hour17, hour17.Add(time.Hour)
	up0 := openPartition(t, s, 0)
	up1 := openPartition(t, s, 1)
	upload := func(u interface {
		Upload(context.Context, string, int64, int64, time.Time, archive.Keys) error
	}, name string, first, next int64, hour time.Time, lines ...string) []byte {
		t.Helper()
		path, data := zstdFile(t, name, lines...)
		if err := u.Upload(ctx, path, first, next, hour, archive.Keys{}); err != nil {
			t.Fatal(err)
		}
		return data
	}
	a := upload(up0, "tweets-p0-000000000000.jsonl.zst", 0, 3, h17, "a", "b", "c")
	b := upload(up1, "tweets-p1-000000000000.jsonl.zst", 0, 2, h17, "d")
	kafka := &kafkaEnds{start: []int64{0, 0}, end: []int64{5, 2}}
	now := h18.Add(30 * time.Minute)
	cfg := manifest.Config{Topics: []string{"tweets"}, Grace: 2 * time.Minute, Now: func() time.Time { return now }}
	fin, err := manifest.NewBucket(cfg, s, kafka, nil)
	if err != nil {
		t.Fatal(err)
	}
	pass := func(f *manifest.BucketFinalizer) []string {
		t.Helper()
		written, err := f.Pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return written
	}
	// Partition 0's last upload is of 17 and Kafka holds two more records
	// for it: 17 may get another object.
	if got := pass(fin); len(got) != 0 {
		t.Fatalf("manifests written while partition 0 may still upload into 17: %q", got)
	}
	upload(up0, "tweets-p0-000000000003.jsonl.zst", 3, 5, h18, "e", "f")
	key := s.cfg.ManifestKey("tweets", h17)
	if !strings.HasSuffix(key, "/tweets/dt=2026-11-26/hr=17/_manifest.json") {
		t.Fatalf("manifest key %s; want it in the hive hour folder", key)
	}
	if got := pass(fin); len(got) != 1 || got[0] != key {
		t.Fatalf("manifests written = %q; want only %s (18 is partition 0's open hour)", got, key)
	}
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	want := manifest.Manifest{Version: 1, Topic: "tweets", Hour: h17, Lines: 4, Bytes: int64(len(a) + len(b)), Files: []manifest.File{
		{Name: "tweets-p0-00000000000000000000.jsonl.zst", Partition: 0, FirstOffset: 0, LastOffset: 2, Lines: 3, Bytes: int64(len(a)), SHA256: sum(a)},
		{Name: "tweets-p1-00000000000000000000.jsonl.zst", Partition: 1, FirstOffset: 0, LastOffset: 1, Lines: 1, Bytes: int64(len(b)), SHA256: sum(b)},
	}}
	readManifest := func() ([]byte, manifest.Manifest) {
		t.Helper()
		data, _, err := s.Manifest(ctx, "tweets", h17)
		if err != nil || data == nil {
			t.Fatalf("reading %s: %v (found %v)", key, err, data != nil)
		}
		var m manifest.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		return data, m
	}
	first, got := readManifest()
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("manifest of 17:\n%s\nwant\n%s", g, w)
	}

	// Another host's finalizer, from the bucket alone: nothing to write.
	other, err := manifest.NewBucket(cfg, s, kafka, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := pass(other); len(got) != 0 {
		t.Fatalf("a second consumer wrote %q over a current manifest", got)
	}
	if again, _ := readManifest(); !bytes.Equal(again, first) {
		t.Fatalf("the manifest changed:\n%s\nwas\n%s", again, first)
	}

	// A late record of 17 at partition 1's next offset: its object goes in
	// 17, and 17's manifest is written again, by either host.
	kafka.end[1] = 3
	late := upload(up1, "tweets-p1-000000000002.jsonl.zst", 2, 3, h17, "g")
	if got := pass(other); len(got) != 1 || got[0] != key {
		t.Fatalf("after a late object: manifests written = %q; want %s", got, key)
	}
	if got := pass(fin); len(got) != 0 {
		t.Fatalf("the first consumer wrote %q over the current manifest", got)
	}
	_, got = readManifest()
	want.Files = append(want.Files, manifest.File{Name: "tweets-p1-00000000000000000002.jsonl.zst", Partition: 1, FirstOffset: 2,
		LastOffset: 2, Lines: 1, Bytes: int64(len(late)), SHA256: sum(late)})
	want.Lines, want.Bytes = 5, want.Bytes+int64(len(late))
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("manifest of 17 after the late object:\n%s\nwant\n%s", g, w)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
