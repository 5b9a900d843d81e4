package manifest

import (
	"errors"
	"fmt"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// Settings are the consumer's variables for the manifests, which its
// config embeds: MANIFEST, MANIFEST_GRACE and MANIFEST_INTERVAL.
type Settings struct {
	Write    string        `envconfig:"MANIFEST" default:"on" desc:"on: write <hour folder>/_manifest.json (files, offsets, lines, bytes, SHA-256) once every partition of the topic has moved past the hour (with OUTPUT_URL=s3://..., in the hour's folder in the bucket); off: none"`
	Grace    time.Duration `envconfig:"MANIFEST_GRACE" default:"2m" desc:"a partition with no new data has moved past an hour this long after the hour's end"`
	Interval time.Duration `envconfig:"MANIFEST_INTERVAL" default:"10s" desc:"how often the closed hours are looked for"`
}

// Validate checks the settings; each error names the variable.
func (s Settings) Validate() error {
	var errs []error
	if s.Write != "on" && s.Write != "off" {
		errs = append(errs, fmt.Errorf("MANIFEST=%q: accepts on or off", s.Write))
	}
	if s.Grace < 0 {
		errs = append(errs, fmt.Errorf("MANIFEST_GRACE=%s: must be 0 or positive", s.Grace))
	}
	if s.Interval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("MANIFEST_INTERVAL=%s: accepts 100ms or more", s.Interval))
	}
	return errors.Join(errs...)
}

// On reports whether MANIFEST is on.
func (s Settings) On() bool { return s.Write == "on" }

// Config returns the finalizer's configuration for the hours of topics in
// the archive that a configures (its folder, layout, file mode and page
// cache).
func (s Settings) Config(a archive.Config, topics []string) Config {
	return Config{Dir: a.Dir, Layout: a.Layout, Topics: topics, Grace: s.Grace, Interval: s.Interval, FileMode: a.FileMode, Uncached: a.DropPageCache}
}
