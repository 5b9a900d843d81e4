package twitter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// Defaults for the zero values of Config.
const (
	DefaultBaseURL         = "https://stream.twitter.com/1.1"
	DefaultMaxMessageBytes = 1 << 20
	DefaultStallTimeout    = 90 * time.Second
)

// minMaxMessageBytes is the least TWITTER_MAX_MESSAGE_BYTES.
const minMaxMessageBytes = 1024

// Config is what SOURCE=twitter needs: the TWITTER_* variables, which the
// producer's config embeds (their defaults are the Default* constants,
// which a zero value takes too), and what the service sets. Lists hold one
// item per element (the variables are comma lists).
type Config struct {
	ConsumerKey    envconf.Secret `envconfig:"TWITTER_CONSUMER_KEY" desc:"OAuth1 consumer (API) key for SOURCE=twitter; or TWITTER_CONSUMER_KEY_FILE"`
	ConsumerSecret envconf.Secret `envconfig:"TWITTER_CONSUMER_SECRET" desc:"OAuth1 consumer secret; or TWITTER_CONSUMER_SECRET_FILE"`
	AccessToken    envconf.Secret `envconfig:"TWITTER_ACCESS_TOKEN" desc:"OAuth1 access token; or TWITTER_ACCESS_TOKEN_FILE"`
	AccessSecret   envconf.Secret `envconfig:"TWITTER_ACCESS_SECRET" desc:"OAuth1 access token secret; or TWITTER_ACCESS_SECRET_FILE"`

	BaseURL envconf.URL `envconfig:"TWITTER_STREAM_BASE_URL" default:"https://stream.twitter.com/1.1" desc:"base URL of the v1.1 streaming API (a proxy or compatible service)"`
	// Language: BCP 47 codes, on either endpoint.
	Language []string `envconfig:"TWITTER_LANGUAGE" desc:"comma list of BCP 47 languages to keep (e.g. hi,en)"`
	// Track: phrases; any of Track, Follow, Locations selects statuses/filter.
	Track []string `envconfig:"TWITTER_TRACK" desc:"comma list of phrases; any of TRACK, FOLLOW, LOCATIONS selects statuses/filter"`
	// Follow: numeric user ids.
	Follow []string `envconfig:"TWITTER_FOLLOW" desc:"comma list of user ids to follow"`
	// Locations: numbers, four per box (sw lon, sw lat, ne lon, ne lat).
	Locations []string `envconfig:"TWITTER_LOCATIONS" desc:"comma list of bounding-box coordinates (sw lon,sw lat,ne lon,ne lat, ...)"`

	MaxMessageBytes int           `envconfig:"TWITTER_MAX_MESSAGE_BYTES" default:"1048576" desc:"larger stream messages are dropped, counted and logged"`
	StallTimeout    time.Duration `envconfig:"TWITTER_STALL_TIMEOUT" default:"90s" desc:"no byte for this long means the connection is dead"`

	// AllowInsecureHTTP (ALLOW_INSECURE_HTTP, the service's, as the other
	// stream sources read it too) accepts an http:// URL to a host other
	// than loopback, which sends the consumer key, the access token and
	// each request's signature in clear text.
	AllowInsecureHTTP bool `ignored:"true"`

	// The reconnect schedule; zero values take the guideline numbers
	// (stream.Default*Backoff*). Tests shorten them.
	stream.Schedule `ignored:"true"`

	// Transport carries the signed requests; nil uses a clone of
	// http.DefaultTransport (proxy from the environment).
	Transport http.RoundTripper `ignored:"true"`
}

// LogValue shows the configuration with the credentials redacted, so that
// logging a Config never leaks them.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("consumer_key", stream.Redacted(c.ConsumerKey.Reveal())),
		slog.String("consumer_secret", stream.Redacted(c.ConsumerSecret.Reveal())),
		slog.String("access_token", stream.Redacted(c.AccessToken.Reveal())),
		slog.String("access_secret", stream.Redacted(c.AccessSecret.Reveal())),
		slog.String("base_url", stream.RedactURL(c.BaseURL.Reveal())),
		slog.Any("language", c.Language),
		slog.Any("track", c.Track),
		slog.Any("follow", c.Follow),
		slog.Any("locations", c.Locations),
		slog.Int("max_message_bytes", c.MaxMessageBytes),
		slog.Duration("stall_timeout", c.StallTimeout),
		slog.Bool("allow_insecure_http", c.AllowInsecureHTTP),
	)
}

// String keeps fmt from printing the credentials.
func (c Config) String() string { return c.LogValue().String() }

// GoString keeps %#v from printing the credentials.
func (c Config) GoString() string { return c.String() }

// Validate checks c as New does; each error names the variable at fault.
// The service's config calls it, so that a source's rules are written once
// and a bad setting stops the producer before it connects to anything.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults validates c and returns it cleaned up: credentials and list
// items trimmed, empty items dropped, defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	for _, cred := range []struct {
		v    *envconf.Secret
		name string
	}{
		{&c.ConsumerKey, "TWITTER_CONSUMER_KEY"},
		{&c.ConsumerSecret, "TWITTER_CONSUMER_SECRET"},
		{&c.AccessToken, "TWITTER_ACCESS_TOKEN"},
		{&c.AccessSecret, "TWITTER_ACCESS_SECRET"},
	} {
		// A secret file usually ends with a newline; credentials hold no spaces.
		*cred.v = envconf.Secret(strings.TrimSpace(cred.v.Reveal()))
		if *cred.v == "" {
			errs = append(errs, fmt.Errorf("%s is required for SOURCE=twitter (or %s_FILE naming a file that holds it)", cred.name, cred.name))
		}
	}

	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = envconf.URL(strings.TrimRight(c.BaseURL.Reveal(), "/"))
	if u, ok := stream.ParseURL(c.BaseURL.Reveal(), "http", "https"); !ok || u.RawQuery != "" {
		errs = append(errs, stream.URLError("TWITTER_STREAM_BASE_URL", c.BaseURL.Reveal(), "an http(s) URL without a query", DefaultBaseURL))
	} else {
		errs = append(errs, stream.PlainText(u, true, c.AllowInsecureHTTP, "TWITTER_STREAM_BASE_URL"))
	}

	c.Language = cleanList(c.Language)
	c.Track = cleanList(c.Track)
	c.Follow = cleanList(c.Follow)
	for _, id := range c.Follow {
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			errs = append(errs, fmt.Errorf("TWITTER_FOLLOW: %q is not a numeric user id", id))
		}
	}
	c.Locations = cleanList(c.Locations)
	if err := checkLocations(c.Locations); err != nil {
		errs = append(errs, fmt.Errorf("TWITTER_LOCATIONS: %w", err))
	}

	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxMessageBytes < minMaxMessageBytes {
		errs = append(errs, fmt.Errorf("TWITTER_MAX_MESSAGE_BYTES=%d: accepts %d or more", c.MaxMessageBytes, minMaxMessageBytes))
	}
	errs = append(errs, stream.Positive(&c.StallTimeout, DefaultStallTimeout, "TWITTER_STALL_TIMEOUT"))
	var err error
	c.Schedule, err = c.Schedule.WithDefaults()
	errs = append(errs, err)
	return c, errors.Join(errs...)
}

// filtered reports whether the configuration selects statuses/filter.
func (c Config) filtered() bool {
	return len(c.Track) > 0 || len(c.Follow) > 0 || len(c.Locations) > 0
}

func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkLocations checks bounding boxes: four numbers each, south-west corner
// then north-east corner, longitude before latitude.
func checkLocations(locs []string) error {
	if len(locs)%4 != 0 {
		return fmt.Errorf("%d numbers given; want four per box (sw lon,sw lat,ne lon,ne lat)", len(locs))
	}
	for i, s := range locs {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		if i%2 == 0 && (v < -180 || v > 180) {
			return fmt.Errorf("longitude %s is outside -180..180", s)
		}
		if i%2 == 1 && (v < -90 || v > 90) {
			return fmt.Errorf("latitude %s is outside -90..90", s)
		}
	}
	return nil
}
