package ops

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
)

// Settings are the variables of memory, logs and progress, the same in
// both services. Each service's config embeds them.
type Settings struct {
	MemoryLimit      int64         `envconfig:"MEMORY_LIMIT" default:"83886080" desc:"soft memory limit in bytes (Go's GOMEMLIMIT, which wins when set); the garbage collector works harder near it (0: none)"`
	LogLevel         string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat        string        `envconfig:"LOG_FORMAT" default:"auto" desc:"json, text, or auto (text on a terminal, json otherwise)"`
	ProgressInterval time.Duration `envconfig:"PROGRESS_INTERVAL" default:"10s" desc:"how often progress (rates, totals) is logged (0: never)"`
}

// Validate returns an error for each variable out of range, naming it.
func (s Settings) Validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL=%q: accepts debug, info, warn or error", s.LogLevel)
	}
	switch s.LogFormat {
	case "json", "text", "auto":
	default:
		bad("LOG_FORMAT=%q: accepts json, text or auto", s.LogFormat)
	}
	if s.ProgressInterval < 0 {
		bad("PROGRESS_INTERVAL=%s: must be 0 (never) or positive", s.ProgressInterval)
	}
	if s.MemoryLimit != 0 && s.MemoryLimit < 16<<20 {
		bad("MEMORY_LIMIT=%d: accepts 0 (none) or 16777216 (16 MiB) and more", s.MemoryLimit)
	}
	return errs
}

// WarnMisspelled logs a warning for each variable of the environment that is
// one or two letters off a setting (envconf.NearMisses): it is not read, so
// the setting it was meant for keeps its default.
func WarnMisspelled(log *slog.Logger) {
	for _, m := range envconf.NearMisses(os.Environ(), envconf.Known) {
		log.Warn(m[0]+" is not a setting, so it is not read: is it "+m[1]+" misspelled?", "variable", m[0], "setting", m[1])
	}
}
