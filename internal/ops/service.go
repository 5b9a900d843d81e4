package ops

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"
)

// NewLogger returns a service's logger writing to w. level is debug, info,
// warn or error (info when it is none of them); format is json, text, or
// auto: text when stderr is a terminal, JSON otherwise. A duration reads
// the same in both, as Go writes it ("1m30s", as the variables take it):
// slog's JSON handler would write it as an integer of nanoseconds.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" || (format != "json" && isTerminal(os.Stderr)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	opts.ReplaceAttr = durationText
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationText writes a duration attribute as its text, as the text
// handler does.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Flags parses the command line of the service name, which has no flags
// but these two, each of which ends the process:
//   - -healthcheck asks the running service's /healthz (HTTP_ADDR) and exits
//     0 when it answers: the image's HEALTHCHECK, as distroless images have
//     no shell or curl;
//   - -h prints the environment variables (usage writes them) and exits.
func Flags(name, version string, usage func(io.Writer) error) {
	help := flag.Bool("h", false, "print every environment variable with its default")
	healthcheck := flag.Bool("healthcheck", false, "probe this service's /healthz (HTTP_ADDR) and exit 0 if it answers: the image's HEALTHCHECK")
	flag.Parse()
	switch {
	case *healthcheck:
		exitOn(probeSelf(os.Stdout))
	case *help:
		fmt.Fprintf(os.Stdout, "tweetpipe %s %s: configured by environment variables\n\n", name, version)
		exitOn(usage(os.Stdout))
	default:
		return
	}
	os.Exit(0)
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// DefaultHTTPAddr is HTTP_ADDR when it is not set: the services' configs
// give it as their default (a test in each checks they agree).
const DefaultHTTPAddr = ":8080"

// probeSelf asks the running service's /healthz on HTTP_ADDR, read as the
// service reads it: unset means DefaultHTTPAddr, set and empty means the
// service serves no health endpoint. Then there is nothing to ask, and the
// probe reports healthy, saying so, rather than fail a healthy service
// (and have an orchestrator restart it) for a setting.
func probeSelf(w io.Writer) error {
	addr, ok := os.LookupEnv("HTTP_ADDR")
	if !ok {
		addr = DefaultHTTPAddr
	}
	if addr == "" {
		fmt.Fprintln(w, "HTTP_ADDR is empty: the service serves no /healthz to probe; reporting healthy")
		return nil
	}
	u, err := LocalURL(addr, "/healthz")
	if err != nil {
		return err
	}
	return Probe(u)
}

// SetMemoryLimit sets Go's soft memory limit to limit bytes, which bounds
// the heap's growth between collections; GOMEMLIMIT, when set, wins, and 0
// means none.
func SetMemoryLimit(limit int64) {
	if os.Getenv("GOMEMLIMIT") == "" && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}

// Progress calls report every interval until ctx ends (never when every is
// 0 or less) with the running total that count returns and its rate per
// second since the last report: the services' progress log lines.
func Progress(ctx context.Context, every time.Duration, count func() int64, report func(total int64, perSecond float64)) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := count(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := count()
			report(n, float64(n-last)/now.Sub(lastAt).Seconds())
			last, lastAt = n, now
		}
	}
}
