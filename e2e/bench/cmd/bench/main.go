// Command bench measures tweetpipe's producer and consumer binaries against
// kcat on one machine and one broker, on the same generated statuses and the
// same compression (zstd), and prints the figures as a markdown table.
// scripts/bench.sh (make bench) drives it:
//
//	bench gen     -templates lines.json -n 200000 -out statuses.jsonl -keyed statuses.tsv
//	bench run     -label kfake -brokers 127.0.0.1:PORT -bin BIN -data statuses.jsonl -keyed statuses.tsv -out kfake.json
//	bench rss     -label kfake -brokers ... -data backlog.jsonl -out rss.json
//	bench profile -label kfake -brokers ... -data statuses.jsonl -perf perf -out-dir DIR
//	bench report  -brokers-desc "..." kfake.json kafka.json rss.json
//	bench manifest -brokers ... -bin BIN -out manifest.json   (from a file's close to its hour's manifest)
//	bench manifest -brokers ... -bin BIN -output-url s3://B/P -out manifest-bucket.json   (the same, in a bucket)
//	bench report  -upload upload.txt ... manifest.json   (and objstore.BenchmarkUpload's output)
//
// Beside the consumer, run also measures the consumer's floor, kafka-go's
// Reader alone, as bench read (floor.go), a process of this binary:
//
//	bench read    -brokers ... -topic T -partitions 3 -n 200000 -out DIR
//
// and, for the size axis (sizeclass.go), a class at a time, with Kafka's
// console producer and Connect's file sink beside kcat (peers.go):
//
//	bench gen     -class v1.1-1k -templates lines.json -n 50000 -out size.jsonl -keyed size.tsv
//	bench run     -latency=false -kafka-libs JARS -data size.jsonl -keyed size.tsv -out size-kfake-v1.1-1k.json ...
//	bench report  -chart docs/bench.svg ... size-*.json
//
// Every program runs as its own process, built without -race; each figure
// is one run, measured in the same invocation as the kcat figure it is
// compared with.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "gen":
		err = cmdGen(os.Args[2:])
	case "run":
		err = cmdRun(ctx, os.Args[2:])
	case "rss":
		err = cmdRSS(ctx, os.Args[2:])
	case "profile":
		err = cmdProfile(ctx, os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	case "manifest":
		err = cmdManifest(ctx, os.Args[2:])
	case "read":
		err = cmdRead(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bench gen|run|rss|profile|report|manifest|read [flags]   (bench <cmd> -h for the flags)")
	os.Exit(2)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// result is what run and rss write, and report reads.
type result struct {
	Label   string `json:"label"`
	Brokers string `json:"brokers"`
	// Settings given to the services on top of their defaults.
	ProducerEnv []string  `json:"producer_env,omitempty"`
	ConsumerEnv []string  `json:"consumer_env,omitempty"`
	Data        genStats  `json:"data"`
	Repeat      int       `json:"repeat,omitempty"`     // throughput runs of each program
	ZstdLevel   int       `json:"zstd_level,omitempty"` // 0: each program's default
	Produce     []measure `json:"produce,omitempty"`    // tweetpipe, kcat keyed, kcat unkeyed
	Consume     []measure `json:"consume,omitempty"`    // tweetpipe, kcat, kafka-go alone, Connect
	Latency     []latency `json:"latency,omitempty"`    // tweetpipe and kcat at each rate
	// rss: the same programs on the large backlog, for peak memory.
	Backlog    *genStats `json:"backlog,omitempty"`
	Partitions int       `json:"partitions,omitempty"` // of the backlog's topic
	RSSProduce []measure `json:"rss_produce,omitempty"`
	RSSConsume []measure `json:"rss_consume,omitempty"`
	// manifest: from an hour's last file closed to its manifest.
	Manifest *manifestResult `json:"manifest,omitempty"`
}

func cmdGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	templates := fs.String("templates", "", "JSON Lines file of real v1.1 statuses to draw from")
	n := fs.Int("n", 200000, "statuses to generate")
	seed := fs.Uint64("seed", 1, "same seed, same file")
	out := fs.String("out", "", "output file, one status a line")
	keyed := fs.String("keyed", "", "also write key<TAB>status lines here, for kcat -K")
	class := fs.String("class", "", "size class: jetstream, v1.1-1k or v1.1-5k (for jetstream, -templates holds Jetstream events); nothing: the templates as they are")
	fs.Parse(args)
	if *templates == "" || *out == "" || *n <= 0 {
		return errors.New("-templates, -out and a positive -n are required")
	}
	c, err := lookupClass(*class)
	if err != nil {
		return err
	}
	var ts []template
	if c.name == "" {
		ts, err = loadTemplates(*templates)
	} else {
		var lines [][]byte
		if lines, err = readLines(*templates); err == nil {
			ts, err = classTemplates(lines, c)
		}
	}
	if err != nil {
		return err
	}
	t := time.Now()
	st, err := generateFile(ts, *n, *seed, *out, *keyed)
	if err != nil {
		return err
	}
	st.Class, st.Title = c.name, c.title
	logf("generated %d %s (%.1f MB, mean %.0f B, p50 %d B, p99 %d B, zstd ratio %.1f) in %s into %s",
		st.Count, c.title, float64(st.Bytes)/1e6, st.MeanBytes, st.P50Bytes, st.P99Bytes, st.ZstdRatio, time.Since(t).Round(time.Millisecond), *out)
	return writeJSON(*out+".stats.json", st)
}

// runnerFlags are the flags every command that runs programs shares.
type runnerFlags struct {
	label, brokers, bin, kcat, work, data, out string
	producerEnv, consumerEnv                   string
	partitions                                 int
	zstdLevel                                  int
	timeout                                    time.Duration
	java, kafkaLibs                            string
}

func (f *runnerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.label, "label", "kfake", "name of the broker in the report")
	fs.StringVar(&f.brokers, "brokers", "", "bootstrap address of the broker")
	fs.StringVar(&f.bin, "bin", "bin", "folder holding the producer and consumer binaries")
	fs.StringVar(&f.kcat, "kcat", "kcat", "kcat binary")
	fs.StringVar(&f.work, "work", os.TempDir(), "scratch folder (logs, outputs)")
	fs.StringVar(&f.data, "data", "", "statuses file made by bench gen")
	fs.StringVar(&f.out, "out", "", "result file (JSON)")
	fs.IntVar(&f.partitions, "partitions", 3, "partitions of every topic (the producer's default)")
	fs.IntVar(&f.zstdLevel, "zstd-level", 0, "zstd level of both programs (KAFKA_COMPRESSION_LEVEL, kcat's compression.level); 0: each one's default, level 3")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "bound on any one program")
	fs.StringVar(&f.producerEnv, "producer-env", "", "extra KEY=VALUE settings for the producer, space separated (to try a change; the report names them)")
	fs.StringVar(&f.consumerEnv, "consumer-env", "", "extra KEY=VALUE settings for the consumer, space separated")
	fs.StringVar(&f.java, "java", "java", "java binary, for the Kafka peers")
	fs.StringVar(&f.kafkaLibs, "kafka-libs", "", "folder of the Kafka jars (kafka-tools, connect-runtime, connect-file): also run Kafka's console producer and Connect's file sink; empty: kcat only")
}

func (f *runnerFlags) runner() (*runner, genStats, error) {
	if f.brokers == "" || f.data == "" || f.out == "" {
		return nil, genStats{}, errors.New("-brokers, -data and -out are required")
	}
	var st genStats
	if err := readJSON(f.data+".stats.json", &st); err != nil {
		return nil, st, fmt.Errorf("reading the statistics bench gen wrote beside %s: %w", f.data, err)
	}
	bin, err := filepath.Abs(f.bin)
	if err != nil {
		return nil, st, err
	}
	work, err := filepath.Abs(f.work)
	if err != nil {
		return nil, st, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, st, err
	}
	return &runner{label: f.label, brokers: f.brokers, bin: bin, kcat: f.kcat, work: work,
		partitions: f.partitions, timeout: f.timeout, adm: newAdmin(f.brokers),
		extraProducer: strings.Fields(f.producerEnv), extraConsumer: strings.Fields(f.consumerEnv), zstdLevel: f.zstdLevel,
		peers: peers{java: f.java, libs: f.kafkaLibs}, jetstream: st.Class == "jetstream"}, st, nil
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var rf runnerFlags
	rf.register(fs)
	keyed := fs.String("keyed", "", "the same statuses as id<TAB>status lines (bench gen -keyed)")
	templates := fs.String("templates", "", "the templates bench gen used, for the latency runs' live statuses")
	latSeconds := fs.Int("lat-seconds", 30, "length of the 50 posts/s latency runs")
	latRate := fs.Float64("lat-rate", 50, "posts per second of the paced latency runs")
	latFull := fs.Int("lat-full", 20000, "statuses in the full-speed latency runs")
	repeat := fs.Int("repeat", 1, "throughput runs of each program; the fastest is kept")
	withLatency := fs.Bool("latency", true, "also measure latency (needs -templates)")
	fs.Parse(args)
	r, st, err := rf.runner()
	if err != nil {
		return err
	}
	if *keyed == "" || (*withLatency && *templates == "") {
		return errors.New("-keyed, and -templates for the latency runs, are required")
	}
	var ts []template
	if *withLatency {
		if ts, err = loadTemplates(*templates); err != nil {
			return err
		}
	}
	defer r.cleanup()
	res := result{Label: r.label, Brokers: r.brokers, Data: st, ProducerEnv: r.extraProducer, ConsumerEnv: r.extraConsumer, Repeat: *repeat, ZstdLevel: r.zstdLevel}
	n, b := int64(st.Count), st.Bytes
	abs, err := filepath.Abs(rf.data)
	if err != nil {
		return err
	}

	// Throughput, each program repeat times, alternating, keeping each
	// one's fastest run: on a shared machine the fastest is the least
	// disturbed. The producer's first topic is the consumers' backlog.
	res.Produce = make([]measure, 3, 4)
	// tweetpipe, kcat, kafka-go alone (floor.go), kcat without its fetch
	// pauses, Connect
	res.Consume = make([]measure, 4, 5)
	if r.peers.enabled() {
		res.Produce, res.Consume = res.Produce[:4], res.Consume[:5]
	}
	var backlog string
	for i := range *repeat {
		topic, err := r.topic(ctx, "a")
		if err != nil {
			return err
		}
		produceTweetpipe := func() error {
			m, err := r.produce(ctx, topic, abs, n, b)
			if err != nil {
				return fmt.Errorf("producer: %w", err)
			}
			logRate(r.label, m)
			keepFastest(&res.Produce[0], m)
			if backlog == "" {
				backlog = topic
			} else {
				r.drop(topic)
			}
			return nil
		}
		produceKcat := func() error {
			for j, withKey := range []bool{true, false} {
				t, err := r.topic(ctx, "b")
				if err != nil {
					return err
				}
				file := abs
				if withKey {
					file = *keyed
				}
				m, err := r.kcatProduce(ctx, t, file, withKey, n, b)
				if err != nil {
					return fmt.Errorf("kcat -P: %w", err)
				}
				logRate(r.label, m)
				keepFastest(&res.Produce[1+j], m)
				r.drop(t)
			}
			return nil
		}
		produceConsole := func() error {
			if !r.peers.enabled() {
				return nil
			}
			t, err := r.topic(ctx, "c")
			if err != nil {
				return err
			}
			m, err := r.consoleProduce(ctx, t, *keyed, n, b)
			if err != nil {
				return fmt.Errorf("console producer: %w", err)
			}
			logRate(r.label, m)
			keepFastest(&res.Produce[3], m)
			r.drop(t)
			return nil
		}
		// consumeWith runs one consumer on the backlog, keeping its fastest
		// run in res.Consume[i].
		consumeWith := func(i int, what string, run func(context.Context, string, int64, int64) (measure, error)) func() error {
			return func() error {
				m, err := run(ctx, backlog, n, b)
				if err != nil {
					return fmt.Errorf("%s: %w", what, err)
				}
				logRate(r.label, m)
				keepFastest(&res.Consume[i], m)
				return nil
			}
		}
		consumeTweetpipe := consumeWith(0, "consumer", r.consume)
		consumeKcat := consumeWith(1, "kcat -C", r.kcatConsume)
		consumeKafkaGo := consumeWith(2, "kafka-go alone", r.kafkaGoRead)
		consumeKcatNoPause := consumeWith(3, "kcat -C (2 GiB fetch queue)", r.kcatConsumeNoPause)
		consumeConnect := func() error { return nil }
		if r.peers.enabled() {
			consumeConnect = consumeWith(4, "connect", r.connectSink)
		}
		// Every second round runs kcat first: a program that writes right after
		// another's output was deleted reuses its freed memory, which on a
		// virtual machine is several times cheaper than memory touched for
		// the first time (480 MB written: 0.09 s of system time against 1.5
		// s here), so a fixed order would favour whoever goes second.
		order := []func() error{produceTweetpipe, produceKcat, produceConsole, consumeTweetpipe, consumeKcat, consumeKafkaGo, consumeKcatNoPause, consumeConnect}
		if i%2 == 1 {
			order = []func() error{produceConsole, produceKcat, produceTweetpipe, consumeConnect, consumeKcatNoPause, consumeKafkaGo, consumeKcat, consumeTweetpipe}
		}
		for _, step := range order {
			if err := step(); err != nil {
				return err
			}
		}
		if *repeat > 1 {
			logf("[%s] round %d of %d done", r.label, i+1, *repeat)
		}
	}
	r.drop(backlog)

	if !*withLatency {
		return writeJSON(rf.out, res)
	}
	// Latency, paced then at full speed.
	g := newGenerator(ts, uint64(time.Now().UnixNano()))
	for _, c := range []struct {
		rate  float64
		count int
	}{{*latRate, int(*latRate) * *latSeconds}, {0, *latFull}} {
		l, err := r.latencyTweetpipe(ctx, g, c.rate, c.count)
		if err != nil {
			return err
		}
		logLatency(r.label, l)
		res.Latency = append(res.Latency, l)
		l, err = r.latencyKcat(ctx, g, c.rate, c.count)
		if err != nil {
			return err
		}
		logLatency(r.label, l)
		res.Latency = append(res.Latency, l)
	}
	return writeJSON(rf.out, res)
}

func cmdRSS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	var rf runnerFlags
	rf.register(fs)
	withKcat := fs.Bool("with-kcat", true, "also measure kcat -P (from stdin) and kcat -C on the backlog")
	fs.Parse(args)
	r, st, err := rf.runner()
	if err != nil {
		return err
	}
	defer r.cleanup()
	abs, err := filepath.Abs(rf.data)
	if err != nil {
		return err
	}
	res := result{Label: r.label, Brokers: r.brokers, Backlog: &st, Partitions: r.partitions,
		ProducerEnv: r.extraProducer, ConsumerEnv: r.extraConsumer, ZstdLevel: r.zstdLevel}
	n, b := int64(st.Count), st.Bytes
	topic, err := r.topic(ctx, "rss")
	if err != nil {
		return err
	}
	m, err := r.produce(ctx, topic, abs, n, b)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	logRate(r.label, m)
	res.RSSProduce = append(res.RSSProduce, m)
	if *withKcat {
		t, err := r.topic(ctx, "rssk")
		if err != nil {
			return err
		}
		m, err := r.kcatProduceStdin(ctx, t, abs, n, b)
		if err != nil {
			return fmt.Errorf("kcat -P: %w", err)
		}
		r.drop(t)
		logRate(r.label, m)
		res.RSSProduce = append(res.RSSProduce, m)
	}
	m, err = r.consume(ctx, topic, n, b)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	logRate(r.label, m)
	res.RSSConsume = append(res.RSSConsume, m)
	if *withKcat {
		m, err := r.kcatConsume(ctx, topic, n, b)
		if err != nil {
			return fmt.Errorf("kcat -C: %w", err)
		}
		logRate(r.label, m)
		res.RSSConsume = append(res.RSSConsume, m)
	}
	return writeJSON(rf.out, res)
}

func cmdProfile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("profile", flag.ExitOnError)
	var rf runnerFlags
	rf.register(fs)
	perf := fs.String("perf", "perf", "perf binary")
	fs.Parse(args)
	rf.out = "-" // profile writes perf.data files, not a result
	r, st, err := rf.runner()
	if err != nil {
		return err
	}
	defer r.cleanup()
	r.perf = *perf
	abs, err := filepath.Abs(rf.data)
	if err != nil {
		return err
	}
	return r.profile(ctx, abs, int64(st.Count), st.Bytes)
}

// keepFastest keeps in best the run with the shortest wall time, and the highest
// steady-state rate seen in any run: each figure is the best of the rounds.
func keepFastest(best *measure, m measure) {
	steady := max(best.SteadyRate, m.SteadyRate)
	if best.WallS == 0 || m.WallS < best.WallS {
		*best = m
	}
	best.SteadyRate = steady
}

func logRate(label string, m measure) {
	logf("[%s] %-30s %8d msgs in %6.2fs: %8.0f msg/s (steady %6.0f), %6.1f MB/s, peak RSS %5.1f MiB, CPU %.2fs (system %.2fs)%s",
		label, m.Tool, m.Msgs, m.WallS, m.rate(), m.SteadyRate, float64(m.Bytes)/m.WallS/1e6, float64(m.MaxRSS)/(1<<20), m.CPUS, m.SysS, allocNote(m))
}

func allocNote(m measure) string {
	if m.AllocsPerMsg == 0 {
		return ""
	}
	return fmt.Sprintf(", %.1f allocs/msg, %.0f B/msg allocated", m.AllocsPerMsg, m.AllocBPerMsg)
}

func logLatency(label string, l latency) {
	rate := "full speed"
	if l.Rate > 0 {
		rate = fmt.Sprintf("%g/s", l.Rate)
	}
	logf("[%s] latency %-30s at %-10s (%d posts, %.0f/s): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
		label, l.Tool, rate, l.Count, l.Achieved, l.P50MS, l.P90MS, l.P99MS, l.MaxMS)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
