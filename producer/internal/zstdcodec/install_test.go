//go:build !(cgo && libzstd)

package zstdcodec

import (
	"strings"
	"testing"
)

// TestGoInstalled: a build without libzstd installs klauspost's codec and
// names it.
func TestGoInstalled(t *testing.T) {
	c, _ := install(t, 0)
	if _, ok := c.(*Codec); !ok || !strings.Contains(Encoder, "klauspost") {
		t.Fatalf("Install put %T in the table, Encoder %q; want *Codec and klauspost", c, Encoder)
	}
}
