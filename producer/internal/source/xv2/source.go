// Package xv2 is SOURCE=xv2: the X API v2 sampled stream
// (GET /2/tweets/sample/stream, or sample10), with an app-only bearer token.
//
// Each line of the stream ({"data":...,"includes":...}, or an error object)
// is emitted raw. The stream is "\r\n"-delimited JSON with blank lines as
// heartbeats, which the v1.1 source's FrameReader reads as it is; the
// reconnect schedule, the fatal statuses and the stall watchdog are package
// stream's, shared with the v1.1 source, with 429 as the rate-limit status.
// The stream cannot resume by position, so records have no Ack; a reconnect
// asks for backfill instead (the first connection after a restart too, from
// LastPostFile), and the copies it brings are dropped by the consumer's
// dedup window (same key, data.id).
package xv2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
)

// service names the server in a *stream.StatusError.
const service = "X API v2 stream"

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
	return &Source{cfg: cfg, log: stream.Logger(log, "xv2"), client: stream.Client(cfg.Transport)}, nil
}

// Name is the SOURCE value that selects this source.
func (s *Source) Name() string { return "xv2" }

// Stats returns the counters; safe to call while Run runs.
// Connected reports whether a stream is open now (source.Connector, for
// /readyz).
func (s *Source) Connected() bool { return s.stats.Connected.Load() }

// StreamStats returns the counters every stream source keeps, for metrics.
func (s *Source) StreamStats() stream.Stats { return s.Stats().Stats }

func (s *Source) Stats() Stats { return s.stats.snapshot() }

// progress is what Run carries from one connection to the next.
type progress struct {
	connected bool      // a connection has been opened (HTTP 200) in this Run, or one before a restart (LastPostFile)
	lastSeen  time.Time // the newest post's time (its own, or when it arrived if later), or when the first connection opened (backfill counts from it)
	lastPost  time.Time // the newest post's time: what LastPostFile keeps
	saved     time.Time // when LastPostFile was last written
}

// keepsLastPost reports whether the source keeps LastPostFile: backfill is
// asked for and there is a STATE_DIR.
func (s *Source) keepsLastPost() bool { return s.cfg.BackfillMinutes > 0 && s.cfg.StateDir != "" }

// Run connects, emits every line and reconnects on the v1.1 schedule until
// ctx is done (nil), emit fails (its error) or the server answers a status
// that retrying cannot fix (*stream.StatusError). With X_BACKFILL_MINUTES
// and a STATE_DIR, the first connection asks for the minutes since the last
// post an earlier run read (LastPostFile), as a reconnect does.
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	frames := twitter.NewFrameReader(nil, s.cfg.MaxMessageBytes)
	var p progress
	if s.keepsLastPost() {
		switch t, err := loadLastPost(s.cfg.StateDir); {
		case err != nil:
			s.log.Warn("the time of the last post before the restart cannot be read: the first connection asks for no backfill", "error", err)
		case !t.IsZero():
			p.connected, p.lastSeen, p.lastPost = true, t.Add(-restartMargin), t
			s.log.Info("the first connection asks for backfill since the last post before the restart", "last_post", t)
		}
	}
	err := stream.Reconnect(ctx, s.cfg.Schedule, &s.stats.Counters, s.log, func(schedule *stream.Backoff) (stream.Ending, error) {
		return s.connect(ctx, frames, emit, schedule, &p)
	})
	if s.keepsLastPost() && !p.lastPost.IsZero() {
		s.saveLastPost(&p, time.Now())
	}
	return err
}

// saveLastPost writes p.lastPost to LastPostFile, at now.
func (s *Source) saveLastPost(p *progress, now time.Time) {
	if err := saveLastPost(s.cfg.StateDir, p.lastPost); err != nil {
		s.log.Warn("could not keep the time of the last post in STATE_DIR: a restart would ask for no backfill", "error", err)
	}
	p.saved = now
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
func (s *Source) connect(ctx context.Context, frames *twitter.FrameReader, emit source.Emit, schedule *stream.Backoff, p *progress) (stream.Ending, error) {
	connCtx, watchdog := stream.Watch(ctx, s.cfg.StallTimeout)
	defer watchdog.Close()

	backfill := 0
	if p.connected {
		backfill = BackfillMinutes(s.cfg.BackfillMinutes, time.Since(p.lastSeen))
	}
	req, err := s.newRequest(connCtx, backfill)
	if err != nil {
		return stream.Ending{}, err
	}
	resp, err := s.client.Do(req)
	watchdog.Stop()
	if err != nil {
		err = stream.Scrub(fmt.Errorf("connecting: %w", err), s.cfg.URL.Reveal())
		if errors.Is(err, stream.ErrRedirect) {
			return stream.Ending{}, fmt.Errorf("%w (X_STREAM_URL)", err)
		}
		return watchdog.Broken(err), nil
	}
	defer resp.Body.Close()
	body := watchdog.Body(resp.Body)

	if code := resp.StatusCode; code != http.StatusOK {
		// As v1.1, and 400 is fatal too: v2 answers it for a bad field
		// name or parameter, which no retry fixes.
		class := stream.ClassifyStatus(code, http.StatusBadRequest)
		secrets := append(envconf.URLSecrets(s.cfg.URL.Reveal()), s.cfg.BearerToken.Reveal())
		return stream.Refused(service, class, code, resp.Header, stream.ErrorBody(body, secrets...), fixFor(code))
	}

	schedule.Opened()
	// Backfill counts from the last post, not from this connection: one
	// that ends before its backfill comes must ask for it again. Only
	// before the first post of a first start does it count from here.
	p.connected = true
	if p.lastSeen.IsZero() {
		p.lastSeen = time.Now()
	}
	s.stats.Connections.Add(1)
	if backfill > 0 {
		s.stats.backfills.Add(1)
	}
	s.stats.Connected.Store(true)
	defer s.stats.Connected.Store(false)
	s.log.Info("connected", "url", stream.RedactURL(req.URL.String()), "backfill_minutes", backfill)

	frames.Reset(body)
	for {
		value, err := twitter.ReadMessage(frames, &s.stats.Counters, s.log)
		if err != nil {
			return watchdog.Broken(err), nil
		}
		var disconnect *Problem
		if m, problems, err := classify(value); err == nil {
			switch m.Kind {
			case message.KindStatus:
				s.stats.posts.Add(1)
				// Backfill counts from the newest post read, by its own
				// time when that is earlier than now: the posts a
				// backfill brings are minutes old, and a connection cut
				// among them must ask for those minutes again.
				seen := time.Now()
				if !m.Time.IsZero() && m.Time.Before(seen) {
					seen = m.Time
				}
				if seen.After(p.lastSeen) {
					p.lastSeen = seen
				}
				p.lastPost = p.lastSeen
				if s.keepsLastPost() && p.lastSeen.Sub(p.saved) >= lastPostEvery {
					s.saveLastPost(p, p.lastSeen)
				}
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
			return stream.Ending{}, fmt.Errorf("emitting an X API v2 message: %w", err)
		}
		s.stats.Messages.Add(1)
		if disconnect != nil {
			return stream.Ending{Class: stream.ClassNetwork, Reason: stream.ReasonDisconnect,
				Err: fmt.Errorf("the server sent operational-disconnect (%s): %s", disconnect.DisconnectType, disconnect.Detail)}, nil
		}
	}
}

// newRequest builds the stream request; backfill > 0 adds backfill_minutes.
// Parameters already in the URL are kept unless this sets them.
func (s *Source) newRequest(ctx context.Context, backfill int) (*http.Request, error) {
	u, err := url.Parse(s.cfg.URL.Reveal())
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
	req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken.Reveal())
	req.Header.Set("User-Agent", stream.UserAgent)
	// Accept-Encoding is left to the transport, which then ungzips for us.
	return req, nil
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
