package archive

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDataPath(t *testing.T) {
	tests := []struct {
		name      string
		topic     string
		partition int
		offset    int64
		time      time.Time
		want      string
	}{
		{
			name: "padded offset, UTC hour", topic: "tweets", partition: 3, offset: 42,
			time: time.Date(2024, 3, 9, 7, 59, 59, 999, time.UTC),
			want: "tweets/2024-03-09/07/tweets-p3-000000000042.jsonl",
		},
		{
			name: "offset zero", topic: "t", partition: 0, offset: 0,
			time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			want: "t/2024-01-01/00/t-p0-000000000000.jsonl",
		},
		{
			name: "offset wider than 12 digits is not cut", topic: "t", partition: 12, offset: 1234567890123,
			time: time.Date(2024, 1, 1, 23, 0, 0, 0, time.UTC),
			want: "t/2024-01-01/23/t-p12-1234567890123.jsonl",
		},
		{
			name: "other zone converted to UTC, crossing the date", topic: "tweets", partition: 1, offset: 7,
			time: time.Date(2024, 3, 10, 1, 30, 0, 0, time.FixedZone("CET", 2*3600)),
			want: "tweets/2024-03-09/23/tweets-p1-000000000007.jsonl",
		},
		{
			name: "dots and dashes in the topic", topic: "my.tweets-v2", partition: 0, offset: 1,
			time: time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC),
			want: "my.tweets-v2/2024-12-31/12/my.tweets-v2-p0-000000000001.jsonl",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DataPath(tt.topic, tt.partition, tt.offset, tt.time); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestStatePaths(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"dead letters", DeadLetterPath("tweets", 3, 42), "_deadletter/tweets/tweets-p3-000000000042.jsonl"},
		{"checkpoint", checkpointPath("tweets", 3), "_state/tweets-3.json"},
		{"lock", lockPath("tweets", 3), "_state/tweets-3.lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q; want %q", tt.got, tt.want)
			}
		})
	}
}

func TestCheckTopic(t *testing.T) {
	tests := []struct {
		topic   string
		wantErr string // "" for valid
	}{
		{"tweets", ""},
		{"My_Topic.v2-x", ""},
		{strings.Repeat("a", 249), ""},
		{"", "empty"},
		{strings.Repeat("a", 250), "longer than 249"},
		{".", "not allowed"},
		{"..", "not allowed"},
		{"_state", "collides"},
		{"_deadletter", "collides"},
		{"a/b", "character"},
		{"../etc", "character"},
		{"a b", "character"},
		{"tweets\n", "character"},
		{"twééts", "character"},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			err := checkTopic(tt.topic)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLayoutPaths(t *testing.T) {
	at := time.Date(2024, 3, 10, 1, 30, 0, 0, time.FixedZone("CET", 2*3600)) // 2024-03-09 23:30 UTC
	tests := []struct {
		layout  Layout
		hourDir string
		path    string
	}{
		{LayoutDated, "tweets/2024-03-09/23", "tweets/2024-03-09/23/tweets-p3-000000000042.jsonl"},
		{LayoutHive, "tweets/dt=2024-03-09/hr=23", "tweets/dt=2024-03-09/hr=23/tweets-p3-000000000042.jsonl"},
	}
	for _, tt := range tests {
		t.Run(string(tt.layout), func(t *testing.T) {
			if got := tt.layout.HourDir("tweets", at); got != tt.hourDir {
				t.Errorf("HourDir: got %q; want %q", got, tt.hourDir)
			}
			if got := tt.layout.DataPath("tweets", 3, 42, at); got != tt.path {
				t.Errorf("DataPath: got %q; want %q", got, tt.path)
			}
			date, hour := filepath.Split(tt.hourDir)
			date = filepath.Base(date)
			got, ok := tt.layout.ParseHour(date, hour)
			if want := at.UTC().Truncate(time.Hour); !ok || !got.Equal(want) {
				t.Errorf("ParseHour(%q, %q): got %s, %v; want %s, true", date, hour, got, ok, want)
			}
		})
	}
	if got := DataPath("tweets", 3, 42, at); got != LayoutDated.DataPath("tweets", 3, 42, at) {
		t.Errorf("DataPath: got %q; want the dated layout's", got)
	}
}

func TestParseHourRefusesOtherFolders(t *testing.T) {
	tests := []struct {
		layout      Layout
		date, hour  string
		wantOK      bool
		description string
	}{
		{LayoutDated, "2024-03-09", "07", true, "dated"},
		{LayoutDated, "dt=2024-03-09", "hr=07", false, "hive folders in the dated layout"},
		{LayoutHive, "2024-03-09", "07", false, "dated folders in the hive layout"},
		{LayoutHive, "dt=2024-03-09", "hr=07", true, "hive"},
		{LayoutDated, "2024-03-09", "24", false, "hour 24"},
		{LayoutDated, "2024-3-9", "07", false, "short date"},
		{LayoutDated, "2024-03-09", "7", false, "short hour"},
		{LayoutHive, "dt=2024-03-09", "hr=7x", false, "not a number"},
		{LayoutDated, "_state", "07", false, "state folder"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			if _, ok := tt.layout.ParseHour(tt.date, tt.hour); ok != tt.wantOK {
				t.Errorf("ParseHour(%q, %q) in %s: got %v; want %v", tt.date, tt.hour, tt.layout, ok, tt.wantOK)
			}
		})
	}
}

func TestParseDataFile(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		want DataFile
	}{
		{"tweets-p3-000000000042.jsonl", true, DataFile{Partition: 3, FirstOffset: 42}},
		{"tweets-p0-000000000000.jsonl.gz", true, DataFile{Partition: 0, FirstOffset: 0, Compression: CompressionGzip}},
		{"tweets-p12-1234567890123.jsonl.zst", true, DataFile{Partition: 12, FirstOffset: 1234567890123, Compression: CompressionZstd}},
		{"tweets-p3-000000000042.jsonl.gz.tmp", false, DataFile{}},
		{"tweets-p3-42.jsonl", false, DataFile{}},
		{"tweets-p03-000000000042.jsonl", false, DataFile{}},
		{"tweets-px-000000000042.jsonl", false, DataFile{}},
		{"tweets.control-p3-000000000042.jsonl", false, DataFile{}},
		{"_manifest.json", false, DataFile{}},
		{"tweets-p3-000000000042.jsonl.bz2", false, DataFile{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseDataFile("tweets", tt.name)
			if ok != tt.ok {
				t.Fatalf("ok: got %v; want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			tt.want.Name = tt.name
			if got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

// TestHiveLayoutWritesRotatesAndRecovers: with the hive layout, files land
// in dt=/hr= folders, rotate and compress there, and a reopened partition
// goes on appending to its active file.
func TestHiveLayoutWritesRotatesAndRecovers(t *testing.T) {
	clk := newClock(t0())
	a := testArchive(t, Config{Layout: LayoutHive, Compression: CompressionGzip, Now: clk.Now})
	p, err := a.Partition(context.Background(), "tweets", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p, recs(0, 2, t0()))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPartition(t, a, "tweets", 0)
	mustAppend(t, p, recs(3, 4, t0()))
	mustAppend(t, p, recs(5, 5, t0().Add(time.Hour))) // rotates the first file
	if res := mustAppend(t, p, []Record{{Offset: 6, Time: t0().Add(time.Hour), Value: []byte("not json")}}); res.DeadLettered != 1 {
		t.Fatalf("Append of a bad value: %+v; want it dead-lettered", res)
	}
	if _, err := os.Stat(filepath.Join(a.cfg.Dir, DeadLetterPath("tweets", 0, 6))); err != nil {
		t.Errorf("dead letters: %v; want them where the dated layout has them", err)
	}
	want := []string{
		"tweets/dt=2024-03-09/hr=10/tweets-p0-000000000000.jsonl.gz",
		"tweets/dt=2024-03-09/hr=11/tweets-p0-000000000005.jsonl",
	}
	if got := dataFiles(t, a.cfg.Dir, "tweets"); !slices.Equal(got, want) {
		t.Fatalf("files: got %v; want %v", got, want)
	}
	if got, want := readLines(t, filepath.Join(a.cfg.Dir, want[0])), values(0, 4); !slices.Equal(got, want) {
		t.Errorf("rotated file: got %v; want %v", got, want)
	}
	pos, err := ReadPosition(a.cfg.Dir, "tweets", 0)
	if err != nil {
		t.Fatal(err)
	}
	if wantPos := (Position{Known: true, NextOffset: 7, Active: want[1], ActiveHour: t0().Add(time.Hour).Truncate(time.Hour)}); pos != wantPos {
		t.Errorf("ReadPosition: got %+v; want %+v", pos, wantPos)
	}
	hours, err := Hours(a.cfg.Dir, "tweets", LayoutHive)
	if err != nil {
		t.Fatal(err)
	}
	if wantHours := []time.Time{t0().Truncate(time.Hour), t0().Add(time.Hour).Truncate(time.Hour)}; !slices.EqualFunc(hours, wantHours, time.Time.Equal) {
		t.Errorf("Hours: got %v; want %v", hours, wantHours)
	}
}

// TestLayoutChangeRefused: a folder written in one layout is not opened in
// the other, whether it recorded its layout or predates the record.
func TestLayoutChangeRefused(t *testing.T) {
	t.Run("recorded", func(t *testing.T) {
		dir := t.TempDir()
		testArchive(t, Config{Dir: dir, Layout: LayoutHive})
		_, err := Open(Config{Dir: dir, Layout: LayoutDated}, nil)
		if err == nil || !strings.Contains(err.Error(), "OUTPUT_LAYOUT=dated") || !strings.Contains(err.Error(), "hive layout") {
			t.Fatalf("Open in the dated layout: got %v; want an error naming OUTPUT_LAYOUT=dated and the hive layout", err)
		}
		testArchive(t, Config{Dir: dir, Layout: LayoutHive}) // the same layout opens again
	})
	t.Run("folder from before the setting", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "tweets", "2024-03-09", "10"), 0o750); err != nil {
			t.Fatal(err)
		}
		_, err := Open(Config{Dir: dir, Layout: LayoutHive}, nil)
		if err == nil || !strings.Contains(err.Error(), "OUTPUT_LAYOUT=hive") || !strings.Contains(err.Error(), "dated layout") {
			t.Fatalf("Open in the hive layout: got %v; want an error naming OUTPUT_LAYOUT=hive and the dated layout", err)
		}
		testArchive(t, Config{Dir: dir}) // the default is the old layout
		data, err := os.ReadFile(filepath.Join(dir, stateDirName, layoutFile))
		if err != nil || string(data) != "dated\n" {
			t.Errorf("_state/layout: got %q, %v; want \"dated\\n\"", data, err)
		}
	})
	t.Run("unknown layout", func(t *testing.T) {
		_, err := Open(Config{Dir: t.TempDir(), Layout: "flat"}, nil)
		if err == nil || !strings.Contains(err.Error(), `"flat"`) {
			t.Fatalf("got %v; want an error naming the layout", err)
		}
	})
}

// TestConcurrentOpensRecordOneLayout: consumers started together on a
// fresh folder all open it, each recording the same layout; none fails on
// another's temporary file.
func TestConcurrentOpensRecordOneLayout(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		errs := make([]error, 16)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = Open(Config{Dir: dir, Layout: LayoutHive}, nil)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, Open %d of %d at once: %v", round, i, len(errs), err)
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, stateDirName, layoutFile))
		if err != nil || string(data) != "hive\n" {
			t.Fatalf("_state/layout: got %q, %v; want \"hive\\n\"", data, err)
		}
		entries, err := os.ReadDir(filepath.Join(dir, stateDirName))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("temporary file left in _state: %s", e.Name())
			}
		}
	}
}

// TestTopicTooLongForFileNamesRefused: a topic Kafka accepts (up to 249
// characters) but whose files' names would pass NAME_MAX (255 bytes) is
// refused when its partition is opened, naming the longest that fits,
// not left to fail at every try with "file name too long".
func TestTopicTooLongForFileNamesRefused(t *testing.T) {
	a := testArchive(t, Config{Compression: CompressionZstd})
	_, err := a.Partition(context.Background(), strings.Repeat("a", 240), 0)
	if err == nil || !strings.Contains(err.Error(), "at most 209 characters") {
		t.Fatalf("opening a partition of a 240-character topic: %v; want an error naming 209 characters", err)
	}
}

// TestLongestTopicFitsEveryFileName: a topic of MaxTopicLen characters
// gets every file the archive makes for its partition with the largest
// number, at offsets near the largest: data files compressed at rotation,
// dead letters, dedup keys, the checkpoint and the lock. One character
// more and the longest of those names passes 255 bytes.
func TestLongestTopicFitsEveryFileName(t *testing.T) {
	topic := strings.Repeat("t", MaxTopicLen)
	clk := newClock(t0())
	dir := t.TempDir()
	a := testArchive(t, Config{Dir: dir, Compression: CompressionZstd, DedupWindow: 2, RotateInterval: time.Minute, Now: clk.Now})
	p, err := a.Partition(context.Background(), topic, math.MaxInt32)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first := int64(math.MaxInt64 - 100)
	var rs []Record
	for o := first; o < first+5; o++ {
		rs = append(rs, Record{Offset: o, Time: t0(), Value: []byte(value(o)), Key: fmt.Appendf(nil, "k%d", o), Dedup: true})
	}
	rs = append(rs, Record{Offset: first + 5, Time: t0(), Value: []byte("not json")})
	mustAppend(t, p, rs)
	clk.Set(t0().Add(2 * time.Minute))
	if err := p.Tick(); err != nil {
		t.Fatalf("rotating and compressing: %v", err)
	}
	for _, pattern := range []string{
		filepath.Join(dir, topic, "*", "*", topic+"-p2147483647-9223372036854775707.jsonl.zst"),
		filepath.Join(dir, "_deadletter", topic, topic+"-p2147483647-9223372036854775712.jsonl"),
		filepath.Join(dir, "_state", topic+"-2147483647.keys.*"),
		filepath.Join(dir, "_state", topic+"-2147483647.checkpoint"),
	} {
		if matches, _ := filepath.Glob(pattern); len(matches) == 0 {
			t.Errorf("no file %s", filepath.Base(pattern))
		}
	}
	for _, name := range longestNames(topic) {
		if len(name) > nameMax {
			t.Errorf("%d bytes: %s", len(name), name)
		}
	}
	longest := 0
	for _, name := range longestNames(topic + "t") {
		longest = max(longest, len(name))
	}
	if longest != nameMax+1 {
		t.Errorf("with one more character the longest name has %d bytes; want %d", longest, nameMax+1)
	}
}
