package stream

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func TestCheckRedirect(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		refused  bool
	}{
		{"https://api.x.com/2/stream", "https://api.x.com/2/stream?x=1", false},
		{"http://127.0.0.1:8080/a", "https://127.0.0.1:8080/b", false},
		{"https://API.x.com/a", "https://api.X.com/b", false},
		{"https://api.x.com/a", "https://evil.example/a", true},
		{"https://api.x.com/a", "https://sub.api.x.com/a", true},
		{"https://api.x.com/a", "https://api.x.com:8443/a", true},
		{"https://api.x.com/a", "http://api.x.com/a", true},
	} {
		t.Run(tc.from+" to "+tc.to, func(t *testing.T) {
			from, _ := http.NewRequest(http.MethodGet, tc.from, nil)
			to, _ := http.NewRequest(http.MethodGet, tc.to, nil)
			err := CheckRedirect(to, []*http.Request{from})
			if got := errors.Is(err, ErrRedirect); got != tc.refused {
				t.Errorf("got %v; want refused %v", err, tc.refused)
			}
		})
	}
}

// TestCheckRedirectBackToHTTP: once a redirect went to https, none goes
// back to http, even from a chain that began with http.
func TestCheckRedirectBackToHTTP(t *testing.T) {
	var via []*http.Request
	for _, u := range []string{"http://127.0.0.1:8080/a", "https://127.0.0.1:8080/b"} {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		via = append(via, r)
	}
	to, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080/c", nil)
	if err := CheckRedirect(to, via); !errors.Is(err, ErrRedirect) {
		t.Errorf("http, https, then http: got %v; want the last refused", err)
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct {
		url         string
		credentials bool
		allow       bool
		wantErr     bool
	}{
		{"https://example.com/", true, false, false},
		{"wss://example.com/", true, false, false},
		{"http://example.com/", false, false, false},
		{"http://example.com/", true, false, true},
		{"ws://example.com/", true, false, true},
		{"http://example.com/", true, true, false},
		{"http://127.0.0.2:80/", true, false, false},
		{"ws://[::1]:80/", true, false, false},
		{"http://LOCALHOST./", true, false, false},
		{"http://kafka.localhost/", true, false, false},
		{"http://localhost.example.com/", true, false, true},
		{"http://10.1.2.3/", true, false, true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			err = PlainText(u, tc.credentials, tc.allow, "X_URL")
			if got := err != nil; got != tc.wantErr {
				t.Errorf("got %v; want an error: %v", err, tc.wantErr)
			}
		})
	}
}
