package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// runner runs the programs against one broker.
type runner struct {
	label      string // "kfake" or "kafka"
	brokers    string
	bin        string // folder of producer and consumer
	kcat       string
	work       string // scratch folder for this broker
	partitions int
	timeout    time.Duration // bound on any one program
	adm        *admin
	topics     []string // created, deleted at the end
	perf       string   // perf binary for profile runs
	// Settings added to the services' defaults (-producer-env, -consumer-env).
	extraProducer, extraConsumer []string
	zstdLevel                    int // 0: each program's default
	peers                        peers
	// jetstream: the data are Jetstream events, which the producer reads
	// from a local Jetstream endpoint (jetstream.go), not by replay.
	jetstream bool
}

// measure is one program's run.
type measure struct {
	Tool          string  `json:"tool"`
	Msgs          int64   `json:"msgs"`
	Bytes         int64   `json:"bytes"`          // value bytes
	WallS         float64 `json:"wall_s"`         // start to done
	SteadyRate    float64 `json:"steady_rate"`    // msg/s from 10% to 90% of the messages (progress.go)
	FirstS        float64 `json:"first_s"`        // consumer: start to the first line in the output
	MaxRSS        int64   `json:"max_rss"`        // peak resident set, bytes
	CPUS          float64 `json:"cpu_s"`          // user + system seconds
	SysS          float64 `json:"sys_s"`          // of which system (kernel) seconds
	AllocsPerMsg  float64 `json:"allocs_per_msg"` // heap allocations per message (Go services, from /metrics)
	AllocBPerMsg  float64 `json:"alloc_bytes_per_msg"`
	FsyncS        float64 `json:"fsync_s,omitempty"` // kcat -C: fsync of its output after it exited (not in WallS)
	Note          string  `json:"note,omitempty"`
	OutputBytes   int64   `json:"output_bytes,omitempty"`
	OutputMatches bool    `json:"output_matches,omitempty"`
}

func (m measure) rate() float64 {
	if m.WallS <= 0 {
		return 0
	}
	return float64(m.Msgs) / m.WallS
}

// timed runs a program to its end and records in m its wall time, peak RSS
// and CPU, and with st (nil: none) its steady-state rate.
func (r *runner) timed(ctx context.Context, m *measure, st *steady, name, path string, args, env []string,
	logPath string, stdout io.Writer, stdin io.Reader) (*proc, error) {
	p, err := startProc(ctx, name, path, args, env, logPath, stdout, stdin)
	if err == nil {
		err = p.wait(r.timeout)
	}
	if st != nil {
		m.SteadyRate = st.rate(m.Msgs)
	}
	if err != nil {
		return nil, err
	}
	m.WallS = p.ended.Sub(p.started).Seconds()
	p.usage(m)
	return p, nil
}

// kcatZstd is kcat's compression: zstd, at the level the producer uses.
func (r *runner) kcatZstd() []string {
	if r.zstdLevel > 0 {
		return []string{"-z", "zstd", "-X", fmt.Sprintf("compression.level=%d", r.zstdLevel)}
	}
	return []string{"-z", "zstd"}
}

// watchTopic follows how many messages topic holds (its end offsets).
func (r *runner) watchTopic(ctx context.Context, topic string, n int64) *steady {
	return watchSteady(ctx, n, func(ctx context.Context) (int64, error) { return r.adm.count(ctx, topic, r.partitions) })
}

func (r *runner) topic(ctx context.Context, prefix string) (string, error) {
	t := unique("bench-" + prefix)
	if err := r.adm.create(ctx, r.partitions, t); err != nil {
		return "", err
	}
	r.topics = append(r.topics, t)
	return t, nil
}

// drop deletes a topic now, to give the broker its memory or disk back.
func (r *runner) drop(topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.adm.remove(ctx, topic); err != nil {
		fmt.Fprintf(os.Stderr, "bench: deleting topic %s: %v\n", topic, err)
		return
	}
	r.topics = slices.DeleteFunc(r.topics, func(t string) bool { return t == topic })
}

func (r *runner) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.adm.remove(ctx, r.topics...); err != nil {
		fmt.Fprintf(os.Stderr, "bench: deleting the benchmark topics: %v\n", err)
	}
}

// producerEnv is the producer's configuration for replaying path to topic:
// the defaults a user gets (zstd, batches of 1000, 5 ms linger, acks=all,
// the replay position saved in STATE_DIR), at full speed.
func (r *runner) producerEnv(topic, path, httpAddr string) []string {
	env := []string{
		"KAFKA_BROKERS=" + r.brokers,
		"SOURCE=replay", "REPLAY_PATH=" + path, "REPLAY_SPEED=0",
		"KAFKA_TOPIC=" + topic, "KAFKA_CONTROL_TOPIC=",
		fmt.Sprintf("KAFKA_PARTITIONS=%d", r.partitions), "KAFKA_COMPRESSION=zstd",
		fmt.Sprintf("KAFKA_COMPRESSION_LEVEL=%d", r.zstdLevel),
		"STATE_DIR=" + mustTemp(r.work, "state"),
		"HTTP_ADDR=" + httpAddr, "LOG_FORMAT=json", "LOG_LEVEL=info",
		"PROGRESS_INTERVAL=5s", "REPLAY_PROGRESS_INTERVAL=5s",
	}
	return append(env, r.extraProducer...)
}

// consumerEnv archives topic into out with the defaults (batches of 10,000
// records, 4 MiB or 1 s, fsync and checkpoint per batch, dedup on).
func (r *runner) consumerEnv(topic, out, httpAddr string) []string {
	return append([]string{
		"KAFKA_BROKERS=" + r.brokers,
		"KAFKA_TOPICS=" + topic, "KAFKA_GROUP_ID=" + unique("bench"),
		"OUTPUT_DIR=" + out,
		"HTTP_ADDR=" + httpAddr, "LOG_FORMAT=json", "LOG_LEVEL=info", "PROGRESS_INTERVAL=5s",
	}, r.extraConsumer...)
}

func mustTemp(dir, prefix string) string {
	d, err := os.MkdirTemp(dir, prefix+"-")
	if err != nil {
		panic(err)
	}
	return d
}

// warm reads the file at path through the page cache, so that each
// program that reads a data file starts with it there, as the first did:
// the producer drops a replayed file's pages once read
// (REPLAY_PAGE_CACHE=drop), and the program after it would otherwise read
// the file from the disk, and pay for it.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, make([]byte, 1<<20))
	return err
}

// produce runs the producer on the replay file path (n statuses) into topic.
func (r *runner) produce(ctx context.Context, topic, path string, n int64, bytes int64) (measure, error) {
	if r.jetstream {
		return r.produceJetstream(ctx, topic, path, n, bytes)
	}
	m := measure{Tool: "tweetpipe producer", Msgs: n, Bytes: bytes}
	if err := warm(path); err != nil {
		return m, err
	}
	addr, err := freeAddr()
	if err != nil {
		return m, err
	}
	sc := newScraper(addr, "tweetpipe_producer_messages_sent_total", 250*time.Millisecond)
	_, err = r.timed(ctx, &m, r.watchTopic(ctx, topic, n), "producer", filepath.Join(r.bin, "producer"), nil,
		r.producerEnv(topic, path, addr), filepath.Join(r.work, "producer-"+topic+".log"), nil, nil)
	sc.finish()
	if err != nil {
		return m, err
	}
	if a, b, err := sc.perMessage(); err == nil {
		m.AllocsPerMsg, m.AllocBPerMsg = a, b
	}
	return m, r.checkCount(ctx, topic, n)
}

// kcatProduce runs kcat -P -l on file into topic. keyed: lines are
// "key<TAB>value" and kcat uses murmur2 like the producer (same partitions).
func (r *runner) kcatProduce(ctx context.Context, topic, file string, keyed bool, n, bytes int64) (measure, error) {
	args := append([]string{"-P", "-b", r.brokers, "-t", topic, "-X", "acks=all", "-q"}, r.kcatZstd()...)
	m := measure{Tool: "kcat -P -l", Msgs: n, Bytes: bytes}
	if keyed {
		args = append(args, "-K", "\t", "-X", "partitioner=murmur2_random")
		m.Tool = "kcat -P -l -K (keyed)"
	}
	args = append(args, "-l", file)
	if err := warm(file); err != nil {
		return m, err
	}
	p, err := r.timed(ctx, &m, r.watchTopic(ctx, topic, n), "kcat -P", r.kcat, args, nil,
		filepath.Join(r.work, "kcat-P-"+topic+".log"), nil, nil)
	if err != nil {
		return m, err
	}
	if s := strings.TrimSpace(tail(p.logPath, 5)); s != "" {
		m.Note = s
	}
	return m, r.checkCount(ctx, topic, n)
}

func (r *runner) checkCount(ctx context.Context, topic string, want int64) error {
	got, err := r.adm.count(ctx, topic, r.partitions)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("topic %s holds %d messages; want %d", topic, got, want)
	}
	return nil
}

// consume runs the consumer on topic (holding n statuses of bytes value
// bytes) until every line is in its output, then stops it.
func (r *runner) consume(ctx context.Context, topic string, n, bytes int64) (measure, error) {
	m := measure{Tool: "tweetpipe consumer", Msgs: n, Bytes: bytes}
	out := mustTemp(r.work, "out")
	defer os.RemoveAll(out)
	addr, err := freeAddr()
	if err != nil {
		return m, err
	}
	sc := newScraper(addr, "tweetpipe_consumer_messages_written_total", 250*time.Millisecond)
	p, err := startProc(ctx, "consumer", filepath.Join(r.bin, "consumer"), nil, r.consumerEnv(topic, out, addr),
		filepath.Join(r.work, "consumer-"+topic+".log"), nil, nil)
	if err != nil {
		sc.finish()
		return m, err
	}
	want := bytes + n // a newline after each value
	st := watchSteady(ctx, want, func(context.Context) (int64, error) { return dirSize(filepath.Join(out, topic)), nil })
	defer st.rate(n)
	var first, done time.Time
	deadline := time.Now().Add(r.timeout)
	for {
		size := dirSize(filepath.Join(out, topic))
		now := time.Now()
		if size > 0 && first.IsZero() {
			first = now
		}
		if size >= want {
			done = now
			m.OutputBytes = size
			m.OutputMatches = size == want
			break
		}
		if !p.running() {
			sc.finish()
			return m, fmt.Errorf("consumer exited before writing everything (%d of %d bytes): %v\n%s", size, want, p.err, tail(p.logPath, 15))
		}
		if now.After(deadline) {
			sc.finish()
			p.kill()
			return m, fmt.Errorf("consumer wrote %d of %d bytes within %s; log %s", size, want, r.timeout, p.logPath)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sc.finish()
	m.SteadyRate = st.rate(n)
	if err := p.stop(30 * time.Second); err != nil {
		return m, err
	}
	m.WallS = done.Sub(p.started).Seconds()
	m.FirstS = first.Sub(p.started).Seconds()
	p.usage(&m)
	if a, b, err := sc.perMessage(); err == nil {
		m.AllocsPerMsg, m.AllocBPerMsg = a, b
	}
	if !m.OutputMatches {
		return m, fmt.Errorf("consumer output is %d bytes; want %d", m.OutputBytes, want)
	}
	return m, nil
}

// kcatNoPauseTool is kcat -C with a fetch queue large enough that
// librdkafka never pauses its fetching (kcatNoPause): kcat -C at its fastest.
const kcatNoPauseTool = "kcat -C -e (2 GiB fetch queue)"

// kcatNoPause are kcatNoPauseTool's settings. librdkafka's consumer (2.0.2
// here) stops fetching once its fetch queue holds queued.max.messages.kbytes
// (64 MiB by default) or queued.min.messages (100,000 messages), and fetches
// again at its next one-second tick: a kcat -C that writes more slowly than
// the broker sends then runs in one-second steps (`-d fetch` logs "not
// fetchable: queued.max.messages.kbytes exceeded"), at about 64 MiB of
// output and what it writes meanwhile a second. These are the largest queue
// librdkafka accepts and more messages than a benchmark topic holds.
var kcatNoPause = []string{"-X", "queued.max.messages.kbytes=2097151", "-X", "queued.min.messages=10000000"}

// kcatConsumeArgs is kcat -C -e from the beginning of topic, each value a
// line on its standard output; noPause: with kcatNoPause.
func kcatConsumeArgs(brokers, topic string, noPause bool) []string {
	args := []string{"-C", "-b", brokers, "-t", topic, "-e", "-o", "beginning", "-q", "-f", `%s\n`}
	if noPause {
		args = append(args, kcatNoPause...)
	}
	return args
}

// kcatConsume runs kcat -C -e from the beginning of topic into a file, with
// librdkafka's defaults.
func (r *runner) kcatConsume(ctx context.Context, topic string, n, bytes int64) (measure, error) {
	return r.kcatConsumeTo(ctx, topic, n, bytes, false)
}

// kcatConsumeNoPause is kcatConsume with kcatNoPause.
func (r *runner) kcatConsumeNoPause(ctx context.Context, topic string, n, bytes int64) (measure, error) {
	return r.kcatConsumeTo(ctx, topic, n, bytes, true)
}

func (r *runner) kcatConsumeTo(ctx context.Context, topic string, n, bytes int64, noPause bool) (measure, error) {
	m := measure{Tool: "kcat -C -e", Msgs: n, Bytes: bytes}
	if noPause {
		m.Tool = kcatNoPauseTool
	}
	out := filepath.Join(r.work, "kcat-C-"+topic+".jsonl")
	defer os.Remove(out)
	f, err := os.Create(out)
	if err != nil {
		return m, err
	}
	defer f.Close()
	args := kcatConsumeArgs(r.brokers, topic, noPause)
	st := watchSteady(ctx, bytes+n, func(context.Context) (int64, error) {
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	})
	if _, err := r.timed(ctx, &m, st, "kcat -C", r.kcat, args, nil, filepath.Join(r.work, "kcat-C-"+topic+".log"), f, nil); err != nil {
		return m, err
	}
	t := time.Now()
	if err := f.Sync(); err != nil {
		return m, err
	}
	m.FsyncS = time.Since(t).Seconds()
	fi, err := f.Stat()
	if err != nil {
		return m, err
	}
	m.OutputBytes = fi.Size()
	m.OutputMatches = fi.Size() == bytes+n
	if !m.OutputMatches {
		return m, fmt.Errorf("kcat -C output is %d bytes; want %d", fi.Size(), bytes+n)
	}
	return m, nil
}

// dirSize sums the sizes of the files below dir (0 when it does not exist).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && d.Name() != "_manifest.json" { // the hours' manifests are not output
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// waitAssigned waits until the consumer at addr owns want partitions.
func waitAssigned(ctx context.Context, p *proc, addr string, want int, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := c.Get("http://" + addr + "/metrics"); err == nil {
			b := new(strings.Builder)
			_, _ = io.Copy(b, io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
			for _, l := range strings.Split(b.String(), "\n") {
				if name, v, ok := cutMetric(l); ok && name == "tweetpipe_consumer_assigned_partitions" && int(v) == want {
					return nil
				}
			}
		}
		if !p.running() {
			return fmt.Errorf("consumer exited: %v\n%s", p.err, tail(p.logPath, 15))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("consumer did not own %d partitions within %s; log %s", want, within, p.logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
