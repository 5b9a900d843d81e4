package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// How end-to-end latency is measured: a writer generates statuses and
// writes each, the instant it is made, into a FIFO that the producer
// replays (SOURCE=replay, REPLAY_SPEED=0: it reads the line the moment it
// can). The writer notes the wall clock of each write by status id. A tailer
// polls the consumer's output files every millisecond and, for each new
// complete line, takes now minus the write time of its id. The writer's
// write returns once the line is in the pipe (64 KiB), so "read" means
// "available to the producer"; at full speed the pipe is full and a line
// waits there for the producer to drain up to 64 KiB, which is counted.
//
// The first second of statuses (2,000 at full speed) is not measured, and
// the writer goes on after the measured ones until they are all in the
// output, so that neither start-up nor the run's last partial batches count.
//
// The synthetic source is not used: its timestamp_ms is start + n x 20 ms,
// the schedule of SYNTHETIC_RATE=50 and not the generation time, so at any
// other rate (and at 50/s by one period) it is not the time the post was read.

// latency is the outcome of one latency run.
type latency struct {
	Tool     string  `json:"tool"`
	Rate     float64 `json:"rate"` // posts per second asked for; 0 = full speed
	Count    int     `json:"count"`
	Achieved float64 `json:"achieved_rate"` // posts per second actually written
	P50MS    float64 `json:"p50_ms"`
	P90MS    float64 `json:"p90_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
}

// sendTimes records when each status id was handed over, and which ones
// are measured.
type sendTimes struct {
	mu sync.Mutex
	m  map[string]sent
}

type sent struct {
	at       time.Time
	measured bool
}

func (s *sendTimes) set(id string, t time.Time, measured bool) {
	s.mu.Lock()
	s.m[id] = sent{t, measured}
	s.mu.Unlock()
}

func (s *sendTimes) get(id string) (sent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	return v, ok
}

// warmup is how many statuses go first, unmeasured, while connections and
// consumer fetches settle: one second's worth, at least 50.
func warmup(rate float64) int {
	if rate > 0 {
		return max(50, int(rate))
	}
	return 2000
}

// writeStatuses writes statuses to w, paced at rate per second (0: as fast
// as w takes them), as keyed lines ("id<TAB>status") when keyed: warm-up
// ones, then count measured ones, then more, unmeasured, until done is
// closed, so that the measured ones see a pipeline in its steady state to
// the end (the last statuses would otherwise be measured on a pipeline
// that is emptying, not in its steady state). It closes w when it returns and reports
// the rate over the measured statuses.
func writeStatuses(ctx context.Context, w io.WriteCloser, g *generator, rate float64, count int, keyed bool, st *sendTimes, done <-chan struct{}) (achieved float64, err error) {
	defer w.Close()
	warm := warmup(rate)
	start := time.Now()
	var first, last time.Time
	var buf []byte
	for i := 0; ; i++ {
		if i >= warm+count {
			select {
			case <-done:
				return float64(count) / last.Sub(first).Seconds(), nil
			default:
			}
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(d):
				}
			}
		} else if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		line := g.status(time.Now())
		id := statusKey(line)
		buf = buf[:0]
		if keyed {
			buf = append(buf, id...)
			buf = append(buf, '\t')
		}
		buf = append(buf, line...)
		buf = append(buf, '\n')
		now := time.Now()
		measured := i >= warm && i < warm+count
		st.set(id, now, measured)
		switch i {
		case warm:
			first = now
		case warm + count - 1:
			last = now
		}
		if _, err := w.Write(buf); err != nil {
			return 0, fmt.Errorf("writing status %d: %w", i, err)
		}
	}
}

// tailer follows every file below root (or root itself, a file) and
// measures each complete line's delay since its send time.
type tailer struct {
	root    string
	st      *sendTimes
	offsets map[string]int64
	partial map[string][]byte
	lats    []time.Duration // of the measured statuses
	unknown int             // lines with an id never sent
	buf     []byte
}

func newTailer(root string, st *sendTimes) *tailer {
	return &tailer{root: root, st: st, offsets: map[string]int64{}, partial: map[string][]byte{}, buf: make([]byte, 1<<20)}
}

// follow polls until want measured lines were seen or ctx ends.
func (t *tailer) follow(ctx context.Context, want int) error {
	for len(t.lats) < want {
		if err := t.poll(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("saw %d of %d measured lines: %w", len(t.lats), want, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	if t.unknown > 0 {
		return fmt.Errorf("%d lines in the output carry an id that was never sent", t.unknown)
	}
	return nil
}

func (t *tailer) poll() error {
	return filepath.WalkDir(t.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || d.Name() == "_manifest.json" { // an hour's manifest is not output
			return nil
		}
		return t.readNew(path)
	})
}

func (t *tailer) readNew(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	off := t.offsets[path]
	for {
		n, err := f.ReadAt(t.buf, off)
		if n > 0 {
			now := time.Now()
			off += int64(n)
			data := append(t.partial[path], t.buf[:n]...)
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				t.line(data[:i], now)
				data = data[i+1:]
			}
			t.partial[path] = append([]byte(nil), data...)
		}
		if err != nil || n < len(t.buf) {
			t.offsets[path] = off
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func (t *tailer) line(l []byte, seen time.Time) {
	s, ok := t.st.get(statusKey(l))
	switch {
	case !ok:
		t.unknown++
	case s.measured:
		t.lats = append(t.lats, seen.Sub(s.at))
	}
}

func (t *tailer) result(tool string, rate float64, count int, achieved float64) latency {
	ls := slices.Clone(t.lats)
	slices.Sort(ls)
	ms := func(q float64) float64 { return percentile(ls, q).Seconds() * 1000 }
	return latency{Tool: tool, Rate: rate, Count: count, Achieved: achieved,
		P50MS: ms(0.50), P90MS: ms(0.90), P99MS: ms(0.99), MaxMS: ms(1)}
}

// percentile returns the q-quantile of sorted values (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// latencyTweetpipe runs consumer and producer together on a new topic and
// measures each status from its write into the producer's FIFO to its line
// in the consumer's output.
func (r *runner) latencyTweetpipe(ctx context.Context, g *generator, rate float64, count int) (latency, error) {
	topic, err := r.topic(ctx, "lat")
	if err != nil {
		return latency{}, err
	}
	defer r.drop(topic)
	out := mustTemp(r.work, "lat-out")
	defer os.RemoveAll(out)
	caddr, err := freeAddr()
	if err != nil {
		return latency{}, err
	}
	cons, err := startProc(ctx, "consumer", filepath.Join(r.bin, "consumer"), nil, r.consumerEnv(topic, out, caddr),
		filepath.Join(r.work, "consumer-"+topic+".log"), nil, nil)
	if err != nil {
		return latency{}, err
	}
	defer cons.kill()
	if err := waitAssigned(ctx, cons, caddr, r.partitions, 60*time.Second); err != nil {
		return latency{}, err
	}

	fifoDir := mustTemp(r.work, "fifo")
	defer os.RemoveAll(fifoDir)
	fifo := filepath.Join(fifoDir, "live.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return latency{}, fmt.Errorf("making the FIFO: %w", err)
	}
	paddr, err := freeAddr()
	if err != nil {
		return latency{}, err
	}
	prod, err := startProc(ctx, "producer", filepath.Join(r.bin, "producer"), nil, r.producerEnv(topic, fifo, paddr),
		filepath.Join(r.work, "producer-"+topic+".log"), nil, nil)
	if err != nil {
		return latency{}, err
	}
	defer prod.kill()

	st := &sendTimes{m: make(map[string]sent, count)}
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	werr := make(chan error, 1)
	done := make(chan struct{})
	var achieved float64
	go func() {
		// Opening blocks until the producer opens the FIFO to read it.
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			werr <- err
			return
		}
		achieved, err = writeStatuses(tctx, w, g, rate, count, false, st, done)
		werr <- err
	}()
	tl := newTailer(filepath.Join(out, topic), st)
	err = tl.follow(tctx, count)
	close(done)
	if err != nil {
		return latency{}, fmt.Errorf("tweetpipe latency at %v/s: %w (logs %s, %s)", rate, err, prod.logPath, cons.logPath)
	}
	if err := <-werr; err != nil {
		return latency{}, err
	}
	if err := prod.wait(time.Minute); err != nil {
		return latency{}, err
	}
	if err := cons.stop(30 * time.Second); err != nil {
		return latency{}, err
	}
	return tl.result("tweetpipe producer → consumer", rate, count, achieved), nil
}

// latencyKcat is the same measurement for kcat -P piped from the writer and
// kcat -C -u writing to a file: no batching by time, no fsync.
func (r *runner) latencyKcat(ctx context.Context, g *generator, rate float64, count int) (latency, error) {
	topic, err := r.topic(ctx, "latk")
	if err != nil {
		return latency{}, err
	}
	defer r.drop(topic)
	outDir := mustTemp(r.work, "latk-out")
	defer os.RemoveAll(outDir)
	f, err := os.Create(filepath.Join(outDir, "out.jsonl"))
	if err != nil {
		return latency{}, err
	}
	defer f.Close()
	cons, err := startProc(ctx, "kcat -C", r.kcat,
		[]string{"-C", "-b", r.brokers, "-t", topic, "-o", "beginning", "-u", "-q", "-f", `%s\n`},
		nil, filepath.Join(r.work, "kcat-C-"+topic+".log"), f, nil)
	if err != nil {
		return latency{}, err
	}
	defer cons.kill()
	time.Sleep(2 * time.Second) // kcat -C has no readiness signal: let it fetch the (empty) partitions

	pr, pw, err := os.Pipe()
	if err != nil {
		return latency{}, err
	}
	prod, err := startProc(ctx, "kcat -P", r.kcat,
		append([]string{"-P", "-b", r.brokers, "-t", topic, "-X", "acks=all", "-K", "\t", "-X", "partitioner=murmur2_random", "-q"}, r.kcatZstd()...),
		nil, filepath.Join(r.work, "kcat-P-"+topic+".log"), nil, pr)
	pr.Close()
	if err != nil {
		pw.Close()
		return latency{}, err
	}
	defer prod.kill()

	st := &sendTimes{m: make(map[string]sent, count)}
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	werr := make(chan error, 1)
	done := make(chan struct{})
	var achieved float64
	go func() {
		var err error
		achieved, err = writeStatuses(tctx, pw, g, rate, count, true, st, done)
		werr <- err
	}()
	tl := newTailer(f.Name(), st)
	err = tl.follow(tctx, count)
	close(done)
	if err != nil {
		return latency{}, fmt.Errorf("kcat latency at %v/s: %w", rate, err)
	}
	if err := <-werr; err != nil {
		return latency{}, err
	}
	if err := prod.wait(time.Minute); err != nil {
		return latency{}, err
	}
	cons.kill() // kcat -C without -e runs until stopped; its exit status says nothing
	return tl.result("kcat -P → kcat -C -u", rate, count, achieved), nil
}
