// Package jetstream is SOURCE=jetstream: Bluesky's public Jetstream, a
// websocket of JSON events (commits, identity and account changes) that
// needs no account.
//
// Every event is emitted raw, except the posts JETSTREAM_LANGS filters out.
// Each record's Ack moves the resume position to its time_us; the position
// is saved in STATE_DIR, and a restart (or a reconnect) asks for the events
// from a few seconds (JETSTREAM_REWIND) before it. The events of that overlap
// come twice with the same key, and the consumer's dedup window drops the
// copies. The reconnect schedule is the v1.1 source's.
package jetstream

import (
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

	"github.com/coder/websocket"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/twitter"
)

// userAgent identifies the producer to the server.
const userAgent = "tweetpipe"

// errorBodyLimit bounds how much of a refused handshake's body is reported
// (coder/websocket keeps no more).
const errorBodyLimit = 1024

// Source reads Jetstream.
type Source struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	cursor *cursor
	stats  counters
}

// New validates cfg, reads the saved position from STATE_DIR and returns
// the source. A bad setting, an unwritable STATE_DIR or an unreadable state
// file is an error naming what to fix. log may be nil.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("configuring SOURCE=jetstream: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("source", "jetstream")
	cur, err := openCursor(cfg.StateDir, cfg.SaveInterval, log)
	if err != nil {
		return nil, fmt.Errorf("configuring SOURCE=jetstream: %w", err)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Source{cfg: cfg, log: log, client: &http.Client{Transport: transport}, cursor: cur}, nil
}

// Name is the SOURCE value that selects this source.
func (s *Source) Name() string { return "jetstream" }

// Stats returns the counters; safe to call while Run runs.
func (s *Source) Stats() Stats {
	st := s.stats.snapshot()
	st.AckedTimeUS, st.SavedTimeUS, st.StateWrites, st.StateFailures = s.cursor.counts()
	return st
}

// ending says why a connection ended and how to back off before the next.
type ending struct {
	class  twitter.Class
	reason string
	err    error
}

// StatusError is a handshake status that retrying cannot fix. Run returns it.
type StatusError struct {
	Code int
	Body string // the server's body on one line, shortened
	Fix  string
}

func (e *StatusError) Error() string {
	body := e.Body
	if body == "" {
		body = "(empty)"
	}
	return fmt.Sprintf("jetstream answered HTTP %d %s, body %s: %s", e.Code, http.StatusText(e.Code), body, e.Fix)
}

// Run connects, emits every event and reconnects on the v1.1 schedule until
// ctx is done (nil), emit fails (its error) or the handshake answers a
// status that retrying cannot fix (*StatusError). The position is saved
// every SaveInterval while it runs and when it returns; acknowledgements
// that come after that are saved too (see Config.SaveInterval).
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	s.cursor.start()
	defer s.cursor.stop()
	saverCtx, stopSaver := context.WithCancel(ctx)
	saverDone := make(chan struct{})
	go func() {
		defer close(saverDone)
		t := time.NewTicker(s.cfg.SaveInterval)
		defer t.Stop()
		for {
			select {
			case <-saverCtx.Done():
				return
			case <-t.C:
				s.cursor.saveLogged()
			}
		}
	}()
	defer func() { stopSaver(); <-saverDone }()

	schedule := twitter.Backoff{
		NetworkStep:      s.cfg.NetworkBackoffStep,
		NetworkMax:       s.cfg.NetworkBackoffMax,
		HTTPInitial:      s.cfg.HTTPBackoffInitial,
		HTTPMax:          s.cfg.HTTPBackoffMax,
		RateLimitInitial: s.cfg.RateLimitBackoffInitial,
		RateLimitMax:     s.cfg.RateLimitBackoffMax,
	}
	for {
		end, err := s.connect(ctx, emit, &schedule)
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

// ResumeCursor is the cursor a connection asks for: rewind before the later
// of the acknowledged position and the last event read, or 0 (live) when
// there is neither.
func ResumeCursor(acked, lastRead int64, rewind time.Duration) int64 {
	base := max(acked, lastRead)
	if base <= 0 {
		return 0
	}
	return max(base-rewind.Microseconds(), 1)
}

// subscribeURL is the URL to dial: JETSTREAM_URL with wantedCollections and,
// when cursor > 0, cursor.
func (s *Source) subscribeURL(cursor int64) string {
	u, _ := url.Parse(s.cfg.URL) // checked by New
	q := u.Query()
	q.Del("wantedCollections")
	for _, c := range s.cfg.Collections {
		q.Add("wantedCollections", c)
	}
	q.Del("cursor")
	if cursor > 0 {
		q.Set("cursor", strconv.FormatInt(cursor, 10))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// connect makes one connection and reads it to its end. A non-nil error
// stops Run; otherwise the ending says how to reconnect.
func (s *Source) connect(ctx context.Context, emit source.Emit, schedule *twitter.Backoff) (ending, error) {
	cur := ResumeCursor(s.cursor.position(), s.stats.lastEvent.Load(), s.cfg.Rewind)
	addr := s.subscribeURL(cur)
	dialCtx, cancelDial := context.WithTimeout(ctx, s.cfg.StallTimeout)
	conn, resp, err := websocket.Dial(dialCtx, addr, &websocket.DialOptions{
		HTTPClient: s.client,
		HTTPHeader: http.Header{"User-Agent": {userAgent}},
	})
	stalled := errors.Is(dialCtx.Err(), context.DeadlineExceeded)
	cancelDial()
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return s.refused(resp.StatusCode, errorBody(resp.Body))
		}
		if stalled && ctx.Err() == nil {
			s.stats.stalls.Add(1)
			return ending{class: twitter.ClassNetwork, reason: twitter.ReasonStall, err: fmt.Errorf("no handshake within %s", s.cfg.StallTimeout)}, nil
		}
		return ending{class: twitter.ClassNetwork, reason: twitter.ReasonNetwork, err: fmt.Errorf("connecting: %w", err)}, nil
	}
	defer conn.CloseNow()
	conn.SetReadLimit(-1) // readMessage applies MaxMessageBytes and keeps the connection

	schedule.Reset()
	s.stats.connections.Add(1)
	s.stats.connected.Store(true)
	defer s.stats.connected.Store(false)
	s.log.Info("connected", "url", redactURL(addr), "cursor", cur)

	for {
		data, size, err := s.readMessage(ctx, conn)
		if err != nil {
			if ctx.Err() != nil {
				return ending{}, nil
			}
			if errors.Is(err, errStalled) {
				s.stats.stalls.Add(1)
				return ending{class: twitter.ClassNetwork, reason: twitter.ReasonStall, err: err}, nil
			}
			if code := websocket.CloseStatus(err); code != -1 {
				err = fmt.Errorf("the server closed the websocket: %w", err)
			}
			return ending{class: twitter.ClassNetwork, reason: twitter.ReasonNetwork, err: fmt.Errorf("reading: %w", err)}, nil
		}
		if data == nil {
			s.stats.droppedOversize.Add(1)
			s.log.Warn("dropped an oversize message", "bytes", size, "max_bytes", s.cfg.MaxMessageBytes)
			continue
		}
		m, ev, cerr := classify(data)
		var timeUS int64
		if cerr == nil && ev.TimeUS > 0 {
			timeUS = ev.TimeUS
			if timeUS > s.stats.lastEvent.Load() {
				s.stats.lastEvent.Store(timeUS)
			}
		}
		if cerr == nil && ev.isPost() && !MatchLangs(s.cfg.Langs, ev.langs()) {
			s.stats.filtered.Add(1)
			if timeUS > 0 {
				s.cursor.pass(timeUS)
			}
			continue
		}
		rec := source.Record{Value: data}
		if timeUS > 0 {
			rec.Ack = func() { s.cursor.ack(timeUS) }
			s.cursor.emitting()
		}
		if err := emit(ctx, rec); err != nil {
			if rec.Ack != nil {
				s.cursor.notEmitted()
			}
			return ending{}, fmt.Errorf("emitting a Jetstream event: %w", err)
		}
		s.stats.messages.Add(1)
		if m.Kind == message.KindStatus {
			s.stats.posts.Add(1)
		}
	}
}

// errStalled is returned for a connection closed for silence.
var errStalled = errors.New("no message from the server within the stall timeout")

// readMessage reads the next message, waiting at most StallTimeout. A
// message over MaxMessageBytes is read to its end and discarded: it returns
// nil data and the message's size. The wait never covers emit: a full
// pipeline is not a dead connection.
func (s *Source) readMessage(ctx context.Context, conn *websocket.Conn) ([]byte, int64, error) {
	readCtx, cancel := context.WithTimeoutCause(ctx, s.cfg.StallTimeout, errStalled)
	defer cancel()
	failed := func(err error) ([]byte, int64, error) {
		if context.Cause(readCtx) == errStalled {
			return nil, 0, errStalled
		}
		return nil, 0, err
	}
	_, r, err := conn.Reader(readCtx)
	if err != nil {
		return failed(err)
	}
	limit := s.cfg.MaxMessageBytes
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return failed(err)
	}
	if len(data) <= limit {
		return data, int64(len(data)), nil
	}
	rest, err := io.Copy(io.Discard, r)
	if err != nil {
		return failed(err)
	}
	return nil, int64(len(data)) + rest, nil
}

// ClassifyStatus sorts a refused handshake: as v1.1 (twitter.ClassifyStatus:
// 429 rate limit; 401, 403, 404 ... fatal; others retried), and 400, which
// Jetstream answers for a bad parameter, is fatal too.
func ClassifyStatus(code int) twitter.Class {
	if code == http.StatusBadRequest {
		return twitter.ClassFatal
	}
	return twitter.ClassifyStatus(code)
}

// refused turns a refused handshake into an ending, or an error when fatal.
func (s *Source) refused(code int, body string) (ending, error) {
	switch class := ClassifyStatus(code); class {
	case twitter.ClassFatal:
		return ending{}, &StatusError{Code: code, Body: body, Fix: fixFor(code)}
	case twitter.ClassRateLimit:
		return ending{class: class, reason: twitter.ReasonRateLimit, err: fmt.Errorf("HTTP %d: %s", code, body)}, nil
	default:
		return ending{class: class, reason: twitter.ReasonHTTP, err: fmt.Errorf("HTTP %d: %s", code, body)}, nil
	}
}

func fixFor(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "a parameter was refused: check JETSTREAM_COLLECTIONS (at most 100 NSIDs or prefixes ending .*) and JETSTREAM_URL"
	case http.StatusNotFound:
		return "no Jetstream at this address: check JETSTREAM_URL (default " + DefaultURL + ", path /subscribe)"
	}
	return "the server refuses the connection: check JETSTREAM_URL (default " + DefaultURL + "), or try another public instance"
}

// errorBody reads the start of a refused handshake's body, on one line.
func errorBody(body io.Reader) string {
	if body == nil {
		return ""
	}
	raw, _ := io.ReadAll(io.LimitReader(body, errorBodyLimit))
	return strings.Join(strings.Fields(string(raw)), " ")
}
