package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a program under measurement: a service binary or kcat.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	ended   time.Time
	done    chan struct{}
	err     error
}

// startProc runs path with args and env (added to a minimal environment);
// its stdout goes to stdout (nil: the log) and its stderr to logPath.
func startProc(ctx context.Context, name, path string, args, env []string, logPath string, stdout io.Writer, stdin io.Reader) (*proc, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stderr = log
	cmd.Stdout = log
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stdin = stdin
	// A stop of the benchmark (ctx) asks politely first.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.ended = time.Now()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// wait waits for the process to exit on its own, at most within, and
// returns an error unless it exited 0.
func (p *proc) wait(within time.Duration) error {
	select {
	case <-p.done:
	case <-time.After(within):
		p.kill()
		return fmt.Errorf("%s did not finish within %s (log: %s)", p.name, within, p.logPath)
	}
	if p.err != nil {
		return fmt.Errorf("%s: %w; last lines of %s:\n%s", p.name, p.err, p.logPath, tail(p.logPath, 15))
	}
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(within time.Duration) error {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	return p.wait(within)
}

// kill ends the process at once; used only on failure paths.
func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// usage fills in m's peak resident set (VmHWM) and CPU times (user plus
// system, and system alone) from the exited process's rusage (wait4).
func (p *proc) usage(m *measure) {
	ru, ok := p.rusage()
	if !ok {
		return
	}
	m.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	m.CPUS = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	m.SysS = time.Duration(ru.Stime.Nano()).Seconds()
}

func (p *proc) rusage() (*syscall.Rusage, bool) {
	<-p.done
	if p.cmd.ProcessState == nil {
		return nil, false
	}
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return ru, ok
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// scraper reads a service's /metrics every interval and keeps the samples,
// for the allocations per message of the real binary (the Go collector's
// go_memstats_mallocs_total) against its message counter.
type scraper struct {
	url     string
	counter string // metric family summed as the message count
	mu      sync.Mutex
	samples []scrape
	stop    chan struct{}
	done    chan struct{}
}

type scrape struct {
	at         time.Time
	msgs       float64
	mallocs    float64
	allocBytes float64
}

func newScraper(addr, counter string, every time.Duration) *scraper {
	s := &scraper{url: "http://" + addr + "/metrics", counter: counter, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.scrapeOnce()
			}
		}
	}()
	return s
}

func (s *scraper) scrapeOnce() {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(s.url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	smp := scrape{at: time.Now()}
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		name, val, ok := cutMetric(l)
		if !ok {
			continue
		}
		switch {
		case name == "go_memstats_mallocs_total":
			smp.mallocs = val
		case name == "go_memstats_alloc_bytes_total":
			smp.allocBytes = val
		case name == s.counter:
			smp.msgs += val
		}
	}
	if smp.mallocs == 0 {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, smp)
	s.mu.Unlock()
}

// cutMetric splits a Prometheus text line into its family name and value.
func cutMetric(l string) (string, float64, bool) {
	i := strings.LastIndexByte(l, ' ')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(l[i+1:], 64)
	if err != nil {
		return "", 0, false
	}
	name := l[:i]
	if j := strings.IndexByte(name, '{'); j >= 0 {
		name = name[:j]
	}
	return name, v, true
}

// finish stops scraping after one last sample.
func (s *scraper) finish() {
	s.scrapeOnce()
	close(s.stop)
	<-s.done
}

// perMessage returns heap allocations (count and bytes) per message between
// the first sample that saw messages and the last one: the steady state,
// without the start-up.
func (s *scraper) perMessage() (allocs, bytes float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first *scrape
	for i := range s.samples {
		if s.samples[i].msgs > 0 {
			first = &s.samples[i]
			break
		}
	}
	if first == nil || len(s.samples) == 0 {
		return 0, 0, errors.New("no /metrics sample saw messages")
	}
	last := s.samples[len(s.samples)-1]
	n := last.msgs - first.msgs
	if n <= 0 {
		// One sample only: count everything since the start.
		if last.msgs <= 0 {
			return 0, 0, errors.New("no messages counted")
		}
		return last.mallocs / last.msgs, last.allocBytes / last.msgs, nil
	}
	return (last.mallocs - first.mallocs) / n, (last.allocBytes - first.allocBytes) / n, nil
}
