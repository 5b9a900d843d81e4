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
