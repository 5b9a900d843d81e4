package manifest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/consumer/internal/group"
)

// TestConsumerWritesManifests runs the consumer group, the archive and the
// finalizer together on an in-process broker, as the consumer does: the
// records of one past hour, in two of a topic's three partitions (the
// third holds nothing), get one manifest, whose line counts sum to the
// records produced and whose checksums match the files.
func TestConsumerWritesManifests(t *testing.T) {
	for _, layout := range archive.Layouts() {
		t.Run(string(layout), func(t *testing.T) {
			const topic, n = "tweets", 300
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			hour := time.Date(2023, 11, 14, 22, 0, 0, 0, time.UTC)
			w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
				Balancer: kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int { return int(m.Key[0]-'0') % 2 })}
			msgs := make([]kafka.Message, 0, n)
			for i := range n {
				msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "%d", i%2), Value: fmt.Appendf(nil, `{"id":%d}`, i),
					Time: hour.Add(time.Duration(i) * time.Second)})
			}
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				t.Fatal(err)
			}
			_ = w.Close()

			dir := t.TempDir()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			arch, err := archive.Open(archive.Config{Dir: dir, Layout: layout, RotateInterval: time.Second, Compression: archive.CompressionGzip}, log)
			if err != nil {
				t.Fatal(err)
			}
			runner := group.New(group.Config{
				Brokers: brokers,
				Settings: group.Settings{Topics: []string{topic}, GroupID: "test-group",
					SessionTimeout: 6 * time.Second, RebalanceTimeout: 5 * time.Second,
					FetchMaxBytes: 1 << 20, FetchMaxWait: 100 * time.Millisecond},
				Watch:           group.Watch{WatchInterval: 200 * time.Millisecond},
				Batch:           batch.Limits{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond},
				RotateCheck:     100 * time.Millisecond,
				ShutdownTimeout: 5 * time.Second,
			}, group.OnDisk(arch), log)
			fin, err := New(Config{Dir: dir, Layout: layout, Topics: []string{topic}, Interval: 100 * time.Millisecond}, runner, log)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := runner.Run(ctx); err != nil {
					t.Errorf("Run: %v", err)
				}
			})
			wg.Go(func() { fin.Run(ctx) })
			path := filepath.Join(dir, layout.HourDir(topic, hour), FileName)
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := os.Stat(path); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cancel()
					wg.Wait()
					t.Fatalf("no %s within 30s (written %d)", path, runner.Stats.Written.Load())
				}
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			wg.Wait()

			fx := &fixture{t: t, dir: dir, cfg: Config{Layout: layout}}
			m := fx.check(hour)
			if m.Lines != n {
				t.Errorf("the manifest's lines sum to %d; want the %d records produced", m.Lines, n)
			}
			var parts []int
			for _, f := range m.Files {
				parts = append(parts, f.Partition)
			}
			if len(m.Files) != 2 || parts[0] != 0 || parts[1] != 1 {
				t.Errorf("manifest lists the files of partitions %v; want one of 0 and one of 1", parts)
			}
		})
	}
}
