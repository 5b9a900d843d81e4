package xv2

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// Defaults for the zero values of Config, and suggested defaults for the
// field lists (the service's config package owns those: an empty list sends
// no parameter).
const (
	DefaultURL             = "https://api.x.com/2/tweets/sample/stream"
	DefaultStallTimeout    = 30 * time.Second // X sends a "\r\n" heartbeat every 20 s, some a little late
	DefaultMaxMessageBytes = 1 << 20

	// DefaultTweetFields, DefaultExpansions and DefaultUserFields are comma
	// lists for X_TWEET_FIELDS, X_EXPANSIONS and X_USER_FIELDS: the post's
	// time, author and language, and its author's profile in includes.
	DefaultTweetFields = "created_at,author_id,lang,conversation_id,referenced_tweets,entities,public_metrics,possibly_sensitive"
	DefaultExpansions  = "author_id"
	DefaultUserFields  = "created_at,username,name,description,location,public_metrics,verified"

	// MaxBackfillMinutes is the most X_BACKFILL_MINUTES the API accepts.
	MaxBackfillMinutes = 5
)

// createdAt is always requested: it is the time of every record.
const createdAt = "created_at"

// Config is what SOURCE=xv2 needs: the X_* variables, which the producer's
// config embeds, and what the service sets. Zero durations take the
// defaults. Lists hold one item per element (the variables are comma lists).
type Config struct {
	// BearerToken (or X_BEARER_TOKEN_FILE), required: an OAuth 2.0
	// app-only token.
	BearerToken envconf.Secret `envconfig:"X_BEARER_TOKEN" desc:"X API v2 app-only bearer token for SOURCE=xv2; or X_BEARER_TOKEN_FILE"`

	// URL: default DefaultURL; .../sample10/stream works too.
	URL envconf.URL `envconfig:"X_STREAM_URL" default:"https://api.x.com/2/tweets/sample/stream" desc:"X API v2 sampled stream URL (sample10 too)"`
	// TweetFields: tweet.fields; created_at is always added.
	TweetFields []string `envconfig:"X_TWEET_FIELDS" default:"created_at,author_id,lang,conversation_id,referenced_tweets,entities,public_metrics,possibly_sensitive" desc:"tweet.fields to request"`
	Expansions  []string `envconfig:"X_EXPANSIONS" default:"author_id" desc:"expansions to request"`
	UserFields  []string `envconfig:"X_USER_FIELDS" default:"created_at,username,name,description,location,public_metrics,verified" desc:"user.fields to request"`
	// BackfillMinutes (0 to 5) is the most backfill a reconnect asks for;
	// each asks for the minutes since the last post, rounded up, at most
	// this. 0 asks for none.
	BackfillMinutes int `envconfig:"X_BACKFILL_MINUTES" default:"0" desc:"minutes of backfill asked for on reconnect (0-5; needs an academic/enterprise project)"`

	StallTimeout time.Duration `envconfig:"X_STALL_TIMEOUT" default:"30s" desc:"no byte (heartbeats included) for this long means the connection is dead"`
	// MaxMessageBytes (default 1 MiB) drops larger lines.
	MaxMessageBytes int `ignored:"true"`

	// StateDir (STATE_DIR, the service's) keeps the time of the last post
	// read (LastPostFile) while BackfillMinutes > 0, so that the first
	// connection after a restart asks for the gap too. "" keeps none.
	StateDir string `ignored:"true"`

	// AllowInsecureHTTP (ALLOW_INSECURE_HTTP, the service's, as the other
	// stream sources read it too) accepts an http:// URL to a host other
	// than loopback, which sends the token in clear text.
	AllowInsecureHTTP bool `ignored:"true"`

	// The reconnect schedule, as for SOURCE=twitter; zero values take the
	// guideline numbers (stream.Default*Backoff*). Tests shorten them.
	stream.Schedule `ignored:"true"`

	// Transport carries the requests; nil uses a clone of
	// http.DefaultTransport (proxy from the environment).
	Transport http.RoundTripper `ignored:"true"`
}

// LogValue shows the configuration with the token redacted, so that
// logging a Config never leaks it.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("bearer_token", stream.Redacted(c.BearerToken.Reveal())),
		slog.String("url", stream.RedactURL(c.URL.Reveal())),
		slog.Any("tweet_fields", c.TweetFields),
		slog.Any("expansions", c.Expansions),
		slog.Any("user_fields", c.UserFields),
		slog.Int("backfill_minutes", c.BackfillMinutes),
		slog.Duration("stall_timeout", c.StallTimeout),
		slog.Int("max_message_bytes", c.MaxMessageBytes),
		slog.Bool("allow_insecure_http", c.AllowInsecureHTTP),
	)
}

// String keeps fmt from printing the token.
func (c Config) String() string { return c.LogValue().String() }

// GoString keeps %#v from printing the token.
func (c Config) GoString() string { return c.String() }

// Validate checks c as New does; each error names the variable at fault.
// The service's config calls it, so that a source's rules are written once
// and a bad setting stops the producer before it connects to anything.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults validates c and returns it cleaned up: token and list items
// trimmed, empty items dropped, created_at in TweetFields, defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	// A secret file usually ends with a newline; a token holds no spaces.
	c.BearerToken = envconf.Secret(strings.TrimPrefix(strings.TrimSpace(c.BearerToken.Reveal()), "Bearer "))
	switch {
	case c.BearerToken == "":
		errs = append(errs, errors.New("X_BEARER_TOKEN is required for SOURCE=xv2 (or X_BEARER_TOKEN_FILE naming a file that holds it): an app-only bearer token from the X developer portal"))
	case strings.ContainsFunc(c.BearerToken.Reveal(), func(r rune) bool { return r <= ' ' || r == 0x7f }):
		errs = append(errs, errors.New("X_BEARER_TOKEN holds spaces or control characters: it must be the token alone"))
	}

	if c.URL == "" {
		c.URL = DefaultURL
	}
	if u, ok := stream.ParseURL(c.URL.Reveal(), "http", "https"); !ok {
		errs = append(errs, stream.URLError("X_STREAM_URL", c.URL.Reveal(), "an http(s) URL", DefaultURL))
	} else {
		errs = append(errs, stream.PlainText(u, true, c.AllowInsecureHTTP, "X_STREAM_URL"))
	}

	var err error
	if c.TweetFields, err = fieldList(c.TweetFields, "X_TWEET_FIELDS"); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(c.TweetFields, createdAt) {
		c.TweetFields = append([]string{createdAt}, c.TweetFields...)
	}
	if c.Expansions, err = fieldList(c.Expansions, "X_EXPANSIONS"); err != nil {
		errs = append(errs, err)
	}
	if c.UserFields, err = fieldList(c.UserFields, "X_USER_FIELDS"); err != nil {
		errs = append(errs, err)
	}
	if c.BackfillMinutes < 0 || c.BackfillMinutes > MaxBackfillMinutes {
		errs = append(errs, fmt.Errorf("X_BACKFILL_MINUTES=%d: accepts 0 (none) to %d", c.BackfillMinutes, MaxBackfillMinutes))
	}

	errs = append(errs,
		stream.Positive(&c.StallTimeout, DefaultStallTimeout, "X_STALL_TIMEOUT"),
		stream.Positive(&c.MaxMessageBytes, DefaultMaxMessageBytes, "X_MAX_MESSAGE_BYTES"))
	c.Schedule, err = c.Schedule.WithDefaults()
	errs = append(errs, err)
	return c, errors.Join(errs...)
}

// fieldList trims the items of a field list, drops empty ones and checks
// that each is a field name (letters, digits, '_' and '.').
func fieldList(in []string, name string) ([]string, error) {
	var out []string
	var bad []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !isFieldName(s) {
			bad = append(bad, fmt.Sprintf("%q", s))
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("%s: %s not a field name (letters, digits, '_' and '.', comma separated)", name, strings.Join(bad, ", "))
	}
	return out, nil
}

func isFieldName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
