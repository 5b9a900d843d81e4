package replay

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/tweetpipe/tweetpipe/producer/internal/terminal"
)

// progress counts what a run has done. The replay goroutine writes it, the
// reporter reads it.
type progress struct {
	filesTotal int64
	total      int64 // bytes of all inputs, as stored on disk

	filesDone atomic.Int64 // stream files and archive members read or skipped
	read      atomic.Int64 // input bytes read or skipped
	lines     atomic.Int64 // lines emitted
	bytes     atomic.Int64 // bytes of the lines emitted
	start     atomic.Pointer[sample]
}

func newProgress(inputs []input) *progress {
	p := &progress{}
	for i := range inputs {
		p.filesTotal += inputs[i].files()
		p.total += inputs[i].size
	}
	return p
}

// advanceTo moves read up to n: the unread rest of a member or input counts
// as done once it is finished or skipped. Only the replay goroutine calls it.
func (p *progress) advanceTo(n int64) {
	if p.read.Load() < n {
		p.read.Store(n)
	}
}

// begin marks the first line emitted: rates count from there, not from the
// skipping a resume does.
func (p *progress) begin() {
	if p.start.Load() == nil {
		s := p.sample(time.Now())
		p.start.Store(&s)
	}
}

func (p *progress) sample(now time.Time) sample {
	return sample{
		At: now, FilesDone: p.filesDone.Load(), FilesTotal: p.filesTotal,
		Lines: p.lines.Load(), Bytes: p.bytes.Load(), Read: p.read.Load(), Total: p.total,
	}
}

// sample is the progress at one moment.
type sample struct {
	At                    time.Time
	FilesDone, FilesTotal int64
	Lines, Bytes          int64 // emitted
	Read, Total           int64 // input bytes
}

// rates is what a progress line says beyond the counts.
type rates struct {
	Percent     float64       // of the input bytes
	LinesPerSec float64       // since prev
	ETA         time.Duration // from the byte rate since start; -1 when not known
}

// measure derives the rates. start is the sample at the first emitted line
// (zero At when none was emitted yet), prev the one of the last report.
func measure(start, prev, cur sample) rates {
	r := rates{ETA: -1}
	switch {
	case cur.Total > 0:
		r.Percent = min(100, 100*float64(cur.Read)/float64(cur.Total))
	case cur.FilesDone >= cur.FilesTotal:
		r.Percent = 100
	}
	if dt := cur.At.Sub(prev.At).Seconds(); dt > 0 {
		r.LinesPerSec = float64(cur.Lines-prev.Lines) / dt
	}
	left := cur.Total - cur.Read
	switch {
	case left <= 0:
		r.ETA = 0
	case start.At.IsZero():
	default:
		dt := cur.At.Sub(start.At).Seconds()
		done := float64(cur.Read - start.Read)
		if dt > 0 && done > 0 {
			r.ETA = time.Duration(float64(left) / (done / dt) * float64(time.Second)).Round(time.Second)
		}
	}
	return r
}

func (r rates) eta() string {
	if r.ETA < 0 {
		return "unknown"
	}
	return r.ETA.String()
}

// logArgs are the fields of a progress log line.
func (s sample) logArgs(r rates) []any {
	return []any{
		"source", "replay", "files", s.FilesDone, "files_total", s.FilesTotal,
		"lines", s.Lines, "bytes", s.Bytes, "read_bytes", s.Read, "total_bytes", s.Total,
		"percent", fmt.Sprintf("%.1f", r.Percent), "lines_per_s", fmt.Sprintf("%.0f", r.LinesPerSec), "eta", r.eta(),
	}
}

// barText is the short description the bar carries, fit for 80 columns.
func (s sample) barText() string {
	return fmt.Sprintf("%d/%d files %s lines ", s.FilesDone, s.FilesTotal, short(s.Lines))
}

// short writes n in at most four digits and a unit: 950, 12.3k, 4.5M.
func short(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1_000_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1fG", float64(n)/1e9)
}

// reporter logs the progress every interval and, on a terminal, keeps a
// progress bar up to date.
type reporter struct {
	p        *progress
	log      *slog.Logger
	term     *terminal.Terminal
	interval time.Duration // of the log lines; 0: none
	bar      *progressbar.ProgressBar
}

// barRefresh is how often the bar is redrawn.
const barRefresh = 250 * time.Millisecond

func newReporter(p *progress, log *slog.Logger, term *terminal.Terminal, interval time.Duration) *reporter {
	r := &reporter{p: p, log: log, term: term, interval: interval}
	if term.IsTerminal() && p.total > 0 {
		r.bar = newBar(term.Bar(), p.total)
	}
	return r
}

func newBar(w io.Writer, total int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(), // 80 columns: the writer is not the *os.File it could measure
		progressbar.OptionSetRenderBlankState(true),
	)
}

// run reports until stop is closed.
func (r *reporter) run(stop <-chan struct{}) {
	var logTick, barTick <-chan time.Time
	if r.interval > 0 {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		logTick = t.C
	}
	if r.bar != nil {
		t := time.NewTicker(barRefresh)
		defer t.Stop()
		barTick = t.C
	}
	prev := r.p.sample(time.Now())
	for {
		select {
		case <-stop:
			r.term.Hide() // the bar leaves the screen; the final summary is a log line
			return
		case now := <-logTick:
			cur := r.p.sample(now)
			var start sample
			if s := r.p.start.Load(); s != nil {
				start = *s
			}
			frame := r.term.Hide()
			r.log.Info("replay progress", cur.logArgs(measure(start, prev, cur))...)
			r.term.Show(frame)
			prev = cur
		case now := <-barTick:
			cur := r.p.sample(now)
			r.bar.Describe(cur.barText())
			r.bar.Set64(cur.Read)
		}
	}
}
