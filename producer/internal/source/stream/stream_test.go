package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
)

func TestClassifyStatusExtraFatal(t *testing.T) {
	tests := []struct {
		code  int
		fatal []int
		want  Class
	}{
		{400, nil, ClassHTTP},
		{400, []int{http.StatusBadRequest}, ClassFatal},
		{401, []int{http.StatusBadRequest}, ClassFatal},
		{429, []int{http.StatusBadRequest}, ClassRateLimit},
		{503, []int{http.StatusBadRequest}, ClassHTTP},
	}
	for _, tt := range tests {
		if got := ClassifyStatus(tt.code, tt.fatal...); got != tt.want {
			t.Errorf("ClassifyStatus(%d, %v): got %v; want %v", tt.code, tt.fatal, got, tt.want)
		}
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name       string
		class      Class
		code       int
		wantReason string // "" means a *StatusError
	}{
		{"fatal", ClassFatal, 401, ""},
		{"rate limit", ClassRateLimit, 429, ReasonRateLimit},
		{"retried", ClassHTTP, 503, ReasonHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, err := Refused("the service", tt.class, tt.code, http.Header{"Retry-After": {"90"}}, "why", "the fix")
			if tt.wantReason == "" {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tt.code || se.Body != "why" || se.Fix != "the fix" {
					t.Fatalf("got %v; want a *StatusError for %d", err, tt.code)
				}
				want := "the service answered HTTP 401 Unauthorized, body why: the fix"
				if err.Error() != want {
					t.Errorf("got %q; want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want an ending", err)
			}
			if end.Class != tt.class || end.Reason != tt.wantReason || end.Err == nil || !strings.Contains(end.Err.Error(), "why") || end.Wait != 90*time.Second {
				t.Errorf("got %+v; want class %v, reason %s, the body in the error and the 90s Retry-After asks", end, tt.class, tt.wantReason)
			}
		})
	}
}

// TestRefusedResetOnlyForRateLimit: X sends x-rate-limit-reset on every
// answer; only a rate limit waits for it, not a 503.
func TestRefusedResetOnlyForRateLimit(t *testing.T) {
	h := http.Header{"X-Rate-Limit-Reset": {fmt.Sprint(time.Now().Add(10 * time.Minute).Unix())}}
	if end, _ := Refused("x", ClassHTTP, 503, h, "", ""); end.Wait != 0 {
		t.Errorf("503 with a reset 10 minutes away: asked wait %v; want 0 (the schedule's 5 s)", end.Wait)
	}
	if end, _ := Refused("x", ClassRateLimit, 429, h, "", ""); end.Wait < 9*time.Minute || end.Wait > 10*time.Minute {
		t.Errorf("429 with a reset 10 minutes away: asked wait %v; want about 10m", end.Wait)
	}
}

// TestServerWait: the wait a refusal asks for, in each form a server
// writes it; X's rate-limit reset only for a rate limit.
func TestServerWait(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	reset := func(d time.Duration) string { return fmt.Sprint(now.Add(d).Unix()) }
	tests := []struct {
		name        string
		header      http.Header
		rateLimited bool
		want        time.Duration
	}{
		{"none", http.Header{}, true, 0},
		{"Retry-After in seconds", http.Header{"Retry-After": {"120"}}, false, 2 * time.Minute},
		{"Retry-After as a date", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, false, 90 * time.Second},
		{"Retry-After past", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, false, 0},
		{"Retry-After negative", http.Header{"Retry-After": {"-5"}}, false, 0},
		{"Retry-After huge", http.Header{"Retry-After": {"99999999999999999"}}, false, maxWaitSeconds * time.Second},
		{"Retry-After past int64", http.Header{"Retry-After": {"99999999999999999999999"}}, false, maxWaitSeconds * time.Second},
		{"Retry-After unreadable", http.Header{"Retry-After": {"soon"}}, false, 0},
		{"x-rate-limit-reset", http.Header{"X-Rate-Limit-Reset": {reset(5 * time.Minute)}}, true, 5 * time.Minute},
		{"x-rate-limit-reset after another error", http.Header{"X-Rate-Limit-Reset": {reset(10 * time.Minute)}}, false, 0},
		{"x-rate-limit-reset past", http.Header{"X-Rate-Limit-Reset": {reset(-time.Minute)}}, true, 0},
		{"x-rate-limit-reset in milliseconds", http.Header{"X-Rate-Limit-Reset": {fmt.Sprint(now.Add(5 * time.Minute).UnixMilli())}}, true, 0},
		{"Retry-After first", http.Header{"Retry-After": {"30"}, "X-Rate-Limit-Reset": {reset(5 * time.Minute)}}, true, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := ServerWait(tt.header, now, tt.rateLimited); got != tt.want {
			t.Errorf("%s: ServerWait(%v, rate limited %v) = %v; want %v", tt.name, tt.header, tt.rateLimited, got, tt.want)
		}
	}
}

func TestStatusErrorWithoutBody(t *testing.T) {
	err := &StatusError{Service: "jetstream", Code: 404, Fix: "check the URL"}
	if got, want := err.Error(), "jetstream answered HTTP 404 Not Found, body (empty): check the URL"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestErrorBody(t *testing.T) {
	tests := []struct {
		name    string
		body    io.Reader
		secrets []string
		want    string
	}{
		{"nil", nil, nil, ""},
		{"one line", strings.NewReader("{\n  \"title\": \"Unauthorized\"\r\n}\n"), nil, `{ "title": "Unauthorized" }`},
		{"secrets", strings.NewReader("token tok123 and key k-9 echoed"), []string{"", "tok123", "k-9"}, "token xxxxx and key xxxxx echoed"},
		// The secrets of a URL whose user is a prefix of its password, and
		// one query value a prefix of another, given shortest first.
		{"secret holding another",
			strings.NewReader("bad credentials svc:svc-9f8e7d6c for ?key=abc&token=abcdef99"),
			envconf.URLSecrets("wss://svc:svc-9f8e7d6c@jetstream.example/subscribe?key=abc&token=abcdef99"),
			"bad credentials xxxxx:xxxxx for ?key=xxxxx&token=xxxxx"},
		{"shortened", strings.NewReader(strings.Repeat("x", 3*ErrorBodyLimit)), nil, strings.Repeat("x", ErrorBodyLimit)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorBody(tt.body, tt.secrets...); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestScheduleWithDefaults(t *testing.T) {
	got, err := Schedule{HTTPBackoffInitial: time.Second}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Schedule{DefaultNetworkBackoffStep, DefaultNetworkBackoffMax, time.Second, DefaultHTTPBackoffMax,
		DefaultRateLimitBackoffInitial, DefaultRateLimitBackoffMax, DefaultStableAfter}
	if got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}

	_, err = Schedule{NetworkBackoffStep: -time.Second, RateLimitBackoffInitial: time.Hour}.WithDefaults()
	for _, w := range []string{"the network back-off step must be positive, got -1s",
		"the rate-limit back-off maximum 16m0s is below its start 1h0m0s"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("got %v; want it to contain %q", err, w)
		}
	}
}

func TestPositive(t *testing.T) {
	d := time.Duration(0)
	if err := Positive(&d, time.Minute, "X_TIMEOUT"); err != nil || d != time.Minute {
		t.Errorf("zero: got %v, %v; want the default and no error", d, err)
	}
	n := -3
	if err := Positive(&n, 7, "X_SIZE"); err == nil || err.Error() != "X_SIZE must be positive, got -3" {
		t.Errorf("negative: got %v; want X_SIZE must be positive, got -3", err)
	}
	n = 5
	if err := Positive(&n, 7, "X_SIZE"); err != nil || n != 5 {
		t.Errorf("positive: got %d, %v; want 5 kept", n, err)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://stream.example.com/1.1", true},
		{"http://localhost:8080/x?a=b", true},
		{"wss://jetstream.example/subscribe", false},
		{"ftp://stream.example.com", false},
		{"https:///path", false},
		{"stream.example.com", false},
		{"http://[::1", false},
		{"https:alice:s3cret@api.x.com/2/tweets/sample/stream", false},
		{"https://alice:12/s3cret@api.x.com/", false},
	}
	for _, tt := range tests {
		if _, got := ParseURL(tt.url, "http", "https"); got != tt.want {
			t.Errorf("ParseURL(%q): got %v; want %v", tt.url, got, tt.want)
		}
	}
	if got := RedactURL("https://user:pw@example.com/x"); strings.Contains(got, "pw") {
		t.Errorf("RedactURL: got %q; want the password redacted", got)
	}
}

// Reconnect waits as the schedule says after each ending, counts it, and
// stops on an error or when the context is done.
func TestReconnect(t *testing.T) {
	endings := []Ending{
		{Class: ClassHTTP, Reason: ReasonHTTP, Err: errors.New("503")},
		{Class: ClassHTTP, Reason: ReasonHTTP, Err: errors.New("503")},
		{Class: ClassRateLimit, Reason: ReasonRateLimit, Err: errors.New("429")},
		{Class: ClassNetwork, Reason: ReasonStall, Err: errors.New("silence")}, // after a connection: reset
		{Class: ClassNetwork, Reason: ReasonNetwork, Err: errors.New("cut")},
		{Class: ClassHTTP, Reason: ReasonHTTP, Err: errors.New("503")}, // started over by the connection
	}
	fatal := &StatusError{Service: "test", Code: 401}
	var logs bytes.Buffer
	var stats Counters
	calls := 0
	schedule := Schedule{NetworkBackoffStep: time.Millisecond, HTTPBackoffInitial: 2 * time.Millisecond, RateLimitBackoffInitial: 5 * time.Millisecond}
	err := Reconnect(t.Context(), schedule, &stats, slog.New(slog.NewJSONHandler(&logs, nil)), func(b *Backoff) (Ending, error) {
		calls++
		if calls == 4 { // a stream that stays open DefaultStableAfter
			opened := time.Now()
			b.now = func() time.Time { return opened }
			b.Opened()
			b.now = func() time.Time { return opened.Add(DefaultStableAfter) }
		}
		if calls > len(endings) {
			return Ending{}, fatal
		}
		return endings[calls-1], nil
	})
	if err != fatal {
		t.Fatalf("got %v; want the error connect returned", err)
	}
	var waits []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e struct {
			Msg, Reason, Error string
			Wait               time.Duration
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Msg != "waiting to reconnect" || e.Error == "" {
			t.Errorf("got log %s; want a wait with its error", line)
		}
		waits = append(waits, e.Reason+" "+e.Wait.String())
	}
	want := []string{"http_error 2ms", "http_error 4ms", "rate_limit 5ms", "stall 1ms", "network 2ms", "http_error 2ms"}
	if strings.Join(waits, ", ") != strings.Join(want, ", ") {
		t.Errorf("got waits %v; want %v", waits, want)
	}
	s := stats.Snapshot(Reasons())
	if s.Stalls != 1 || len(s.Reconnects) != 5 || s.Reconnects[ReasonHTTP] != 3 || s.Reconnects[ReasonRateLimit] != 1 ||
		s.Reconnects[ReasonStall] != 1 || s.Reconnects[ReasonNetwork] != 1 || s.Reconnects[ReasonDisconnect] != 0 {
		t.Errorf("got %+v; want the reconnects counted by reason and one stall", s)
	}
	if s := stats.Snapshot([]string{ReasonNetwork, ReasonHTTP}); len(s.Reconnects) != 2 {
		t.Errorf("got %v; want only the reasons asked for", s.Reconnects)
	}
}

func TestReconnectReturnsWhenCancelledDuringAWait(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	schedule := Schedule{HTTPBackoffInitial: time.Hour, HTTPBackoffMax: time.Hour}
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- Reconnect(ctx, schedule, &Counters{}, slog.New(slog.DiscardHandler), func(*Backoff) (Ending, error) {
			once.Do(func() { time.AfterFunc(10*time.Millisecond, cancel) })
			return Ending{Class: ClassHTTP, Reason: ReasonHTTP}, nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v; want nil on shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Reconnect did not return within 5s of the cancel")
	}
}

func TestWatchdog(t *testing.T) {
	t.Run("stall while waiting for the response", func(t *testing.T) {
		ctx, w := Watch(t.Context(), 20*time.Millisecond)
		defer w.Close()
		<-ctx.Done()
		w.Stop()
		if end := w.Broken(ctx.Err()); end.Reason != ReasonStall || end.Class != ClassNetwork {
			t.Errorf("got %+v; want a stall", end)
		}
	})
	t.Run("stall inside a read", func(t *testing.T) {
		ctx, w := Watch(t.Context(), 20*time.Millisecond)
		defer w.Close()
		w.Stop()
		pr, pw := io.Pipe()
		go func() { <-ctx.Done(); pw.CloseWithError(context.Cause(ctx)) }()
		_, err := w.Body(pr).Read(make([]byte, 1))
		if end := w.Broken(err); end.Reason != ReasonStall {
			t.Errorf("got %+v; want a stall", end)
		}
	})
	t.Run("no stall while the source is busy", func(t *testing.T) {
		ctx, w := Watch(t.Context(), 20*time.Millisecond)
		defer w.Close()
		w.Stop()
		if _, err := w.Body(strings.NewReader("x")).Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond) // emit blocking: not a wait for the server
		if ctx.Err() != nil {
			t.Fatalf("got %v; want the connection kept", context.Cause(ctx))
		}
		cut := errors.New("cut")
		if end := w.Broken(cut); end.Reason != ReasonNetwork || end.Err != cut {
			t.Errorf("got %+v; want a network ending with its error", end)
		}
	})
}
