package replay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

func collect(t *testing.T, s *Source) []string {
	t.Helper()
	var got []string
	err := s.Run(context.Background(), func(_ context.Context, r source.Record) error {
		got = append(got, string(r.Value))
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gz(t *testing.T, data []byte) []byte {
	return gzipLevel(t, data, gzip.DefaultCompression)
}

// gzipLevel is data in a gzip stream at the given level.
func gzipLevel(t *testing.T, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zst(t *testing.T, data []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestFormats: plain, gzip, bzip2 and zstd files, LF and CRLF, blank lines
// and a missing final newline, replayed in name order with bytes unchanged.
// The bzip2 file holds the first 3 lines of the project's sample, or of the
// shared real captures where they are.
func TestFormats(t *testing.T) {
	t.Run("testdata", func(t *testing.T) {
		formats(t, filepath.Join("testdata", "streamgrab", "sample-0.json.bz2"), corpus.Path(t, "v1.1/sample.jsonl"))
	})
	t.Run("shared", func(t *testing.T) {
		formats(t, filepath.Join("testdata", "three.json.bz2"), filepath.Join(corpus.Shared(t), "python-twitter", "lines.json"))
	})
}

// formats replays the files of TestFormats with bz2 as the bzip2 one, whose
// lines are the first 3 of plain.
func formats(t *testing.T, bz2, plain string) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), []byte("{\"n\":1}\r\n{\"n\":2}\r\n\r\n"))
	write(t, filepath.Join(dir, "b.jsonl.gz"), gz(t, []byte("{\"n\":3}\n{\"n\":4} \n")))
	write(t, filepath.Join(dir, "sub", "c.json.zst"), zst(t, []byte("{\"n\":5}\n{\"n\":6}")))
	write(t, filepath.Join(dir, "d.json.bz2"), readFile(t, bz2))
	write(t, filepath.Join(dir, "notes.txt"), []byte("not a stream file\n"))

	got := collect(t, New(Config{Path: dir}, quiet()))
	want := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4} `}
	want = append(want, strings.SplitN(string(readFile(t, plain)), "\n", 4)[:3]...) // d.json.bz2 holds its first 3 lines
	want = append(want, `{"n":5}`, `{"n":6}`)                                       // sub/c.json.zst sorts last
	if len(got) != len(want) {
		t.Fatalf("got %d lines; want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %.60q; want %.60q", i, got[i], want[i])
		}
	}
}

func TestCorruptFileNamesIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.json.gz")
	write(t, path, []byte("this is not gzip"))
	err := New(Config{Path: dir}, quiet()).Run(context.Background(), func(context.Context, source.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want one naming %s", err, path)
	}
}

// TestUnreadableFilesGonePast: a corrupt file and a truncated one hold up
// none of the files behind them; the truncated one's lines before the cut
// are published; Run ends with an error naming both and the line each
// broke after, once every other line is out.
func TestUnreadableFilesGonePast(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jsonl"), []byte("{\"n\":1}\n{\"n\":2}\n"))
	write(t, filepath.Join(dir, "b.jsonl.gz"), []byte("this is not gzip"))
	var lines strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&lines, "{\"n\":3,\"h\":\"%x\"}\n", sha256.Sum256([]byte{byte(i), byte(i >> 8)})) // hashes do not compress
	}
	whole := gz(t, []byte(lines.String()))
	write(t, filepath.Join(dir, "c.jsonl.gz"), whole[:len(whole)/2])
	write(t, filepath.Join(dir, "d.jsonl"), []byte("{\"n\":4}\n"))

	var got []string
	err := New(Config{Path: dir}, quiet()).Run(context.Background(), func(_ context.Context, r source.Record) error {
		got = append(got, string(r.Value))
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "2 file(s) could not be read to their end") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "b.jsonl.gz")+": unreadable after line 0") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "c.jsonl.gz")+": unreadable after line ") {
		t.Fatalf("err = %v; want one naming b.jsonl.gz and c.jsonl.gz", err)
	}
	if len(got) < 3 || got[0] != `{"n":1}` || got[1] != `{"n":2}` || got[len(got)-1] != `{"n":4}` {
		t.Fatalf("got %d lines, first %.40q, last %.40q; want a.jsonl's two, some of c.jsonl.gz's, and d.jsonl's", len(got), got[0], got[len(got)-1])
	}
	if threes := len(got) - 3; threes == 0 || threes >= 2000 {
		t.Fatalf("%d lines of the truncated c.jsonl.gz; want some, not all 2000", threes)
	}
}

// TestUnreadableMemberGonePast: an archive member that is not what its name
// says holds up none of the members after it, in a tar, a tar.gz and a zip.
func TestUnreadableMemberGonePast(t *testing.T) {
	members := []grabMember{
		{"2018/10/10/20/19.json.gz", gz(t, []byte("{\"n\":1}\n"))},
		{"2018/10/10/20/20.json.gz", []byte("not gzip at all")},
		{"2018/10/10/20/21.json.gz", gz(t, []byte("{\"n\":2}\n{\"n\":3}\n"))},
	}
	for _, kind := range []struct {
		name  string
		write func(t *testing.T, path, prefix string, members []grabMember, order []int)
	}{{"grab.tar", tarFile}, {"grab.tar.gz", tgzFile}, {"grab.zip", zipFile}} {
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			kind.write(t, filepath.Join(dir, kind.name), "", members, []int{0, 1, 2})
			var got []string
			err := New(Config{Path: dir}, quiet()).Run(context.Background(), func(_ context.Context, r source.Record) error {
				got = append(got, string(r.Value))
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), "member 2018/10/10/20/20.json.gz: unreadable after line 0") {
				t.Fatalf("err = %v; want one naming member 20.json.gz", err)
			}
			if want := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}; !slices.Equal(got, want) {
				t.Fatalf("got %q; want %q", got, want)
			}
		})
	}
}

func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\r\n\r\nc"), 4)
	f.Add([]byte("{\"x\":1}\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		r := NewLineReader(bytes.NewReader(data), max)
		total := 0
		for i := 0; i < len(data)+2; i++ {
			line, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var tl *LineTooLongError
			if errors.As(err, &tl) {
				total += tl.Size
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(line) > max || bytes.ContainsAny(line, "\n") {
				t.Fatalf("line of %d bytes with max %d: %q", len(line), max, line)
			}
			total += len(line)
		}
		t.Fatalf("more lines than bytes in %q", data)
	})
}
