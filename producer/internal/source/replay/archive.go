package replay

import (
	"archive/tar"
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// The Internet Archive's Twitter Stream Grab items (archiveteam-twitter-stream-YYYY-MM)
// are .tar or .zip archives of YYYY/MM/DD/HH/MM.json.bz2 (later .json.gz) files,
// one per minute, sometimes under a top-level folder. Replay reads them in
// place, never unpacking to disk, and replays their members in time order:
//
//   - .zip: the central directory lists every member; they are sorted and each
//     one is opened where it lies.
//   - .tar: a first pass reads only the headers (seeking over the data, so it
//     costs one small read per member, not a read of the archive) and notes
//     where each member's data starts; the members are then sorted and read
//     through an io.SectionReader, in any order. No "already sorted" check is
//     needed and none is relied on.
//   - .tar.gz, .tgz: a compressed tar can only be read front to back. A first
//     pass (one gzip decompression, much cheaper than the bzip2 members inside)
//     lists the members and checks that they are already in time order; if
//     they are not, the replay refuses to start and says to gunzip the archive
//     into a plain .tar, which is read in any order.
//
// Every archive is listed before the first line is sent, so a corrupt or
// truncated archive fails at start and the progress knows the total.

// kind is how an input is read, from its name.
type kind int

const (
	plainFile kind = iota
	tarArchive
	tgzArchive
	zipArchive
)

func kindOf(name string) kind {
	switch {
	case strings.HasSuffix(name, ".tar"):
		return tarArchive
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return tgzArchive
	case strings.HasSuffix(name, ".zip"):
		return zipArchive
	}
	return plainFile
}

func isArchive(name string) bool { return kindOf(name) != plainFile }

// input is one file REPLAY_PATH names: a stream file or an archive.
type input struct {
	path    string
	kind    kind
	size    int64
	members []member // archives: the stream files inside, in replay order
	entries int      // zip: files in the central directory, to notice a change
}

// files counts what the progress calls files: the input itself or its members.
func (in *input) files() int64 {
	if in.kind == plainFile {
		return 1
	}
	return int64(len(in.members))
}

// member is one stream file inside an archive.
type member struct {
	name   string
	size   int64 // bytes stored in the archive
	offset int64 // tar: where its data starts
	index  int   // zip: its place in the central directory
}

// isMemberName keeps the stream files of an archive and leaves out the
// AppleDouble copies macOS adds (._name, __MACOSX/).
func isMemberName(name string) bool {
	if !isStreamFile(name) || strings.Contains(name, "__MACOSX/") {
		return false
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	return !strings.HasPrefix(base, "._")
}

// memberTime reads the minute a Stream Grab member holds from the last five
// parts of its path, YYYY/MM/DD/HH/MM.json[l][.gz|.bz2|.zst]; ok is false for
// any other name.
func memberTime(name string) (t time.Time, ok bool) {
	base := strings.ReplaceAll(name, `\`, "/")
	for _, ext := range []string{".gz", ".bz2", ".zst"} {
		if strings.HasSuffix(base, ext) {
			base = strings.TrimSuffix(base, ext)
			break
		}
	}
	switch {
	case strings.HasSuffix(base, ".json"):
		base = strings.TrimSuffix(base, ".json")
	case strings.HasSuffix(base, ".jsonl"):
		base = strings.TrimSuffix(base, ".jsonl")
	default:
		return time.Time{}, false
	}
	parts := strings.Split(base, "/")
	if len(parts) < 5 {
		return time.Time{}, false
	}
	parts = parts[len(parts)-5:]
	var v [5]int
	for i, width := range [5]int{4, 2, 2, 2, 2} {
		p := parts[i]
		if len(p) != width || strings.Trim(p, "0123456789") != "" {
			return time.Time{}, false
		}
		v[i], _ = strconv.Atoi(p)
	}
	t = time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], 0, 0, time.UTC)
	if int(t.Month()) != v[1] || t.Day() != v[2] || t.Hour() != v[3] || t.Minute() != v[4] {
		return time.Time{}, false // 2018/02/30, 24:00 and the like
	}
	return t, true
}

// compareMembers orders members by the minute their paths name, then by
// name; members outside the layout come after all of those, by name.
func compareMembers(a, b string) int {
	ta, aok := memberTime(a)
	tb, bok := memberTime(b)
	switch {
	case aok && !bok:
		return -1
	case !aok && bok:
		return 1
	}
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func sortMembers(ms []member) {
	slices.SortStableFunc(ms, func(a, b member) int { return compareMembers(a.name, b.name) })
}

// list opens each input REPLAY_PATH names and lists the members of
// archives. With drop (REPLAY_PAGE_CACHE=drop; nil keeps) a .tar.gz's
// listing, which reads the whole file, leaves the page cache as the
// replay's reading does (fileReader), so the replay reads it from the disk
// again; a .tar's, a few header pages, and a .zip's, its central directory
// at the file's end, are left to the replay's drops.
func list(paths []string, drop func(f *os.File, off, n int64)) ([]input, error) {
	inputs := make([]input, 0, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		in := input{path: p, kind: kindOf(p), size: fi.Size()}
		switch in.kind {
		case tarArchive:
			in.members, err = listTar(p, in.size)
		case tgzArchive:
			in.members, err = listTgz(p, drop)
		case zipArchive:
			in.members, in.entries, err = listZip(p)
		}
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, in)
	}
	return inputs, nil
}

// tarMember says whether a header is a stream file to replay.
func tarMember(path string, h *tar.Header) (bool, error) {
	if !isMemberName(h.Name) {
		return false, nil
	}
	sparse := h.Typeflag == tar.TypeGNUSparse
	for k := range h.PAXRecords {
		sparse = sparse || strings.HasPrefix(k, "GNU.sparse.")
	}
	if sparse {
		return false, fmt.Errorf("replay: %s: member %s is a sparse file, which replay does not read", path, h.Name)
	}
	return h.Typeflag == tar.TypeReg, nil
}

// nextHeader is tar.Reader.Next, accepting the names the reader calls
// insecure: nothing is written to disk.
func nextHeader(tr *tar.Reader) (*tar.Header, error) {
	h, err := tr.Next()
	if errors.Is(err, tar.ErrInsecurePath) {
		err = nil
	}
	return h, err
}

// listTar reads only the headers of a plain tar, seeking over the data, and
// notes where each member's data starts.
func listTar(path string, size int64) ([]member, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	// Not dropped here: the headers are a few pages, which the replay's
	// drops (each from the file's start) take with the rest, and a tar
	// already in the page cache stays there for the replay to read.
	tr := tar.NewReader(f)
	var ms []member
	for {
		h, err := nextHeader(tr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("replay: listing the members of %s: %w", path, err)
		}
		ok, err := tarMember(path, h)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// tar.Reader reads headers block by block without read-ahead, so
		// the file offset now is where this member's data starts.
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("replay: listing the members of %s: %w", path, err)
		}
		if off+h.Size > size {
			return nil, fmt.Errorf("replay: %s is truncated: member %s ends at byte %d of %d", path, h.Name, off+h.Size, size)
		}
		ms = append(ms, member{name: h.Name, size: h.Size, offset: off})
	}
	sortMembers(ms)
	return ms, nil
}

// listTgz reads a compressed tar once and checks its members are already in
// replay order, since it can only be read front to back.
func listTgz(path string, drop func(f *os.File, off, n int64)) ([]member, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	fr := &fileReader{f: f, drop: drop}
	defer fr.Close()
	zr, err := gzip.NewReader(fr)
	if err != nil {
		return nil, fmt.Errorf("replay: %s: opening gzip: %w", path, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var ms []member
	for {
		h, err := nextHeader(tr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("replay: listing the members of %s: %w", path, err)
		}
		ok, err := tarMember(path, h)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if n := len(ms); n > 0 && compareMembers(ms[n-1].name, h.Name) > 0 {
			return nil, fmt.Errorf("replay: %s: member %s comes after %s but holds earlier posts; "+
				"a compressed tar is read front to back, so decompress it (gunzip) and replay the .tar, which is read in any order",
				path, h.Name, ms[n-1].name)
		}
		ms = append(ms, member{name: h.Name, size: h.Size})
	}
	return ms, nil
}

// openZip reads the central directory of the zip at path, read through r
// (size bytes), accepting the names the reader calls insecure: nothing is
// written to disk.
func openZip(path string, r io.ReaderAt, size int64) (*zip.Reader, error) {
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("replay: opening %s: %w", path, err)
	}
	return zr, nil
}

// listZip reads the central directory of a zip.
func listZip(path string) ([]member, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("replay: opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("replay: opening %s: %w", path, err)
	}
	zr, err := openZip(path, f, st.Size())
	if err != nil {
		return nil, 0, err
	}
	var ms []member
	for i, f := range zr.File {
		if !f.Mode().IsRegular() || !isMemberName(f.Name) {
			continue
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, 0, fmt.Errorf("replay: %s: member %s uses zip method %d; replay reads stored and deflated members", path, f.Name, f.Method)
		}
		ms = append(ms, member{name: f.Name, size: int64(f.CompressedSize64), index: i})
	}
	sortMembers(ms)
	return ms, len(zr.File), nil
}
