// Command devstack runs the whole pipeline on one machine with nothing but
// Go: an in-process Kafka-protocol broker (kfake) on loopback, the producer
// on the synthetic source and the consumer writing to ./data. The producer
// stops first, on Ctrl-C or when its source ends (a replay); the consumer is
// stopped once its group has committed every message of the topics it
// archives, which it does only after writing them; then the broker.
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
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
	"strings"
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
	fmt.Printf("devstack: in-process Kafka broker on %s\n", brokers)
	fmt.Printf("devstack: statuses land in %s  (follow them: make tail)\n", landing(out, os.Getenv))
	fmt.Printf("devstack: metrics on http://%s/metrics (producer) and http://%s/metrics (consumer)\n", httpAddr["producer"], httpAddr["consumer"])
	fmt.Printf("devstack: Ctrl-C stops everything cleanly\n\n")

	env := append(os.Environ(),
		"KAFKA_BROKERS="+brokers,
		"LOG_FORMAT=text",
	)
	if !strings.HasPrefix(os.Getenv("OUTPUT_URL"), "file://") { // that names the folder itself
		env = append(env, "OUTPUT_DIR="+out)
	}
	setDefault := func(env []string, kv ...string) []string {
		for i := 0; i < len(kv); i += 2 {
			if os.Getenv(kv[i]) == "" {
				env = append(env, kv[i]+"="+kv[i+1])
			}
		}
		return env
	}
	env = setDefault(env, "PROGRESS_INTERVAL", "5s", "SOURCE", "synthetic")
	env = env[:len(env):len(env)] // each service's append below copies it

	consumer, err := startService(bin, "consumer", append(env, "HTTP_ADDR="+httpAddr["consumer"]))
	if err != nil {
		return err
	}
	producer, err := startService(bin, "producer", append(env, "HTTP_ADDR="+httpAddr["producer"]))
	if err != nil {
		_ = consumer.Process.Signal(syscall.SIGTERM)
		<-consumer.done
		return err
	}

	// The producer stops first: on Ctrl-C, or on its own when its source
	// ends (a replay, SYNTHETIC_COUNT). Then the consumer gets until it has
	// written everything the producer published; a second Ctrl-C cuts that
	// short, and what it did not write stays in the broker for the next run.
	var perr, cerr error
	consumerDone := false
	select {
	case err := <-producer.done:
		perr = exitErr("producer", err)
	case err := <-consumer.done:
		cerr, consumerDone = exitErr("consumer", err), true
		_ = producer.Process.Signal(syscall.SIGTERM)
		perr = exitErr("producer", <-producer.done)
	case <-ctx.Done():
		_ = producer.Process.Signal(syscall.SIGTERM)
		perr = exitErr("producer", <-producer.done)
	}
	if !consumerDone {
		// A new signal context for the wait, since the first Ctrl-C may be
		// spent; registered before the first is released, so no signal
		// finds devstack without a handler and leaves the services behind.
		waitCtx, cancelWait := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		stop()
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			select {
			case err := <-consumer.done:
				cerr, consumerDone = exitErr("consumer", err), true
				cancelWait()
			case <-waitCtx.Done():
			}
		}()
		if a, err := consumerSettings(bin, env); err != nil {
			fmt.Fprintf(os.Stderr, "devstack: %v; stopping the consumer without waiting\n", err)
		} else {
			waitArchived(waitCtx, brokers, a)
		}
		cancelWait()
		<-watched
		if !consumerDone {
			_ = consumer.Process.Signal(syscall.SIGTERM)
			cerr = exitErr("consumer", <-consumer.done)
		}
	}
	fmt.Printf("\ndevstack: stopped; output in %s\n", landing(out, os.Getenv))
	return errors.Join(perr, cerr)
}

// service is a started child process; done yields its Wait's result once.
type service struct {
	*exec.Cmd
	done chan error
}

// startService runs bin/name with env, its output prefixed with its name.
func startService(bin, name string, env []string) (*service, error) {
	cmd := exec.Command(filepath.Join(bin, name))
	cmd.Env = env
	cmd.Stdout = prefixed(name, os.Stdout)
	cmd.Stderr = prefixed(name, os.Stderr)
	// Own process group: the terminal's Ctrl-C reaches devstack, which
	// stops the services in order (producer, then consumer).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (run make build first): %w", name, err)
	}
	s := &service{Cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	return s, nil
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

// landing says where the consumer's statuses go, as it will be configured:
// OUTPUT_URL (a folder, or a bucket with out as staging), KAFKA_TOPIC and
// OUTPUT_LAYOUT, from getenv.
func landing(out string, getenv func(string) string) string {
	topic := getenv("KAFKA_TOPIC")
	if topic == "" {
		topic = "tweets"
	}
	hour := "<YYYY-MM-DD>/<HH>"
	if getenv("OUTPUT_LAYOUT") == "hive" {
		hour = "dt=<YYYY-MM-DD>/hr=<HH>"
	}
	url := getenv("OUTPUT_URL")
	if dir, ok := strings.CutPrefix(url, "file://"); ok {
		out = dir
	}
	abs, _ := filepath.Abs(out)
	files := fmt.Sprintf("%s/%s/%s/*.jsonl", abs, topic, hour)
	if strings.HasPrefix(url, "s3://") {
		return fmt.Sprintf("%s while written, then in %s when each file closes (ROTATE_INTERVAL)", files, url)
	}
	return files
}
