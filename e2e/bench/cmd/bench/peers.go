package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Peers are programs from Apache Kafka itself that do the services' jobs,
// run beside kcat on the same topics:
//
//   - the producer's: org.apache.kafka.tools.ConsoleProducer (what
//     kafka-console-producer.sh runs), reading the keyed file on stdin,
//     zstd, acks=all, its other settings at their defaults;
//   - the consumer's: Kafka Connect's FileStreamSinkConnector in a
//     standalone worker (connect-standalone.sh), one task, values as
//     strings, appending to one file; no fsync, at least once.
//
// Both run as java -cp "<jars>/*" with the JVM options Kafka's own scripts
// give them (kafka-run-class.sh: G1, 20 ms pauses; 256 MiB of heap for a
// tool, 2 GiB for Connect).
type peers struct {
	java string // java binary
	libs string // folder of the Kafka jars: kafka-tools, connect-runtime, connect-file and their dependencies
}

func (p peers) enabled() bool { return p.libs != "" }

// jvmOpts are kafka-run-class.sh's performance options.
func jvmOpts(heap ...string) []string {
	return append(heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
		"-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true")
}

func (p peers) classpath() string { return filepath.Join(p.libs, "*") }

// consoleProduce runs Kafka's console producer on keyed (key<TAB>value
// lines, so it partitions by key with murmur2 as the producer does) into
// topic.
func (r *runner) consoleProduce(ctx context.Context, topic, keyed string, n, bytes int64) (measure, error) {
	m := measure{Tool: "Kafka console producer", Msgs: n, Bytes: bytes}
	if err := warm(keyed); err != nil {
		return m, err
	}
	in, err := os.Open(keyed)
	if err != nil {
		return m, err
	}
	defer in.Close()
	args := append(jvmOpts("-Xmx256M"), "-cp", r.peers.classpath(), "org.apache.kafka.tools.ConsoleProducer",
		"--bootstrap-server", r.brokers, "--topic", topic,
		"--producer-property", "acks=all", "--producer-property", "compression.type=zstd",
		"--property", "parse.key=true", "--property", "key.separator=\t")
	if r.zstdLevel > 0 {
		args = append(args, "--producer-property", fmt.Sprintf("compression.zstd.level=%d", r.zstdLevel))
	}
	if _, err := r.timed(ctx, &m, r.watchTopic(ctx, topic, n), "console producer", r.peers.java, args, nil,
		filepath.Join(r.work, "console-producer-"+topic+".log"), nil, in); err != nil {
		return m, err
	}
	return m, r.checkCount(ctx, topic, n)
}

// connectTool names Connect's file sink in the tables and the chart.
const connectTool = "Kafka Connect file sink"

// connectSink runs a standalone Kafka Connect worker with one
// FileStreamSinkConnector on topic until every line is in its file, then
// stops it. Its wall time runs from the JVM's start to the last line, like
// the consumer's.
func (r *runner) connectSink(ctx context.Context, topic string, n, bytes int64) (measure, error) {
	m := measure{Tool: connectTool, Msgs: n, Bytes: bytes}
	dir := mustTemp(r.work, "connect")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "sink.jsonl")
	rest, err := freeAddr()
	if err != nil {
		return m, err
	}
	name := unique("bench-sink")
	worker := filepath.Join(dir, "worker.properties")
	connector := filepath.Join(dir, "connector.properties")
	if err := os.WriteFile(worker, []byte(connectWorker(r.brokers, filepath.Join(dir, "offsets"), rest)), 0o644); err != nil {
		return m, err
	}
	if err := os.WriteFile(connector, []byte(connectConnector(name, topic, out)), 0o644); err != nil {
		return m, err
	}
	args := append(jvmOpts("-Xms256M", "-Xmx2G"), "-cp", r.peers.classpath(),
		"org.apache.kafka.connect.cli.ConnectStandalone", worker, connector)
	p, err := startProc(ctx, "connect", r.peers.java, args, nil, filepath.Join(r.work, "connect-"+topic+".log"), nil, nil)
	if err != nil {
		return m, err
	}
	want := bytes + n
	size := func() int64 {
		fi, err := os.Stat(out)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	st := watchSteady(ctx, want, func(context.Context) (int64, error) { return size(), nil })
	first, done, err := waitOutput(p, size, want, r.timeout)
	m.SteadyRate = st.rate(n)
	if err != nil {
		p.kill()
		return m, fmt.Errorf("connect: %w", err)
	}
	// A JVM stopped by SIGTERM exits 143 after its shutdown hooks: not a
	// failure here, the file is already whole.
	p.stopAnyway(60 * time.Second)
	return m, m.ended(p, first, done, size(), want)
}

// ended fills m from a process that has ended, having written its first
// output at first and all of it at done, size bytes of the want expected.
func (m *measure) ended(p *proc, first, done time.Time, size, want int64) error {
	m.WallS = done.Sub(p.started).Seconds()
	m.FirstS = first.Sub(p.started).Seconds()
	p.usage(m)
	m.OutputBytes = size
	m.OutputMatches = size == want
	if !m.OutputMatches {
		return fmt.Errorf("%s output is %d bytes; want %d", p.name, size, want)
	}
	return nil
}

// connectWorker is a standalone worker's configuration: values handed to
// the sink as strings (the file gets them as they are), offsets in a
// file, its REST listener on a free loopback port.
func connectWorker(brokers, offsets, rest string) string {
	return strings.Join([]string{
		"bootstrap.servers=" + brokers,
		"key.converter=org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter=org.apache.kafka.connect.storage.StringConverter",
		"offset.storage.file.filename=" + offsets,
		"listeners=http://" + rest,
		"",
	}, "\n")
}

// connectConnector is the FileStreamSinkConnector's configuration: one
// task appending every value of topic, a line each, to file.
func connectConnector(name, topic, file string) string {
	return strings.Join([]string{
		"name=" + name,
		"connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector",
		"tasks.max=1",
		"topics=" + topic,
		"file=" + file,
		"",
	}, "\n")
}

// waitOutput polls size until it reaches want, and returns when the first
// byte and the last one were there; an error if p exits first or within
// passes.
func waitOutput(p *proc, size func() int64, want int64, within time.Duration) (first, done time.Time, err error) {
	deadline := time.Now().Add(within)
	for {
		s := size()
		now := time.Now()
		if s > 0 && first.IsZero() {
			first = now
		}
		if s >= want {
			return first, now, nil
		}
		if !p.running() {
			return first, now, fmt.Errorf("%s exited after %d of %d bytes: %v\n%s", p.name, s, want, p.err, tail(p.logPath, 15))
		}
		if now.After(deadline) {
			return first, now, fmt.Errorf("%s wrote %d of %d bytes within %s; log %s", p.name, s, want, within, p.logPath)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stopAnyway sends SIGTERM and waits for the process to end, killing it
// after within; its exit status does not matter.
func (p *proc) stopAnyway(within time.Duration) {
	_ = p.stop(within) // p.wait kills it after within
}
