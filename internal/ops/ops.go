// Package ops serves what operators and orchestrators ask of a running
// service: /healthz (the process is alive), /readyz (it can do its work) and
// /metrics (Prometheus). Probe is the image's HEALTHCHECK: distroless images
// have no shell or curl, so the binary checks itself.
package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownTimeout bounds how long Run waits for open requests once ctx ends.
const shutdownTimeout = 3 * time.Second

// Checks are the service's answers to the probes.
type Checks struct {
	// Ready returns nil when the service can do its work (the producer:
	// connected to Kafka and to its source; the consumer: a member of its
	// consumer group), else why not. nil means always ready.
	Ready func() error
}

// Server serves /healthz, /readyz and /metrics.
type Server struct {
	log *slog.Logger
	srv *http.Server
}

// New builds the server. It adds the Go and process collectors to reg
// (nil: a new registry) and serves reg on /metrics. Nothing listens until
// Serve.
func New(reg *prometheus.Registry, checks Checks, log *slog.Logger) *Server {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			log.Warn("registering runtime metrics", "error", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if checks.Ready != nil {
			if err := checks.Ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// A collector that fails leaves the others' samples in the scrape.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return &Server{
		log: log,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
	}
}

// Handler returns the server's routes, for tests.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Serve serves on ln until ctx ends, then stops accepting, waits up to a few
// seconds for open requests and returns nil. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving health and metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
		return fmt.Errorf("stopping the health and metrics server: %w", err)
	}
	<-errc // http.ErrServerClosed
	return nil
}

// Probe asks url (the service's own /healthz) and returns nil on 200 OK.
// It is what `<binary> -healthcheck` runs in the image.
func Probe(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return fmt.Errorf("probing %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probing %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// LocalURL turns a listen address (":8080", "0.0.0.0:8080", "[::]:8080")
// into the URL of path on this host, for Probe.
func LocalURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("HTTP_ADDR=%q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// Start serves /healthz, /readyz and /metrics on addr ("" turns them off)
// until the returned stop is called; they outlive ctx, so metrics stay up
// while a stop drains. An address that cannot be listened on is an error
// naming HTTP_ADDR.
func Start(ctx context.Context, addr string, reg *prometheus.Registry, checks Checks, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR=%s: %w", addr, err)
	}
	srv := New(reg, checks, log)
	opsCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(opsCtx, ln) }()
	log.Info("serving /healthz, /readyz and /metrics", "addr", ln.Addr().String())
	return func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("health and metrics server", "error", err)
		}
	}, nil
}
