package ops

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	log := NewLogger(&b, "warn", "json")
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if got := strings.TrimSpace(b.String()); strings.Contains(got, "hidden") || !strings.HasPrefix(got, "{") || !strings.Contains(got, `"msg":"shown","k":1`) {
		t.Fatalf("LOG_LEVEL=warn LOG_FORMAT=json wrote %q; want the warning alone, as JSON", got)
	}
	b.Reset()
	log = NewLogger(&b, "info", "json")
	log.Warn("waiting", "retry_in", 90*time.Second, slog.Group("source", slog.Duration("stall_timeout", 1500*time.Millisecond)), "n", 3)
	if got, want := strings.TrimSpace(b.String()), `"msg":"waiting","retry_in":"1m30s","source":{"stall_timeout":"1.5s"},"n":3}`; !strings.HasSuffix(got, want) {
		t.Fatalf("LOG_FORMAT=json wrote %q; want it to end %s: durations as the variables write them", got, want)
	}
	b.Reset()
	log = NewLogger(&b, "loud", "text")
	log.Debug("hidden")
	log.Info("shown")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "level=INFO msg=shown") {
		t.Fatalf("an unknown level and LOG_FORMAT=text wrote %q; want info and up, as text", got)
	}
}

func TestSettingsValidate(t *testing.T) {
	ok := Settings{MemoryLimit: 80 << 20, LogLevel: "info", LogFormat: "auto", ProgressInterval: 0}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Fatalf("valid settings: %v", errs)
	}
	bad := Settings{MemoryLimit: 1 << 20, LogLevel: "loud", LogFormat: "xml", ProgressInterval: -1}
	var got []string
	for _, err := range bad.Validate() {
		got = append(got, err.Error())
	}
	want := []string{
		`LOG_LEVEL="loud": accepts debug, info, warn or error`,
		`LOG_FORMAT="xml": accepts json, text or auto`,
		`PROGRESS_INTERVAL=-1ns: must be 0 (never) or positive`,
		`MEMORY_LIMIT=1048576: accepts 0 (none) or 16777216 (16 MiB) and more`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProgress(t *testing.T) {
	var n atomic.Int64
	n.Store(100)
	reports := make(chan [2]float64, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	count := func() int64 { // the first call is the baseline
		v := n.Load()
		once.Do(func() { close(started) })
		return v
	}
	go func() {
		defer close(done)
		Progress(ctx, 20*time.Millisecond, count, func(total int64, rate float64) {
			reports <- [2]float64{float64(total), rate}
		})
	}()
	<-started
	n.Store(300)
	r := <-reports
	for r[0] == 100 { // ticks before the store, on a loaded machine
		r = <-reports
	}
	if r[0] != 300 || r[1] <= 0 {
		t.Errorf("first report: total %v, rate %v; want 300 and a positive rate (200 since the start)", r[0], r[1])
	}
	cancel()
	<-done

	called := false
	Progress(context.Background(), 0, n.Load, func(int64, float64) { called = true }) // returns at once
	if called {
		t.Error("PROGRESS_INTERVAL=0 reported progress; want never")
	}
}

// TestProbeSelfFollowsHTTPAddr: -healthcheck asks the address the service
// serves on, read from HTTP_ADDR as the service reads it; with HTTP_ADDR
// set and empty the service serves nothing, and the probe does not report
// a healthy service as failing.
func TestProbeSelfFollowsHTTPAddr(t *testing.T) {
	srv := httptest.NewServer(New(nil, Checks{}, slog.New(slog.DiscardHandler)).Handler())
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := closed.Listener.Addr().String()
	closed.Close()
	for _, tt := range []struct {
		name, addr, wantErr, wantOut string
	}{
		{"the service's address", srv.Listener.Addr().String(), "", ""},
		{"nothing listening", closedAddr, "probing http://" + closedAddr + "/healthz", ""},
		{"health endpoint off", "", "", "HTTP_ADDR is empty"},
		{"not an address", "8080", `HTTP_ADDR="8080"`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HTTP_ADDR", tt.addr)
			var out bytes.Buffer
			err := probeSelf(&out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v; want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got error %v; want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("printed %q; want %q", out.String(), tt.wantOut)
			}
		})
	}
}
