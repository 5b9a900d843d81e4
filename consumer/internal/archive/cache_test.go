package archive

import (
	"os"
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

// TestDropsEachBatchOnceFsynced: by default each batch's bytes leave the
// page cache once written and fsynced, the batch's range exactly.
func TestDropsEachBatchOnceFsynced(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir}), "tweets", 0)
	got := recordDrops(t, p)
	first := int64(len(value(0)) + len(value(1)) + 2)
	second := int64(len(value(2)) + len(value(3)) + len(value(4)) + 3)
	mustAppend(t, p, recs(0, 1, t0()))
	mustAppend(t, p, recs(2, 4, t0()))
	want := []dropped{{0, first, first}, {first, second, first + second}}
	if len(*got) != len(want) {
		t.Fatalf("drops: got %v; want %v", *got, want)
	}
	for i := range want {
		if (*got)[i] != want[i] {
			t.Errorf("drop %d: got %+v; want %+v", i, (*got)[i], want[i])
		}
	}
}

// TestKeepPageCache: OUTPUT_PAGE_CACHE=keep drops nothing.
func TestKeepPageCache(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, testArchive(t, Config{Dir: dir, KeepPageCache: true}), "tweets", 0)
	got := recordDrops(t, p)
	mustAppend(t, p, recs(0, 4, t0()))
	if len(*got) != 0 {
		t.Errorf("drops with KeepPageCache: got %v; want none", *got)
	}
}
