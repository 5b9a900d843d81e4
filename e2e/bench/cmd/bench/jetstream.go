package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
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
//
// It frames the messages itself and writes them 1 MiB at a time, as a
// stream from far away arrives many messages to a read: the sender runs on
// the cores the producer and the broker use, where kcat -P reads its file
// for almost nothing, and coder/websocket's Conn.Write would make a system
// call for every message (0.66 to 0.80 s of CPU during runs of 1.6 to
// 1.9 s, 200,000 events).
type jetstreamServer struct {
	srv  *http.Server
	addr string
	done chan error // the first connection's result

	mu     sync.Mutex
	conn   net.Conn // the hijacked connection, closed by close
	closed bool     // close ran: a connection taken over after it is closed at once
}

// websocketGUID is RFC 6455's, for the handshake's Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func startJetstreamServer(path string) (*jetstreamServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &jetstreamServer{addr: ln.Addr().String(), done: make(chan error, 1)}
	served := make(chan struct{}, 1)
	served <- struct{}{}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
			http.Error(w, "a websocket endpoint", http.StatusBadRequest)
			return
		}
		select {
		case <-served:
		default:
			http.Error(w, "the benchmark's stream was sent once already", http.StatusServiceUnavailable)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.done <- fmt.Errorf("taking over the producer's connection: %w", err)
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			s.done <- errors.New("the benchmark's endpoint was closed")
			return
		}
		s.conn = conn
		s.mu.Unlock()
		sum := sha1.Sum([]byte(key + websocketGUID))
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(sum[:]))
		if err := rw.Flush(); err != nil {
			s.done <- fmt.Errorf("answering the producer's handshake: %w", err)
			return
		}
		s.done <- sendLines(conn, path)
		_, _ = io.Copy(io.Discard, conn) // idle until the producer leaves
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// sendLines writes each line of path to w as one unmasked websocket text
// frame (RFC 6455 section 5.2, a server's), in writes of about 1 MiB.
func sendLines(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	var header [10]byte
	for sc.Scan() {
		_, _ = bw.Write(appendFrameHeader(header[:0], len(sc.Bytes()))) // an error stays: the next Write returns it
		if _, err := bw.Write(sc.Bytes()); err != nil {
			return fmt.Errorf("sending an event: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sending an event: %w", err)
	}
	return nil
}

// appendFrameHeader appends to b the header of a final, unmasked text
// frame of n bytes: its length in 7 bits, or 126 and 16 bits, or 127 and
// 64 bits.
func appendFrameHeader(b []byte, n int) []byte {
	b = append(b, 0x80|0x1) // FIN, text
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
	return b
}

func (s *jetstreamServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	_ = s.srv.Close()
	s.mu.Lock()
	s.closed = true
	if s.conn != nil {
		_ = s.conn.Close()
	}
	s.mu.Unlock()
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
