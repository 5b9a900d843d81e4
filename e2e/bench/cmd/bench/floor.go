package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tweetpipe/tweetpipe/internal/kafkaconn"
)

// kafkaGoTool names the consumer's floor in the tables and the chart.
const kafkaGoTool = "kafka-go Reader alone"

// The consumer's floor: kafka-go's Reader set up as the consumer sets it
// up, one a partition, with none of the consumer's own work. Like the
// consumer it gathers each partition's messages into batches that another
// goroutine writes, each value and a newline, to one file a partition
// (through a 1 MiB buffer), under the consumer's memory limit; it checks
// nothing, keeps no dedup window, never fsyncs, checkpoints or commits.
// kcat -C is the rate of another client; this is the rate of the client
// the consumer is built on, so the consumer's ratio to it is what the
// guarantee costs, and its ratio to kcat -C is the most the consumer could
// reach with kafka-go's Reader. With -conn it reads with kafka-go's
// Conn.ReadBatch instead (connReader), which read faster on the machine of
// docs/performance-history.md.
//
// Its settings are the consumer's at 3 partitions, as the consumer logs them
// when it joins ("fetch_max_bytes":2097152, "queue_capacity":100; MinBytes
// 1, KAFKA_FETCH_MAX_WAIT 500 ms, no lag reader, the consumer's zstd codec
// from kafkaconn.UseSmallZstd).
type floorConfig struct {
	brokers       []string
	topic         string
	partitions    int
	n             int64 // messages to read, in all; then it returns
	out           string
	fetchMaxBytes int
	queue         int
	maxWait       time.Duration
	// conn: each partition read with kafka-go's Conn.ReadBatch in the
	// goroutine that gathers the batches, not with a Reader, whose own
	// goroutine hands each message over a channel (connReader).
	conn bool
}

// cmdRead is `bench read`, the floor as its own process (run by runner.kafkaGoRead).
func cmdRead(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	var c floorConfig
	brokers := fs.String("brokers", "", "bootstrap brokers, comma separated")
	fs.StringVar(&c.topic, "topic", "", "topic to read from its first offset")
	fs.IntVar(&c.partitions, "partitions", 3, "partitions of the topic")
	fs.Int64Var(&c.n, "n", 0, "messages to read, in all")
	fs.StringVar(&c.out, "out", "", "folder for the files, one a partition")
	fs.IntVar(&c.fetchMaxBytes, "fetch-max-bytes", 2<<20, "a fetch's MaxBytes (the consumer's at 3 partitions)")
	fs.IntVar(&c.queue, "queue", 100, "each reader's QueueCapacity (the consumer's at 3 partitions); not used with -conn")
	fs.DurationVar(&c.maxWait, "max-wait", 500*time.Millisecond, "a fetch's MaxWait (KAFKA_FETCH_MAX_WAIT's default)")
	fs.BoolVar(&c.conn, "conn", false, "read each partition with kafka-go's Conn.ReadBatch, in the goroutine that gathers the batches, instead of a Reader")
	fs.Parse(args)
	if *brokers == "" || c.topic == "" || c.out == "" || c.n <= 0 || c.partitions <= 0 {
		return errors.New("-brokers, -topic, -out, a positive -n and -partitions are required")
	}
	c.brokers = strings.Split(*brokers, ",")
	kafkaconn.UseSmallZstd(0)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(floorMemoryLimit)
	}
	return readFloor(ctx, c)
}

// readFloor reads c.n messages from c.topic's partitions into c.out and
// returns once they are all written.
func readFloor(ctx context.Context, c floorConfig) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		read  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	for p := range c.partitions {
		wg.Go(func() {
			if err := readPartition(ctx, c, p, &read, cancel); err != nil {
				fail(fmt.Errorf("partition %d: %w", p, err))
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if got := read.Load(); got < c.n {
		return fmt.Errorf("read %d of %d messages: %w", got, c.n, context.Cause(ctx))
	}
	return nil
}

// readPartition copies one partition's values to its file until the
// messages read in all reach c.n (then it calls done) or ctx ends. As in
// the consumer, one goroutine fetches and gathers batches while another
// writes the batch before, so at most two are held. Unlike the consumer's,
// a batch is cut once it reaches floorBatchBytes (not before the record
// that would pass it) or floorBatchRecords, or when the partition is caught
// up, with no time limit and no wait for the writer to be idle.
func readPartition(ctx context.Context, c floorConfig, p int, read *atomic.Int64, done func()) error {
	var rd messageFetcher
	if c.conn {
		cr, err := newConnReader(ctx, c, p)
		if err != nil {
			return err
		}
		rd = cr
	} else {
		rd = kafka.NewReader(kafka.ReaderConfig{
			Brokers: c.brokers, Topic: c.topic, Partition: p,
			MinBytes: 1, MaxBytes: c.fetchMaxBytes, MaxWait: c.maxWait,
			QueueCapacity: c.queue, ReadLagInterval: -1,
		})
	}
	defer rd.Close()
	f, err := os.Create(filepath.Join(c.out, fmt.Sprintf("%s-%d.jsonl", c.topic, p)))
	if err != nil {
		return err
	}
	work := make(chan [][]byte) // unbuffered: one batch written, one gathered
	written := make(chan error, 1)
	go func() { written <- writeBatches(f, work) }()

	err = func() error {
		defer close(work)
		var batch [][]byte
		size := 0
		for {
			m, err := rd.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() != nil {
					// Done, or another partition failed: what was read
					// and counted is written all the same.
					if len(batch) > 0 {
						work <- batch
					}
					return nil
				}
				return err
			}
			batch = append(batch, m.Value)
			size += len(m.Value) + 1
			last := read.Add(1) >= c.n
			if last || size >= floorBatchBytes || len(batch) >= floorBatchRecords || m.HighWaterMark-m.Offset-1 <= 0 {
				work <- batch // the writer takes every batch until work is closed
				batch, size = nil, 0
			}
			if last {
				// The writer ends with the batches handed over; then
				// every partition stops.
				return nil
			}
		}
	}()
	werr := <-written
	if read.Load() >= c.n {
		done()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if err == nil {
		err = werr
	}
	return err
}

// messageFetcher is what readPartition reads a partition with: a
// kafka.Reader or a connReader.
type messageFetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	Close() error
}

// connReader reads one partition from its first offset with kafka-go's
// Conn.ReadBatchWith, in the caller's goroutine: a fetch of up to
// fetchMaxBytes, then its messages one by one, then the next fetch. A
// kafka.Reader does the same in a goroutine of its own and hands each
// message to FetchMessage over a channel. It is a measure of what kafka-go
// reads at without that hand-over, not a reader for a service: it does not
// reconnect, follow a new leader or recover from an error.
type connReader struct {
	conn     *kafka.Conn
	batch    *kafka.Batch
	cfg      kafka.ReadBatchConfig
	stopConn func() bool
}

func newConnReader(ctx context.Context, c floorConfig, p int) (*connReader, error) {
	conn, err := kafka.DialLeader(ctx, "tcp", c.brokers[0], c.topic, p)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Seek(0, kafka.SeekStart); err != nil {
		conn.Close()
		return nil, err
	}
	return &connReader{
		conn: conn,
		cfg:  kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: c.fetchMaxBytes, MaxWait: c.maxWait},
		// A fetch waiting for messages that will not come ends with ctx.
		stopConn: context.AfterFunc(ctx, func() { conn.Close() }),
	}, nil
}

// FetchMessage returns the next message, fetching when the last fetch's
// messages are all read. A fetch that found nothing within MaxWait
// (RequestTimedOut, as the Reader takes it too) is made again.
func (r *connReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return kafka.Message{}, err
		}
		if r.batch == nil {
			r.batch = r.conn.ReadBatchWith(r.cfg)
		}
		m, err := r.batch.ReadMessage()
		if err == nil {
			return m, nil
		}
		// The fetch is read to its end (io.EOF, which Close does not
		// return) or failed; the conn reads on from the batch's end.
		cerr := r.batch.Close()
		r.batch = nil
		if cerr != nil && !errors.Is(cerr, kafka.RequestTimedOut) {
			if ctx.Err() != nil {
				return kafka.Message{}, ctx.Err()
			}
			return kafka.Message{}, cerr
		}
	}
}

func (r *connReader) Close() error {
	r.stopConn()
	if r.batch != nil {
		r.batch.Close()
	}
	return r.conn.Close()
}

// floorMemoryLimit is the consumer's soft memory limit by default
// (MEMORY_LIMIT), so that both collect garbage alike.
const floorMemoryLimit = 80 << 20

// The consumer's batch limits by default (BATCH_MAX_BYTES, BATCH_MAX_RECORDS).
const (
	floorBatchBytes   = 4 << 20
	floorBatchRecords = 10000
)

// writeBatches writes each batch's values, a line each, through a 1 MiB
// buffer flushed at the batch's end, until work is closed.
func writeBatches(f *os.File, work <-chan [][]byte) error {
	w := bufio.NewWriterSize(f, 1<<20)
	var err error
	for batch := range work {
		for _, v := range batch {
			if err == nil {
				_, err = w.Write(v)
			}
			if err == nil {
				err = w.WriteByte('\n')
			}
		}
		if err == nil {
			err = w.Flush()
		}
	}
	return err
}

// kafkaGoRead runs `bench read` (this binary) on topic until every line is
// in its files. Its wall time runs from its start to the last line, like
// the consumer's.
func (r *runner) kafkaGoRead(ctx context.Context, topic string, n, bytes int64) (measure, error) {
	m := measure{Tool: kafkaGoTool, Msgs: n, Bytes: bytes}
	self, err := os.Executable()
	if err != nil {
		return m, err
	}
	out := mustTemp(r.work, "kafka-go")
	defer os.RemoveAll(out)
	args := []string{"read", "-brokers", r.brokers, "-topic", topic, "-partitions", fmt.Sprint(r.partitions),
		"-n", fmt.Sprint(n), "-out", out}
	p, err := startProc(ctx, "bench read", self, args, nil, filepath.Join(r.work, "kafka-go-"+topic+".log"), nil, nil)
	if err != nil {
		return m, err
	}
	want := bytes + n
	size := func() int64 { return dirSize(out) }
	st := watchSteady(ctx, want, func(context.Context) (int64, error) { return size(), nil })
	first, done, err := waitOutput(p, size, want, r.timeout)
	m.SteadyRate = st.rate(n)
	if err != nil {
		p.kill()
		return m, fmt.Errorf("bench read: %w", err)
	}
	if err := p.wait(r.timeout); err != nil {
		return m, err
	}
	return m, m.ended(p, first, done, size(), want)
}
