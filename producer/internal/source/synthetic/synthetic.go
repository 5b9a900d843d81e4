// Package synthetic generates deterministic Twitter v1.1-shaped statuses, with
// occasional delete notices, so the pipeline runs with no account at all.
package synthetic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/source"
)

// Config selects the rate, the number and the content of the posts: the
// SYNTHETIC_* variables, which the producer's config embeds.
type Config struct {
	Rate  float64 `envconfig:"SYNTHETIC_RATE" default:"50" desc:"synthetic posts per second (0: as fast as possible)"`
	Count int64   `envconfig:"SYNTHETIC_COUNT" default:"0" desc:"synthetic posts to generate, then exit (0: endless)"`
	Seed  int64   `envconfig:"SYNTHETIC_SEED" default:"1" desc:"seed of the synthetic generator (same seed, same posts)"`
	// Start is the time of the first post; zero = now. No post is timed
	// after the moment it is made.
	Start time.Time `ignored:"true"`
	// DeleteEvery makes one delete notice after every DeleteEvery statuses
	// (0 = the default of 20; negative = never).
	DeleteEvery int `ignored:"true"`
}

// Validate checks the variables; each error names the one at fault.
func (c Config) Validate() error {
	var errs []error
	if !(c.Rate >= 0) || math.IsInf(c.Rate, 1) { // NaN too
		errs = append(errs, fmt.Errorf("SYNTHETIC_RATE=%g: accepts 0 (as fast as possible) or more", c.Rate))
	}
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("SYNTHETIC_COUNT=%d: accepts 0 (endless) or more", c.Count))
	}
	return errors.Join(errs...)
}

// Source is the synthetic generator.
type Source struct {
	cfg Config
}

// New returns a generator for cfg.
func New(cfg Config) *Source {
	if cfg.DeleteEvery == 0 {
		cfg.DeleteEvery = 20
	}
	return &Source{cfg: cfg}
}

// Name implements source.Source.
func (s *Source) Name() string { return "synthetic" }

// Run emits Count statuses (or forever), paced at Rate.
func (s *Source) Run(ctx context.Context, emit source.Emit) error {
	g := NewGenerator(s.cfg.Seed, s.cfg.Start)
	if s.cfg.Rate > 0 {
		g.step = time.Duration(float64(time.Second) / s.cfg.Rate)
	}
	start := time.Now()
	var timer *time.Timer
	for i := int64(0); s.cfg.Count == 0 || i < s.cfg.Count; i++ {
		if s.cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / s.cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					return nil
				case <-timer.C:
				}
			}
		}
		if err := emit(ctx, source.Record{Value: g.Status()}); err != nil {
			return ignoreCancel(ctx, err)
		}
		if s.cfg.DeleteEvery > 0 && (i+1)%int64(s.cfg.DeleteEvery) == 0 {
			if err := emit(ctx, source.Record{Value: g.Delete()}); err != nil {
				return ignoreCancel(ctx, err)
			}
		}
	}
	return nil
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Generator makes one post at a time. Its output depends only on the seed,
// the start time and how many posts it made before, except that a post is
// never timed after the moment it is made: posts are spaced step apart from
// start, and a run faster than that (a high rate, or as fast as possible)
// would otherwise time its posts ever further ahead, past what Kafka
// accepts (Kafka 4 refuses timestamps more than an hour ahead).
type Generator struct {
	rng   *rand.Rand
	seed  int64
	start time.Time
	step  time.Duration // between two posts' times; 20 ms unless the rate says
	now   func() time.Time
	n     int64
	ids   []string // recent status ids, for delete notices
}

// NewGenerator returns a generator; a zero start means now.
func NewGenerator(seed int64, start time.Time) *Generator {
	if start.IsZero() {
		start = time.Now()
	}
	return &Generator{
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x7765657470697065)),
		seed:  seed,
		start: start.UTC().Truncate(time.Millisecond),
		step:  20 * time.Millisecond,
		now:   time.Now,
	}
}

// The field order follows the v1.1 payloads; encoding/json keeps it.
type status struct {
	CreatedAt     string   `json:"created_at"`
	ID            int64    `json:"id"`
	IDStr         string   `json:"id_str"`
	Text          string   `json:"text"`
	Source        string   `json:"source"`
	Truncated     bool     `json:"truncated"`
	User          user     `json:"user"`
	Geo           any      `json:"geo"`
	RetweetCount  int      `json:"retweet_count"`
	FavoriteCount int      `json:"favorite_count"`
	Entities      entities `json:"entities"`
	Favorited     bool     `json:"favorited"`
	Retweeted     bool     `json:"retweeted"`
	FilterLevel   string   `json:"filter_level"`
	Lang          string   `json:"lang"`
	TimestampMs   string   `json:"timestamp_ms"`
}

type user struct {
	ID             int64  `json:"id"`
	IDStr          string `json:"id_str"`
	Name           string `json:"name"`
	ScreenName     string `json:"screen_name"`
	Location       string `json:"location"`
	Description    string `json:"description"`
	FollowersCount int    `json:"followers_count"`
	FriendsCount   int    `json:"friends_count"`
	StatusesCount  int    `json:"statuses_count"`
	CreatedAt      string `json:"created_at"`
	Lang           any    `json:"lang"`
}

type entities struct {
	Hashtags     []hashtag `json:"hashtags"`
	URLs         []any     `json:"urls"`
	UserMentions []mention `json:"user_mentions"`
	Symbols      []any     `json:"symbols"`
}

type hashtag struct {
	Text    string `json:"text"`
	Indices [2]int `json:"indices"`
}

type mention struct {
	ScreenName string `json:"screen_name"`
	Name       string `json:"name"`
	ID         int64  `json:"id"`
	IDStr      string `json:"id_str"`
	Indices    [2]int `json:"indices"`
}

type deleteNotice struct {
	Delete struct {
		Status struct {
			ID        int64  `json:"id"`
			IDStr     string `json:"id_str"`
			UserID    int64  `json:"user_id"`
			UserIDStr string `json:"user_id_str"`
		} `json:"status"`
		TimestampMs string `json:"timestamp_ms"`
	} `json:"delete"`
}

// Texts mix English, romanized Hindi (Hinglish) and Devanagari, with emoji:
// the code-mixed corpora researchers build.
var phrases = [...]struct{ text, lang string }{
	{"Aaj ka match dekha? Kya khela yaar 🔥", "hi"},
	{"Traffic is insane today, office pahunchne mein 2 ghante lag gaye 😩", "en"},
	{"आज मौसम बहुत अच्छा है ☀️", "hi"},
	{"Monsoon finally aa gaya! Chai and pakode time ☕", "en"},
	{"Just finished reading a great book on distributed systems 📚", "en"},
	{"Yeh new phone ka camera is next level 📸", "hi"},
	{"दिल्ली में आज बहुत भीड़ है, metro bhi full 🚇", "hi"},
	{"Weekend plans: sona, khana, repeat 😴🍕", "en"},
	{"Congratulations to the team, bahut badhiya kaam kiya 👏", "en"},
	{"कल परीक्षा है और मैं twitter चला रहा हूँ 🙈", "hi"},
	{"Kafka consumer lag is zero, feeling good 😎", "en"},
	{"Mumbai rains + local trains = adventure 🌧️🚆", "en"},
}

var tags = [...]string{"cricket", "monsoon", "IndiaTech", "Bollywood", "chai", "Kafka", "हिंदी", "Delhi"}

var names = [...]string{"Aarav Sharma", "Priya Patel", "Rohan Gupta", "Ananya Iyer", "Vikram Singh", "Sneha Reddy", "Arjun Mehta", "Kavya Nair"}

// Status returns the next status as one line of JSON (no line terminator).
func (g *Generator) Status() []byte {
	g.n++
	t := g.postTime()
	id := g.statusID(t)
	idStr := strconv.FormatInt(id, 10)
	g.ids = append(g.ids, idStr)
	if len(g.ids) > 64 {
		g.ids = g.ids[1:]
	}
	p := phrases[g.rng.IntN(len(phrases))]
	u := g.rng.IntN(len(names))
	uid := int64(100000+u) * 7919
	s := status{
		CreatedAt:   t.Format(time.RubyDate),
		ID:          id,
		IDStr:       idStr,
		Source:      `<a href="https://tweetpipe.invalid/synthetic" rel="nofollow">tweetpipe synthetic</a>`,
		FilterLevel: "low",
		Lang:        p.lang,
		TimestampMs: strconv.FormatInt(t.UnixMilli(), 10),
		User: user{
			ID: uid, IDStr: strconv.FormatInt(uid, 10),
			Name: names[u], ScreenName: fmt.Sprintf("user_%d", u),
			Location: "India", Description: "synthetic account",
			FollowersCount: 10 + g.rng.IntN(5000), FriendsCount: 10 + g.rng.IntN(900),
			StatusesCount: 100 + g.rng.IntN(20000),
			CreatedAt:     "Tue Mar 01 10:00:00 +0000 2016",
		},
		RetweetCount:  g.rng.IntN(50),
		FavoriteCount: g.rng.IntN(200),
		Entities:      entities{Hashtags: []hashtag{}, URLs: []any{}, UserMentions: []mention{}, Symbols: []any{}},
	}
	text := p.text
	if g.rng.IntN(3) == 0 {
		tag := tags[g.rng.IntN(len(tags))]
		start := len([]rune(text)) + 1
		text += " #" + tag
		s.Entities.Hashtags = append(s.Entities.Hashtags, hashtag{Text: tag, Indices: [2]int{start, start + 1 + len([]rune(tag))}})
	}
	if g.rng.IntN(4) == 0 {
		m := g.rng.IntN(len(names))
		mid := int64(100000+m) * 7919
		screen := fmt.Sprintf("user_%d", m)
		text = "@" + screen + " " + text
		s.Entities.UserMentions = append(s.Entities.UserMentions, mention{
			ScreenName: screen, Name: names[m], ID: mid, IDStr: strconv.FormatInt(mid, 10),
			Indices: [2]int{0, 1 + len(screen)},
		})
	}
	s.Text = text
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("synthetic: encoding a status: %v", err)) // only plain types: cannot fail
	}
	return b
}

// Delete returns a delete notice for one of the recent statuses.
func (g *Generator) Delete() []byte {
	var d deleteNotice
	if len(g.ids) > 0 {
		d.Delete.Status.IDStr = g.ids[g.rng.IntN(len(g.ids))]
		d.Delete.Status.ID, _ = strconv.ParseInt(d.Delete.Status.IDStr, 10, 64)
	}
	d.Delete.Status.UserID = 792_190_000
	d.Delete.Status.UserIDStr = "792190000"
	d.Delete.TimestampMs = strconv.FormatInt(g.postTime().UnixMilli(), 10)
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("synthetic: encoding a delete: %v", err))
	}
	return b
}

// postTime is the time of post n: start for the first, step after post
// n-1 for the others (when Run paces them, the moment it emits them), or
// now when that is later than now.
func (g *Generator) postTime() time.Time {
	t := g.start.Add(time.Duration(g.n-1) * g.step)
	if now := g.now().UTC().Truncate(time.Millisecond); t.After(now) {
		return now
	}
	return t
}

// statusID builds a snowflake-shaped id: the post's time in milliseconds since
// Twitter's epoch, then the seed and a sequence so ids never collide.
func (g *Generator) statusID(t time.Time) int64 {
	const twepoch = 1288834974657
	ms := t.UnixMilli() - twepoch
	return ms<<22 | (g.seed&0x3ff)<<12 | (g.n & 0xfff)
}
