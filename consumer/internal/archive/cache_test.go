package archive

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// dropped is one call of Partition.dropPages.
type dropped struct {
	off, n, fileSize int64
}

// recordDrops makes p record its page-cache drops, with the size of the
// file on disk at each.
func recordDrops(t *testing.T, p *Partition) *[]dropped {
	var got []dropped
	p.dropPages = func(f *os.File, off, n int64) {
		fi, err := f.Stat()
		if err != nil {
			t.Error(err)
			return
		}
		got = append(got, dropped{off, n, fi.Size()})
	}
	return &got
}

// bigRecs returns records for offsets from..to inclusive whose lines are
// size bytes each, newline included.
func bigRecs(from, to int64, size int) []Record {
	var rs []Record
	for o := from; o <= to; o++ {
		v := fmt.Sprintf(`{"n":%d,"pad":"`, o)
		v += strings.Repeat("x", size-len(v)-3) + `"}`
		rs = append(rs, Record{Offset: o, Time: t0(), Value: []byte(v)})
	}
	return rs
}

// TestDropsEachBatchOnceFsynced: with DropPageCache each batch's whole pages leave
// the page cache once written and fsynced; the partly written page at the
// end stays for the next batch, and goes with it.
func TestDropsEachBatchOnceFsynced(t *testing.T) {
	page := int64(os.Getpagesize())
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir, DropPageCache: true}), "tweets", 0)
	got := recordDrops(t, p)
	const line = 1000
	mustAppend(t, p, bigRecs(0, 2, line))   // 3,000 bytes: no whole page of 4 KiB
	mustAppend(t, p, bigRecs(3, 11, line))  // to 12,000: the whole pages up to 8,192 go
	mustAppend(t, p, bigRecs(12, 12, line)) // to 13,000: the page from 8,192, now whole, goes
	want := []dropped{{0, 8192, 12000}, {8192, 4096, 13000}}
	if page != 4096 {
		// Each batch from the start of the page holding its first byte
		// to the start of the page holding its end.
		want = nil
		for _, b := range [][2]int64{{0, 3 * line}, {3 * line, 12 * line}, {12 * line, 13 * line}} {
			if from, to := b[0]-b[0]%page, b[1]-b[1]%page; to > from {
				want = append(want, dropped{from, to - from, b[1]})
			}
		}
	}
	if len(*got) != len(want) {
		t.Fatalf("drops: got %+v; want %+v (page %d)", *got, want, page)
	}
	for i := range want {
		if (*got)[i] != want[i] {
			t.Errorf("drop %d: got %+v; want %+v (page %d)", i, (*got)[i], want[i], page)
		}
	}
	if lines := allLines(t, dir, "tweets"); len(lines) != 13 {
		t.Errorf("lines: got %d; want 13", len(lines))
	}
}

// TestStagingFilesKeepTheirPages: with an uploader (OUTPUT_URL=s3://...)
// DropPageCache is set aside: the staging files are read back whole for
// their upload, then removed.
func TestStagingFilesKeepTheirPages(t *testing.T) {
	a := testArchive(t, Config{Uploader: newMemBucket(), DropPageCache: true})
	p := openPartition(t, a, "tweets", 0)
	got := recordDrops(t, p)
	mustAppend(t, p, bigRecs(0, 11, 1000))
	mustAppend(t, p, bigRecs(12, 23, 1000))
	if len(*got) != 0 {
		t.Errorf("drops in a staging folder: got %+v; want none", *got)
	}
}

// TestKeepPageCache: without Config.DropPageCache (OUTPUT_PAGE_CACHE=keep)
// nothing is dropped.
func TestKeepPageCache(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir}), "tweets", 0)
	got := recordDrops(t, p)
	mustAppend(t, p, bigRecs(0, 11, 1000)) // 12,000 bytes: whole pages DropPageCache would drop
	if len(*got) != 0 {
		t.Errorf("drops with keep: got %v; want none", *got)
	}
}
