package main

import (
	"bytes"
	"cmp"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The goals the report marks each figure against.
const (
	goalRatio    = 1.0        // throughput, tweetpipe ÷ kcat
	goalP99MS    = 1000 + 100 // BATCH_MAX_WAIT (1 s) + 100 ms, at 50 posts/s
	goalRSSBytes = 100 << 20  // per service, whatever the backlog
	mib          = float64(1 << 20)
)

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	brokers := fs.String("brokers-desc", "", "what the brokers are, for the machine line")
	kcat := fs.String("kcat", "kcat", "kcat binary, for its version")
	producer := fs.String("producer", "", "the producer binary measured, for its zstd encoder (its build's tags)")
	out := fs.String("out", "", "also write the table to this file")
	revision := fs.String("revision", "", "the source revision measured (git describe)")
	load := fs.String("load", "", "load averages during the run, for the reader to judge the noise")
	note := fs.String("machine-note", "", "anything else about the machine during the run, for the machine line")
	chart := fs.String("chart", "", "write the chart of messages per second by post size (SVG) here")
	upload := fs.String("upload", "", "go test -bench output of objstore.BenchmarkUpload (or why it did not run), for the upload table")
	fs.Parse(args)
	var runs, rss, sizes, manifests []result
	for _, path := range fs.Args() {
		var r result
		if err := readJSON(path, &r); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		switch {
		case r.Manifest != nil:
			manifests = append(manifests, r)
		case r.Backlog != nil:
			rss = append(rss, r)
		case r.Data.Class != "":
			sizes = append(sizes, r)
		default:
			runs = append(runs, r)
		}
	}
	if len(runs)+len(rss)+len(sizes)+len(manifests) == 0 {
		return errors.New("no result files given")
	}
	var uploads []uploadFigure
	uploadNote := ""
	if *upload != "" {
		b, err := os.ReadFile(*upload)
		if err != nil {
			return fmt.Errorf("reading the upload benchmark's output: %w", err)
		}
		uploads, uploadNote = parseUpload(string(b))
	}
	var b bytes.Buffer
	enc := "?"
	if *producer != "" {
		bi, err := buildinfo.ReadFile(*producer)
		if err != nil {
			return fmt.Errorf("reading the producer's build: %w", err)
		}
		enc = producerZstd(bi)
	}
	m := machine(*kcat) + ", the producer's zstd: " + enc
	if *load != "" {
		m += "; load average " + *load
	}
	if *note != "" {
		m += "; " + *note
	}
	writeReport(&b, runs, rss, m, enc, *brokers, *revision)
	sortBySize(sizes)
	writeSizeReport(&b, sizes)
	if *upload != "" {
		writeUploadReport(&b, uploads, uploadNote)
	}
	writeManifestReport(&b, manifests)
	os.Stdout.Write(b.Bytes())
	if *chart != "" && len(sizes) > 0 {
		f, err := os.Create(*chart)
		if err != nil {
			return fmt.Errorf("writing the chart: %w", err)
		}
		sub := time.Now().UTC().Format("2006-01-02")
		if *revision != "" {
			sub += ", source " + *revision
		}
		err = writeChart(f, "tweetpipe beside kcat and Kafka's own tools, by post size", sub, []string{"Machine: " + m}, sizePanels(sizes))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing the chart: %w", err)
		}
		logf("chart in %s", *chart)
	}
	if *out != "" {
		return os.WriteFile(*out, b.Bytes(), 0o644)
	}
	return nil
}

func writeReport(w io.Writer, runs, rss []result, machine, enc, brokers, revision string) {
	at := time.Now().UTC().Format("2006-01-02")
	if revision != "" {
		at += ", source " + revision
	}
	fmt.Fprintf(w, "Measured by `make bench` (`scripts/bench.sh`) on %s.\n\n", at)
	fmt.Fprintf(w, "- Machine: %s.\n", machine)
	if brokers != "" {
		fmt.Fprintf(w, "- Brokers, on the same machine: %s.\n", brokers)
	}
	if len(runs) > 0 {
		d := runs[0].Data
		fmt.Fprintf(w, "- Data: %s v1.1 statuses drawn from %d real stream payloads (ids, times, counts and words replaced), "+
			"mean %s B (p50 %s B, p99 %s B); zstd on both sides, %s (%.1f:1 on 1,000 statuses at level 3), %s partitions, acks=all; "+
			"producer and consumer at their defaults (the consumer appends, fsyncs and checkpoints every batch of 10,000 records, 4 MiB or 1 s, before committing).\n",
			group(float64(d.Count)), d.Templates, group(d.MeanBytes), group(float64(d.P50Bytes)), group(float64(d.P99Bytes)), zstdLevelNote(runs[0].ZstdLevel, enc), d.ZstdRatio, "3")
		fmt.Fprintf(w, "- kcat: `kcat -P -z zstd -X acks=all -K '\\t' -X partitioner=murmur2_random -l FILE` (same keys, same partitions as the producer) "+
			"and `kcat -C -e -o beginning -q -f '%%s\\n' > FILE` (no fsync; fsyncing its file afterwards took %s).\n", fsyncNote(runs))
		fmt.Fprintln(w, "- "+kcatNoPauseNote)
	}
	if len(runs) > 0 && len(runs[0].Latency) > 0 {
		fmt.Fprintf(w, "- Latency: live statuses written into a FIFO that the producer replays (kcat -P: its stdin); from each write to its line "+
			"appearing in the output (files polled every millisecond; kcat -C with -u); the first second (2,000 statuses at full speed) "+
			"is not measured and writing goes on until every measured line is out, so start-up and the last partial batches do not count.\n")
	}
	if len(runs) > 0 && len(runs[0].Produce) > 0 {
		fmt.Fprintf(w, "- Throughput: messages over the whole run (process start to the last message in Kafka or the last line written, "+
			"including start-up and, for the consumer, the group join and the last batches), and the steady state: "+
			"the rate between 10%% and 90%% of the messages, sampled every 10 ms from the broker's end offsets (producers) or the output's size (consumers), "+
			"the same way for both programs. Each program runs %d times, in alternating order; each figure is its best.\n", max(1, runs[0].Repeat))
	}
	for _, r := range append(append([]result{}, runs...), rss...) {
		if len(r.ProducerEnv)+len(r.ConsumerEnv) > 0 {
			fmt.Fprintf(w, "- **Not the defaults** on %s: producer `%s`, consumer `%s`.\n", r.Label, strings.Join(r.ProducerEnv, " "), strings.Join(r.ConsumerEnv, " "))
		}
	}
	for _, r := range rss {
		d := r.Backlog
		fmt.Fprintf(w, "- Peak RSS: a backlog of %s %s (mean %s B, %.1f GB)%s on %s, VmHWM from wait4's rusage at exit",
			group(float64(d.Count)), backlogWhat(r), group(d.MeanBytes), float64(d.Bytes)/1e9, backlogPartitions(r), r.Label)
		if len(r.RSSProduce) > 1 {
			fmt.Fprint(w, "; kcat -P reads it from stdin, and its RSS is librdkafka's producer queue (queue.buffering.max.kbytes, 1 GiB by default) filling up")
		}
		fmt.Fprintln(w, ".")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measure | broker | tweetpipe | kcat | tweetpipe ÷ kcat | goal |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | --- |")
	for _, r := range runs {
		if len(r.Produce) >= 2 {
			tp, kc := r.Produce[0], r.Produce[1]
			ratio := tp.rate() / kc.rate()
			fmt.Fprintf(w, "| producer throughput, replay → Kafka (msg/s) | %s | %s (%.2f s) | %s (%.2f s) | %.2f× | ≥ %.1f× %s |\n",
				r.Label, group(tp.rate()), tp.WallS, group(kc.rate()), kc.WallS, ratio, goalRatio, mark(ratio >= goalRatio))
		}
		if len(r.Produce) >= 2 && r.Produce[0].SteadyRate > 0 && r.Produce[1].SteadyRate > 0 {
			tp, kc := r.Produce[0].SteadyRate, r.Produce[1].SteadyRate
			fmt.Fprintf(w, "| … steady state, 10%% → 90%% of the messages in Kafka (msg/s) | %s | %s | %s | %.2f× | ≥ %.1f× %s |\n",
				r.Label, group(tp), group(kc), tp/kc, goalRatio, mark(tp/kc >= goalRatio))
		}
		if len(r.Produce) >= 3 {
			tp, kc := r.Produce[0], r.Produce[2]
			fmt.Fprintf(w, "| … against kcat without keys (msg/s) | %s | %s | %s (%.2f s) | %.2f× | |\n",
				r.Label, group(tp.rate()), group(kc.rate()), kc.WallS, tp.rate()/kc.rate())
		}
		if len(r.Consume) >= 2 {
			tp, kc := r.Consume[0], r.Consume[1]
			ratio := tp.rate() / kc.rate()
			fmt.Fprintf(w, "| consumer throughput, backlog → files (msg/s) | %s | %s (%.2f s; first line at %.2f s) | %s (%.2f s) | %.2f× | ≥ %.1f× %s |\n",
				r.Label, group(tp.rate()), tp.WallS, tp.FirstS, group(kc.rate()), kc.WallS, ratio, goalRatio, mark(ratio >= goalRatio))
			if tp.SteadyRate > 0 && kc.SteadyRate > 0 {
				fmt.Fprintf(w, "| … steady state, 10%% → 90%% of the output written (msg/s) | %s | %s | %s | %.2f× | ≥ %.1f× %s |\n",
					r.Label, group(tp.SteadyRate), group(kc.SteadyRate), tp.SteadyRate/kc.SteadyRate, goalRatio, mark(tp.SteadyRate/kc.SteadyRate >= goalRatio))
			}
			if np, ok := byTool(r.Consume, kcatNoPauseTool); ok && tp.SteadyRate > 0 && np.SteadyRate > 0 {
				fmt.Fprintf(w, "| … steady state against %s, which never pauses its fetching (msg/s) | %s | %s | %s | %.2f× | |\n",
					kcatNoPauseTool, r.Label, group(tp.SteadyRate), group(np.SteadyRate), tp.SteadyRate/np.SteadyRate)
			}
		}
		for i := 0; i+1 < len(r.Latency); i += 2 {
			tp, kc := r.Latency[i], r.Latency[i+1]
			what, goal := "latency at full speed, p50 / p99", ""
			if tp.Rate > 0 {
				what = fmt.Sprintf("latency at %g posts/s, p50 / p99", tp.Rate)
				goal = fmt.Sprintf("p99 ≤ %s ms %s", group(goalP99MS), mark(tp.P99MS <= goalP99MS))
			}
			fmt.Fprintf(w, "| %s (%s posts, %s/s) | %s | %s / %s ms | %s / %s ms | %.1f× (p99) | %s |\n",
				what, group(float64(tp.Count)), group(tp.Achieved), r.Label, ms(tp.P50MS), ms(tp.P99MS), ms(kc.P50MS), ms(kc.P99MS), tp.P99MS/kc.P99MS, goal)
		}
	}
	for _, r := range rss {
		for _, side := range []struct {
			name string
			ms   []measure
		}{{"producer", r.RSSProduce}, {"consumer", r.RSSConsume}} {
			if len(side.ms) == 0 {
				continue
			}
			tp := side.ms[0]
			kc, ratio := "—", "—"
			if len(side.ms) > 1 {
				kc = fmt.Sprintf("%.1f MiB (%s)", float64(side.ms[1].MaxRSS)/mib, side.ms[1].Tool)
				ratio = fmt.Sprintf("%.1f×", float64(tp.MaxRSS)/float64(side.ms[1].MaxRSS))
			}
			fmt.Fprintf(w, "| peak RSS, %s, %s backlog%s%s (%s msg/s) | %s | %.1f MiB | %s | %s | ≤ 100 MiB %s |\n",
				side.name, group(float64(r.Backlog.Count)), backlogClass(r), backlogPartitions(r), group(tp.rate()), r.Label, float64(tp.MaxRSS)/mib, kc, ratio, mark(tp.MaxRSS <= goalRSSBytes))
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Cost per message in the throughput runs (CPU: user + system time of the process, and the system part alone; allocations: the binary's own `go_memstats_mallocs_total` and `go_memstats_alloc_bytes_total` from `/metrics`, steady state):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| program | broker | CPU µs/msg | of which system | heap allocs/msg | heap bytes/msg | peak RSS |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range runs {
		for _, m := range append(append([]measure{}, r.Produce...), r.Consume...) {
			allocs, bytes := "—", "—"
			if m.AllocsPerMsg > 0 {
				allocs, bytes = fmt.Sprintf("%.1f", m.AllocsPerMsg), group(m.AllocBPerMsg)
			}
			fmt.Fprintf(w, "| %s | %s | %.1f | %s | %s | %s | %.1f MiB |\n", m.Tool, r.Label, m.CPUS/float64(m.Msgs)*1e6, m.sysPerMsg(),
				allocs, bytes, float64(m.MaxRSS)/mib)
		}
	}
}

// sysPerMsg is m's system (kernel) CPU µs a message, or "—" for a result
// file from before the system time was kept.
func (m measure) sysPerMsg() string {
	if m.SysS > 0 || m.CPUS == 0 {
		return fmt.Sprintf("%.1f", m.SysS/float64(m.Msgs)*1e6)
	}
	return "—"
}

func zstdLevelNote(level int, enc string) string {
	if level > 0 {
		return fmt.Sprintf("**level %d** (the producer's `KAFKA_COMPRESSION_LEVEL`, kcat's `compression.level`)", level)
	}
	if strings.HasPrefix(enc, "libzstd") {
		return "each at its default level (3 for librdkafka and for the producer's libzstd)"
	}
	return "each at its default level (3 for librdkafka; klauspost's default speed, about 3, for the producer)"
}

// producerZstd names the zstd encoder a producer binary compresses with:
// libzstd when built with cgo and the tag libzstd (the Makefile's builds),
// klauspost's pure-Go encoder otherwise (producer/internal/zstdcodec).
func producerZstd(bi *debug.BuildInfo) string {
	var tags []string
	cgo := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "-tags":
			tags = strings.Split(s.Value, ",")
		case "CGO_ENABLED":
			cgo = s.Value == "1"
		}
	}
	if cgo && slices.Contains(tags, "libzstd") {
		return "libzstd (cgo build, -tags libzstd)"
	}
	return "klauspost/compress (pure-Go build)"
}

// kcatNoPauseNote says what kcatNoPauseTool is and why it is measured.
const kcatNoPauseNote = kcatNoPauseTool + ": kcat -C as above with `-X queued.max.messages.kbytes=2097151 -X queued.min.messages=10000000`. " +
	"With its defaults librdkafka (2.0.2 here) stops fetching once its fetch queue holds 64 MiB or 100,000 messages and fetches again " +
	"at its next one-second tick, so a kcat -C that writes more slowly than the broker sends runs in one-second steps " +
	"(`-d fetch`: \"not fetchable: queued.max.messages.kbytes exceeded\"); whether it does in a round depends on " +
	"which of the two is ahead. This row never pauses: kcat -C at its fastest. The goals are judged against kcat -C as users run it, with its defaults."

func fsyncNote(runs []result) string {
	var parts []string
	for _, r := range runs {
		if len(r.Consume) >= 2 {
			parts = append(parts, fmt.Sprintf("%.2f s on %s", r.Consume[1].FsyncS, r.Label))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func mark(ok bool) string {
	if ok {
		return "✅"
	}
	return "❌"
}

func ms(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return group(v)
}

// group formats v rounded to an integer with thousands separators.
func group(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// machine describes this machine: CPUs, model, memory, kernel, Go, kcat.
func machine(kcat string) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); m != nil {
			model = strings.TrimSpace(string(m[1]))
		}
	}
	mem := "? GiB"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); m != nil {
			kb, _ := strconv.ParseFloat(string(m[1]), 64)
			mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	kv := "kcat ?"
	if out, err := exec.Command(kcat, "-V").CombinedOutput(); err == nil {
		if m := regexp.MustCompile(`Version (\S+) .*librdkafka (\S+)`).FindSubmatch(out); m != nil {
			kv = fmt.Sprintf("kcat %s (librdkafka %s)", m[1], m[2])
		}
	}
	return fmt.Sprintf("nproc %d, %s, %s RAM, Linux %s, %s, %s", runtime.NumCPU(), model, mem, kernel, runtime.Version(), kv)
}

// Goals by post size: tweetpipe's rate over kcat's, on the whole run and
// in the steady state (both must meet it); and the consumer's steady state
// over Connect's file sink.
func sizeGoal(class string) float64 {
	if class == "v1.1-5k" {
		return 1.0
	}
	return 0.8
}

const goalOverConnect = 1.2

// sortBySize orders size runs by broker, then by mean post size.
func sortBySize(rs []result) {
	slices.SortStableFunc(rs, func(a, b result) int {
		if a.Label != b.Label {
			return strings.Compare(brokerRank(a.Label), brokerRank(b.Label))
		}
		return cmp.Compare(a.Data.MeanBytes, b.Data.MeanBytes)
	})
}

func brokerRank(label string) string {
	if label == "kfake" {
		return "0"
	}
	return "1" + label
}

func sizeLabel(d genStats) string {
	return fmt.Sprintf("%s (mean %s B)", d.Title, group(d.MeanBytes))
}

// writeSizeReport writes the size axis: every program on every class and
// broker, whole run and steady state, against kcat (and, for the consumer,
// Connect's file sink and kafka-go's Reader alone), with its cost per message.
func writeSizeReport(w io.Writer, sizes []result) {
	if len(sizes) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "By post size, throughput runs only (no latency), each program on the same generated data, %d times in alternating order, each figure its best:\n",
		max(1, sizes[0].Repeat))
	fmt.Fprintln(w)
	for _, r := range sizes {
		fmt.Fprintf(w, "- %s on %s: %s messages, p50 %s B, p99 %s B, zstd %.1f:1.\n", sizeLabel(r.Data), r.Label,
			group(float64(r.Data.Count)), group(float64(r.Data.P50Bytes)), group(float64(r.Data.P99Bytes)), r.Data.ZstdRatio)
	}
	fmt.Fprintln(w, "- Kafka console producer: `org.apache.kafka.tools.ConsoleProducer --producer-property acks=all --producer-property compression.type=zstd "+
		"--property parse.key=true` on the keyed file (same keys, same partitions), -Xmx256M as kafka-run-class.sh gives it; "+
		"Kafka Connect file sink: a standalone worker (ConnectStandalone, -Xms256M -Xmx2G as connect-standalone.sh) with one "+
		"FileStreamSinkConnector task, StringConverter values, no fsync, at least once. Their whole-run figures include the JVM's start and, for Connect, its group join.")
	fmt.Fprintln(w, "- "+kafkaGoTool+": the consumer's floor (`bench read`): kafka-go's Reader set up as the consumer sets it up at 3 partitions, "+
		"one a partition, its batches (4 MiB or 10,000 records) written by another goroutine, each value a line, under the consumer's memory limit; no validation, dedup window, fsync, checkpoint or commit. "+
		"The consumer's steady ratio to it is what its guarantee costs; its own ratio to kcat -C, the most the consumer could reach on kafka-go's Reader "+
		"(kafka-go's Conn.ReadBatch, `bench read -conn`, reads faster; the consumer, held by its own work, did not gain from it: docs/performance-history.md).")
	fmt.Fprintln(w, "- "+kcatNoPauseNote)
	fmt.Fprintln(w, "- Jetstream commits: the producer runs its Jetstream source (SOURCE=jetstream) against a local websocket endpoint that sends "+
		"every event at once; its wall time ends with the last message in Kafka, and it is then stopped.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| post size | broker | program | msg/s (whole run) | steady msg/s | ÷ kcat (whole run) | CPU µs/msg | of which system | heap allocs/msg | peak RSS | goal |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range sizes {
		goal := sizeGoal(r.Data.Class)
		row := func(m measure, kcat measure, isTweetpipe bool, extra string) {
			if m.Msgs == 0 {
				return
			}
			ratio, g := "—", extra
			if kcat.WallS > 0 && m.WallS > 0 {
				q := m.rate() / kcat.rate()
				ratio = fmt.Sprintf("%.2f×", q)
				if isTweetpipe {
					// A whole run of about a second is decided by start-up as
					// much as by rate (kcat -C's whole runs of 50,000 statuses
					// were about half a second longer than its steady rate
					// accounts for): the goal holds only where the steady
					// state meets it too. A steady rate of 0 is a run too
					// short for the 10 ms samples, which is not judged met.
					met, steady := false, " (steady —)"
					if m.SteadyRate > 0 && kcat.SteadyRate > 0 {
						qs := m.SteadyRate / kcat.SteadyRate
						met = q >= goal && qs >= goal
						steady = fmt.Sprintf(" (steady %.2f×)", qs)
					}
					g = strings.TrimSpace(fmt.Sprintf("≥ %.1f× kcat%s %s%s", goal, steady, mark(met), extra))
				}
			}
			allocs := "—"
			if m.AllocsPerMsg > 0 {
				allocs = fmt.Sprintf("%.1f", m.AllocsPerMsg)
			}
			steady := "—" // too fast for the 10 ms samples
			if m.SteadyRate > 0 {
				steady = group(m.SteadyRate)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.1f | %s | %s | %.1f MiB | %s |\n", r.Data.Title, r.Label, m.Tool,
				group(m.rate()), steady, ratio, m.CPUS/float64(m.Msgs)*1e6, m.sysPerMsg(), allocs, float64(m.MaxRSS)/mib, g)
		}
		if len(r.Produce) >= 2 {
			for i, m := range r.Produce {
				row(m, r.Produce[1], i == 0, "")
			}
		}
		if len(r.Consume) >= 2 {
			for i, m := range r.Consume {
				extra := ""
				if i == 0 {
					if c, ok := byTool(r.Consume, connectTool); ok && c.SteadyRate > 0 {
						q := m.SteadyRate / c.SteadyRate
						extra = fmt.Sprintf("; steady %.2f× Connect, ≥ %.1f× %s", q, goalOverConnect, mark(q >= goalOverConnect))
					}
					if f, ok := byTool(r.Consume, kafkaGoTool); ok && f.SteadyRate > 0 {
						extra += fmt.Sprintf("; steady %.2f× kafka-go alone", m.SteadyRate/f.SteadyRate)
					}
					if np, ok := byTool(r.Consume, kcatNoPauseTool); ok && np.SteadyRate > 0 {
						extra += fmt.Sprintf("; steady %.2f× %s", m.SteadyRate/np.SteadyRate, kcatNoPauseTool)
					}
				}
				row(m, r.Consume[1], i == 0, extra)
			}
		}
	}
}

// byTool finds the measure of a program by its name; a run without it (a
// peer not run, or a result file written before it was measured) has none.
func byTool(ms []measure, tool string) (measure, bool) {
	for _, m := range ms {
		if m.Tool == tool && m.Msgs > 0 {
			return m, true
		}
	}
	return measure{}, false
}

// sizePanels turns size runs into chart panels: producers and consumers,
// per broker, with a group of bars per post size.
func sizePanels(sizes []result) []chartPanel {
	var panels []chartPanel
	var labels []string
	byLabel := map[string][]result{}
	for _, r := range sizes {
		if byLabel[r.Label] == nil {
			labels = append(labels, r.Label)
		}
		byLabel[r.Label] = append(byLabel[r.Label], r)
	}
	for _, label := range labels {
		for _, side := range []string{"producers", "consumers"} {
			p := chartPanel{title: fmt.Sprintf("%s, %s broker", side, label)}
			for _, r := range byLabel[label] {
				ms := r.Produce
				if side == "consumers" {
					ms = r.Consume
				}
				g := chartGroup{label: fmt.Sprintf("v1.1, %s B", group(r.Data.MeanBytes))}
				if r.Data.Class == "jetstream" {
					g.label = fmt.Sprintf("Jetstream, %s B", group(r.Data.MeanBytes))
				}
				for _, m := range ms {
					i := slices.Index(p.series, m.Tool)
					if i < 0 {
						p.series = append(p.series, m.Tool)
						i = len(p.series) - 1
					}
					for len(g.values) <= i {
						g.values, g.steady = append(g.values, 0), append(g.steady, 0)
					}
					g.values[i], g.steady[i] = m.rate(), m.SteadyRate
				}
				p.groups = append(p.groups, g)
			}
			panels = append(panels, p)
		}
	}
	return panels
}

// uploadFigure is one file size of objstore.BenchmarkUpload, a value per
// run (go test -count).
type uploadFigure struct {
	size                             string
	nsPerOp, mbPerS, bytesOp, allocs []float64
}

var uploadLine = regexp.MustCompile(`^BenchmarkUpload/(\S+?)(?:-\d+)?\s+\d+\s+(.+)$`)

// parseUpload reads go test -bench output: BenchmarkUpload's figures by
// file size, in the order first seen. Without any, note is the output's
// last line: why it did not run.
func parseUpload(out string) (figs []uploadFigure, note string) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		m := uploadLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		i := slices.IndexFunc(figs, func(f uploadFigure) bool { return f.size == m[1] })
		if i < 0 {
			figs = append(figs, uploadFigure{size: m[1]})
			i = len(figs) - 1
		}
		f := &figs[i]
		fields := strings.Fields(m[2])
		for j := 0; j+1 < len(fields); j += 2 {
			v, err := strconv.ParseFloat(fields[j], 64)
			if err != nil {
				continue
			}
			switch fields[j+1] {
			case "ns/op":
				f.nsPerOp = append(f.nsPerOp, v)
			case "MB/s":
				f.mbPerS = append(f.mbPerS, v)
			case "B/op":
				f.bytesOp = append(f.bytesOp, v)
			case "allocs/op":
				f.allocs = append(f.allocs, v)
			}
		}
	}
	if len(figs) == 0 {
		note = "no output"
		if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
			note = l
		}
	}
	return figs, note
}

// median of vs (the mean of the middle two when even); 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeUploadReport writes the upload table: MB/s and ms per file for each
// file size the benchmark measured, or why it did not run.
func writeUploadReport(w io.Writer, figs []uploadFigure, note string) {
	fmt.Fprintln(w)
	if len(figs) == 0 {
		fmt.Fprintf(w, "Upload to object storage: not measured (%s).\n", note)
		return
	}
	fmt.Fprintln(w, "Upload to object storage (`objstore.BenchmarkUpload`, `OUTPUT_URL=s3://...`): one staged file's upload "+
		"and its partition's checkpoint per op, to scripts/s3-local.sh's versitygw (posix backend) on the same machine; "+
		"MB = 10⁶ bytes; the median of the runs (`go test -count`), their range in parentheses:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| file size | runs | upload MB/s | ms per file | heap allocs/file | heap bytes/file |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, f := range figs {
		msPer := make([]float64, len(f.nsPerOp))
		for i, ns := range f.nsPerOp {
			msPer[i] = ns / 1e6
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", f.size, len(f.nsPerOp),
			spread(f.mbPerS, oneDecimal), spread(msPer, oneDecimal), spread(f.allocs, group), spread(f.bytesOp, group))
	}
}

func oneDecimal(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// spread formats the median of vs and, when they differ as formatted,
// their range: "12.3 (11.0–13.1)".
func spread(vs []float64, format func(float64) string) string {
	if len(vs) == 0 {
		return "—"
	}
	s := format(median(vs))
	if l, h := format(slices.Min(vs)), format(slices.Max(vs)); l != h {
		s += " (" + l + "–" + h + ")"
	}
	return s
}

// writeManifestReport writes the close-to-manifest table: for each
// MANIFEST_INTERVAL and output (a folder, a bucket) measured, the median,
// p90 and max (nearest rank) over every hour of every run; for a bucket,
// also the median and max from the hour closed in the bucket.
func writeManifestReport(w io.Writer, manifests []result) {
	if len(manifests) == 0 {
		return
	}
	m := manifests[0].Manifest
	fmt.Fprintln(w)
	fmt.Fprintf(w, "From an hour's last file closed (a folder) or uploaded (a bucket: the object and its partition's checkpoint put) to its `_manifest.json` "+
		"(`bench manifest`: %s statuses of %d past hours in %d partitions, %s, "+
		"ROTATE_INTERVAL=1s, MANIFEST_GRACE=0s, a new topic and consumer each run; from the consumer's own log lines; every hour of every run counted; "+
		"the bucket is scripts/s3-local.sh's versitygw on the same machine, where an hour closes once every partition has uploaded a file of a later hour, "+
		"or all it has, and the last column starts there):\n",
		group(float64(m.Statuses)), m.Hours, m.Partitions, m.Compression)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| MANIFEST_INTERVAL | output | broker | runs × hours | median | p90 | max | from the hour closed in the bucket: median, max |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range manifests {
		m := r.Manifest
		lat := sortedMS(m.LatencyMS)
		at := func(lat []time.Duration, q float64) string { return ms(percentile(lat, q).Seconds()*1000) + " ms" }
		output, closed := m.Output, "—"
		if output == "" {
			output = outputFolder
		}
		if cl := sortedMS(m.ClosedMS); len(cl) > 0 {
			closed = at(cl, 0.5) + ", " + at(cl, 1)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d × %d | %s | %s | %s | %s |\n", m.Interval, output, r.Label, m.Runs, m.Hours,
			at(lat, 0.5), at(lat, 0.9), at(lat, 1), closed)
	}
}

// sortedMS returns milliseconds as durations, sorted.
func sortedMS(vs []float64) []time.Duration {
	d := make([]time.Duration, len(vs))
	for i, v := range vs {
		d[i] = time.Duration(v * float64(time.Millisecond))
	}
	slices.Sort(d)
	return d
}

// backlogWhat names what a peak-RSS backlog holds: statuses, or its size
// class.
func backlogWhat(r result) string {
	if r.Backlog.Title != "" {
		return r.Backlog.Title
	}
	return "statuses"
}

// backlogClass is " of <the class>" for a backlog of a size class, else "".
func backlogClass(r result) string {
	if r.Backlog.Title != "" {
		return " of " + r.Backlog.Title
	}
	return ""
}

// backlogPartitions is ", at N partitions" for a result that records them.
func backlogPartitions(r result) string {
	if r.Partitions > 0 {
		return fmt.Sprintf(", at %d partitions", r.Partitions)
	}
	return ""
}
