// Command devstack runs the whole pipeline on one machine with nothing but
// Go: an in-process Kafka-protocol broker (kfake) on loopback, the producer
// on the synthetic source and the consumer writing to ./data. Ctrl-C stops
// the producer and the consumer (each flushes and commits), then the broker.
//
// It is what `make run` starts; the services are the real binaries, given
// the same environment a user would give them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "loopback port of the in-process broker")
	bin := flag.String("bin", "bin", "folder holding the producer and consumer binaries")
	out := flag.String("out", "data", "output folder of the consumer")
	state := flag.String("state", ".devstack/kafka", "folder where the in-process broker keeps its topics between runs")
	producerHTTP := flag.String("producer-http", "127.0.0.1:8081", "the producer's health and metrics address (HTTP_ADDR)")
	consumerHTTP := flag.String("consumer-http", "127.0.0.1:8082", "the consumer's health and metrics address (HTTP_ADDR)")
	flag.Parse()
	httpAddr := map[string]string{"producer": *producerHTTP, "consumer": *consumerHTTP}
	if err := run(*port, *bin, *out, *state, httpAddr); err != nil {
		log.Printf("devstack: %v", err)
		os.Exit(1)
	}
}

func run(port int, bin, out, state string, httpAddr map[string]string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The broker keeps its topics and the group's offsets on disk, so a
	// second run continues the offsets the archive's checkpoints know.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(state))
	if err != nil {
		return fmt.Errorf("starting the in-process broker on 127.0.0.1:%d (is a Kafka already there? set -port): %w", port, err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()[0]
	abs, _ := filepath.Abs(out)
	fmt.Printf("devstack: in-process Kafka broker on %s\n", brokers)
	fmt.Printf("devstack: statuses land in %s/tweets/<YYYY-MM-DD>/<HH>/*.jsonl  (follow them: make tail)\n", abs)
	fmt.Printf("devstack: metrics on http://%s/metrics (producer) and http://%s/metrics (consumer)\n", httpAddr["producer"], httpAddr["consumer"])
	fmt.Printf("devstack: Ctrl-C stops everything cleanly\n\n")

	env := append(os.Environ(),
		"KAFKA_BROKERS="+brokers,
		"OUTPUT_DIR="+out,
		"LOG_FORMAT=text",
	)
	setDefault := func(env []string, kv ...string) []string {
		for i := 0; i < len(kv); i += 2 {
			if os.Getenv(kv[i]) == "" {
				env = append(env, kv[i]+"="+kv[i+1])
			}
		}
		return env
	}
	env = setDefault(env, "PROGRESS_INTERVAL", "5s", "SOURCE", "synthetic")

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"consumer", "producer"} {
		cmd := exec.Command(filepath.Join(bin, name))
		cmd.Env = append(env, "HTTP_ADDR="+httpAddr[name])
		cmd.Stdout = prefixed(name, os.Stdout)
		cmd.Stderr = prefixed(name, os.Stderr)
		// Own process group: the terminal's Ctrl-C reaches devstack, which
		// stops the services in order (producer, then consumer).
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s (run make build first): %w", name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				errs[i] = exitErr(name, err)
				stop() // one service ended: stop the other
			case <-ctx.Done():
				if name == "consumer" {
					// Let the producer's last messages arrive first.
					time.Sleep(500 * time.Millisecond)
				}
				_ = cmd.Process.Signal(syscall.SIGTERM)
				errs[i] = exitErr(name, <-done)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("\ndevstack: stopped; output in %s\n", abs)
	return errors.Join(errs...)
}

func exitErr(name string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// prefixed writes each line of a child's output with its name in front.
func prefixed(name string, w io.Writer) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(w, "%-8s | %s\n", name, sc.Bytes())
		}
	}()
	return pw
}
