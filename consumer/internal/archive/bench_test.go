package archive

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
)

// tweetValues returns n distinct JSON objects of about size bytes, words
// drawn from a small vocabulary so that compression sees realistic text.
func tweetValues(n, size int) [][]byte {
	words := strings.Fields("the a kafka stream tweet reply retweet quote user timeline follow like news today " +
		"go json archive partition offset broker consumer producer 🐦 héllo café naïve")
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([][]byte, n)
	for i := range vals {
		var text strings.Builder
		for text.Len() < size-120 {
			text.WriteString(words[rng.IntN(len(words))])
			text.WriteByte(' ')
		}
		vals[i] = fmt.Appendf(nil, `{"id":"%019d","created_at":"2024-03-09T10:15:00Z","user":{"id":%d,"name":"user%d"},"text":%q}`,
			rng.Uint64()>>1, rng.IntN(1e6), rng.IntN(1e6), text.String())
	}
	return vals
}

// BenchmarkAppend appends batches of 1000 values of about 4 KB (4 MB a batch),
// each batch written, fsynced and checkpointed; files rotate every 128 MiB.
// MB/s counts value bytes. It measures the disk under the temp directory.
func BenchmarkAppend(b *testing.B) {
	const batchSize = 1000
	vals := tweetValues(batchSize, 4096)
	for _, compression := range []string{CompressionNone, CompressionZstd, CompressionGzip} {
		b.Run("compression="+compression, func(b *testing.B) {
			a := testArchive(b, Config{Compression: compression, Now: time.Now})
			p := openPartition(b, a, "tweets", 0)
			batch := make([]Record, batchSize)
			var size int64
			for i := range batch {
				batch[i].Value = vals[i]
				size += int64(len(vals[i]))
			}
			b.SetBytes(size)
			b.ReportAllocs()
			ts := time.Now()
			var offset int64
			for b.Loop() {
				for i := range batch {
					batch[i].Offset, batch[i].Time = offset, ts
					offset++
				}
				if _, err := p.Append(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommit is one batch's commit as the consumer runs it most of the
// time: one small line appended to the active file, fsynced, then the
// partition's checkpoint written. It measures the checkpoint's share of a
// commit on the disk under the temp directory.
func BenchmarkCommit(b *testing.B) {
	a := testArchive(b, Config{Now: time.Now})
	p := openPartition(b, a, "tweets", 0)
	val := []byte(`{"id":"1971726741583605760","text":"a status of the kind the archive writes"}`)
	batch := []Record{{Value: val, Time: time.Now()}}
	b.ReportAllocs()
	var offset int64
	for b.Loop() {
		batch[0].Offset = offset
		offset++
		if _, err := p.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckValue is the per-record validation of Append (UTF-8, line
// breaks, JSON) on synthetic values of about 4 KB with raw UTF-8 text, on
// testdata's v1.1 statuses, whose non-ASCII text is mostly \u-escaped, and
// on its Jetstream events (raw UTF-8); MB/s counts value bytes.
func BenchmarkCheckValue(b *testing.B) {
	sets := []struct {
		name string
		vals [][]byte
	}{
		{"synthetic-4KB", tweetValues(1000, 4096)},
		{"v1.1", corpus.Lines(b, corpus.Path(b, "v1.1/sample.jsonl"))},
		{"jetstream", corpus.Lines(b, corpus.Path(b, "jetstream/events.jsonl"))},
	}
	for _, set := range sets {
		b.Run(set.name, func(b *testing.B) {
			vals := set.vals
			var size int64
			for _, v := range vals {
				size += int64(len(v))
			}
			b.SetBytes(size / int64(len(vals)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if reason := checkValue(vals[i%len(vals)]); reason != "" {
					b.Fatalf("value %d: %s", i%len(vals), reason)
				}
				i++
			}
		})
	}
}

// BenchmarkDedupWindow is the window's part of appending one status: the
// look-up, then the key kept (at the default window of 20,000 keys, two
// generations full), with the key file's buffer emptied as a commit does;
// for post ids as v1.1 statuses have them, and for the at:// URIs the
// Jetstream source keys its events by (70 bytes, kept as their digest).
func BenchmarkDedupWindow(b *testing.B) {
	b.Run("id", func(b *testing.B) {
		benchmarkDedupWindow(b, func(i int) string { return strconv.FormatInt(1971726741583605760+int64(i), 10) })
	})
	b.Run("at-uri", func(b *testing.B) {
		benchmarkDedupWindow(b, func(i int) string {
			return fmt.Sprintf("at://did:plc:lgaxfjylkwirh5l6nsg2x4gz/app.bsky.feed.post/%013d", i)
		})
	})
}

func benchmarkDedupWindow(b *testing.B, key func(i int) string) {
	const window = 20000
	a := testArchive(b, Config{DedupWindow: window, Now: time.Now})
	p := openPartition(b, a, "tweets", 0)
	rs := make([]Record, 8*window)
	for i := range rs {
		rs[i] = Record{Key: []byte(key(i)), Dedup: true}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &rs[i%len(rs)]
		i++
		if w := p.windowed(r); !p.isDuplicate(w) {
			p.remember(w)
		}
		if len(p.keys.cur) >= window {
			p.keys.shift()
			p.keysBuf = p.keysBuf[:0]
		}
	}
}
