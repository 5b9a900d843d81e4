package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tweetpipe/tweetpipe/internal/logbuf"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestHealthz(t *testing.T) {
	notReady := Checks{Ready: func() error { return errors.New("kafka: connection refused") }}
	ts := httptest.NewServer(New(nil, notReady, discard()).Handler())
	defer ts.Close()

	code, body := get(t, ts.URL+"/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q; want 200 \"ok\\n\" (alive even when not ready)", code, body)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name     string
		ready    func() error
		wantCode int
		wantBody string
	}{
		{"no check", nil, http.StatusOK, "ready"},
		{"ready", func() error { return nil }, http.StatusOK, "ready"},
		{"not ready", func() error { return errors.New("kafka: no successful write yet") }, http.StatusServiceUnavailable, "not ready: kafka: no successful write yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(New(nil, Checks{Ready: tt.ready}, discard()).Handler())
			defer ts.Close()
			code, body := get(t, ts.URL+"/readyz")
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET /readyz = %d %q; want %d containing %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	var sent atomic.Int64
	var connected atomic.Bool
	sent.Store(42)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(CounterFunc(reg, "tweetpipe_test_messages_sent_total", "acknowledged messages", prometheus.Labels{"topic": "tweets"}, Int64(&sent)))
	must(CounterFunc(reg, "tweetpipe_test_messages_sent_total", "acknowledged messages", prometheus.Labels{"topic": "tweets.control"}, func() float64 { return 7 }))
	must(GaugeFunc(reg, "tweetpipe_test_kafka_connected", "1 when the last write succeeded", nil, Bool(&connected)))
	must(GaugeVecFunc(reg, "tweetpipe_test_lag_messages", "lag per partition", []string{"topic", "partition"}, func(emit Emit) {
		emit(3, "tweets", "0")
		emit(5, "tweets", "1")
	}))
	must(CounterVecFunc(reg, "tweetpipe_test_broken_total", "emits the wrong number of labels", []string{"kind"}, func(emit Emit) {
		emit(1, "status", "extra")
	}))
	if err := CounterFunc(reg, "tweetpipe_test_messages_sent_total", "acknowledged messages", prometheus.Labels{"topic": "tweets"}, Int64(&sent)); err == nil {
		t.Errorf("registering the same counter twice: got no error; want one")
	}

	ts := httptest.NewServer(New(reg, Checks{}, discard()).Handler())
	defer ts.Close()

	// Values are read at scrape time.
	sent.Add(1)
	connected.Store(true)
	code, body := get(t, ts.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d; want 200\n%s", code, body)
	}
	for _, want := range []string{
		"# TYPE tweetpipe_test_messages_sent_total counter",
		`tweetpipe_test_messages_sent_total{topic="tweets"} 43`,
		`tweetpipe_test_messages_sent_total{topic="tweets.control"} 7`,
		"# TYPE tweetpipe_test_kafka_connected gauge",
		"tweetpipe_test_kafka_connected 1",
		"# TYPE tweetpipe_test_lag_messages gauge",
		`tweetpipe_test_lag_messages{partition="0",topic="tweets"} 3`,
		`tweetpipe_test_lag_messages{partition="1",topic="tweets"} 5`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics: no line %q in\n%s", want, body)
		}
	}
	if strings.Contains(body, "tweetpipe_test_broken_total{") {
		t.Errorf("GET /metrics: an invalid sample was served:\n%s", body)
	}
}

func TestProbe(t *testing.T) {
	ok := httptest.NewServer(New(nil, Checks{}, discard()).Handler())
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		url     string
		wantErr string // "" means success
	}{
		{"healthy", ok.URL + "/healthz", ""},
		{"not 200", failing.URL + "/healthz", "503 Service Unavailable: shutting down"},
		{"nothing listening", closed.URL + "/healthz", "connection refused"},
		{"no such path", ok.URL + "/nope", "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(tt.url)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Probe(%s) = %v; want nil", tt.url, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Probe(%s) = %v; want an error containing %q", tt.url, err, tt.wantErr)
			}
		})
	}
}

// TestServeShutdown: when ctx ends, a request in flight still gets its
// answer, Serve returns nil, and the port is released.
func TestServeShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	inReady, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	s := New(nil, Checks{Ready: func() error {
		if calls.Add(1) == 2 { // the second /readyz is slow
			close(inReady)
			<-release
		}
		return nil
	}}, discard())

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	if err := Probe(url + "/healthz"); err != nil {
		t.Fatalf("Probe while serving: %v; want nil", err)
	}
	if code, _ := get(t, url+"/readyz"); code != http.StatusOK {
		t.Fatalf("GET /readyz = %d; want 200", code)
	}

	slow := make(chan int, 1)
	go func() {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			slow <- -1
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	<-inReady
	cancel()
	time.Sleep(50 * time.Millisecond) // Shutdown has begun; the request is still open
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight; want it to wait", err)
	default:
	}
	close(release)

	if code := <-slow; code != http.StatusOK {
		t.Errorf("request in flight at shutdown got %d; want 200", code)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after ctx ended = %v; want nil", err)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatalf("Serve did not return within %s of ctx ending", shutdownTimeout+time.Second)
	}
	if err := Probe(url + "/healthz"); err == nil {
		t.Errorf("Probe after shutdown = nil; want an error")
	}
}

// TestStart: the server outlives ctx (metrics stay up while a stop drains)
// until stop is called; a taken port is an error naming HTTP_ADDR; an empty
// address serves nothing.
func TestStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if _, err := Start(context.Background(), addr, nil, Checks{}, discard()); err == nil || !strings.Contains(err.Error(), "HTTP_ADDR="+addr) {
		t.Errorf("Start on a taken port = %v; want an error naming HTTP_ADDR", err)
	}
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	stop, err := Start(ctx, addr, nil, Checks{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := Probe("http://" + addr + "/healthz"); err != nil {
		t.Errorf("Probe after ctx ended, before stop: %v; want the server still up", err)
	}
	stop()
	if err := Probe("http://" + addr + "/healthz"); err == nil {
		t.Errorf("Probe after stop = nil; want an error")
	}

	stop, err = Start(context.Background(), "", nil, Checks{}, discard())
	if err != nil || stop == nil {
		t.Fatalf("Start with no address = %v; want nothing served and no error", err)
	}
	stop()
}

// TestStartLogsOnce: a start says once where the server listens.
func TestStartLogsOnce(t *testing.T) {
	var buf logbuf.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	stop, err := Start(context.Background(), "127.0.0.1:0", nil, Checks{}, log)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if got := strings.Count(buf.String(), "serving"); got != 1 {
		t.Errorf("log lines saying serving = %d; want 1:\n%s", got, buf.String())
	}
}

func TestLocalURL(t *testing.T) {
	tests := []struct {
		addr, want string
		wantErr    bool
	}{
		{":8080", "http://127.0.0.1:8080/healthz", false},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz", false},
		{"[::]:8080", "http://127.0.0.1:8080/healthz", false},
		{"localhost:9000", "http://localhost:9000/healthz", false},
		{"[::1]:9000", "http://[::1]:9000/healthz", false},
		{"8080", "", true},
	}
	for _, tt := range tests {
		got, err := LocalURL(tt.addr, "/healthz")
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("LocalURL(%q) = %q, %v; want %q, error %v", tt.addr, got, err, tt.want, tt.wantErr)
		}
	}
}
