package ops

import (
	"bytes"
	"strings"
	"testing"
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
