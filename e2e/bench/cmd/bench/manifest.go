package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// cmdManifest measures how long after the last file of an hour is closed
// the consumer writes that hour's _manifest.json (MANIFEST): statuses of
// past hours, in order, on a new topic; the consumer archives them, and
// each hour closes when every partition has moved to the next one (the
// last hour: ROTATE_INTERVAL=1s after its last record). The times are the
// consumer's own log lines: "rotated data file" and "wrote manifest".
// With -runs, it does it again on a new topic, each time; with -out, it
// writes every hour's figure of every run for bench report.
//
//	bench manifest -brokers 127.0.0.1:PORT -bin BIN [-n 60000] [-hours 6] [-interval 10s] [-runs 1] [-out FILE]
func cmdManifest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("manifest", flag.ExitOnError)
	var c manifestRun
	fs.StringVar(&c.brokers, "brokers", "", "bootstrap brokers (required)")
	fs.StringVar(&c.bin, "bin", "bin", "folder of the consumer binary")
	fs.IntVar(&c.n, "n", 60000, "statuses, spread evenly over the hours")
	fs.IntVar(&c.hours, "hours", 6, "past hours the statuses are timed in")
	fs.IntVar(&c.partitions, "partitions", 3, "partitions of the topic")
	fs.StringVar(&c.interval, "interval", "10s", "MANIFEST_INTERVAL (10s is the default)")
	fs.StringVar(&c.compression, "compression", "gzip", "OUTPUT_COMPRESSION")
	fs.StringVar(&c.work, "work", os.TempDir(), "scratch folder")
	runs := fs.Int("runs", 1, "runs, each on a new topic")
	label := fs.String("label", "kfake", "name of the broker in the report")
	out := fs.String("out", "", "result file (JSON) for bench report")
	fs.Parse(args)
	if c.brokers == "" || c.n < c.hours || c.hours < 1 || *runs < 1 {
		return errors.New("-brokers is required, -n at least -hours, and -runs at least 1")
	}
	res := manifestResult{Interval: c.interval, Hours: c.hours, Statuses: c.n, Partitions: c.partitions, Compression: c.compression}
	for i := range *runs {
		lat, err := c.run(ctx)
		if err != nil {
			return fmt.Errorf("run %d of %d: %w", i+1, *runs, err)
		}
		fmt.Printf("manifest: %d hours, %d statuses, %d partitions, MANIFEST_INTERVAL=%s, %s: "+
			"from the hour's last file closed to its manifest: min %s, median %s, max %s\n",
			len(lat), c.n, c.partitions, c.interval, c.compression,
			lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		for _, d := range lat {
			res.LatencyMS = append(res.LatencyMS, float64(d)/float64(time.Millisecond))
		}
		res.Runs++
	}
	if *out != "" {
		return writeJSON(*out, result{Label: *label, Brokers: c.brokers, Manifest: &res})
	}
	return nil
}

// manifestResult is what bench manifest -out writes: the latency from an
// hour's last file closed to its manifest, for every hour of every run.
type manifestResult struct {
	Interval    string    `json:"interval"` // MANIFEST_INTERVAL
	Runs        int       `json:"runs"`
	Hours       int       `json:"hours"` // of each run
	Statuses    int       `json:"statuses"`
	Partitions  int       `json:"partitions"`
	Compression string    `json:"compression"`
	LatencyMS   []float64 `json:"latency_ms"`
}

// manifestRun is one measurement's settings.
type manifestRun struct {
	brokers, bin, interval, compression, work string
	n, hours, partitions                      int
}

// run measures once, on a new topic, and returns the latency of each
// hour, sorted.
func (c manifestRun) run(ctx context.Context) ([]time.Duration, error) {
	a := newAdmin(c.brokers)
	topic := unique("bench-manifest")
	if err := a.create(ctx, c.partitions, topic); err != nil {
		return nil, err
	}
	defer func() { _ = a.remove(context.Background(), topic) }()

	first := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(c.hours+2) * time.Hour)
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(c.brokers, ",")...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Murmur2Balancer{}, BatchSize: 1000, BatchTimeout: 5 * time.Millisecond}
	step := time.Duration(c.hours) * time.Hour / time.Duration(c.n)
	msgs := make([]kafka.Message, 0, 1000)
	for i := range c.n {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Time: first.Add(time.Duration(i) * step),
			Value: fmt.Appendf(nil, `{"id_str":"%d","text":"a status of the manifest benchmark, padded to about two hundred bytes: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"}`, i)})
		if len(msgs) == cap(msgs) || i == c.n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return nil, fmt.Errorf("producing: %w", err)
			}
			msgs = msgs[:0]
		}
	}
	_ = w.Close()

	out, err := os.MkdirTemp(c.work, "manifest-out-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	logPath := filepath.Join(out, "..", filepath.Base(out)+".log")
	p, err := startProc(ctx, "consumer", filepath.Join(c.bin, "consumer"), nil, []string{
		"KAFKA_BROKERS=" + c.brokers, "KAFKA_TOPICS=" + topic, "KAFKA_GROUP_ID=" + unique("bench"),
		"OUTPUT_DIR=" + out, "OUTPUT_COMPRESSION=" + c.compression, "ROTATE_INTERVAL=1s",
		"MANIFEST=on", "MANIFEST_GRACE=0s", "MANIFEST_INTERVAL=" + c.interval,
		"HTTP_ADDR=", "LOG_FORMAT=json", "LOG_LEVEL=info", "PROGRESS_INTERVAL=5s",
	}, logPath, nil, nil)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ms, _ := filepath.Glob(filepath.Join(out, topic, "*", "*", "_manifest.json"))
		if len(ms) >= c.hours {
			break
		}
		if !p.running() || time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("%d of %d manifests written; log %s:\n%s", len(ms), c.hours, logPath, tail(logPath, 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.stop(30 * time.Second); err != nil {
		return nil, err
	}
	defer os.Remove(logPath)

	closed, written, lines, err := manifestLog(logPath)
	if err != nil {
		return nil, err
	}
	if lines != int64(c.n) {
		return nil, fmt.Errorf("the manifests count %d lines; want %d", lines, c.n)
	}
	var lat []time.Duration
	for dir, at := range written {
		last, ok := closed[dir]
		if !ok {
			return nil, fmt.Errorf("a manifest in %s, where no file was closed", dir)
		}
		lat = append(lat, at.Sub(last))
	}
	slices.Sort(lat)
	return lat, nil
}

// manifestLog reads the consumer's JSON log: when the last file of each hour
// folder was closed, when each folder's manifest was written (the first
// time), and the lines the manifests count.
func manifestLog(path string) (closed, written map[string]time.Time, lines int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer f.Close()
	closed, written = map[string]time.Time{}, map[string]time.Time{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time  time.Time `json:"time"`
			Msg   string    `json:"msg"`
			Path  string    `json:"path"`
			Lines int64     `json:"lines"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		dir := filepath.Dir(l.Path)
		switch l.Msg {
		case "rotated data file":
			if l.Time.After(closed[dir]) {
				closed[dir] = l.Time
			}
		case "wrote manifest":
			if _, ok := written[dir]; !ok {
				written[dir] = l.Time
				lines += l.Lines
			}
		}
	}
	return closed, written, lines, sc.Err()
}
