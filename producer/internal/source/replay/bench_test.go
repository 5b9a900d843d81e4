package replay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// BenchmarkReplay is a plain file's lines through the source, with a state
// folder (so each record carries its acknowledgement), into an emit that
// acknowledges at once: the source's own cost a line.
func BenchmarkReplay(b *testing.B) {
	line := append(bytes.Repeat([]byte(`{"text":"0123456789abcdef"},`), 50), '\n') // about 1.5 KB
	dir := b.TempDir()
	path := filepath.Join(dir, "lines.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	block := bytes.Repeat(line, 1000)
	for i := 0; i < b.N; i += 1000 {
		if _, err := f.Write(block[:min(b.N-i, 1000)*len(line)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	s := New(Config{Path: path, StateDir: filepath.Join(dir, "state")}, quiet())
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	err = s.Run(context.Background(), func(_ context.Context, r source.Record) error {
		n++
		if r.Ack != nil {
			r.Ack()
		}
		return nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if n != b.N {
		b.Fatalf("%d records; want %d", n, b.N)
	}
}
