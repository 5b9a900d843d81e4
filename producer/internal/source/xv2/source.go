// Package xv2 is SOURCE=xv2: the X API v2 sampled stream
// (GET /2/tweets/sample/stream, or sample10), with an app-only bearer token.
//
// Each line of the stream ({"data":...,"includes":...}, or an error object)
// is emitted raw. The stream is "\r\n"-delimited JSON with blank lines as
// heartbeats, which the v1.1 source's FrameReader reads as it is; the
// reconnect schedule, the fatal statuses and the stall watchdog are the v1.1
// source's too, with 429 as the rate-limit status. The stream cannot resume
// by position, so records have no Ack; a reconnect asks for backfill instead,
// and the copies it brings are dropped by the consumer's dedup window (same
// key, data.id).
package xv2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
)

// errStalled is the cause given to a connection closed for silence.
var errStalled = errors.New("no data from the server within the stall timeout")

// errorBodyLimit bounds how much of an error response is reported.
const errorBodyLimit = 1024

// userAgent identifies the producer to the server.
const userAgent = "tweetpipe"

// Source reads the v2 sampled stream.
type Source struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	stats  counters
}

// New validates cfg and returns the source. A missing or malformed setting
// is an error naming its variable; the token never appears in it. log may
// be nil.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("configuring SOURCE=xv2: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	// No client timeout: a stream is one endless response. The watchdog
	// bounds each wait instead.
	return &Source{cfg: cfg, log: log.With("source", "xv2"), client: &http.Client{Transport: transport}}, nil
}

// Name is the SOURCE value that selects this source.
func (s *Source) Name() string { return "xv2" }

// Stats returns the counters; safe to call while Run runs.
func (s *Source) Stats() Stats { return s.stats.snapshot() }

// ending says why a connection ended and how to back off before the next.
type ending struct {
	class  twitter.Class
	reason string
	err    error
}

// progress is what Run carries from one connection to the next.
type progress struct {
	connected bool      // a connection has been opened (HTTP 200) in this Run
	lastSeen  time.Time // when the last post arrived, or the last connection opened
}

// Run connects, emits every line and reconnects on the v1.1 schedule until
// ctx is done (nil), emit fails (its error) or the server answers a status
// that retrying cannot fix (*twitter.StatusError).
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	schedule := twitter.Backoff{
		NetworkStep:      s.cfg.NetworkBackoffStep,
		NetworkMax:       s.cfg.NetworkBackoffMax,
		HTTPInitial:      s.cfg.HTTPBackoffInitial,
		HTTPMax:          s.cfg.HTTPBackoffMax,
		RateLimitInitial: s.cfg.RateLimitBackoffInitial,
		RateLimitMax:     s.cfg.RateLimitBackoffMax,
	}
	frames := twitter.NewFrameReader(nil, s.cfg.MaxMessageBytes)
	var p progress
	for {
		end, err := s.connect(ctx, frames, emit, &schedule, &p)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		wait := schedule.Next(end.class)
		s.stats.reconnect(end.reason)
		s.log.Warn("waiting to reconnect", "reason", end.reason, "wait", wait, "error", end.err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// BackfillMinutes is what a reconnect asks for when the last post arrived
// gap ago: the minutes of the gap rounded up, at least 1, at most limit.
// limit 0 asks for none.
func BackfillMinutes(limit int, gap time.Duration) int {
	if limit <= 0 {
		return 0
	}
	if gap <= 0 {
		return 1
	}
	if gap > time.Duration(limit)*time.Minute {
		return limit
	}
	return int((gap + time.Minute - 1) / time.Minute)
}

// connect makes one connection and reads it to its end. A non-nil error
// stops Run; otherwise the ending says how to reconnect.
func (s *Source) connect(ctx context.Context, frames *twitter.FrameReader, emit source.Emit, schedule *twitter.Backoff, p *progress) (ending, error) {
	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The watchdog runs while the source waits for the server, never while
	// emit blocks: a full pipeline is not a dead connection.
	watchdog := time.AfterFunc(s.cfg.StallTimeout, func() { cancel(errStalled) })
	defer watchdog.Stop()

	backfill := 0
	if p.connected {
		backfill = BackfillMinutes(s.cfg.BackfillMinutes, time.Since(p.lastSeen))
	}
	req, err := s.newRequest(connCtx, backfill)
	if err != nil {
		return ending{}, err
	}
	resp, err := s.client.Do(req)
	watchdog.Stop()
	if err != nil {
		return s.broken(connCtx, fmt.Errorf("connecting: %w", err)), nil
	}
	defer resp.Body.Close()
	body := &watchedReader{r: resp.Body, watchdog: watchdog, timeout: s.cfg.StallTimeout}

	if resp.StatusCode != http.StatusOK {
		return s.refused(resp.StatusCode, s.errorBody(body))
	}

	schedule.Reset()
	p.connected, p.lastSeen = true, time.Now()
	s.stats.connections.Add(1)
	if backfill > 0 {
		s.stats.backfills.Add(1)
	}
	s.stats.connected.Store(true)
	defer s.stats.connected.Store(false)
	s.log.Info("connected", "url", redactURL(req.URL.String()), "backfill_minutes", backfill)

	frames.Reset(body)
	for {
		frame, err := frames.Next()
		if oversize := (*twitter.OversizeError)(nil); errors.As(err, &oversize) {
			s.stats.droppedOversize.Add(1)
			s.log.Warn("dropped an oversize message", "bytes", oversize.Bytes, "max_bytes", oversize.Max)
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = errors.New("the server closed the stream")
			}
			return s.broken(connCtx, fmt.Errorf("reading the stream: %w", err)), nil
		}
		value := bytes.Clone(frame)
		var disconnect *Problem
		if m, problems, err := classify(value); err == nil {
			switch m.Kind {
			case message.KindStatus:
				s.stats.posts.Add(1)
				p.lastSeen = time.Now()
			case KindOperationalDisconnect:
				s.stats.errors.Add(1)
				s.stats.disconnects.Add(1)
				disconnect = s.onDisconnect(problems)
			case KindError:
				s.stats.errors.Add(1)
				s.onError(problems)
			}
		}
		if err := emit(ctx, source.Record{Value: value}); err != nil {
			return ending{}, fmt.Errorf("emitting an X API v2 message: %w", err)
		}
		s.stats.messages.Add(1)
		if disconnect != nil {
			return ending{class: twitter.ClassNetwork, reason: twitter.ReasonDisconnect,
				err: fmt.Errorf("the server sent operational-disconnect (%s): %s", disconnect.DisconnectType, disconnect.Detail)}, nil
		}
	}
}

// newRequest builds the stream request; backfill > 0 adds backfill_minutes.
// Parameters already in the URL are kept unless this sets them.
func (s *Source) newRequest(ctx context.Context, backfill int) (*http.Request, error) {
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("X_STREAM_URL: %w", err) // checked by New
	}
	q := u.Query()
	for _, f := range []struct {
		name   string
		values []string
	}{
		{"tweet.fields", s.cfg.TweetFields},
		{"expansions", s.cfg.Expansions},
		{"user.fields", s.cfg.UserFields},
	} {
		if len(f.values) > 0 {
			q.Set(f.name, strings.Join(f.values, ","))
		}
	}
	q.Del("backfill_minutes")
	if backfill > 0 {
		q.Set("backfill_minutes", strconv.Itoa(backfill))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the stream request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken)
	req.Header.Set("User-Agent", userAgent)
	// Accept-Encoding is left to the transport, which then ungzips for us.
	return req, nil
}

// broken is the ending of a connection that failed below HTTP: refused, cut,
// closed, or stalled (the watchdog cancelled it).
func (s *Source) broken(connCtx context.Context, err error) ending {
	if errors.Is(context.Cause(connCtx), errStalled) {
		s.stats.stalls.Add(1)
		return ending{class: twitter.ClassNetwork, reason: twitter.ReasonStall, err: errStalled}
	}
	return ending{class: twitter.ClassNetwork, reason: twitter.ReasonNetwork, err: err}
}

// ClassifyStatus sorts a non-200 answer of the v2 stream: as v1.1
// (twitter.ClassifyStatus: 429 rate limit; 401, 403, 404 ... fatal; others
// retried), and 400 is fatal too: v2 answers it for a bad field name or
// parameter, which no retry fixes.
func ClassifyStatus(code int) twitter.Class {
	if code == http.StatusBadRequest {
		return twitter.ClassFatal
	}
	return twitter.ClassifyStatus(code)
}

// refused turns a non-200 answer into an ending, or an error when fatal.
func (s *Source) refused(code int, body string) (ending, error) {
	switch class := ClassifyStatus(code); class {
	case twitter.ClassFatal:
		return ending{}, &twitter.StatusError{Code: code, Body: body, Fix: fixFor(code)}
	case twitter.ClassRateLimit:
		return ending{class: class, reason: twitter.ReasonRateLimit, err: fmt.Errorf("HTTP %d: %s", code, body)}, nil
	default:
		return ending{class: class, reason: twitter.ReasonHTTP, err: fmt.Errorf("HTTP %d: %s", code, body)}, nil
	}
}

// fixFor says what to do about a fatal status.
func fixFor(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "the request was refused: check the names in X_TWEET_FIELDS, X_EXPANSIONS and X_USER_FIELDS " +
			"(the body names the bad one), and X_BACKFILL_MINUTES (0 to 5; backfill needs an access level that has it)"
	case http.StatusUnauthorized:
		return "the bearer token was refused: check X_BEARER_TOKEN (or X_BEARER_TOKEN_FILE); it must be the " +
			"app-only OAuth 2.0 bearer token of an app in a project, not a user access token"
	case http.StatusForbidden:
		return "this app may not use the sampled stream: it needs an access level that includes it and an app " +
			"attached to a project; check the app in the X developer portal, or use another source such as " +
			"SOURCE=jetstream or SOURCE=replay"
	case http.StatusNotFound:
		return "no stream at this address: check X_STREAM_URL (default " + DefaultURL + ")"
	}
	return "the server refuses the request: check X_STREAM_URL (default " + DefaultURL + ")"
}

// errorBody reads the start of an error response for the logs, on one line,
// with the token redacted should the server echo it.
func (s *Source) errorBody(body io.Reader) string {
	raw, _ := io.ReadAll(io.LimitReader(body, errorBodyLimit))
	text := strings.Join(strings.Fields(string(raw)), " ")
	return strings.ReplaceAll(text, s.cfg.BearerToken, "[redacted]")
}

func (s *Source) onError(problems []Problem) {
	for _, p := range problems {
		s.log.Warn("the stream sent an error", "title", p.Title, "detail", p.Detail, "type", p.Type)
	}
}

func (s *Source) onDisconnect(problems []Problem) *Problem {
	for i, p := range problems {
		if isOperationalDisconnect(problems[i : i+1]) {
			s.log.Warn("the stream sent operational-disconnect; reconnecting",
				"disconnect_type", p.DisconnectType, "detail", p.Detail)
			return &problems[i]
		}
	}
	return &Problem{}
}

// watchedReader arms the stall watchdog for each read: a read that waits
// longer than timeout for a byte gets the connection cancelled.
type watchedReader struct {
	r        io.Reader
	watchdog *time.Timer
	timeout  time.Duration
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.watchdog.Reset(w.timeout)
	n, err := w.r.Read(p)
	w.watchdog.Stop()
	return n, err
}
