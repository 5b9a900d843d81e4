package jetstream

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"no state dir", func(c *Config) { c.StateDir = " " }, []string{"STATE_DIR"}},
		{"bad url", func(c *Config) { c.URL = "ftp://jetstream" }, []string{"JETSTREAM_URL"}},
		{"url without host", func(c *Config) { c.URL = "wss:///subscribe" }, []string{"JETSTREAM_URL"}},
		{"password read as a host", func(c *Config) { c.URL = "wss://svc:12/s3cret@jetstream.example/subscribe" }, []string{"JETSTREAM_URL", "not shown"}},
		{"compressed frames", func(c *Config) { c.URL = "wss://jetstream.example/subscribe?compress=true" }, []string{"JETSTREAM_URL", "compress=true is not supported"}},
		{"hello first", func(c *Config) { c.URL = "wss://jetstream.example/subscribe?requireHello=true" }, []string{"JETSTREAM_URL", "requireHello=true is not supported"}},
		{"collections in the url", func(c *Config) {
			c.URL = "wss://jetstream.example/subscribe?wantedCollections=app.bsky.graph.follow"
		}, []string{"JETSTREAM_URL", "wantedCollections=app.bsky.graph.follow is not supported", "JETSTREAM_COLLECTIONS=app.bsky.graph.follow"}},
		{"empty collections in the url", func(c *Config) { c.URL = "wss://jetstream.example/subscribe?wantedCollections=" }, []string{"JETSTREAM_URL", "wantedCollections", "JETSTREAM_COLLECTIONS"}},
		{"cursor in the url", func(c *Config) { c.URL = "wss://jetstream.example/subscribe?cursor=1700000000000000" }, []string{"JETSTREAM_URL",
			"cursor=1700000000000000 is not supported", "STATE_DIR", StateFile, `{"time_us":1700000000000000}`}},
		{"bad collection", func(c *Config) { c.Collections = []string{"app.bsky.feed.post", "posts"} }, []string{"JETSTREAM_COLLECTIONS", `"posts"`}},
		{"bad wildcard", func(c *Config) { c.Collections = []string{"app.*"} }, []string{"JETSTREAM_COLLECTIONS"}},
		{"collection with a space", func(c *Config) { c.Collections = []string{"app.bsky.feed post"} }, []string{"JETSTREAM_COLLECTIONS"}},
		{"too many collections", func(c *Config) {
			c.Collections = nil
			for i := range 101 {
				c.Collections = append(c.Collections, "app.bsky.c"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
			}
		}, []string{"JETSTREAM_COLLECTIONS", "at most 100"}},
		{"bad lang", func(c *Config) { c.Langs = []string{"en", "english language"} }, []string{"JETSTREAM_LANGS"}},
		{"negative rewind", func(c *Config) { c.Rewind = -time.Second }, []string{"JETSTREAM_REWIND"}},
		{"negative stall", func(c *Config) { c.StallTimeout = -time.Second }, []string{"JETSTREAM_STALL_TIMEOUT"}},
		{"backoff below start", func(c *Config) { c.NetworkBackoffMax = time.Nanosecond }, []string{"network back-off maximum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("wss://jetstream.example/subscribe", t.TempDir())
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
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q holds the URL's password", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested")
	src, err := New(Config{StateDir: dir, Collections: []string{" ", ""}, Langs: []string{" EN ", "pt-BR", "en"}}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := src.cfg
	if c.URL != DefaultURL || c.Rewind != DefaultRewind || c.StallTimeout != DefaultStallTimeout ||
		c.SaveInterval != DefaultSaveInterval || c.MaxMessageBytes != DefaultMaxMessageBytes {
		t.Errorf("defaults not filled in: %+v", c)
	}
	if !slices.Equal(c.Collections, []string{DefaultCollection}) {
		t.Errorf("Collections %q; want the default", c.Collections)
	}
	if !slices.Equal(c.Langs, []string{"en", "pt-br"}) {
		t.Errorf("Langs %q; want trimmed, lower case, once each", c.Langs)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("STATE_DIR was not created: %v", err)
	}
	if src.Name() != "jetstream" {
		t.Errorf("Name() = %q", src.Name())
	}
	if got := src.subscribeURL(0); got != "wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post" {
		t.Errorf("subscribe URL %q", got)
	}
}

func TestSubscribeURLKeepsOtherParameters(t *testing.T) {
	src, err := New(Config{URL: "wss://js.example/subscribe?wantedDids=did:plc:a&maxMessageSizeBytes=500000", StateDir: t.TempDir(),
		Collections: []string{"app.bsky.feed.post", "app.bsky.graph.*"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "wss://js.example/subscribe?cursor=42&maxMessageSizeBytes=500000&wantedCollections=app.bsky.feed.post&wantedCollections=app.bsky.graph.%2A&wantedDids=did%3Aplc%3Aa"
	if got := src.subscribeURL(42); got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestNewRefusesABadStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{StateDir: dir}, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("New: got %v; want an error naming %s and saying to delete it", err, path)
	}
}

func TestNewRefusesAnUnwritableStateDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere: a file where the directory should be fails for everyone.
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o644)
		if _, err := New(Config{StateDir: file}, nil); err == nil || !strings.Contains(err.Error(), "STATE_DIR") {
			t.Errorf("New: got %v; want an error naming STATE_DIR", err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o555)
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if _, err := New(Config{StateDir: dir}, nil); err == nil || !strings.Contains(err.Error(), "STATE_DIR") {
		t.Errorf("New: got %v; want an error naming STATE_DIR", err)
	}
}

func TestNewReadsTheSavedPosition(t *testing.T) {
	dir := t.TempDir()
	if err := writeState(dir, filepath.Join(dir, StateFile), baseTimeUS); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{StateDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.AckedTimeUS != baseTimeUS || st.SavedTimeUS != baseTimeUS {
		t.Errorf("stats %+v; want the saved position %d", st, baseTimeUS)
	}
}

// TestPlainTextNeedsOptIn: a ws:// (or http://) JETSTREAM_URL that carries
// credentials would send them in clear text; it takes ALLOW_INSECURE_HTTP,
// except to a loopback host. Without credentials, as the public instances
// are reached, ws:// needs nothing.
func TestPlainTextNeedsOptIn(t *testing.T) {
	for _, tc := range []struct {
		url     string
		allow   bool
		wantErr bool
	}{
		{"wss://u:p@jetstream.example/subscribe?api_key=k", false, false},
		{"ws://jetstream.example/subscribe", false, false},
		{"ws://u:p@jetstream.example/subscribe", false, true},
		{"ws://jetstream.example/subscribe?api_key=k", false, true},
		{"http://jetstream.example/subscribe?token=k", false, true},
		{"ws://jetstream.example/subscribe?api_key=k", true, false},
		{"ws://u:p@127.0.0.1:6008/subscribe", false, false},
		{"ws://localhost:6008/subscribe?api_key=k", false, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg := testConfig(tc.url, t.TempDir())
			cfg.AllowInsecureHTTP = tc.allow
			_, err := New(cfg, nil)
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), "ALLOW_INSECURE_HTTP") || !strings.Contains(err.Error(), "JETSTREAM_URL")):
				t.Errorf("New: got %v; want an error naming JETSTREAM_URL and ALLOW_INSECURE_HTTP", err)
			case !tc.wantErr && err != nil:
				t.Errorf("New: got %v; want no error", err)
			}
			if err != nil && (strings.Contains(err.Error(), ":p@") || strings.Contains(err.Error(), "=k")) {
				t.Errorf("New: got %v; want the URL's credentials redacted", err)
			}
		})
	}
}
