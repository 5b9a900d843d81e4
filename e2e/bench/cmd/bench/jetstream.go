package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coder/websocket"
)

// isRecordCommit says whether a Jetstream event is a commit that creates
// or updates a record: what the producer's Jetstream source publishes on
// its topic (deletes, identity and account events go to the control topic).
func isRecordCommit(line []byte) bool {
	var e struct {
		Kind   string `json:"kind"`
		Commit *struct {
			Operation  string `json:"operation"`
			Collection string `json:"collection"`
			RKey       string `json:"rkey"`
		} `json:"commit"`
	}
	if json.Unmarshal(line, &e) != nil || e.Kind != "commit" || e.Commit == nil {
		return false
	}
	c := e.Commit
	return (c.Operation == "create" || c.Operation == "update") && c.Collection != "" && c.RKey != ""
}

// jetstreamServer is a Jetstream endpoint on loopback that sends every line
// of a file, one websocket text message each, to the first connection,
// then keeps it open and idle as a live stream would.
type jetstreamServer struct {
	srv  *http.Server
	addr string
	done chan error // the first connection's result
}

func startJetstreamServer(path string) (*jetstreamServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &jetstreamServer{addr: ln.Addr().String(), done: make(chan error, 1)}
	served := make(chan struct{}, 1)
	served <- struct{}{}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-served:
		default:
			http.Error(w, "the benchmark's stream was sent once already", http.StatusServiceUnavailable)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			s.done <- fmt.Errorf("accepting the producer's connection: %w", err)
			return
		}
		defer conn.CloseNow()
		s.done <- sendLines(r.Context(), conn, path)
		<-r.Context().Done() // idle until the producer leaves
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func sendLines(ctx context.Context, conn *websocket.Conn, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if err := conn.Write(ctx, websocket.MessageText, sc.Bytes()); err != nil {
			return fmt.Errorf("sending an event: %w", err)
		}
	}
	return sc.Err()
}

func (s *jetstreamServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	_ = s.srv.Close()
}

// produceJetstream runs the producer's Jetstream source against a local
// endpoint that sends the n events of path, until topic holds them all,
// then stops it. Its wall time runs from its start to the last message in
// Kafka.
func (r *runner) produceJetstream(ctx context.Context, topic, path string, n, bytes int64) (measure, error) {
	m := measure{Tool: "tweetpipe producer", Msgs: n, Bytes: bytes}
	js, err := startJetstreamServer(path)
	if err != nil {
		return m, err
	}
	defer js.close()
	addr, err := freeAddr()
	if err != nil {
		return m, err
	}
	env := append([]string{
		"KAFKA_BROKERS=" + r.brokers, "SOURCE=jetstream", "JETSTREAM_URL=ws://" + js.addr + "/subscribe",
		"KAFKA_TOPIC=" + topic, "KAFKA_CONTROL_TOPIC=",
		fmt.Sprintf("KAFKA_PARTITIONS=%d", r.partitions), "KAFKA_COMPRESSION=zstd",
		fmt.Sprintf("KAFKA_COMPRESSION_LEVEL=%d", r.zstdLevel),
		"STATE_DIR=" + mustTemp(r.work, "state"),
		"HTTP_ADDR=" + addr, "LOG_FORMAT=json", "LOG_LEVEL=info", "PROGRESS_INTERVAL=5s",
	}, r.extraProducer...)
	sc := newScraper(addr, "tweetpipe_producer_messages_sent_total", 250*time.Millisecond)
	st := r.watchTopic(ctx, topic, n)
	p, err := startProc(ctx, "producer", filepath.Join(r.bin, "producer"), nil, env,
		filepath.Join(r.work, "producer-"+topic+".log"), nil, nil)
	if err != nil {
		sc.finish()
		return m, err
	}
	deadline := time.Now().Add(r.timeout)
	var done time.Time
	for {
		got, err := r.adm.count(ctx, topic, r.partitions)
		if err == nil && got >= n {
			done = time.Now()
			break
		}
		select {
		case err := <-js.done:
			if err != nil {
				sc.finish()
				p.kill()
				return m, err
			}
		default:
		}
		if !p.running() {
			sc.finish()
			return m, fmt.Errorf("producer exited with %d of %d messages in Kafka: %v\n%s", got, n, p.err, tail(p.logPath, 15))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			sc.finish()
			p.kill()
			return m, errors.Join(fmt.Errorf("producer put %d of %d messages in Kafka within %s; log %s", got, n, r.timeout, p.logPath), ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.SteadyRate = st.rate(n)
	sc.finish()
	if err := p.stop(30 * time.Second); err != nil {
		return m, err
	}
	m.WallS = done.Sub(p.started).Seconds()
	p.usage(&m)
	if a, b, err := sc.perMessage(); err == nil {
		m.AllocsPerMsg, m.AllocBPerMsg = a, b
	}
	return m, r.checkCount(ctx, topic, n)
}
