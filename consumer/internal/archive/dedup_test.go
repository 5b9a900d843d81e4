package archive

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keyed returns records at offsets from.. with the given keys, marked Dedup.
func keyed(from int64, keys ...string) []Record {
	var rs []Record
	for i, k := range keys {
		o := from + int64(i)
		r := Record{Offset: o, Time: t0(), Value: []byte(fmt.Sprintf(`{"id":%q,"o":%d}`, k, o)), Dedup: true}
		if k != "" {
			r.Key = []byte(k)
		}
		rs = append(rs, r)
	}
	return rs
}

func ids(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, l := range allLines(t, dir, "tweets") {
		var id string
		var o int
		if _, err := fmt.Sscanf(l, `{"id":%q,"o":%d}`, &id, &o); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, id)
	}
	return out
}

func TestDedupDropsRepeatedKeys(t *testing.T) {
	a := testArchive(t, Config{DedupWindow: 100})
	p := openPartition(t, a, "tweets", 0)

	res := mustAppend(t, p, keyed(0, "a", "b", "a", "c"))
	if res.Written != 3 || res.Duplicates != 1 {
		t.Fatalf("first batch: written %d duplicates %d; want 3 and 1", res.Written, res.Duplicates)
	}
	res = mustAppend(t, p, keyed(4, "b", "d", ""))
	if res.Written != 2 || res.Duplicates != 1 {
		t.Fatalf("second batch: written %d duplicates %d; want 2 (d and the keyless one) and 1", res.Written, res.Duplicates)
	}
	// Not marked Dedup (a control message, a foreign producer): kept.
	rs := keyed(7, "a")
	rs[0].Dedup = false
	if res := mustAppend(t, p, rs); res.Written != 1 {
		t.Fatalf("unmarked record: written %d; want 1", res.Written)
	}
	if p.NextOffset() != 8 {
		t.Fatalf("NextOffset = %d; want 8 (duplicates are consumed too)", p.NextOffset())
	}
	if got, want := ids(t, a.cfg.Dir), []string{"a", "b", "c", "d", "", "a"}; !slices.Equal(got, want) {
		t.Fatalf("archived ids %q; want %q", got, want)
	}
}

func TestDedupOff(t *testing.T) {
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir})
	p := openPartition(t, a, "tweets", 0)
	if res := mustAppend(t, p, keyed(0, "a", "a")); res.Written != 2 || res.Duplicates != 0 {
		t.Fatalf("written %d duplicates %d; want 2 and 0 with DedupWindow 0", res.Written, res.Duplicates)
	}
	mustAppend(t, p, keyed(2, "b"))
	// No window, so no key file generations either (a shift per commit
	// once cost a second checkpoint for every batch).
	if p.ckpt.KeysGen != 0 {
		t.Errorf("checkpoint key generation %d; want 0 with DedupWindow 0", p.ckpt.KeysGen)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "_state", "tweets-0.keys.*")); len(files) != 0 {
		t.Errorf("key files %v; want none with DedupWindow 0", files)
	}
}

// TestDedupSurvivesRestart: the window is persisted with the checkpoint.
func TestDedupSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: 100})
	p, err := a.Partition(t.Context(), "tweets", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p, keyed(0, "a", "b"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := openPartition(t, testArchive(t, Config{Dir: dir, DedupWindow: 100}), "tweets", 0)
	res := mustAppend(t, p2, keyed(2, "b", "c", "a"))
	if res.Written != 1 || res.Duplicates != 2 {
		t.Fatalf("after restart: written %d duplicates %d; want 1 and 2", res.Written, res.Duplicates)
	}
}

// TestDedupGenerations: the window holds between DedupWindow and twice as
// many keys, in at most two key files.
func TestDedupGenerations(t *testing.T) {
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: 3})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, keyed(0, "k0", "k1", "k2", "k3", "k4", "k5", "k6"))
	// Generations: {k0 k1 k2} {k3 k4 k5} {k6}: k0-k2 have left the window.
	files, _ := filepath.Glob(filepath.Join(dir, "_state", "tweets-0.keys.*"))
	if len(files) != 2 {
		t.Fatalf("key files %v; want 2 generations", files)
	}
	res := mustAppend(t, p, keyed(7, "k0", "k3", "k5", "k6"))
	if res.Written != 1 || res.Duplicates != 3 {
		t.Fatalf("written %d duplicates %d; want k0 written again and k3, k5, k6 dropped", res.Written, res.Duplicates)
	}
	// The same holds after a restart.
	p.Close()
	p2 := openPartition(t, testArchive(t, Config{Dir: dir, DedupWindow: 3}), "tweets", 0)
	res = mustAppend(t, p2, keyed(11, "k4", "k5", "k6", "k0", "k1"))
	if res.Duplicates != 4 || res.Written != 1 {
		t.Fatalf("after restart: written %d duplicates %d; want k1 written and k4, k5, k6, k0 dropped", res.Written, res.Duplicates)
	}
}

// TestDedupKeyFileLeftBehind: the checkpoint was moved away (to start the
// partition afresh, as after a topic was created again) and the key files
// were left. A generation's file that the new checkpoint counts no byte of
// is emptied when the generation starts, so after a restart the window
// holds the new keys, not the old ones: a copy of a new status is dropped,
// and a status whose key only the old files held is written.
func TestDedupKeyFileLeftBehind(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, DedupWindow: 3}
	p := openPartition(t, testArchive(t, cfg), "tweets", 0)
	mustAppend(t, p, keyed(0, "old0", "old1", "old2", "old3", "old4", "old5", "old6"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Generations 1 {old3 old4 old5} and 2 {old6} stay.
	if err := os.Remove(filepath.Join(dir, slotsPath("tweets", 0))); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "tweets")); err != nil {
		t.Fatal(err)
	}

	p = openPartition(t, testArchive(t, cfg), "tweets", 0)
	mustAppend(t, p, keyed(0, "new0", "new1", "new2", "new3")) // generations 0 and 1
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPartition(t, testArchive(t, cfg), "tweets", 0)
	res := mustAppend(t, p, keyed(4, "new3", "old3"))
	if res.Written != 1 || res.Duplicates != 1 {
		t.Errorf("after a restart: written %d duplicates %d; want old3 written and new3 dropped", res.Written, res.Duplicates)
	}
	if got, want := ids(t, dir), []string{"new0", "new1", "new2", "new3", "old3"}; !slices.Equal(got, want) {
		t.Errorf("archived ids %q; want %q", got, want)
	}
}

// TestDedupKeyFileLost: a key file removed, moved or cut short (the
// window's files removed after DEDUP_WINDOW=0, as the docs advise) does not
// stop the partition: a WARN names it, the window starts empty at the next
// generation, checkpointed, and keys from then on are kept again, across a
// restart too. The key files are an index, not archived data.
func TestDedupKeyFileLost(t *testing.T) {
	removeKeys := func(gens ...int64) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			for _, g := range gens {
				if err := os.Remove(filepath.Join(dir, keysPath("tweets", 0, g))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, tt := range []struct {
		name    string
		running bool // done while the partition is open
		damage  func(t *testing.T, dir string)
		lost    int64 // the generation the WARN names
	}{
		{"removed while stopped", false, removeKeys(1), 1},
		{"previous generation removed while stopped", false, removeKeys(0), 0},
		{"all removed while stopped", false, removeKeys(0, 1), 0},
		{"cut short while stopped", false, func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, keysPath("tweets", 0, 1)), 5); err != nil { // "d" alone
				t.Fatal(err)
			}
		}, 1},
		{"removed while running", true, removeKeys(1), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, DedupWindow: 3, Now: newClock(t0()).Now}
			p := openPartition(t, testArchive(t, cfg), "tweets", 0)
			mustAppend(t, p, keyed(0, "a", "b", "c", "d", "e")) // generations 0 {a b c} and 1 {d e}
			if !tt.running {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}
			tt.damage(t, dir)
			if tt.running {
				mustAppend(t, p, keyed(5, "f"))
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}

			var log strings.Builder
			a, err := Open(cfg, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			p, err = a.Partition(t.Context(), "tweets", 0)
			if err != nil {
				t.Fatalf("opening the partition with its key file %s: %v", tt.name, err)
			}
			t.Cleanup(func() { p.Close() })
			lost := filepath.Join(dir, keysPath("tweets", 0, tt.lost))
			if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), lost) {
				t.Errorf("log: got %q; want a WARN naming %s", log.String(), lost)
			}
			// The window is empty: copies of keys written before are
			// written again.
			// Two keys, fewer than a generation holds: the new window
			// must last through restarts before it fills one.
			if res := mustAppend(t, p, keyed(p.NextOffset(), "e", "x")); res.Written != 2 || res.Duplicates != 0 {
				t.Errorf("after the loss: written %d duplicates %d; want 2 and 0", res.Written, res.Duplicates)
			}
			for restart := 1; restart <= 2; restart++ {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
				log.Reset()
				p, err = a.Partition(t.Context(), "tweets", 0)
				if err != nil {
					t.Fatal(err)
				}
				if res := mustAppend(t, p, keyed(p.NextOffset(), "x", "e")); res.Written != 0 || res.Duplicates != 2 {
					t.Errorf("restart %d: written %d duplicates %d; want x and e dropped as copies", restart, res.Written, res.Duplicates)
				}
				if strings.Contains(log.String(), "level=WARN") {
					t.Errorf("log at restart %d: got %q; want no WARN", restart, log.String())
				}
			}
		})
	}
}

// TestDedupCrashBeforeCheckpoint: keys fsynced but not checkpointed belong
// to records that were not archived; after recovery those records must be
// written when they come again, not dropped as duplicates.
func TestDedupCrashBeforeCheckpoint(t *testing.T) {
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: 100})
	p, err := a.Partition(t.Context(), "tweets", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p, keyed(0, "a"))
	p.Close()
	// The crash: the key of offset 1 ("b") reached the key file, its
	// checkpoint did not.
	appendBytes(t, filepath.Join(dir, keysPath("tweets", 0, 0)), []byte("Yg==\n"))
	p2 := openPartition(t, testArchive(t, Config{Dir: dir, DedupWindow: 100}), "tweets", 0)
	res := mustAppend(t, p2, keyed(1, "b", "a"))
	if res.Written != 1 || res.Duplicates != 1 {
		t.Fatalf("written %d duplicates %d; want b written and a dropped", res.Written, res.Duplicates)
	}
	if got := ids(t, dir); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("archived ids %q; want [a b]", got)
	}
}

func TestDedupCorruptKeyFileNamesIt(t *testing.T) {
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: 100})
	p, err := a.Partition(t.Context(), "tweets", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p, keyed(0, "a"))
	p.Close()
	path := filepath.Join(dir, keysPath("tweets", 0, 0))
	// As long as the checkpoint counts ("YQ==\n"): a file cut shorter is
	// forgotten, not corrupt (TestDedupKeyFileLost).
	if err := os.WriteFile(path, []byte("!!!!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = testArchive(t, Config{Dir: dir, DedupWindow: 100}).Partition(t.Context(), "tweets", 0)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want one naming %s", err, path)
	}
}

// TestDedupKeyGoesWithItsLine: a record's key reaches the key file only with
// its line. When a write fails (or the process dies) after the checkpoint
// that starts a new data file and before the record's own checkpoint, the
// record comes again and must be written, not dropped as a duplicate: the
// first record of a partition, and the first after an hour rotation.
func TestDedupKeyGoesWithItsLine(t *testing.T) {
	hour11 := time.Date(2024, 3, 9, 11, 5, 0, 0, time.UTC)
	tests := []struct {
		name    string
		before  []Record // appended before the fault
		batch   []Record // fails, then is retried
		blocked string   // the directory the new data file cannot be made in
		want    []string
	}{
		{
			name:    "first record of the partition",
			batch:   keyed(0, "a", "b"),
			blocked: "tweets/2024-03-09/10",
			want:    []string{"a", "b"},
		},
		{
			name:    "first record after an hour rotation",
			before:  keyed(0, "a"),
			batch:   atTime(keyed(1, "b", "c"), hour11),
			blocked: "tweets/2024-03-09/11",
			want:    []string{"a", "b", "c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := openPartition(t, testArchive(t, Config{Dir: dir, DedupWindow: 100}), "tweets", 0)
			if tt.before != nil {
				mustAppend(t, p, tt.before)
			}
			blocked := filepath.Join(dir, tt.blocked)
			if err := os.MkdirAll(filepath.Dir(blocked), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blocked, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Append(tt.batch); err == nil {
				t.Fatalf("Append with %s blocked: got nil error", tt.blocked)
			}
			// A crash here leaves the same files as the failure: a restart
			// must agree with the retry below.
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(blocked); err != nil {
				t.Fatal(err)
			}
			p = openPartition(t, testArchive(t, Config{Dir: dir, DedupWindow: 100}), "tweets", 0)
			res := mustAppend(t, p, tt.batch)
			if res.Duplicates != 0 || res.Written != len(tt.batch) {
				t.Fatalf("retry: written %d duplicates %d; want %d and 0", res.Written, res.Duplicates, len(tt.batch))
			}
			if got := ids(t, dir); !slices.Equal(got, tt.want) {
				t.Fatalf("archived ids %q; want %q", got, tt.want)
			}
		})
	}
}

func atTime(rs []Record, ts time.Time) []Record {
	for i := range rs {
		rs[i].Time = ts
	}
	return rs
}

// TestDedupLongKey: a record with a key of a megabyte is archived, its
// partition reopens, and a copy of it is still dropped; the key file holds a
// digest of such a key, not the key.
func TestDedupLongKey(t *testing.T) {
	long := strings.Repeat("k", 1<<20)
	short := strings.Repeat("s", maxKeyLen)
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: 10})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, keyed(0, long, short))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, keysPath("tweets", 0, 0))); err != nil || fi.Size() > 300 {
		t.Errorf("key file: got %v, error %v; want at most 300 bytes for two keys", fi.Size(), err)
	}

	p = openPartition(t, a, "tweets", 0)
	res := mustAppend(t, p, keyed(2, long, "other", short, long+"x"))
	if res.Written != 2 || res.Duplicates != 2 {
		t.Errorf("Result after a restart: got %+v; want 2 written, 2 duplicates", res)
	}
	if got, want := ids(t, dir), []string{long, short, "other", long + "x"}; !slices.Equal(got, want) {
		t.Errorf("got %d ids; want %d: the long key, the short one, other, and a longer one", len(got), len(want))
	}
}

// TestDedupLongKeysInOneBatch: keys of Jetstream's at:// URIs (about 70
// bytes) are kept as they are; longer ones, and one of exactly 65 bytes
// (the length of a digest, which earlier versions read back as one), as
// their digest, in the partition's array one record after another: two of
// each kind and a copy of each in one batch, the copies dropped, and the
// key file holding each key once, in its form.
func TestDedupLongKeysInOneBatch(t *testing.T) {
	k1 := "at://did:plc:lgaxfjylkwirh5l6nsg2x4gz/app.bsky.feed.post/6azcfwnjnlst6"
	k2 := "at://did:plc:ieldtsfzkvcx57shljaacc5t/app.bsky.feed.like/goxk7y7w4yy6z"
	l1, l2, l3 := strings.Repeat("a", maxKeyLen+1), strings.Repeat("b", 200), strings.Repeat("c", longKeyLen)
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: 10})
	p := openPartition(t, a, "tweets", 0)
	if res := mustAppend(t, p, keyed(0, k1, k2, l1, l2, l3, k1, l1, k2, l3, l2)); res.Written != 5 || res.Duplicates != 5 {
		t.Errorf("Result: got %+v; want 5 written, 5 duplicates", res)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := keyLines(k1, k2) + keyLines(digests(l1, l2, l3)...)
	if got, err := os.ReadFile(filepath.Join(dir, keysPath("tweets", 0, 0))); err != nil || string(got) != want {
		t.Errorf("key file: got %q, error %v; want %q", got, err, want)
	}
}

// keyLines is what a key file holds for keys kept as they are.
func keyLines(keys ...string) string {
	var out string
	for _, k := range keys {
		out += base64.StdEncoding.EncodeToString([]byte(k)) + "\n"
	}
	return out
}

// digests returns the form the window keeps of long keys: the SHA-512
// digest and a '#'.
func digests(keys ...string) []string {
	var out []string
	for _, k := range keys {
		sum := sha512.Sum512([]byte(k))
		out = append(out, string(append(sum[:], '#')))
	}
	return out
}

// TestDedupLongKeysAfterRestart: after a restart whose window holds a
// digest (so keys are looked up in the earlier versions' form too), a long
// key's line is still its digest, not a digest of its digest, and copies
// are dropped after the next restart.
func TestDedupLongKeysAfterRestart(t *testing.T) {
	long1, long2 := strings.Repeat("L", 200), strings.Repeat("M", 200)
	uri := "at://did:plc:lgaxfjylkwirh5l6nsg2x4gz/app.bsky.feed.post/6azcfwnjnlst6"
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: 10})
	for i, k := range []string{long1, long2} {
		p := openPartition(t, a, "tweets", 0)
		mustAppend(t, p, keyed(int64(i), k))
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want := keyLines(digests(long1, long2)...)
	if got, err := os.ReadFile(filepath.Join(dir, keysPath("tweets", 0, 0))); err != nil || string(got) != want {
		t.Errorf("key file: got %q, error %v; want %q", got, err, want)
	}
	p := openPartition(t, a, "tweets", 0)
	if res := mustAppend(t, p, keyed(2, long1, long2, uri, uri)); res.Written != 1 || res.Duplicates != 3 {
		t.Errorf("Result: got %+v; want 1 written, 3 duplicates", res)
	}
}

// TestDedupLongKeyAllocatesNothing: looking a long key up and keeping it
// (once the key file's buffer and the window have room) allocates nothing:
// an at:// URI is kept as it is, a longer key's digest goes into the
// partition's array.
func TestDedupLongKeyAllocatesNothing(t *testing.T) {
	for _, n := range []int{70, 200} {
		a := testArchive(t, Config{DedupWindow: 10})
		p := openPartition(t, a, "tweets", 0)
		r := &keyed(0, strings.Repeat("k", n))[0]
		p.keysBuf = make([]byte, 0, 1024)
		if allocs := testing.AllocsPerRun(100, func() {
			if w := p.windowed(r); !p.isDuplicate(w) {
				p.remember(w)
			}
			p.keysBuf = p.keysBuf[:0]
		}); allocs != 0 {
			t.Errorf("key of %d bytes: got %v allocations a record; want 0", n, allocs)
		}
		if !p.isDuplicate(p.windowed(r)) {
			t.Errorf("key of %d bytes: not kept", n)
		}
	}
}

// TestDedupDigestsOfEarlierVersion: a key file written by a version that
// kept keys of 65 to 128 bytes as their digest still drops copies of them
// after an upgrade: from the current generation's file, then from the
// previous one's after a restart, until its keys have left the window
// (two generations later), when such a key is kept in its own form.
func TestDedupDigestsOfEarlierVersion(t *testing.T) {
	uri := "at://did:plc:lgaxfjylkwirh5l6nsg2x4gz/app.bsky.feed.post/6azcfwnjnlst6"
	dir, a := earlierKeyFile(t, 3, keyLines(digests(uri)...))

	p := openPartition(t, a, "tweets", 0)
	// Generation 0 then holds a, the digest and b: full, generation 1 starts.
	if res := mustAppend(t, p, keyed(1, uri, "a", "b")); res.Written != 1 || res.Duplicates != 2 {
		t.Errorf("Result after the upgrade: got %+v; want 1 written, 2 duplicates", res)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPartition(t, a, "tweets", 0) // the digest in the previous generation's file
	if p.keys.oldDigests != 1 {
		t.Errorf("after a restart with the digest in the previous generation: %d shifts of old digests left; want 1", p.keys.oldDigests)
	}
	if res := mustAppend(t, p, keyed(4, uri)); res.Written != 0 || res.Duplicates != 1 {
		t.Errorf("Result after a restart: got %+v; want 1 duplicate", res)
	}
	// Two generations of 3 keys later the earlier version's keys are gone,
	// and keys are looked up in one form again.
	mustAppend(t, p, keyed(5, "c", "d", "e", "f", "g", "h"))
	if p.keys.oldDigests != 0 {
		t.Errorf("two generations later: %d shifts of old digests left; want 0", p.keys.oldDigests)
	}
	if res := mustAppend(t, p, keyed(11, uri, uri)); res.Written != 1 || res.Duplicates != 1 {
		t.Errorf("Result two generations later: got %+v; want 1 written, 1 duplicate", res)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, keysPath("tweets", 0, 3))); err != nil || !strings.HasSuffix(string(got), keyLines(uri)) {
		t.Errorf("key file of generation 3: got %q, error %v; want it to end with the key as it is", got, err)
	}
}

// TestDedupKeyFileOfEarlierVersion: a key file that holds a long key whole,
// as earlier versions wrote it, is read, and the key still matches.
func TestDedupKeyFileOfEarlierVersion(t *testing.T) {
	long := strings.Repeat("k", 1<<20)
	_, a := earlierKeyFile(t, 10, keyLines(long))

	p := openPartition(t, a, "tweets", 0)
	if res := mustAppend(t, p, keyed(1, long, "a", "b")); res.Written != 1 || res.Duplicates != 2 {
		t.Errorf("Result: got %+v; want 1 written, 2 duplicates", res)
	}
}

// earlierKeyFile returns an archive in a new folder whose tweets-0 wrote
// the record of key "a" (offset 0) and whose key file then holds lines
// too, as an earlier version wrote them, counted in the checkpoint; the
// partition is closed. window is DEDUP_WINDOW.
func earlierKeyFile(t *testing.T, window int, lines string) (string, *Archive) {
	t.Helper()
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, DedupWindow: window})
	p := openPartition(t, a, "tweets", 0)
	mustAppend(t, p, keyed(0, "a"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	appendBytes(t, filepath.Join(dir, keysPath("tweets", 0, 0)), []byte(lines))
	editCheckpoint(t, dir, func(c *checkpoint) { c.KeysSize += int64(len(lines)) })
	return dir, a
}

// TestDedupWindowMemory: the window's memory per key, at the default window
// with both generations full, is what keeps a consumer of many partitions
// within its memory limit (it is held for every partition assigned); and
// copies are still dropped, and keys that left the window kept again.
func TestDedupWindowMemory(t *testing.T) {
	const window, batchSize = 20000, 1000
	a := testArchive(t, Config{DedupWindow: window})
	p := openPartition(t, a, "tweets", 0)
	// Post ids of 19 digits, as the producer keys statuses; 3*window-1 of
	// them: the window then holds the last two generations, all but full.
	rs := make([]Record, 3*window-1)
	for i := range rs {
		rs[i] = Record{Offset: int64(i), Time: t0(), Key: []byte(strconv.FormatInt(1971726741583605760+int64(i), 10)), Value: []byte(`{}`), Dedup: true}
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b := range slices.Chunk(rs, batchSize) {
		mustAppend(t, p, b)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / (2*window - 1)
	t.Logf("%d bytes of heap per key in the window", perKey)
	if perKey > 60 {
		t.Errorf("got %d bytes of heap per key in the window; want at most 60", perKey)
	}

	// The last 2*window-1 keys are copies; then the first generation's are
	// not.
	var again []Record
	for _, r := range slices.Concat(rs[window:], rs[:window]) {
		r.Offset = int64(len(rs) + len(again))
		again = append(again, r)
	}
	res := mustAppend(t, p, again)
	if res.Written != window || res.Duplicates != 2*window-1 {
		t.Errorf("got written %d, duplicates %d; want %d and %d", res.Written, res.Duplicates, window, 2*window-1)
	}
}
