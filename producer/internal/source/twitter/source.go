// Package twitter is SOURCE=twitter: the Twitter v1.1 sampled and filtered
// streams (statuses/sample.json, statuses/filter.json), signed with OAuth1.
//
// Twitter retired these endpoints (sample answers 410 since 2022-10-29); the
// source still speaks the whole protocol, for proxies and compatible services
// reached through TWITTER_STREAM_BASE_URL. It reads the wire format itself
// rather than through go-twitter, because the pipeline needs every message's
// raw bytes and the guidelines need reconnects on TCP errors and stalls, which
// go-twitter's stream does not give. go-twitter's types decode the notices.
package twitter

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	gotwitter "github.com/dghubble/go-twitter/twitter"
	"github.com/dghubble/oauth1"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// errStalled is the cause given to a connection closed for silence.
var errStalled = errors.New("no data from the server within the stall timeout")

// errorBodyLimit bounds how much of an error response is read and reported.
const errorBodyLimit = 1024

// userAgent identifies the producer to the server.
const userAgent = "tweetpipe"

// Source reads the v1.1 stream. Statuses and notices are all emitted, raw;
// the source also acts on the notices (reconnect on disconnect, log
// warnings, count limits). The stream cannot resume, so records have no Ack.
type Source struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	stats  counters
}

// New validates cfg and returns the source. A missing credential is an error
// naming its variable. log may be nil.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("configuring SOURCE=twitter: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := cfg.Transport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	// oauth1 takes its underlying transport from the context it is given.
	ctx := context.WithValue(context.Background(), oauth1.HTTPClient, &http.Client{Transport: base})
	client := oauth1.NewConfig(cfg.ConsumerKey, cfg.ConsumerSecret).
		Client(ctx, oauth1.NewToken(cfg.AccessToken, cfg.AccessSecret))
	return &Source{cfg: cfg, log: log.With("source", "twitter"), client: client}, nil
}

// Name is the SOURCE value that selects this source.
func (s *Source) Name() string { return "twitter" }

// Stats returns the counters; safe to call while Run runs.
func (s *Source) Stats() Stats { return s.stats.snapshot() }

// ending says why a connection ended and how to back off before the next.
type ending struct {
	class  Class
	reason string
	err    error
}

// Run connects, emits every message and reconnects per the guidelines until
// ctx is done (nil), emit fails (its error) or the server answers a status
// that retrying cannot fix (*StatusError).
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	schedule := Backoff{
		NetworkStep:      s.cfg.NetworkBackoffStep,
		NetworkMax:       s.cfg.NetworkBackoffMax,
		HTTPInitial:      s.cfg.HTTPBackoffInitial,
		HTTPMax:          s.cfg.HTTPBackoffMax,
		RateLimitInitial: s.cfg.RateLimitBackoffInitial,
		RateLimitMax:     s.cfg.RateLimitBackoffMax,
	}
	frames := NewFrameReader(nil, s.cfg.MaxMessageBytes)
	for {
		end, err := s.connect(ctx, frames, emit, &schedule)
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

// connect makes one connection and reads it to its end. A non-nil error
// stops Run; otherwise the ending says how to reconnect.
func (s *Source) connect(ctx context.Context, frames *FrameReader, emit source.Emit, schedule *Backoff) (ending, error) {
	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The watchdog runs while the source waits for the server, never while
	// emit blocks: a full pipeline is not a dead connection.
	watchdog := time.AfterFunc(s.cfg.StallTimeout, func() { cancel(errStalled) })
	defer watchdog.Stop()

	req, err := s.newRequest(connCtx)
	if err != nil {
		return ending{}, err
	}
	resp, err := s.client.Do(req)
	watchdog.Stop()
	if err != nil {
		return s.broken(connCtx, fmt.Errorf("connecting: %w", err)), nil
	}
	defer resp.Body.Close()
	body := io.Reader(&watchedReader{r: resp.Body, watchdog: watchdog, timeout: s.cfg.StallTimeout})
	gzipped := strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip")

	if resp.StatusCode != http.StatusOK {
		return s.refused(resp.StatusCode, s.errorBody(body, gzipped))
	}

	schedule.Reset()
	s.stats.connections.Add(1)
	s.stats.connected.Store(true)
	defer s.stats.connected.Store(false)
	s.log.Info("connected", "url", redactURL(req.URL.String()), "method", req.Method, "gzip", gzipped)

	if gzipped {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return s.broken(connCtx, fmt.Errorf("reading the gzip header: %w", err)), nil
		}
		body = zr
	}
	frames.Reset(body)
	var lastTrack int64 // limit notices count since the connection opened
	for {
		frame, err := frames.Next()
		if oversize := (*OversizeError)(nil); errors.As(err, &oversize) {
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
		var disconnect *gotwitter.StreamDisconnect
		if m, err := message.Classify(value); err == nil {
			switch m.Kind {
			case message.KindDisconnect:
				disconnect = s.onDisconnect(value)
			case message.KindWarning:
				s.onWarning(value)
			case message.KindLimit:
				lastTrack = s.onLimit(value, lastTrack)
			}
		}
		if err := emit(ctx, source.Record{Value: value}); err != nil {
			return ending{}, fmt.Errorf("emitting a twitter message: %w", err)
		}
		s.stats.messages.Add(1)
		if disconnect != nil {
			return ending{class: ClassNetwork, reason: ReasonDisconnect,
				err: fmt.Errorf("the server sent disconnect code %d: %s", disconnect.Code, disconnect.Reason)}, nil
		}
	}
}

// newRequest builds the signed-to-be request: sample, or filter as a form.
func (s *Source) newRequest(ctx context.Context) (*http.Request, error) {
	params := url.Values{}
	params.Set("delimited", "length")
	params.Set("stall_warnings", "true")
	if len(s.cfg.Language) > 0 {
		params.Set("language", strings.Join(s.cfg.Language, ","))
	}
	var req *http.Request
	var err error
	if s.cfg.filtered() {
		if len(s.cfg.Track) > 0 {
			params.Set("track", strings.Join(s.cfg.Track, ","))
		}
		if len(s.cfg.Follow) > 0 {
			params.Set("follow", strings.Join(s.cfg.Follow, ","))
		}
		if len(s.cfg.Locations) > 0 {
			params.Set("locations", strings.Join(s.cfg.Locations, ","))
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.BaseURL+"/statuses/filter.json",
			strings.NewReader(params.Encode()))
		if err == nil {
			// oauth1 signs the form parameters only under exactly this type.
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.BaseURL+"/statuses/sample.json?"+params.Encode(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("building the stream request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	// Set by hand, so the transport leaves the body compressed: gunzipped here.
	req.Header.Set("Accept-Encoding", "gzip")
	return req, nil
}

// broken is the ending of a connection that failed below HTTP: refused, cut,
// closed, or stalled (the watchdog cancelled it).
func (s *Source) broken(connCtx context.Context, err error) ending {
	if errors.Is(context.Cause(connCtx), errStalled) {
		s.stats.stalls.Add(1)
		return ending{class: ClassNetwork, reason: ReasonStall, err: errStalled}
	}
	return ending{class: ClassNetwork, reason: ReasonNetwork, err: err}
}

// refused turns a non-200 answer into an ending, or an error when fatal.
func (s *Source) refused(code int, body string) (ending, error) {
	switch class := ClassifyStatus(code); class {
	case ClassFatal:
		return ending{}, &StatusError{Code: code, Body: body, Fix: fixFor(code)}
	case ClassRateLimit:
		return ending{class: class, reason: ReasonRateLimit, err: fmt.Errorf("HTTP %d: %s", code, body)}, nil
	default:
		return ending{class: class, reason: ReasonHTTP, err: fmt.Errorf("HTTP %d: %s", code, body)}, nil
	}
}

// errorBody reads the start of an error response for the logs, on one line,
// with any credential the server might echo redacted.
func (s *Source) errorBody(body io.Reader, gzipped bool) string {
	raw, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	if gzipped {
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if plain, err := io.ReadAll(io.LimitReader(zr, errorBodyLimit)); len(plain) > 0 || err == nil {
				raw = plain
			}
		}
	}
	text := strings.Join(strings.Fields(string(raw[:min(len(raw), errorBodyLimit)])), " ")
	for _, secret := range []string{s.cfg.ConsumerKey, s.cfg.ConsumerSecret, s.cfg.AccessToken, s.cfg.AccessSecret} {
		if secret == "" {
			continue
		}
		text = strings.ReplaceAll(text, secret, "[redacted]")
	}
	return text
}

func (s *Source) onDisconnect(raw []byte) *gotwitter.StreamDisconnect {
	var n struct {
		Disconnect gotwitter.StreamDisconnect `json:"disconnect"`
	}
	_ = json.Unmarshal(raw, &n) // Classify has checked the shape
	s.stats.disconnects.Add(1)
	s.log.Warn("the server sent a disconnect", "code", n.Disconnect.Code,
		"reason", n.Disconnect.Reason, "stream_name", n.Disconnect.StreamName)
	return &n.Disconnect
}

func (s *Source) onWarning(raw []byte) {
	var n struct {
		Warning gotwitter.StallWarning `json:"warning"`
	}
	_ = json.Unmarshal(raw, &n) // Classify has checked the shape
	s.stats.stallWarnings.Add(1)
	s.log.Warn("the server warns this client is falling behind", "code", n.Warning.Code,
		"percent_full", n.Warning.PercentFull, "message", n.Warning.Message)
}

// onLimit adds what a limit notice reports since the last one on this
// connection and returns the running total to compare the next one with.
func (s *Source) onLimit(raw []byte, last int64) int64 {
	var n struct {
		Limit gotwitter.StreamLimit `json:"limit"`
	}
	_ = json.Unmarshal(raw, &n) // Classify has checked the shape
	s.stats.limitNotices.Add(1)
	if n.Limit.Track > last {
		s.stats.limitTrack.Add(n.Limit.Track - last)
		last = n.Limit.Track
	}
	s.log.Debug("limit notice", "track", n.Limit.Track)
	return last
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
