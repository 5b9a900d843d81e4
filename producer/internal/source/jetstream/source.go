// Package jetstream is SOURCE=jetstream: Bluesky's public Jetstream, a
// websocket of JSON events (commits, identity and account changes) that
// needs no account.
//
// Every event is emitted raw, except the posts JETSTREAM_LANGS filters out,
// with Classify's result (Record.Classified), which the source has from
// reading the event for its position and filter anyway.
// Each record's Ack moves the resume position to its time_us (unless that
// lies more than MaxTimeAhead ahead of this host's clock); the position
// is saved in STATE_DIR, and a restart (or a reconnect) asks for the events
// from a few seconds (JETSTREAM_REWIND) before it. The events of that overlap
// come twice with the same key, and the consumer's dedup window drops the
// copies. The reconnect schedule is the v1.1 source's (package stream).
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// service names the server in a *stream.StatusError.
const service = "jetstream"

// Source reads Jetstream.
type Source struct {
	cfg    Config
	log    *slog.Logger
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
	log = stream.Logger(log, "jetstream")
	cur, err := openCursor(cfg.StateDir, cfg.SaveInterval, log)
	if err != nil {
		return nil, fmt.Errorf("configuring SOURCE=jetstream: %w", err)
	}
	return &Source{cfg: cfg, log: log, cursor: cur}, nil
}

// Name is the SOURCE value that selects this source.
func (s *Source) Name() string { return "jetstream" }

// Stats returns the counters; safe to call while Run runs.
// Connected reports whether a stream is open now (source.Connector, for
// /readyz).
func (s *Source) Connected() bool { return s.stats.Connected.Load() }

// StreamStats returns the counters every stream source keeps, for metrics.
func (s *Source) StreamStats() stream.Stats { return s.Stats().Stats }

func (s *Source) Stats() Stats {
	st := s.stats.snapshot()
	st.AckedTimeUS, st.SavedTimeUS, st.StateWrites, st.StateFailures = s.cursor.counts()
	return st
}

// Run connects, emits every event and reconnects on the v1.1 schedule until
// ctx is done (nil), emit fails (its error) or the handshake answers a
// status that retrying cannot fix (*stream.StatusError). The position is
// saved every SaveInterval while it runs and when it returns;
// acknowledgements that come after that are saved too (see
// Config.SaveInterval).
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

	return stream.Reconnect(ctx, s.cfg.Schedule, &s.stats.Counters, s.log, func(schedule *stream.Backoff) (stream.Ending, error) {
		return s.connect(ctx, emit, schedule)
	})
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

// subscribeURL is the URL to dial: JETSTREAM_URL (which New checked holds
// neither) with wantedCollections and, when cursor > 0, cursor.
func (s *Source) subscribeURL(cursor int64) string {
	u, _ := url.Parse(s.cfg.URL.Reveal()) // checked by New
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
func (s *Source) connect(ctx context.Context, emit source.Emit, schedule *stream.Backoff) (stream.Ending, error) {
	cur := ResumeCursor(s.cursor.position(), s.stats.lastEvent.Load(), s.cfg.Rewind)
	addr := s.subscribeURL(cur)
	dialCtx, cancelDial := context.WithTimeout(ctx, s.cfg.StallTimeout)
	conn, resp, err := dial(dialCtx, addr)
	stalled := errors.Is(dialCtx.Err(), context.DeadlineExceeded)
	cancelDial()
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			// As v1.1, and 400, which Jetstream answers for a bad
			// parameter, is fatal too.
			code := resp.StatusCode
			class := stream.ClassifyStatus(code, http.StatusBadRequest)
			return stream.Refused(service, class, code, resp.Header, stream.ErrorBody(resp.Body, envconf.URLSecrets(s.cfg.URL.Reveal())...), fixFor(code))
		}
		if stalled && ctx.Err() == nil {
			return stream.Stalled(fmt.Errorf("no handshake within %s", s.cfg.StallTimeout)), nil
		}
		err = stream.Scrub(fmt.Errorf("connecting: %w", err), s.cfg.URL.Reveal())
		if errors.Is(err, stream.ErrRedirect) {
			return stream.Ending{}, fmt.Errorf("%w (JETSTREAM_URL)", err)
		}
		return stream.Broken(err), nil
	}
	defer conn.Close()
	// No read limit (gorilla's default): readMessage applies
	// MaxMessageBytes and keeps the connection.
	rd := newReader(ctx, conn, s.cfg.StallTimeout, s.cfg.MaxMessageBytes)
	defer rd.close()

	schedule.Opened()
	s.stats.Connections.Add(1)
	s.stats.Connected.Store(true)
	defer s.stats.Connected.Store(false)
	s.log.Info("connected", "url", stream.RedactURL(addr), "cursor", cur)
	warnedAhead := false // once per connection

	for {
		data, size, err := rd.readMessage()
		if err != nil {
			if ctx.Err() != nil {
				return stream.Ending{}, nil
			}
			if errors.Is(err, errStalled) {
				return stream.Stalled(err), nil
			}
			// A connection cut without a close frame is 1006, which no
			// server sends.
			if ce, ok := errors.AsType[*websocket.CloseError](err); ok && ce.Code != websocket.CloseAbnormalClosure {
				err = fmt.Errorf("the server closed the websocket: %w", err)
			}
			return stream.Broken(fmt.Errorf("reading: %w", err)), nil
		}
		if data == nil {
			s.stats.DroppedOversize.Add(1)
			s.log.Warn("dropped an oversize message", "bytes", size, "max_bytes", s.cfg.MaxMessageBytes)
			continue
		}
		kept, err := s.event(ctx, emit, data, &warnedAhead)
		if err != nil {
			return stream.Ending{}, err
		}
		if !kept {
			rd.giveBack(data)
		}
	}
}

// event reads one message, moves the positions, filters it and emits it,
// classified (Classify's result, handed over in Record.Classified) when
// it is a JSON object. It reports whether it emitted data, and returns
// emit's error; warnedAhead is the connection's.
func (s *Source) event(ctx context.Context, emit source.Emit, data []byte, warnedAhead *bool) (bool, error) {
	var ev fields
	cerr := ev.read(data)
	var timeUS int64 // the event's position; 0 when it has none that may be used
	now := time.Now()
	switch {
	case cerr != nil || ev.timeUS <= 0:
	case !plausible(ev.timeUS, now):
		s.stats.aheadOfClock.Add(1)
		if !*warnedAhead {
			*warnedAhead = true
			s.log.Warn("an event's time_us is ahead of this host's clock: emitted, but the resume position does not move to it; check this host's clock if this repeats",
				"time_us", ev.timeUS, "ahead", time.UnixMicro(ev.timeUS).Sub(now).Round(time.Millisecond), "events_ahead", s.stats.aheadOfClock.Load())
		}
	default:
		timeUS = ev.timeUS
		if timeUS > s.stats.lastEvent.Load() {
			s.stats.lastEvent.Store(timeUS)
		}
	}
	if cerr == nil && len(s.cfg.Langs) > 0 && ev.isPost() && !MatchLangs(s.cfg.Langs, ev.postLangs()) {
		s.stats.filtered.Add(1)
		if timeUS > 0 {
			s.cursor.pass(timeUS)
		}
		return false, nil
	}
	rec := source.Record{Value: data, Read: now}
	if cerr == nil {
		// What Classify, the publisher's classifier for SOURCE=jetstream,
		// gives: read, then message.
		rec.Classified = ev.message(data)
	}
	if timeUS > 0 {
		rec.Ack = func() { s.cursor.ack(timeUS) }
		s.cursor.emitting()
	}
	if err := emit(ctx, rec); err != nil {
		if rec.Ack != nil {
			s.cursor.notEmitted()
		}
		return false, fmt.Errorf("emitting a Jetstream event: %w", err)
	}
	s.stats.Messages.Add(1)
	if rec.Classified.Kind == message.KindStatus {
		s.stats.posts.Add(1)
	}
	return true, nil
}

// errStalled is returned for a connection closed for silence.
var errStalled = errors.New("no message from the server within the stall timeout")

// reader reads one connection's messages. The connection is closed when
// ctx is done or when a message takes longer than the stall timeout to
// come. The wait never covers emit: a full pipeline is not a dead
// connection.
//
// A read marks when it began (readSince); a watchdog timer, armed once,
// looks at that mark whenever it fires and either closes the connection or
// fires again when the read in progress would reach the stall timeout. A
// timer armed and stopped around every read would cost about 2 % of the
// producer's CPU on Jetstream's small events.
type reader struct {
	conn      *websocket.Conn
	stopWatch func() bool  // stops closing conn when ctx is done
	watchdog  *time.Timer  // runs watch
	start     time.Time    // readSince counts from it, on the monotonic clock
	readSince atomic.Int64 // 1 + nanoseconds from start to the read in progress; 0 between reads
	closed    atomic.Bool  // close was called: a firing after it returns at once
	stalled   atomic.Bool  // watch closed the connection
	timeout   time.Duration
	limit     int
	block     []byte // messages are read into it, one after the other (blockSize)
}

// blockSize is the size of the blocks readMessage reads messages into. Each
// message it returns is a slice of one, in place of an allocation and a
// copy of its own (about 4 % of the producer's CPU on Jetstream events);
// a block goes to the garbage collector once none of its messages is held,
// and they are let go of in about the order they came. A message the
// source does not emit (JETSTREAM_LANGS) gives its room back (giveBack),
// so that the few it keeps of a filtered stream share blocks rather than
// each holding one. A message larger than a block gets a block of its own.
const blockSize = 64 << 10

func newReader(ctx context.Context, conn *websocket.Conn, timeout time.Duration, limit int) *reader {
	r := &reader{conn: conn, start: time.Now(), timeout: timeout, limit: limit}
	// Armed once r.watchdog is set, which watch uses: a timeout of a
	// nanosecond would otherwise fire before.
	r.watchdog = time.AfterFunc(math.MaxInt64, r.watch)
	r.watchdog.Reset(timeout)
	r.stopWatch = context.AfterFunc(ctx, func() { conn.Close() })
	return r
}

// watch closes the connection when the read in progress has waited the
// stall timeout; otherwise it fires again when that read would reach it,
// or, between reads, one stall timeout later.
func (r *reader) watch() {
	if r.closed.Load() {
		return
	}
	next := r.timeout
	if since := r.readSince.Load(); since != 0 {
		waited := time.Since(r.start) - time.Duration(since-1)
		if waited >= r.timeout {
			r.stalled.Store(true)
			r.conn.Close()
			return
		}
		next = r.timeout - waited
	}
	r.watchdog.Reset(next)
}

// close stops the reader's watches; the caller closes the connection.
func (r *reader) close() {
	r.closed.Store(true)
	r.watchdog.Stop()
	r.stopWatch()
}

// readMessage reads the next message, waiting at most the stall timeout.
// A message over the limit (MaxMessageBytes) is read to its end and
// discarded: it returns nil data and the message's size.
func (r *reader) readMessage() ([]byte, int64, error) {
	r.readSince.Store(1 + int64(time.Since(r.start)))
	defer r.readSince.Store(0)
	failed := func(err error) ([]byte, int64, error) {
		if r.stalled.Load() {
			return nil, 0, errStalled
		}
		return nil, 0, err
	}
	_, msg, err := r.conn.NextReader()
	if err != nil {
		return failed(err)
	}
	start := len(r.block) // the message is r.block[start:]
	for {
		if len(r.block) == cap(r.block) {
			// A new block, with what came of the message so far.
			part := r.block[start:]
			r.block = append(make([]byte, 0, max(blockSize, 2*len(part))), part...)
			start = 0
		}
		n, err := msg.Read(r.block[len(r.block):cap(r.block)])
		r.block = r.block[:len(r.block)+n]
		if size := len(r.block) - start; size > r.limit {
			r.block = r.block[:start] // nothing holds it
			rest, err := io.Copy(io.Discard, msg)
			if err != nil {
				return failed(err)
			}
			return nil, int64(size) + rest, nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return failed(err)
		}
	}
	data := r.block[start:len(r.block):len(r.block)] // an append to it cannot reach the next
	if cap(r.block) > blockSize {
		r.block = nil // data's own: the next message starts a block of blockSize
	}
	return data, int64(len(data)), nil
}

// giveBack returns the room of data, the message readMessage returned last,
// which nothing holds, for the next message.
func (r *reader) giveBack(data []byte) {
	if n := len(r.block) - len(data); n >= 0 && len(data) > 0 && &r.block[n] == &data[0] {
		r.block = r.block[:n]
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
