package main

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSizeReportGoals checks the size table's verdicts: tweetpipe's whole
// run and steady state against kcat's (0.8× on small posts, 1.0× on the 5
// KB class), and the consumer's steady state against Connect's file sink
// (1.2×).
func TestSizeReportGoals(t *testing.T) {
	// run: tweetpipe's whole-run and steady rates against kcat's 1,000 and
	// 1,000 (a steady rate of 0: too short a run to sample).
	run := func(class, title string, tpRate, tpSteady, connectSteady float64) result {
		ms := func(tool string, rate, steady float64) measure {
			return measure{Tool: tool, Msgs: 1000, WallS: 1000 / rate, SteadyRate: steady, CPUS: 0.01, MaxRSS: 1 << 20}
		}
		return result{Label: "kfake", Data: genStats{Class: class, Title: title, Count: 1000, MeanBytes: 1000},
			Produce: []measure{ms("tweetpipe producer", tpRate, tpSteady), ms("kcat -P -l -K (keyed)", 1000, 1000)},
			Consume: []measure{ms("tweetpipe consumer", tpRate, tpSteady), ms("kcat -C -e", 1000, 1000), ms("Kafka Connect file sink", 100, connectSteady)},
		}
	}
	for _, c := range []struct {
		name string
		r    result
		want []string
	}{
		{"1 KB class at 0.85x kcat, whole and steady", run("v1.1-1k", "one k", 850, 850, 700),
			[]string{"| one k | kfake | tweetpipe producer | 850 | 850 | 0.85× |", "| 1.0 MiB | ≥ 0.8× kcat (steady 0.85×) ✅ |",
				"≥ 0.8× kcat (steady 0.85×) ✅; steady 1.21× Connect, ≥ 1.2× ✅"}},
		{"5 KB class at 0.9x kcat", run("v1.1-5k", "five k", 900, 900, 750),
			[]string{"≥ 1.0× kcat (steady 0.90×) ❌ |", "steady 1.20× Connect, ≥ 1.2× ✅"}},
		{"Connect's steady state just under 1.2x", run("v1.1-5k", "five k", 1100, 1100, 1001),
			[]string{"≥ 1.0× kcat (steady 1.10×) ✅ |", "steady 1.10× Connect, ≥ 1.2× ❌"}},
		// kcat's start decided the whole run: 1.2x, the steady state 0.6x.
		{"whole run over the goal, steady state under it", run("v1.1-1k", "one k", 1200, 600, 100),
			[]string{"| one k | kfake | tweetpipe consumer | 1,200 | 600 | 1.20× |", "≥ 0.8× kcat (steady 0.60×) ❌; steady 6.00× Connect",
				"| tweetpipe producer | 1,200 | 600 | 1.20× | 10.0 | — | — | 1.0 MiB | ≥ 0.8× kcat (steady 0.60×) ❌ |"}},
		{"whole run under the goal, steady state over it", run("v1.1-1k", "one k", 700, 900, 100),
			[]string{"| tweetpipe producer | 700 | 900 | 0.70× | 10.0 | — | — | 1.0 MiB | ≥ 0.8× kcat (steady 0.90×) ❌ |"}},
		{"a run too short for a steady rate is not judged met", run("v1.1-1k", "one k", 2000, 0, 100),
			[]string{"| tweetpipe producer | 2,000 | — | 2.00× | 10.0 | — | — | 1.0 MiB | ≥ 0.8× kcat (steady —) ❌ |"}},
		// run's order since kafka-go's floor: Connect after it, found by name.
		{"Connect after kafka-go alone", withFloor(run("v1.1-5k", "five k", 900, 900, 600), 1500),
			[]string{"steady 1.50× Connect, ≥ 1.2× ✅; steady 0.60× kafka-go alone", "| five k | kfake | kafka-go Reader alone | 1,500 | 1,500 | 1.50× |"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			writeSizeReport(&b, []result{c.r})
			wantLines(t, "the size table", b.String(), c.want...)
		})
	}
}

// TestSizeReportSystemCPU: the size table gives each program's system
// (kernel) CPU a message beside its whole CPU, as the main report's cost
// table does, and "—" for a result file from before it was kept.
func TestSizeReportSystemCPU(t *testing.T) {
	m := func(tool string, cpu, sys float64) measure {
		return measure{Tool: tool, Msgs: 1000, WallS: 1, SteadyRate: 1000, CPUS: cpu, SysS: sys, MaxRSS: 1 << 20}
	}
	r := result{Label: "kfake", Data: genStats{Class: "v1.1-5k", Title: "five k", Count: 1000, MeanBytes: 5000},
		Produce: []measure{m("tweetpipe producer", 0.02, 0.005), m("kcat -P -l -K (keyed)", 0.018, 0)},
		Consume: []measure{m("tweetpipe consumer", 0.021, 0.0097), m("kcat -C -e", 0.009, 0.0047)}}
	var b bytes.Buffer
	writeSizeReport(&b, []result{r})
	wantLines(t, "the size table", b.String(),
		"| CPU µs/msg | of which system | heap allocs/msg |",
		"| five k | kfake | tweetpipe producer | 1,000 | 1,000 | 1.00× | 20.0 | 5.0 | — | 1.0 MiB |",
		"| five k | kfake | kcat -P -l -K (keyed) | 1,000 | 1,000 | 1.00× | 18.0 | — | — | 1.0 MiB |",
		"| five k | kfake | tweetpipe consumer | 1,000 | 1,000 | 1.00× | 21.0 | 9.7 | — | 1.0 MiB |",
		"| five k | kfake | kcat -C -e | 1,000 | 1,000 | 1.00× | 9.0 | 4.7 | — | 1.0 MiB |")
}

// TestSizeReportNamesTheRounds: the size report says how many times each
// program ran (BENCH_SIZE_REPEAT), as the main report does.
func TestSizeReportNamesTheRounds(t *testing.T) {
	r := result{Label: "kfake", Repeat: 3, Data: genStats{Class: "v1.1-1k", Title: "one k", Count: 1000, MeanBytes: 1000}}
	var b bytes.Buffer
	writeSizeReport(&b, []result{r})
	wantLines(t, "the size report", b.String(), "each program on the same generated data, 3 times in alternating order, each figure its best:")
}

// withFloor puts kafka-go's floor, at rate msg/s whole and steady, in
// front of Connect's file sink, as run orders them.
func withFloor(r result, rate float64) result {
	floor := measure{Tool: kafkaGoTool, Msgs: 1000, WallS: 1000 / rate, SteadyRate: rate, CPUS: 0.01, MaxRSS: 1 << 20}
	r.Consume = append(r.Consume[:2:2], floor, r.Consume[2])
	return r
}

// TestSizePanels orders programs as series and sizes as groups, per broker
// and side.
func TestSizePanels(t *testing.T) {
	r := func(label, class string, mean float64) result {
		return result{Label: label, Data: genStats{Class: class, MeanBytes: mean},
			Produce: []measure{{Tool: "a", Msgs: 10, WallS: 1}, {Tool: "b", Msgs: 10, WallS: 2}},
			Consume: []measure{{Tool: "c", Msgs: 10, WallS: 1, SteadyRate: 50}}}
	}
	sizes := []result{r("kafka", "v1.1-1k", 1000), r("kfake", "v1.1-5k", 5000), r("kfake", "jetstream", 400)}
	sortBySize(sizes)
	ps := sizePanels(sizes)
	var got []string
	for _, p := range ps {
		var groups []string
		for _, g := range p.groups {
			groups = append(groups, g.label)
		}
		got = append(got, p.title+": "+strings.Join(p.series, ",")+" / "+strings.Join(groups, ","))
	}
	want := []string{
		"producers, kfake broker: a,b / Jetstream, 400 B,v1.1, 5,000 B",
		"consumers, kfake broker: c / Jetstream, 400 B,v1.1, 5,000 B",
		"producers, kafka broker: a,b / v1.1, 1,000 B",
		"consumers, kafka broker: c / v1.1, 1,000 B",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got panels\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if v := ps[0].groups[1].values; len(v) != 2 || v[0] != 10 || v[1] != 5 {
		t.Errorf("kfake producers at 5,000 B: values %v; want [10 5]", v)
	}
	if s := ps[1].groups[0].steady; len(s) != 1 || s[0] != 50 {
		t.Errorf("kfake consumers at 400 B: steady %v; want [50]", s)
	}
}

// TestObjstoreReport checks the upload table (objstore.BenchmarkUpload's
// go test output: median MB/s and ms per file of each file size over the
// runs) and the close-to-manifest table (median, p90, max by
// MANIFEST_INTERVAL over every hour of every run).
func TestObjstoreReport(t *testing.T) {
	const out = `goos: linux
goarch: amd64
pkg: github.com/tweetpipe/tweetpipe/consumer/internal/objstore
cpu: Intel(R) Xeon(R) CPU @ 2.20GHz
BenchmarkUpload/256KiB-2         	      57	  20200000 ns/op	  12.98 MB/s	    5000 B/op	     150 allocs/op
BenchmarkUpload/8MiB-2           	       3	 700000000 ns/op	  11.98 MB/s	   90000 B/op	     900 allocs/op
BenchmarkUpload/256KiB-2         	      50	  21000000 ns/op	  12.48 MB/s	    5010 B/op	     150 allocs/op
BenchmarkUpload/256KiB-2         	      44	  23800000 ns/op	  11.01 MB/s	    4990 B/op	     150 allocs/op
PASS
ok  	github.com/tweetpipe/tweetpipe/consumer/internal/objstore	12.3s
`
	figs, note := parseUpload(out)
	var b bytes.Buffer
	writeUploadReport(&b, figs, note)
	wantLines(t, "the upload table", b.String(),
		"| file size | runs | upload MB/s | ms per file |",
		"| 256KiB | 3 | 12.5 (11.0–13.0) | 21.0 (20.2–23.8) | 150 | 5,000 (4,990–5,010) |",
		"| 8MiB | 1 | 12.0 | 700.0 | 900 | 90,000 |",
	)

	figs, note = parseUpload("s3-local: building versitygw v1.8.0\nversitygw could not be built: see /tmp/x/build.log\n")
	b.Reset()
	writeUploadReport(&b, figs, note)
	if got, want := strings.TrimSpace(b.String()), "Upload to object storage: not measured (versitygw could not be built: see /tmp/x/build.log)."; got != want {
		t.Errorf("without figures: got %q; want %q", got, want)
	}

	manifest := func(interval, output string, lat ...float64) result {
		return result{Label: "kfake", Manifest: &manifestResult{Interval: interval, Runs: 2, Hours: len(lat) / 2,
			Statuses: 6000, Partitions: 3, Compression: "gzip", Output: output, LatencyMS: lat}}
	}
	bucket := manifest("200ms", outputBucket, 900, 700, 500, 300)
	bucket.Manifest.ClosedMS = []float64{150, 50, 250, 350}
	b.Reset()
	writeManifestReport(&b, []result{
		manifest("10s", "", 9000, 1000, 3000, 2000, 5000, 4000, 7000, 6000, 8000, 10000),
		manifest("200ms", outputFolder, 120, 80),
		bucket,
	})
	wantLines(t, "the manifest table", b.String(),
		"6,000 statuses of 5 past hours in 3 partitions, gzip",
		"| MANIFEST_INTERVAL | output | broker | runs × hours | median | p90 | max | from the hour closed in the bucket: median, max |",
		"| 10s | folder | kfake | 2 × 5 | 5,000 ms | 9,000 ms | 10,000 ms | — |",
		"| 200ms | folder | kfake | 2 × 1 | 80 ms | 120 ms | 120 ms | — |",
		"| 200ms | bucket | kfake | 2 × 2 | 500 ms | 900 ms | 900 ms | 150 ms, 350 ms |",
	)
}

// TestProducerZstd names the encoder of producers built as the Makefile
// builds them (-tags libzstd, cgo on) and without cgo, from the binaries'
// own build information.
func TestProducerZstd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the producer twice")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		cgo, tags, want string
	}{
		{"1", "libzstd", "libzstd (cgo build, -tags libzstd)"},
		{"0", "libzstd", "klauspost/compress (pure-Go build)"},
		{"1", "", "klauspost/compress (pure-Go build)"},
	} {
		bin := filepath.Join(dir, "producer-"+c.cgo+c.tags)
		cmd := exec.Command("go", "build", "-tags", c.tags, "-o", bin, ".")
		cmd.Dir = filepath.Join("..", "..", "..", "..", "producer")
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+c.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the producer with CGO_ENABLED=%s -tags %q: %v\n%s", c.cgo, c.tags, err, out)
		}
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if got := producerZstd(bi); got != c.want {
			t.Errorf("CGO_ENABLED=%s -tags %q: %q; want %q", c.cgo, c.tags, got, c.want)
		}
	}
}

// TestCostTableSystemCPU: the cost table gives each program's CPU a message
// and its system (kernel) part, so a run whose page cache writes cost the
// kernel more than usual shows it.
func TestCostTableSystemCPU(t *testing.T) {
	run := result{Label: "kafka", Consume: []measure{
		{Tool: "tweetpipe consumer", Msgs: 1000, WallS: 1, CPUS: 0.01, SysS: 0.004, MaxRSS: 1 << 20},
		// From a result file written before the system time was kept.
		{Tool: "kcat -C -e", Msgs: 1000, WallS: 1, CPUS: 0.003, MaxRSS: 1 << 20},
	}}
	var b bytes.Buffer
	writeReport(&b, []result{run}, nil, "test machine", "libzstd", "", "")
	wantLines(t, "cost table", b.String(),
		"| tweetpipe consumer | kafka | 10.0 | 4.0 | — | — | 1.0 MiB |",
		"| kcat -C -e | kafka | 3.0 | — | — | — | 1.0 MiB |",
	)
}

// TestRSSReportPartitions checks the peak-RSS rows: the default backlog's
// with kcat beside it, and a size class's at 12 partitions (make bench's
// second backlog) with its partitions and class named and each service
// judged against 100 MiB.
func TestRSSReportPartitions(t *testing.T) {
	m := func(tool string, rss int64) measure {
		return measure{Tool: tool, Msgs: 1000, WallS: 1, CPUS: 0.01, MaxRSS: rss}
	}
	backlog := result{Label: "kafka", Backlog: &genStats{Count: 1000000, Bytes: 48e8, MeanBytes: 4800}, Partitions: 3,
		RSSProduce: []measure{m("tweetpipe producer", 90<<20), m("kcat -P (stdin)", 1<<30)},
		RSSConsume: []measure{m("tweetpipe consumer", 93<<20), m("kcat -C -e", 20<<20)}}
	wide := result{Label: "kfake", Backlog: &genStats{Count: 200000, Bytes: 98e7, MeanBytes: 4900, Class: "v1.1-5k", Title: "v1.1 statuses, 5 KB class"},
		Partitions: 12,
		RSSProduce: []measure{m("tweetpipe producer", 103<<20)},
		RSSConsume: []measure{m("tweetpipe consumer", 93<<20)}}
	var b bytes.Buffer
	writeReport(&b, nil, []result{backlog, wide}, "the machine", "libzstd", "kfake", "abc123")
	wantLines(t, "the report", b.String(),
		"- Peak RSS: a backlog of 1,000,000 statuses (mean 4,800 B, 4.8 GB), at 3 partitions on kafka, VmHWM from wait4's rusage at exit; kcat -P reads it from stdin",
		"- Peak RSS: a backlog of 200,000 v1.1 statuses, 5 KB class (mean 4,900 B, 1.0 GB), at 12 partitions on kfake, VmHWM from wait4's rusage at exit.",
		"| peak RSS, producer, 1,000,000 backlog, at 3 partitions (1,000 msg/s) | kafka | 90.0 MiB | 1024.0 MiB (kcat -P (stdin)) | 0.1× | ≤ 100 MiB ✅ |",
		"| peak RSS, producer, 200,000 backlog of v1.1 statuses, 5 KB class, at 12 partitions (1,000 msg/s) | kfake | 103.0 MiB | — | — | ≤ 100 MiB ❌ |",
		"| peak RSS, consumer, 200,000 backlog of v1.1 statuses, 5 KB class, at 12 partitions (1,000 msg/s) | kfake | 93.0 MiB | — | — | ≤ 100 MiB ✅ |",
	)
}

// wantLines reports each of wants that got, the text called what, does not
// contain.
func wantLines(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, got)
		}
	}
}

// TestKcatNoPauseReported: kcat -C with its fetch queue raised (never
// pausing its fetching) is set beside the consumer's steady rate in the main
// table and in the size table, and both reports say what it is; the goals
// stay judged against kcat -C with its defaults.
func TestKcatNoPauseReported(t *testing.T) {
	ms := func(tool string, rate float64) measure {
		return measure{Tool: tool, Msgs: 1000, WallS: 1000 / rate, SteadyRate: rate, CPUS: 0.01, MaxRSS: 1 << 20}
	}
	consume := []measure{ms("tweetpipe consumer", 900), ms("kcat -C -e", 800), ms(kafkaGoTool, 1800), ms(kcatNoPauseTool, 1500)}
	main := result{Label: "kfake", Data: genStats{Count: 1000, MeanBytes: 4800},
		Produce: []measure{ms("tweetpipe producer", 1000), ms("kcat -P -l -K (keyed)", 1000)}, Consume: consume}
	var b bytes.Buffer
	writeReport(&b, []result{main}, nil, "test machine", "libzstd", "", "")
	wantLines(t, "the report", b.String(),
		"| … steady state, 10% → 90% of the output written (msg/s) | kfake | 900 | 800 | 1.12× | ≥ 1.0× ✅ |",
		"| … steady state against kcat -C -e (2 GiB fetch queue), which never pauses its fetching (msg/s) | kfake | 900 | 1,500 | 0.60× | |",
		"- kcat -C -e (2 GiB fetch queue): kcat -C as above with `-X queued.max.messages.kbytes=2097151 -X queued.min.messages=10000000`.",
	)

	size := result{Label: "kfake", Data: genStats{Class: "v1.1-1k", Title: "one k", Count: 1000, MeanBytes: 1000},
		Produce: []measure{ms("tweetpipe producer", 1000), ms("kcat -P -l -K (keyed)", 1000)}, Consume: consume}
	b.Reset()
	writeSizeReport(&b, []result{size})
	wantLines(t, "the size table", b.String(),
		"≥ 0.8× kcat (steady 1.12×) ✅; steady 0.50× kafka-go alone; steady 0.60× kcat -C -e (2 GiB fetch queue) |",
		"| one k | kfake | kcat -C -e (2 GiB fetch queue) | 1,500 | 1,500 | 1.88× |",
		"- kcat -C -e (2 GiB fetch queue): kcat -C as above with",
	)
}

// TestKcatConsumeArgs: kcat -C keeps librdkafka's defaults; its no-pause
// run raises both limits that pause librdkafka's fetching, and only those.
func TestKcatConsumeArgs(t *testing.T) {
	def := strings.Join(kcatConsumeArgs("b:9092", "t", false), " ")
	if want := `-C -b b:9092 -t t -e -o beginning -q -f %s\n`; def != want {
		t.Errorf("kcat -C's arguments: %q; want %q", def, want)
	}
	np := strings.Join(kcatConsumeArgs("b:9092", "t", true), " ")
	if want := def + " -X queued.max.messages.kbytes=2097151 -X queued.min.messages=10000000"; np != want {
		t.Errorf("kcat -C's arguments without pauses: %q; want %q", np, want)
	}
}
