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
//
//	bench manifest -brokers 127.0.0.1:PORT -bin BIN [-n 60000] [-hours 6] [-interval 10s]
func cmdManifest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("manifest", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap brokers (required)")
	bin := fs.String("bin", "bin", "folder of the consumer binary")
	n := fs.Int("n", 60000, "statuses, spread evenly over the hours")
	hours := fs.Int("hours", 6, "past hours the statuses are timed in")
	partitions := fs.Int("partitions", 3, "partitions of the topic")
	interval := fs.String("interval", "10s", "MANIFEST_INTERVAL (10s is the default)")
	compression := fs.String("compression", "gzip", "OUTPUT_COMPRESSION")
	work := fs.String("work", os.TempDir(), "scratch folder")
	fs.Parse(args)
	if *brokers == "" || *n < *hours || *hours < 1 {
		return errors.New("-brokers is required, and -n at least -hours")
	}
	a := newAdmin(*brokers)
	topic := unique("bench-manifest")
	if err := a.create(ctx, *partitions, topic); err != nil {
		return err
	}
	defer func() { _ = a.remove(context.Background(), topic) }()

	first := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(*hours+2) * time.Hour)
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(*brokers, ",")...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Murmur2Balancer{}, BatchSize: 1000, BatchTimeout: 5 * time.Millisecond}
	step := time.Duration(*hours) * time.Hour / time.Duration(*n)
	msgs := make([]kafka.Message, 0, 1000)
	for i := range *n {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Time: first.Add(time.Duration(i) * step),
			Value: fmt.Appendf(nil, `{"id_str":"%d","text":"a status of the manifest benchmark, padded to about two hundred bytes: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"}`, i)})
		if len(msgs) == cap(msgs) || i == *n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("producing: %w", err)
			}
			msgs = msgs[:0]
		}
	}
	_ = w.Close()

	out, err := os.MkdirTemp(*work, "manifest-out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	logPath := filepath.Join(out, "..", filepath.Base(out)+".log")
	p, err := startProc(ctx, "consumer", filepath.Join(*bin, "consumer"), nil, []string{
		"KAFKA_BROKERS=" + *brokers, "KAFKA_TOPICS=" + topic, "KAFKA_GROUP_ID=" + unique("bench"),
		"OUTPUT_DIR=" + out, "OUTPUT_COMPRESSION=" + *compression, "ROTATE_INTERVAL=1s",
		"MANIFEST=on", "MANIFEST_GRACE=0s", "MANIFEST_INTERVAL=" + *interval,
		"HTTP_ADDR=", "LOG_FORMAT=json", "LOG_LEVEL=info", "PROGRESS_INTERVAL=5s",
	}, logPath, nil, nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ms, _ := filepath.Glob(filepath.Join(out, topic, "*", "*", "_manifest.json"))
		if len(ms) >= *hours {
			break
		}
		if !p.running() || time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("%d of %d manifests written; log %s:\n%s", len(ms), *hours, logPath, tail(logPath, 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.stop(30 * time.Second); err != nil {
		return err
	}
	defer os.Remove(logPath)

	closed, written, lines, err := manifestLog(logPath)
	if err != nil {
		return err
	}
	if lines != int64(*n) {
		return fmt.Errorf("the manifests count %d lines; want %d", lines, *n)
	}
	var lat []time.Duration
	for dir, at := range written {
		last, ok := closed[dir]
		if !ok {
			return fmt.Errorf("a manifest in %s, where no file was closed", dir)
		}
		lat = append(lat, at.Sub(last))
	}
	slices.Sort(lat)
	fmt.Printf("manifest: %d hours, %d statuses, %d partitions, MANIFEST_INTERVAL=%s, %s: "+
		"from the hour's last file closed to its manifest: min %s, median %s, max %s\n",
		len(lat), *n, *partitions, *interval, *compression,
		lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	return nil
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
