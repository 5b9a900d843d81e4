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

	//lint:ignore SA1019 go-twitter is frozen, not broken: its v1.1 types are what this project decodes with
	gotwitter "github.com/dghubble/go-twitter/twitter"
	"github.com/dghubble/oauth1"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// service names the server in a *stream.StatusError.
const service = "twitter stream"

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
	// oauth1 takes its underlying transport from the context it is given.
	ctx := context.WithValue(context.Background(), oauth1.HTTPClient, stream.Client(cfg.Transport))
	client := oauth1.NewConfig(cfg.ConsumerKey.Reveal(), cfg.ConsumerSecret.Reveal()).
		Client(ctx, oauth1.NewToken(cfg.AccessToken.Reveal(), cfg.AccessSecret.Reveal()))
	// The oauth1 transport signs every request it carries, a redirect's
	// too: only those to the same host are followed.
	client.CheckRedirect = stream.CheckRedirect
	return &Source{cfg: cfg, log: stream.Logger(log, "twitter"), client: client}, nil
}

// Name is the SOURCE value that selects this source.
func (s *Source) Name() string { return "twitter" }

// Stats returns the counters; safe to call while Run runs.
// Connected reports whether a stream is open now (source.Connector, for
// /readyz).
func (s *Source) Connected() bool { return s.stats.Connected.Load() }

// StreamStats returns the counters every stream source keeps, for metrics.
func (s *Source) StreamStats() stream.Stats { return s.Stats().Stats }

func (s *Source) Stats() Stats { return s.stats.snapshot() }

// Run connects, emits every message and reconnects per the guidelines until
// ctx is done (nil), emit fails (its error) or the server answers a status
// that retrying cannot fix (*stream.StatusError).
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	frames := NewFrameReader(nil, s.cfg.MaxMessageBytes)
	return stream.Reconnect(ctx, s.cfg.Schedule, &s.stats.Counters, s.log, func(schedule *stream.Backoff) (stream.Ending, error) {
		return s.connect(ctx, frames, emit, schedule)
	})
}

// connect makes one connection and reads it to its end. A non-nil error
// stops Run; otherwise the ending says how to reconnect.
func (s *Source) connect(ctx context.Context, frames *FrameReader, emit source.Emit, schedule *stream.Backoff) (stream.Ending, error) {
	connCtx, watchdog := stream.Watch(ctx, s.cfg.StallTimeout)
	defer watchdog.Close()

	req, err := s.newRequest(connCtx)
	if err != nil {
		return stream.Ending{}, err
	}
	resp, err := s.client.Do(req)
	watchdog.Stop()
	if err != nil {
		err = stream.Scrub(fmt.Errorf("connecting: %w", err), s.cfg.BaseURL.Reveal())
		if errors.Is(err, stream.ErrRedirect) {
			return stream.Ending{}, fmt.Errorf("%w (TWITTER_STREAM_BASE_URL)", err)
		}
		return watchdog.Broken(err), nil
	}
	defer resp.Body.Close()
	body := watchdog.Body(resp.Body)
	gzipped := strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip")

	if code := resp.StatusCode; code != http.StatusOK {
		return stream.Refused(service, stream.ClassifyStatus(code), code, resp.Header, s.errorBody(body, gzipped), fixFor(code))
	}

	schedule.Opened()
	s.stats.Connections.Add(1)
	s.stats.Connected.Store(true)
	defer s.stats.Connected.Store(false)
	s.log.Info("connected", "url", stream.RedactURL(req.URL.String()), "method", req.Method, "gzip", gzipped)

	if gzipped {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return watchdog.Broken(fmt.Errorf("reading the gzip header: %w", err)), nil
		}
		body = zr
	}
	frames.Reset(body)
	var lastTrack int64 // limit notices count since the connection opened
	for {
		value, err := ReadMessage(frames, &s.stats.Counters, s.log)
		if err != nil {
			return watchdog.Broken(err), nil
		}
		var disconnect *gotwitter.StreamDisconnect
		rec := source.Record{Value: value}
		if m, err := message.Classify(value); err == nil {
			// message.Classify is the publisher's classifier for
			// SOURCE=twitter: it need not classify the record again.
			rec.Classified = m
			switch m.Kind {
			case message.KindDisconnect:
				disconnect = s.onDisconnect(value)
			case message.KindWarning:
				s.onWarning(value)
			case message.KindLimit:
				lastTrack = s.onLimit(value, lastTrack)
			}
		}
		if err := emit(ctx, rec); err != nil {
			return stream.Ending{}, fmt.Errorf("emitting a twitter message: %w", err)
		}
		s.stats.Messages.Add(1)
		if disconnect != nil {
			return stream.Ending{Class: stream.ClassNetwork, Reason: stream.ReasonDisconnect,
				Err: fmt.Errorf("the server sent disconnect code %d: %s", disconnect.Code, disconnect.Reason)}, nil
		}
	}
}

// ReadMessage reads the next message from frames for a stream source, as a
// copy the caller may keep. A message over the maximum is dropped, counted
// in stats and logged; the end of the stream, clean or not, is an error.
func ReadMessage(frames *FrameReader, stats *stream.Counters, log *slog.Logger) ([]byte, error) {
	for {
		frame, err := frames.Next()
		if oversize := (*OversizeError)(nil); errors.As(err, &oversize) {
			stats.DroppedOversize.Add(1)
			log.Warn("dropped an oversize message", "bytes", oversize.Bytes, "max_bytes", oversize.Max)
			continue
		}
		if err == io.EOF {
			err = errors.New("the server closed the stream")
		}
		if err != nil {
			return nil, fmt.Errorf("reading the stream: %w", err)
		}
		return bytes.Clone(frame), nil
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
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.BaseURL.Reveal()+"/statuses/filter.json",
			strings.NewReader(params.Encode()))
		if err == nil {
			// oauth1 signs the form parameters only under exactly this type.
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.BaseURL.Reveal()+"/statuses/sample.json?"+params.Encode(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("building the stream request: %w", err)
	}
	req.Header.Set("User-Agent", stream.UserAgent)
	// Set by hand, so the transport leaves the body compressed: gunzipped here.
	req.Header.Set("Accept-Encoding", "gzip")
	return req, nil
}

// errorBody reads the start of an error response for the logs, on one line,
// with any credential the server might echo redacted.
func (s *Source) errorBody(body io.Reader, gzipped bool) string {
	raw, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	if gzipped {
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if plain, err := io.ReadAll(io.LimitReader(zr, stream.ErrorBodyLimit)); len(plain) > 0 || err == nil {
				raw = plain
			}
		}
	}
	secrets := append(envconf.URLSecrets(s.cfg.BaseURL.Reveal()), s.cfg.ConsumerKey.Reveal(), s.cfg.ConsumerSecret.Reveal(), s.cfg.AccessToken.Reveal(), s.cfg.AccessSecret.Reveal())
	return stream.ErrorBody(bytes.NewReader(raw), secrets...)
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

// fixFor says what to do about a fatal status.
func fixFor(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "the credentials were refused: check TWITTER_CONSUMER_KEY, TWITTER_CONSUMER_SECRET, " +
			"TWITTER_ACCESS_TOKEN and TWITTER_ACCESS_SECRET (or their _FILE forms), and that this " +
			"host's clock is right (OAuth1 signatures carry a timestamp)"
	case http.StatusForbidden:
		return "the app or account may not use this endpoint (access level, suspension): " +
			"check the app's permissions, or use another source"
	case http.StatusNotFound:
		return "no stream at this address: check TWITTER_STREAM_BASE_URL (default " + DefaultBaseURL + ")"
	case http.StatusNotAcceptable:
		return "a filter parameter was refused: check TWITTER_TRACK (phrases of at most 60 bytes), " +
			"TWITTER_FOLLOW (numeric user ids), TWITTER_LOCATIONS (south-west lon,lat then north-east " +
			"lon,lat per box) and TWITTER_LANGUAGE (BCP 47 codes)"
	case http.StatusGone:
		return "the endpoint is retired (Twitter shut the v1.1 streams down): use another source such as " +
			"SOURCE=replay, xv2 or jetstream, or point TWITTER_STREAM_BASE_URL at a compatible service"
	case http.StatusRequestEntityTooLarge:
		return "the filter is too large: shorten TWITTER_TRACK (at most 400 phrases), TWITTER_FOLLOW " +
			"(at most 5000 ids) or TWITTER_LOCATIONS (at most 25 boxes)"
	case http.StatusRequestedRangeNotSatisfiable:
		return "the server refused a range or count parameter this source does not send: check that " +
			"TWITTER_STREAM_BASE_URL is a v1.1 streaming service"
	}
	return "the server refuses the request"
}
