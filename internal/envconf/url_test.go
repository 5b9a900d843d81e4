package envconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://api.x.com/2/tweets/sample/stream", "https://api.x.com/2/tweets/sample/stream"},
		{"https://user:pass@example.com/x", "https://xxxxx@example.com/x"},
		{"https://user@example.com/x", "https://xxxxx@example.com/x"},
		{"https://example.com/x?tweet.fields=lang,created_at&access_token=abc&expansions=author_id",
			"https://example.com/x?tweet.fields=lang,created_at&access_token=xxxxx&expansions=author_id"},
		{"wss://example.com/subscribe?wantedCollections=app.bsky.feed.post&API-Key=k&Sig=s&cursor=5",
			"wss://example.com/subscribe?wantedCollections=app.bsky.feed.post&API-Key=xxxxx&Sig=xxxxx&cursor=5"},
		{"https://example.com/x?client_secret=a%20b&password=p&X-Amz-Credential=c&session_id=d",
			"https://example.com/x?client_secret=xxxxx&password=xxxxx&X-Amz-Credential=xxxxx&session_id=xxxxx"},
		{"https://example.com/x#access_token=abc", "https://example.com/x#xxxxx"},
		{"https://u:p%zz@example.com/", "[unparsable]"},
		// No "//": url.Parse reads "alice:s3cret@..." as opaque, or
		// "alice" as the scheme, and finds no user.
		{"https:alice:s3cret@api.x.com/2/tweets/sample/stream", "[unparsable]"},
		{"alice:s3cret@api.x.com/2/tweets/sample/stream", "[unparsable]"},
		{"alice@api.x.com/stream", "[unparsable]"},
		// A password starting with digits and holding a '/': the host
		// parses as "alice:12", the rest of the password as the path.
		{"https://alice:12/s3cret@api.x.com/", "[unparsable]"},
		{"https://alice:s3/cret@api.x.com/", "[unparsable]"},
		{"https://alice:s3cret@api.x.com/users/@bob", "https://xxxxx@api.x.com/users/@bob"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestURLNeverPrintsCredentials(t *testing.T) {
	u := URL("https://alice:s3cret@example.com/stream?token=t0ken")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "url", u)
	j, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	printed := logs.String() + fmt.Sprintf("%v %s %+v", u, u, u) + string(j)
	for _, secret := range []string{"alice", "s3cret", "t0ken"} {
		if strings.Contains(printed, secret) {
			t.Errorf("got %q in %s; want it redacted", secret, printed)
		}
	}
	if u.Reveal() != "https://alice:s3cret@example.com/stream?token=t0ken" {
		t.Errorf("Reveal: got %q; want the URL as set", u.Reveal())
	}
}

// TestURLSecretsUnclear: where the credentials of a URL cannot be told from
// the rest, a text that quotes the URL keeps none of it.
func TestURLSecretsUnclear(t *testing.T) {
	for _, raw := range []string{
		"https:alice:s3cret@api.x.com/2/tweets/sample/stream",
		"alice:s3cret@api.x.com/2/tweets/sample/stream",
		"https://alice:12/s3cret@api.x.com/",
	} {
		t.Run(raw, func(t *testing.T) {
			text := fmt.Sprintf("Get %q: dial tcp: lookup failed; GET %s", raw, strings.TrimPrefix(raw, "https:"))
			got := ScrubSecrets(text, URLSecrets(raw))
			if strings.Contains(got, "s3cret") {
				t.Errorf("got %q; want s3cret scrubbed", got)
			}
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "url", URL(raw))
			if strings.Contains(logs.String(), "s3cret") {
				t.Errorf("got %s; want the URL shown as [unparsable]", logs.String())
			}
		})
	}
}

func TestScrubSecrets(t *testing.T) {
	raw := "https://al%40ice:p%2Fw@example.com/stream?api_key=k%2By&lang=en"
	text := `Get "https://al%40ice:***@example.com/stream?api_key=k%2By&lang=en": refused; user al@ice, key k+y, password p/w`
	got := ScrubSecrets(text, URLSecrets(raw))
	for _, secret := range []string{"al%40ice", "al@ice", "k%2By", "k+y", "p/w"} {
		if strings.Contains(got, secret) {
			t.Errorf("got %q; want %q scrubbed", got, secret)
		}
	}
	if !strings.Contains(got, "lang=en") || !strings.Contains(got, "example.com/stream") {
		t.Errorf("got %q; want the rest of the text kept", got)
	}
}
