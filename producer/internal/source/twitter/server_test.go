package twitter

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

// This file is the stand-in for stream.twitter.com: an httptest server that
// checks every request's OAuth1 signature on its own (RFC 5849, without the
// oauth1 package) and plays one script per accepted request.

// credentials the test server expects.
type credentials struct {
	consumerKey, consumerSecret, accessToken, accessSecret string
}

func serverCredentials() credentials {
	return credentials{
		consumerKey:    "ck-xvDkq3pLkv",
		consumerSecret: "cs-Wd8+/s3cr3t&=~",
		accessToken:    "12345-at-Hr5Ua0",
		accessSecret:   "as-Pq2 s3cr3t%!",
	}
}

func (c credentials) all() []string {
	return []string{c.consumerKey, c.consumerSecret, c.accessToken, c.accessSecret}
}

// seenRequest is what the server saw of one request it accepted.
type seenRequest struct {
	Method, Path string
	Query, Form  url.Values
	Header       http.Header
}

type streamServer struct {
	*httptest.Server
	t     *testing.T
	creds credentials

	mu       sync.Mutex
	scripts  []http.HandlerFunc
	accepted []seenRequest
	refused  int // requests answered 401 for a bad signature
	nonces   map[string]bool
}

// newStreamServer serves scripts in turn, one per correctly signed request.
func newStreamServer(t *testing.T, scripts ...http.HandlerFunc) *streamServer {
	s := &streamServer{t: t, creds: serverCredentials(), scripts: scripts, nonces: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *streamServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	err = s.verify(r, body)
	if err != nil {
		s.refused++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"errors":[{"code":32,"message":"Could not authenticate you (%s)."}]}`, err)
		return
	}
	form, _ := url.ParseQuery(string(body))
	s.accepted = append(s.accepted, seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Form: form, Header: r.Header.Clone()})
	n := len(s.accepted)
	s.mu.Unlock()
	if n > len(s.scripts) {
		s.t.Errorf("request %d: the test scripted only %d", n, len(s.scripts))
		http.Error(w, "no more scripts", http.StatusGone)
		return
	}
	s.scripts[n-1](w, r)
}

func (s *streamServer) refusedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *streamServer) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.accepted...)
}

// verify checks the request's OAuth1 HMAC-SHA1 signature (RFC 5849 3.4).
func (s *streamServer) verify(r *http.Request, body []byte) error {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "OAuth ")
	if !ok {
		return errors.New("no OAuth Authorization header")
	}
	oauth := map[string]string{}
	for _, field := range strings.Split(auth, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return fmt.Errorf("malformed header field %q", field)
		}
		k, err1 := url.PathUnescape(k)
		v, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("malformed header field %q", field)
		}
		oauth[k] = v
	}
	switch {
	case oauth["oauth_consumer_key"] != s.creds.consumerKey:
		return errors.New("unknown consumer key")
	case oauth["oauth_token"] != s.creds.accessToken:
		return errors.New("unknown token")
	case oauth["oauth_signature_method"] != "HMAC-SHA1":
		return errors.New("signature method is not HMAC-SHA1")
	case oauth["oauth_version"] != "" && oauth["oauth_version"] != "1.0":
		return errors.New("version is not 1.0")
	case oauth["oauth_nonce"] == "" || s.nonces[oauth["oauth_nonce"]]:
		return errors.New("missing or reused nonce")
	}
	ts, err := strconv.ParseInt(oauth["oauth_timestamp"], 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return errors.New("timestamp missing or off by more than 5 minutes")
	}

	// 3.4.1.3: query, form body (only with the form content type) and the
	// oauth_* header fields but the signature and realm.
	var params [][2]string
	add := func(values url.Values) {
		for k, vs := range values {
			for _, v := range vs {
				params = append(params, [2]string{percentEncode(k), percentEncode(v)})
			}
		}
	}
	add(r.URL.Query())
	if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Errorf("malformed form body: %v", err)
		}
		add(form)
	}
	for k, v := range oauth {
		if k != "oauth_signature" && k != "realm" {
			params = append(params, [2]string{percentEncode(k), percentEncode(v)})
		}
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i][0] != params[j][0] {
			return params[i][0] < params[j][0]
		}
		return params[i][1] < params[j][1]
	})
	pairs := make([]string, len(params))
	for i, p := range params {
		pairs[i] = p[0] + "=" + p[1]
	}
	// 3.4.1.2: scheme and host lower case, default port dropped, no query.
	host := strings.ToLower(r.Host)
	host = strings.TrimSuffix(host, ":80")
	baseURI := "http://" + host + r.URL.EscapedPath()
	base := strings.ToUpper(r.Method) + "&" + percentEncode(baseURI) + "&" + percentEncode(strings.Join(pairs, "&"))

	mac := hmac.New(sha1.New, []byte(percentEncode(s.creds.consumerSecret)+"&"+percentEncode(s.creds.accessSecret)))
	mac.Write([]byte(base))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(oauth["oauth_signature"])) {
		return errors.New("invalid signature")
	}
	s.nonces[oauth["oauth_nonce"]] = true
	return nil
}

// percentEncode is RFC 3986 2.1 encoding as RFC 5849 3.6 requires: every byte
// but the unreserved characters, upper-case hex.
func percentEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Scripts.

// answer replies with a status and body.
func answer(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// newWire starts a scripted stream, sent in chunks of up to 8 KiB.
func newWire() *streamtest.Wire { return streamtest.NewWire(8192, 5) }

// Payloads.

// payloads are the messages TestRunAgainstServer plays, from the project's
// testdata or from the shared real captures, and what they must add up to.
type payloads struct {
	sample   [][]byte // statuses, LF lines; the last one is cut mid-way
	mixed    [][]byte // statuses and notices (no warning, no disconnect)
	warning  []byte   // a FALLING_BEHIND warning at 60 percent
	legacy   [][]byte // a CRLF file of pre-v1.1 statuses and deletes
	extended []byte   // a status with extended_tweet

	statuses     int   // whole statuses the test delivers
	limitTrack   int64 // what mixed's limit notices report
	limitNotices int64 // limit notices in mixed
}

// projectPayloads are testdata/tweets/v1.1 at the repository root.
func projectPayloads(t *testing.T) payloads {
	t.Helper()
	p := payloads{
		sample:   corpus.Lines(t, corpus.Path(t, "v1.1/sample.jsonl")),
		legacy:   corpus.Lines(t, corpus.Path(t, "v1.1/legacy-2010.json")),
		statuses: 11 + 2 + 1 + 8 + 1, limitTrack: 2210, limitNotices: 2,
	}
	p.extended = p.sample[3]
	for _, line := range corpus.Lines(t, corpus.Path(t, "v1.1/notices.jsonl")) {
		m, err := message.Classify(line)
		switch {
		case err != nil:
			t.Fatalf("notices.jsonl: %v", err)
		case m.Kind == message.KindWarning:
			p.warning = line
		case m.Kind != message.KindDisconnect:
			p.mixed = append(p.mixed, line)
		}
	}
	return p
}

// sharedPayloads are the real captures beside the repository; the test is
// skipped where they are missing, and fails then if CI=true.
func sharedPayloads(t *testing.T) payloads {
	t.Helper()
	dir := corpus.Shared(t)
	lines := func(name string) [][]byte { return corpus.Lines(t, filepath.Join(dir, filepath.FromSlash(name))) }
	return payloads{
		sample:   lines("python-twitter/lines.json"),
		mixed:    lines("Twitter4J/streamingapi-testcase.json"),
		warning:  lines("Twitter4J/stallwarning.json")[0],
		legacy:   lines("ast/test.json"),
		extended: lines("python-twitter/streaming_extended_tweet.json")[0],
		statuses: 71 + 3 + 1 + 95 + 1, limitTrack: 121564, limitNotices: 1,
	}
}
