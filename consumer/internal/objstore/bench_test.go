package objstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// BenchmarkUpload is the time from a file's close to its upload being
// recorded: the put of the file and the checkpoint's conditional write,
// on scripts/s3-local.sh's server (S3_LOCAL_SCRIPT). One op is one file.
func BenchmarkUpload(b *testing.B) {
	s := testStore(b)
	ctx := context.Background()
	for _, size := range []struct {
		name  string
		bytes int
	}{{"256KiB", 256 << 10}, {"8MiB", 8 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			line := strings.Repeat("x", 999) + "\n"
			path := stagedFile(b, "tweets-p0-000000000000.jsonl", strings.Repeat(line, size.bytes/len(line)))
			up, err := s.Partition(ctx, "bench-"+size.name, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size.bytes / len(line) * len(line)))
			b.ReportAllocs()
			next := up.Next()
			if next < 0 {
				next = 0
			}
			for b.Loop() {
				if err := up.Upload(ctx, path, next, next+1000, time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC), archive.Keys{}); err != nil {
					b.Fatal(err)
				}
				next += 1000
			}
		})
	}
}
