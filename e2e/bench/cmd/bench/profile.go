package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profile runs the producer (replaying data into a new topic) and then the
// consumer (archiving that topic) under perf record, sampling CPU at 999 Hz
// with call graphs (Go keeps frame pointers). The services expose no pprof
// endpoint; perf needs none. The perf.data files are left in the work
// folder as <label>-producer.perf.data and <label>-consumer.perf.data.
func (r *runner) profile(ctx context.Context, data string, n, bytes int64) error {
	topic, err := r.topic(ctx, "prof")
	if err != nil {
		return err
	}
	record := func(out, bin string) []string {
		return []string{"record", "-e", "cpu-clock", "-F", "999", "-g", "-o", out, "--", bin}
	}

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	perfP := filepath.Join(r.work, r.label+"-producer.perf.data")
	if err := warm(data); err != nil { // as in the throughput runs
		return err
	}
	p, err := startProc(ctx, "perf record producer", r.perf, record(perfP, filepath.Join(r.bin, "producer")),
		r.producerEnv(topic, data, addr), filepath.Join(r.work, "perf-producer.log"), nil, nil)
	if err != nil {
		return err
	}
	if err := p.wait(r.timeout); err != nil {
		return err
	}
	if err := r.checkCount(ctx, topic, n); err != nil {
		return err
	}
	logf("[%s] profiled the producer: %d msgs in %.2fs under perf → %s", r.label, n, p.ended.Sub(p.started).Seconds(), perfP)

	out := mustTemp(r.work, "prof-out")
	defer os.RemoveAll(out)
	if addr, err = freeAddr(); err != nil {
		return err
	}
	perfC := filepath.Join(r.work, r.label+"-consumer.perf.data")
	c, err := startProc(ctx, "perf record consumer", r.perf, record(perfC, filepath.Join(r.bin, "consumer")),
		r.consumerEnv(topic, out, addr), filepath.Join(r.work, "perf-consumer.log"), nil, nil)
	if err != nil {
		return err
	}
	defer c.kill()
	want := bytes + n
	deadline := time.Now().Add(r.timeout)
	for dirSize(filepath.Join(out, topic)) < want {
		if !c.running() || time.Now().After(deadline) {
			return fmt.Errorf("the profiled consumer did not write %d bytes: %v\n%s", want, c.err, tail(c.logPath, 15))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Stop the consumer itself (perf's child); perf then writes its data.
	child, err := childPID(c.cmd.Process.Pid)
	if err != nil {
		return err
	}
	if err := syscall.Kill(child, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping the profiled consumer (pid %d): %w", child, err)
	}
	if err := c.wait(time.Minute); err != nil {
		return err
	}
	logf("[%s] profiled the consumer: %d msgs in %.2fs under perf → %s", r.label, n, c.ended.Sub(c.started).Seconds(), perfC)
	return nil
}

// childPID returns the only child of pid (perf's workload).
func childPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		return 0, fmt.Errorf("perf (pid %d) has %d children; want 1", pid, len(f))
	}
	return strconv.Atoi(f[0])
}

// kcatProduceStdin is kcat -P reading the file on its standard input, as a
// pipeline would; for peak memory, so that a mapped file is not counted.
func (r *runner) kcatProduceStdin(ctx context.Context, topic, file string, n, bytes int64) (measure, error) {
	m := measure{Tool: "kcat -P (stdin)", Msgs: n, Bytes: bytes}
	if err := warm(file); err != nil {
		return m, err
	}
	in, err := os.Open(file)
	if err != nil {
		return m, err
	}
	defer in.Close()
	args := append([]string{"-P", "-b", r.brokers, "-t", topic, "-X", "acks=all", "-q"}, r.kcatZstd()...)
	if _, err := r.timed(ctx, &m, nil, "kcat -P", r.kcat, args, nil, filepath.Join(r.work, "kcat-P-"+topic+".log"), nil, in); err != nil {
		return m, err
	}
	return m, r.checkCount(ctx, topic, n)
}
