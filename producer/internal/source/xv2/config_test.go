package xv2

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // every variable the error must name
	}{
		{"no token", func(c *Config) { c.BearerToken = " \n" }, []string{"X_BEARER_TOKEN", "X_BEARER_TOKEN_FILE"}},
		{"token with spaces", func(c *Config) { c.BearerToken = "abc def" }, []string{"X_BEARER_TOKEN"}},
		{"bad url", func(c *Config) { c.URL = "ftp://api.x.com/2/tweets/sample/stream" }, []string{"X_STREAM_URL"}},
		{"url without host", func(c *Config) { c.URL = "https:///2/tweets" }, []string{"X_STREAM_URL"}},
		{"opaque url with a password", func(c *Config) { c.URL = "https:alice:s3cret@api.x.com/2/tweets/sample/stream" }, []string{"X_STREAM_URL", "not shown", "%2F"}},
		{"url with a password and no scheme", func(c *Config) { c.URL = "alice:s3cret@api.x.com/2/tweets/sample/stream" }, []string{"X_STREAM_URL", "not shown", "%2F"}},
		{"url with a password read as a host", func(c *Config) { c.URL = "https://alice:12/s3cret@api.x.com/2/tweets/sample/stream" }, []string{"X_STREAM_URL", "not shown", "%2F"}},
		{"bad tweet field", func(c *Config) { c.TweetFields = []string{"created_at", "lang;drop"} }, []string{"X_TWEET_FIELDS", `"lang;drop"`}},
		{"bad expansion", func(c *Config) { c.Expansions = []string{"author id"} }, []string{"X_EXPANSIONS"}},
		{"bad user field", func(c *Config) { c.UserFields = []string{"a&b=c"} }, []string{"X_USER_FIELDS"}},
		{"backfill too large", func(c *Config) { c.BackfillMinutes = 6 }, []string{"X_BACKFILL_MINUTES=6"}},
		{"backfill negative", func(c *Config) { c.BackfillMinutes = -1 }, []string{"X_BACKFILL_MINUTES=-1"}},
		{"negative stall", func(c *Config) { c.StallTimeout = -time.Second }, []string{"X_STALL_TIMEOUT"}},
		{"backoff below start", func(c *Config) { c.HTTPBackoffMax = time.Millisecond }, []string{"HTTP back-off maximum"}},
		{"several at once", func(c *Config) { c.BearerToken = ""; c.BackfillMinutes = 9 }, []string{"X_BEARER_TOKEN", "X_BACKFILL_MINUTES"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("https://api.x.com/2/tweets/sample/stream")
			tc.edit(&cfg)
			_, err := New(cfg, nil)
			if err == nil {
				t.Fatal("New: got nil; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			if strings.Contains(err.Error(), serverToken) {
				t.Error("the error holds the token")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q holds the URL's password", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	src, err := New(Config{BearerToken: "Bearer tok123\n", TweetFields: []string{" lang ", "", "lang"}}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := src.cfg
	if c.BearerToken != "tok123" {
		t.Errorf("token %q; want it trimmed of spaces and a Bearer prefix", c.BearerToken)
	}
	if c.URL != DefaultURL || c.StallTimeout != DefaultStallTimeout || c.MaxMessageBytes != DefaultMaxMessageBytes {
		t.Errorf("defaults not filled in: %v", c)
	}
	if want := []string{"created_at", "lang"}; !slices.Equal(c.TweetFields, want) {
		t.Errorf("TweetFields %q; want %q (created_at always asked for)", c.TweetFields, want)
	}
	if c.Expansions != nil || c.UserFields != nil {
		t.Errorf("empty lists became %q, %q; want them left empty (no parameter)", c.Expansions, c.UserFields)
	}
	if src.Name() != "xv2" {
		t.Errorf("Name() = %q", src.Name())
	}
}

func TestConfigNeverShowsTheToken(t *testing.T) {
	cfg := testConfig("https://user:pass@api.x.com/2/tweets/sample/stream")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{b.String(), fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg)} {
		if strings.Contains(s, serverToken) || strings.Contains(s, "pass@") {
			t.Errorf("%q shows a secret", s)
		}
	}
	if !strings.Contains(b.String(), "[redacted]") {
		t.Errorf("log %q does not show the token as redacted", b.String())
	}
}
