package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
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

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"2018/03/01.json.bz2", "2018/03/02.json", "2018/03/02.txt", "x.jsonl"} {
		write(t, filepath.Join(dir, n), nil)
	}
	tests := []struct {
		name    string
		path    string
		want    []string
		wantErr string
	}{
		{"directory", dir, []string{"2018/03/01.json.bz2", "2018/03/02.json", "x.jsonl"}, ""},
		{"glob", filepath.Join(dir, "2018", "*", "*.json*"), []string{"2018/03/01.json.bz2", "2018/03/02.json"}, ""},
		{"one file, whatever its name", filepath.Join(dir, "2018/03/02.txt"), []string{"2018/03/02.txt"}, ""},
		{"nothing there", filepath.Join(dir, "missing.json"), nil, "REPLAY_PATH"},
		{"empty directory", t.TempDir(), nil, "REPLAY_PATH: no .json or .jsonl files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Files(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i], _ = filepath.Rel(dir, got[i])
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	r := NewLineReader(strings.NewReader("a\n"+long+"\nb\r\n\nc"), 50)
	var got []string
	var tooLong int
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var tl *LineTooLongError
		if errors.As(err, &tl) {
			tooLong++
			if tl.Line != 2 || tl.Size != 101 {
				t.Errorf("too long: line %d size %d; want line 2 size 101", tl.Line, tl.Size)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	if strings.Join(got, "|") != "a|b||c" || tooLong != 1 {
		t.Fatalf("got %q, %d too long; want a|b||c and 1", got, tooLong)
	}
}

// TestLinesAreIndependent: the pipeline keeps each record's bytes, so the
// reader must not reuse them.
func TestLinesAreIndependent(t *testing.T) {
	r := NewLineReader(strings.NewReader("first\nsecond\n"), 1<<20)
	a, _ := r.Next()
	b, _ := r.Next()
	if string(a) != "first" || string(b) != "second" {
		t.Fatalf("got %q, %q; want first, second", a, b)
	}
}

// TestPace: at REPLAY_SPEED=10 two posts one second apart are sent at least
// 100 ms apart; at 0 they are not held back.
func TestPace(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.json"), []byte(
		`{"id_str":"1","text":"a","user":{},"timestamp_ms":"1520424000000"}`+"\n"+
			`{"id_str":"2","text":"b","user":{},"timestamp_ms":"1520424001000"}`+"\n"))
	for _, tt := range []struct {
		speed   float64
		atLeast time.Duration
	}{{10, 95 * time.Millisecond}, {1, 990 * time.Millisecond}} {
		var times []time.Time
		s := New(Config{Path: dir, Speed: tt.speed}, quiet())
		if err := s.Run(context.Background(), func(context.Context, source.Record) error {
			times = append(times, time.Now())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if gap := times[1].Sub(times[0]); gap < tt.atLeast {
			t.Errorf("speed %g: posts 1 s apart were sent %s apart; want at least %s", tt.speed, gap, tt.atLeast)
		}
	}
}

// TestStopWhilePaced: a stop during a long wait returns at once, nil.
func TestStopWhilePaced(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.json"), []byte(
		`{"id_str":"1","text":"a","user":{},"timestamp_ms":"1520424000000"}`+"\n"+
			`{"id_str":"2","text":"b","user":{},"timestamp_ms":"1520427600000"}`+"\n"))
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := New(Config{Path: dir, Speed: 1}, quiet()).Run(ctx, func(context.Context, source.Record) error {
		n++
		cancel()
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("Run = %v after %d records; want nil after 1", err, n)
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
