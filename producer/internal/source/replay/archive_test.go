package replay

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMemberTime(t *testing.T) {
	tests := []struct {
		name string
		want string // RFC 3339, "" for not in the layout
	}{
		{"2018/03/10/14/03.json.bz2", "2018-03-10T14:03:00Z"},
		{"2021/01/31/23/59.json.gz", "2021-01-31T23:59:00Z"},
		{"archiveteam-twitter-stream-2018-03/2018/03/10/14/03.json.bz2", "2018-03-10T14:03:00Z"},
		{"./2012/02/29/00/00.json", "2012-02-29T00:00:00Z"},
		{"2018/03/10/14/03.jsonl.zst", "2018-03-10T14:03:00Z"},
		{`2018\03\10\14\03.json.bz2`, "2018-03-10T14:03:00Z"},
		{"2018/03/10/14/3.json.bz2", ""},    // minute not two digits
		{"2018/02/30/14/03.json.bz2", ""},   // no such day
		{"2018/03/10/24/00.json.bz2", ""},   // no such hour
		{"2018/13/10/14/03.json.bz2", ""},   // no such month
		{"2018/03/10/14/03.txt", ""},        // not a stream file
		{"03/10/14/03.json.bz2", ""},        // too few parts
		{"2018/03/10/14/0x.json.bz2", ""},   // not digits
		{"2018/03/10/14/+3.json.bz2", ""},   // not digits either
		{"tweets-2018-03-10.json.gz", ""},   // another layout
		{"2018/03/10/14/03.json.bz2.1", ""}, // a copy
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := memberTime(tt.name)
			switch {
			case tt.want == "" && ok:
				t.Fatalf("got %s; want not in the layout", got)
			case tt.want == "":
			case !ok:
				t.Fatalf("got not in the layout; want %s", tt.want)
			case got.Format(time.RFC3339) != tt.want:
				t.Fatalf("got %s; want %s", got.Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestMemberOrder(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{
			"by minute, hour and day, not by name",
			[]string{"2018/03/10/15/00.json.bz2", "2018/03/09/23/59.json.bz2", "2018/03/10/14/59.json.bz2"},
			[]string{"2018/03/09/23/59.json.bz2", "2018/03/10/14/59.json.bz2", "2018/03/10/15/00.json.bz2"},
		},
		{
			"top-level folders do not change the order",
			[]string{"b/2018/03/10/14/01.json.bz2", "a/2018/03/10/14/02.json.bz2", "c/2018/03/10/14/00.json.bz2"},
			[]string{"c/2018/03/10/14/00.json.bz2", "b/2018/03/10/14/01.json.bz2", "a/2018/03/10/14/02.json.bz2"},
		},
		{
			"the same minute twice: by name",
			[]string{"x/2018/03/10/14/00.json.gz", "x/2018/03/10/14/00.json.bz2"},
			[]string{"x/2018/03/10/14/00.json.bz2", "x/2018/03/10/14/00.json.gz"},
		},
		{
			"names outside the layout last, by name",
			[]string{"extra/b.json", "2018/03/10/14/00.json.bz2", "extra/a.json", "2010/04/19/17/52.json.gz"},
			[]string{"2010/04/19/17/52.json.gz", "2018/03/10/14/00.json.bz2", "extra/a.json", "extra/b.json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := make([]member, len(tt.in))
			for i, n := range tt.in {
				ms[i] = member{name: n}
			}
			sortMembers(ms)
			var got []string
			for _, m := range ms {
				got = append(got, m.name)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestMemberNames(t *testing.T) {
	for name, want := range map[string]bool{
		"2018/03/10/14/03.json.bz2":            true,
		"x/2018/03/10/14/03.json.gz":           true,
		"README.txt":                           false,
		"2018/03/10/14/._03.json.bz2":          false,
		"__MACOSX/2018/03/10/14/03.json.bz2":   false,
		"2018/03/10/14/03.json.bz2.md5":        false,
		"archiveteam-twitter-stream-2018-03/2": false,
	} {
		if got := isMemberName(name); got != want {
			t.Errorf("isMemberName(%q) = %v; want %v", name, got, want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]kind{
		"archiveteam-twitter-stream-2018-03.tar": tarArchive,
		"twitter-stream-2011-09-27.zip":          zipArchive,
		"grab.tar.gz":                            tgzArchive,
		"grab.tgz":                               tgzArchive,
		"tweets.json.gz":                         plainFile,
		"tweets.jsonl":                           plainFile,
	} {
		if got := kindOf(name); got != want {
			t.Errorf("kindOf(%q) = %v; want %v", name, got, want)
		}
	}
}

// TestFilesTakesArchives: directories and globs list archives beside stream
// files, in name order.
func TestFilesTakesArchives(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"2018-03.tar", "2018-04.tar.gz", "2018-05.tgz", "2011-09.zip", "extra.json", "notes.txt", "x.tar.bz2"} {
		write(t, filepath.Join(dir, n), nil)
	}
	want := []string{"2011-09.zip", "2018-03.tar", "2018-04.tar.gz", "2018-05.tgz", "extra.json"}
	for _, path := range []string{dir, filepath.Join(dir, "*")} {
		got, err := Files(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i], _ = filepath.Rel(dir, got[i])
		}
		if !slices.Equal(got, want) {
			t.Errorf("Files(%s) = %v; want %v", path, got, want)
		}
	}
	if _, err := Files(filepath.Join(dir, "*.rar")); err == nil || !strings.Contains(err.Error(), "archives") {
		t.Errorf("err = %v; want one naming the archives accepted", err)
	}
}

// TestListTarReadsHeadersOnly: the tar index notes where each member's data
// starts and sorts the members; reading there gives the member's bytes.
func TestListTarReadsHeadersOnly(t *testing.T) {
	eachGrab(t, func(t *testing.T, g grab) {
		members := g.members
		path := filepath.Join(t.TempDir(), "grab.tar")
		tarFile(t, path, "top/", members, shuffled)
		ms, err := listTar(path, fileSize(t, path))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != len(members) {
			t.Fatalf("listed %d members; want %d", len(ms), len(members))
		}
		data := readFile(t, path)
		for i, m := range ms {
			if m.name != "top/"+members[i].name {
				t.Errorf("member %d = %s; want top/%s", i, m.name, members[i].name)
			}
			if got := data[m.offset : m.offset+m.size]; string(got) != string(members[i].data) {
				t.Errorf("member %s: the bytes at offset %d are not its data", m.name, m.offset)
			}
		}
	})
}
