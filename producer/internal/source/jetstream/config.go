package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// Defaults for the zero values of Config.
const (
	DefaultURL             = "wss://jetstream2.us-east.bsky.network/subscribe"
	DefaultCollection      = "app.bsky.feed.post"
	DefaultRewind          = 5 * time.Second
	DefaultStallTimeout    = 60 * time.Second
	DefaultMaxMessageBytes = 1 << 20
	DefaultSaveInterval    = time.Second
)

// maxCollections is how many wantedCollections Jetstream accepts.
const maxCollections = 100

// Config is what SOURCE=jetstream needs: the JETSTREAM_* variables, which
// the producer's config embeds, and what the service sets. Zero values take
// the defaults. Lists hold one item per element (the variables are comma
// lists).
type Config struct {
	// URL: default DefaultURL (ws, wss, http or https).
	URL envconf.URL `envconfig:"JETSTREAM_URL" default:"wss://jetstream2.us-east.bsky.network/subscribe" desc:"Bluesky Jetstream websocket URL"`
	// Collections: NSIDs or prefixes ending ".*"; default app.bsky.feed.post.
	Collections []string `envconfig:"JETSTREAM_COLLECTIONS" default:"app.bsky.feed.post" desc:"collections to subscribe to (NSIDs or prefix.*)"`
	// Langs keeps only the posts (app.bsky.feed.post creates and updates)
	// whose record.langs has a tag in the list, by BCP 47 prefix: "en"
	// keeps "en" and "en-US". Empty keeps everything. Other events
	// (deletes, identity, account, other collections) pass.
	Langs []string `envconfig:"JETSTREAM_LANGS" desc:"keep only posts whose langs include one of these (e.g. hi,en); empty keeps all"`

	// StateDir (STATE_DIR, the service's, required) holds the resume
	// file, StateFile: the time_us of the last event Kafka acknowledged.
	StateDir string `ignored:"true"`
	// Rewind (default 5s) is how far before the saved or last seen time_us
	// a (re)connection's cursor starts, so that nothing falls between two
	// connections; the copies are dropped downstream.
	Rewind       time.Duration `envconfig:"JETSTREAM_REWIND" default:"5s" desc:"a reconnection resumes this long before the last acknowledged event"`
	StallTimeout time.Duration `envconfig:"JETSTREAM_STALL_TIMEOUT" default:"60s" desc:"no message for this long means the connection is dead"`
	// MaxMessageBytes (default 1 MiB) drops larger messages, counted and
	// logged, keeping the connection.
	MaxMessageBytes int `ignored:"true"`
	// SaveInterval (default 1s) is how often the resume file is rewritten
	// while acknowledgements come in; it is also written when Run returns
	// and when the last record in flight is acknowledged after that.
	SaveInterval time.Duration `ignored:"true"`

	// AllowInsecureHTTP (ALLOW_INSECURE_HTTP, the service's, as the other
	// stream sources read it too) accepts a ws:// or http:// URL that
	// carries credentials (a user, a password or a key in the query) to a
	// host other than loopback: they would cross the network in clear
	// text. A URL without credentials needs no opt-in.
	AllowInsecureHTTP bool `ignored:"true"`

	// The reconnect schedule, the v1.1 source's; zero values take its
	// numbers (stream.Default*Backoff*). Tests shorten them.
	stream.Schedule `ignored:"true"`
}

// LogValue shows the configuration for the start-up log.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", stream.RedactURL(c.URL.Reveal())),
		slog.Any("collections", c.Collections),
		slog.Any("langs", c.Langs),
		slog.String("state_dir", c.StateDir),
		slog.Duration("rewind", c.Rewind),
		slog.Duration("stall_timeout", c.StallTimeout),
		slog.Int("max_message_bytes", c.MaxMessageBytes),
		slog.Bool("allow_insecure_http", c.AllowInsecureHTTP),
	)
}

// Validate checks c as New does; each error names the variable at fault.
// The service's config calls it, so that a source's rules are written once
// and a bad setting stops the producer before it connects to anything.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults validates c and returns it cleaned up: list items trimmed,
// empty ones dropped, languages in lower case, defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if u, ok := stream.ParseURL(c.URL.Reveal(), "ws", "wss", "http", "https"); !ok {
		errs = append(errs, stream.URLError("JETSTREAM_URL", c.URL.Reveal(), "a ws(s) URL", DefaultURL))
	} else {
		errs = append(errs, stream.PlainText(u, len(envconf.URLSecrets(c.URL.Reveal())) > 0, c.AllowInsecureHTTP, "JETSTREAM_URL"))
		// Jetstream's options that change what a frame holds: zstd frames
		// (with a dictionary) and a stream that waits for an options
		// message. The source reads JSON frames from the first.
		for _, p := range []string{"compress", "requireHello"} {
			if v := u.Query().Get(p); v != "" && v != "false" {
				errs = append(errs, fmt.Errorf("JETSTREAM_URL: %s=%s is not supported: the producer reads uncompressed JSON events from the first frame; remove it", p, v))
			}
		}
		// The parameters the source sets itself at each connection, which
		// would replace these without a word.
		q := u.Query()
		if q.Has("wantedCollections") {
			cols := q["wantedCollections"]
			errs = append(errs, fmt.Errorf("JETSTREAM_URL: wantedCollections=%s is not supported: the producer asks for the collections in JETSTREAM_COLLECTIONS "+
				"(app.bsky.feed.post when empty); remove it from the URL and set JETSTREAM_COLLECTIONS=%s", strings.Join(cols, ","), strings.Join(cols, ",")))
		}
		if q.Has("cursor") {
			v := q.Get("cursor")
			example := v
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
				example = "<microseconds since 1970>"
			}
			errs = append(errs, fmt.Errorf("JETSTREAM_URL: cursor=%s is not supported: the producer resumes from the position it keeps in STATE_DIR/%s "+
				"(the time_us of the last event Kafka acknowledged, less JETSTREAM_REWIND), and starts from the live stream without one; "+
				`remove it from the URL; to start from an earlier time Jetstream still keeps, stop the producer and write {"time_us":%s} to that file`,
				v, StateFile, example))
		}
	}

	c.Collections = cleanList(c.Collections, false)
	if len(c.Collections) == 0 {
		c.Collections = []string{DefaultCollection}
	}
	if len(c.Collections) > maxCollections {
		errs = append(errs, fmt.Errorf("JETSTREAM_COLLECTIONS: %d collections; Jetstream accepts at most %d", len(c.Collections), maxCollections))
	}
	for _, col := range c.Collections {
		if !isCollection(col) {
			errs = append(errs, fmt.Errorf("JETSTREAM_COLLECTIONS: %q is not an NSID such as app.bsky.feed.post, or a prefix such as app.bsky.graph.*", col))
		}
	}
	c.Langs = cleanList(c.Langs, true)
	for _, l := range c.Langs {
		if !isLangTag(l) {
			errs = append(errs, fmt.Errorf("JETSTREAM_LANGS: %q is not a language tag such as en or pt-BR", l))
		}
	}

	if strings.TrimSpace(c.StateDir) == "" {
		errs = append(errs, errors.New("STATE_DIR is required for SOURCE=jetstream: a directory that keeps the stream position across restarts (a volume in a container)"))
	}
	errs = append(errs,
		stream.Positive(&c.Rewind, DefaultRewind, "JETSTREAM_REWIND"),
		stream.Positive(&c.StallTimeout, DefaultStallTimeout, "JETSTREAM_STALL_TIMEOUT"),
		stream.Positive(&c.SaveInterval, DefaultSaveInterval, "the state save interval"))
	var err error
	c.Schedule, err = c.Schedule.WithDefaults()
	errs = append(errs, err,
		stream.Positive(&c.MaxMessageBytes, DefaultMaxMessageBytes, "the maximum message size"))
	return c, errors.Join(errs...)
}

func cleanList(in []string, lower bool) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if lower {
			s = strings.ToLower(s)
		}
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// isCollection checks an NSID (three or more dot-separated segments of
// letters, digits and '-') or a prefix of one ending in ".*".
func isCollection(s string) bool {
	segs := strings.Split(s, ".")
	if segs[len(segs)-1] == "*" {
		segs = segs[:len(segs)-1]
		if len(segs) < 2 {
			return false
		}
	} else if len(segs) < 3 {
		return false
	}
	for _, seg := range segs {
		if seg == "" || len(seg) > 63 {
			return false
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return len(s) <= 317
}

// isLangTag checks the shape of a BCP 47 tag: subtags of 1 to 8 letters or
// digits joined by '-'.
func isLangTag(s string) bool {
	for _, sub := range strings.Split(s, "-") {
		if sub == "" || len(sub) > 8 {
			return false
		}
		for _, r := range sub {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}
