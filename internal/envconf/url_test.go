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
