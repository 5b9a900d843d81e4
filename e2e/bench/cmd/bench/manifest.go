package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
// With -output-url s3://bucket/prefix the consumer archives to that bucket
// instead (S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from
// the environment, as the consumer reads them), and the figure starts at
// the hour's last file uploaded ("uploaded data file": the object and its
// partition's checkpoint are in the bucket, which is all the finalizer
// reads); it also gives the figure from the hour closed in the bucket
// (every partition's first upload of a later hour, or its last upload
// when there is none). The run ends when the bucket lists a manifest for
// every hour, and the lines they count must be the statuses sent.
//
//	bench manifest -brokers 127.0.0.1:PORT -bin BIN [-n 60000] [-hours 6] [-interval 10s] [-runs 1] [-output-url s3://B/P] [-out FILE]
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
	outputURL := fs.String("output-url", "", "OUTPUT_URL=s3://bucket/prefix: archive to this bucket (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from the environment); empty: a folder")
	runs := fs.Int("runs", 1, "runs, each on a new topic")
	label := fs.String("label", "kfake", "name of the broker in the report")
	out := fs.String("out", "", "result file (JSON) for bench report")
	fs.Parse(args)
	if c.brokers == "" || c.n < c.hours || c.hours < 1 || *runs < 1 {
		return errors.New("-brokers is required, -n at least -hours, and -runs at least 1")
	}
	res := manifestResult{Interval: c.interval, Hours: c.hours, Statuses: c.n, Partitions: c.partitions, Compression: c.compression, Output: outputFolder}
	if *outputURL != "" {
		b, err := newBenchBucket(*outputURL, os.Getenv("S3_ENDPOINT"), os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"))
		if err != nil {
			return err
		}
		c.bucket = b
		res.Output = outputBucket
	}
	for i := range *runs {
		h, err := c.run(ctx)
		if err != nil {
			return fmt.Errorf("run %d of %d: %w", i+1, *runs, err)
		}
		lat := h.latency()
		from := "the hour's last file closed"
		if c.bucket != nil {
			from = "the hour's last file uploaded"
		}
		fmt.Printf("manifest: %d hours, %d statuses, %d partitions, MANIFEST_INTERVAL=%s, %s, %s: "+
			"from %s to its manifest: min %s, median %s, max %s",
			len(lat), c.n, c.partitions, c.interval, c.compression, res.Output, from,
			lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		if c.bucket != nil {
			cl := h.sinceClosed()
			fmt.Printf("; from the hour closed in the bucket: min %s, median %s, max %s",
				cl[0].Round(time.Millisecond), cl[len(cl)/2].Round(time.Millisecond), cl[len(cl)-1].Round(time.Millisecond))
		}
		fmt.Println()
		for _, hm := range h {
			res.LatencyMS = append(res.LatencyMS, msOf(hm.written.Sub(hm.last)))
			if c.bucket != nil {
				res.ClosedMS = append(res.ClosedMS, msOf(hm.written.Sub(hm.closed)))
			}
		}
		res.Runs++
	}
	if *out != "" {
		return writeJSON(*out, result{Label: *label, Brokers: c.brokers, Manifest: &res})
	}
	return nil
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The outputs bench manifest archives to.
const (
	outputFolder = "folder"
	outputBucket = "bucket"
)

// manifestResult is what bench manifest -out writes: the latency from an
// hour's last file closed (a folder) or uploaded (a bucket) to its
// manifest, for every hour of every run; for a bucket, also from the hour
// closed in the bucket (ClosedMS, in the same order).
type manifestResult struct {
	Interval    string    `json:"interval"` // MANIFEST_INTERVAL
	Runs        int       `json:"runs"`
	Hours       int       `json:"hours"` // of each run
	Statuses    int       `json:"statuses"`
	Partitions  int       `json:"partitions"`
	Compression string    `json:"compression"`
	Output      string    `json:"output,omitempty"` // outputFolder (also when empty: results before buckets) or outputBucket
	LatencyMS   []float64 `json:"latency_ms"`
	ClosedMS    []float64 `json:"closed_ms,omitempty"`
}

// manifestRun is one measurement's settings.
type manifestRun struct {
	brokers, bin, interval, compression, work string
	n, hours, partitions                      int
	bucket                                    *benchBucket // nil: a folder
}

// run measures once, on a new topic, and returns the times of each hour.
func (c manifestRun) run(ctx context.Context) (hourTimes, error) {
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
	env := []string{
		"KAFKA_BROKERS=" + c.brokers, "KAFKA_TOPICS=" + topic, "KAFKA_GROUP_ID=" + unique("bench"),
		"OUTPUT_DIR=" + out, "OUTPUT_COMPRESSION=" + c.compression, "ROTATE_INTERVAL=1s",
		"MANIFEST=on", "MANIFEST_GRACE=0s", "MANIFEST_INTERVAL=" + c.interval,
		"HTTP_ADDR=", "LOG_FORMAT=json", "LOG_LEVEL=info", "PROGRESS_INTERVAL=5s",
	}
	if c.bucket != nil {
		env = append(env, c.bucket.consumerEnv()...)
	}
	p, err := startProc(ctx, "consumer", filepath.Join(c.bin, "consumer"), nil, env, logPath, nil, nil)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var n int
		if c.bucket != nil {
			n, err = c.bucket.manifests(ctx, topic)
			if err != nil {
				p.kill()
				return nil, fmt.Errorf("listing the bucket: %w", err)
			}
		} else {
			ms, _ := filepath.Glob(filepath.Join(out, topic, "*", "*", "_manifest.json"))
			n = len(ms)
		}
		if n >= c.hours {
			break
		}
		if !p.running() || time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("%d of %d manifests written; log %s:\n%s", n, c.hours, logPath, tail(logPath, 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.stop(30 * time.Second); err != nil {
		return nil, err
	}
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer os.Remove(logPath)
	defer f.Close()
	ev, err := readManifestLog(f)
	if err != nil {
		return nil, err
	}
	var (
		hours hourTimes
		lines int64
	)
	if c.bucket != nil {
		if hours, err = bucketHours(ev); err != nil {
			return nil, err
		}
		// The lines the manifests in the bucket count, not the log's.
		if lines, err = c.bucket.manifestLines(ctx, topic); err != nil {
			return nil, err
		}
	} else {
		if hours, err = folderHours(ev); err != nil {
			return nil, err
		}
		lines = ev.lines
	}
	if lines != int64(c.n) {
		return nil, fmt.Errorf("the manifests count %d lines; want %d", lines, c.n)
	}
	if len(hours) < c.hours {
		return nil, fmt.Errorf("the log has %d hours with a manifest; want %d", len(hours), c.hours)
	}
	return hours, nil
}

// manifestEvents is what bench manifest reads of the consumer's JSON log.
type manifestEvents struct {
	rotated  []logEvent // "rotated data file": path
	uploaded []logEvent // "uploaded data file": partition, hour
	written  []logEvent // "wrote manifest": path (a folder) or hour (a bucket), lines
	lines    int64      // that the first manifest of each hour counts
}

// logEvent is one line of the consumer's log that bench manifest reads.
type logEvent struct {
	at        time.Time
	path      string    // a folder's file or manifest
	hour      time.Time // the hour of an upload or of a manifest in a bucket (UTC)
	partition int
}

// readManifestLog reads the consumer's JSON log (LOG_FORMAT=json); lines
// that are not JSON are skipped.
func readManifestLog(r io.Reader) (manifestEvents, error) {
	var ev manifestEvents
	seen := map[string]bool{} // hours (or folders) with a manifest
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time      time.Time `json:"time"`
			Msg       string    `json:"msg"`
			Path      string    `json:"path"`
			Key       string    `json:"key"`
			Hour      string    `json:"hour"`
			Partition int       `json:"partition"`
			Lines     int64     `json:"lines"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		e := logEvent{at: l.Time, path: l.Path, partition: l.Partition}
		if l.Hour != "" {
			h, err := time.Parse(time.RFC3339, l.Hour)
			if err != nil {
				return ev, fmt.Errorf("the log line %q: hour: %w", l.Msg, err)
			}
			e.hour = h.UTC()
		}
		switch l.Msg {
		case "rotated data file":
			ev.rotated = append(ev.rotated, e)
		case "uploaded data file":
			ev.uploaded = append(ev.uploaded, e)
		case "wrote manifest":
			ev.written = append(ev.written, e)
			id := filepath.Dir(l.Path) + "|" + l.Key // a folder's manifest has a path, a bucket's a key
			if !seen[id] {
				seen[id] = true
				ev.lines += l.Lines
			}
		}
	}
	return ev, sc.Err()
}

// hourMark is one hour's times: its last file closed (a folder) or
// uploaded (a bucket), the hour closed in the bucket (a bucket only), and
// its manifest written, the first time.
type hourMark struct {
	last, closed, written time.Time
}

// hourTimes are the marks of every hour with a manifest.
type hourTimes []hourMark

// latency returns, sorted, each hour's time from its last file to its
// manifest.
func (h hourTimes) latency() []time.Duration {
	return h.sorted(func(m hourMark) time.Duration { return m.written.Sub(m.last) })
}

// sinceClosed returns, sorted, each hour's time from its close in the
// bucket to its manifest.
func (h hourTimes) sinceClosed() []time.Duration {
	return h.sorted(func(m hourMark) time.Duration { return m.written.Sub(m.closed) })
}

func (h hourTimes) sorted(f func(hourMark) time.Duration) []time.Duration {
	d := make([]time.Duration, len(h))
	for i, m := range h {
		d[i] = f(m)
	}
	slices.Sort(d)
	return d
}

// folderHours pairs each folder's first manifest with the last file closed
// in that folder.
func folderHours(ev manifestEvents) (hourTimes, error) {
	closed := map[string]time.Time{}
	for _, e := range ev.rotated {
		dir := filepath.Dir(e.path)
		if e.at.After(closed[dir]) {
			closed[dir] = e.at
		}
	}
	var h hourTimes
	seen := map[string]bool{}
	for _, e := range ev.written {
		dir := filepath.Dir(e.path)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		last, ok := closed[dir]
		if !ok {
			return nil, fmt.Errorf("a manifest in %s, where no file was closed", dir)
		}
		h = append(h, hourMark{last: last, closed: last, written: e.at})
	}
	return h, nil
}

// bucketHours pairs each hour's first manifest in the bucket with the
// hour's last upload, and with the time the hour closed in the bucket: the
// latest, over the partitions that uploaded anything, of each one's first
// upload of a later hour, or of its last upload when it has none (it is
// then caught up: the benchmark sends everything before the consumer
// starts). That is when the checkpoints in the bucket first say that
// every partition has moved past the hour; the uploads' log lines come
// after their checkpoints are written.
func bucketHours(ev manifestEvents) (hourTimes, error) {
	lastOf := map[time.Time]time.Time{} // hour -> its last upload
	byPart := map[int][]logEvent{}      // partition -> its uploads, in log order
	for _, e := range ev.uploaded {
		if e.at.After(lastOf[e.hour]) {
			lastOf[e.hour] = e.at
		}
		byPart[e.partition] = append(byPart[e.partition], e)
	}
	var h hourTimes
	seen := map[time.Time]bool{}
	for _, e := range ev.written {
		if e.hour.IsZero() {
			return nil, fmt.Errorf("a manifest with no hour in the log (%s): not a bucket's", e.path)
		}
		if seen[e.hour] {
			continue
		}
		seen[e.hour] = true
		last, ok := lastOf[e.hour]
		if !ok {
			return nil, fmt.Errorf("a manifest of %s, an hour with no upload", e.hour.Format(time.RFC3339))
		}
		var closed time.Time
		for _, ups := range byPart {
			moved := ups[len(ups)-1].at
			if i := slices.IndexFunc(ups, func(u logEvent) bool { return u.hour.After(e.hour) }); i >= 0 {
				moved = ups[i].at
			}
			if moved.After(closed) {
				closed = moved
			}
		}
		h = append(h, hourMark{last: last, closed: closed, written: e.at})
	}
	return h, nil
}
