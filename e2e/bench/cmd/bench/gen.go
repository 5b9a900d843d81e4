package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// The generator turns real v1.1 statuses (the templates) into as many
// distinct statuses as wanted: each output line is one template, picked at
// random so sizes follow the real payloads, with its ids, counts, time and
// words replaced. Structure, field names, URLs and profile defaults stay as
// the real ones, so zstd sees what it sees on a real stream. Strings are
// escaped as Twitter's stream escaped them (non-ASCII as \uXXXX, "/" as
// "\/", "<" and ">" as \u003c and \u003e), which is also what makes real
// payloads around 4-5 KB.

// holeKind says how a template value is replaced in each generated status.
type holeKind uint8

const (
	static         holeKind = iota
	holeID                  // a number that is an id: mapped to a new id per status
	holeIDStr               // the same id as a string
	holeTimeMs              // "timestamp_ms": the status's time in milliseconds
	holeCreated             // the top-level "created_at": the status's time
	holeText                // text, names, descriptions: words replaced
	holeCount               // *_count: a random count of the same number of digits
	holeURL                 // URLs: digit runs (user and media ids) replaced
	holeTimeUS              // Jetstream's top-level "time_us": the event's time in microseconds
	holeCreatedISO          // Jetstream's "createdAt": the event's time, RFC 3339 with milliseconds
	holeToken               // Jetstream's did, rev, rkey, cid and uri: their base32 runs replaced
)

// part is a run of bytes copied as is, or a hole filled per status.
type part struct {
	kind   holeKind
	raw    []byte // static bytes
	old    string // the template's value: id digits, text, count digits
	pieces []span // text and URL holes: the value cut into runs, escaped
}

// span is a run of a text or URL value: kept (sep), or replaced by a word of
// the same script (a word) or by as many random digits (digits).
type span struct {
	kind  byte     // 's' sep, 'w' word, 'd' digits, 'b' base32 characters
	raw   []byte   // the run, escaped as Twitter did
	words [][]byte // 'w': the escaped words to draw from
	n     int      // 'd', 'b': how many characters
}

// template is one real status, ready to be filled.
type template struct {
	parts []part
	topID string // the template's own status id, replaced by the new one
	plain bool   // strings escaped as encoding/json does (Jetstream), not as Twitter did
}

// generator makes distinct statuses from templates; not safe for concurrent
// use.
type generator struct {
	templates []template
	rng       *rand.Rand
	ids       map[string]string // the current status's id mapping
	seq       int64
	buf       []byte
}

// loadTemplates reads a JSON Lines file of v1.1 statuses.
func loadTemplates(path string) ([]template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the templates (real v1.1 statuses, one a line): %w", err)
	}
	defer f.Close()
	var ts []template
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		t, err := parseTemplate(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if t.topID == "" {
			continue // not a status (a delete, a limit notice)
		}
		ts = append(ts, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%s holds no status with an id", path)
	}
	return ts, nil
}

// frame is an open object or array while a template is parsed.
type frame struct {
	obj       bool
	n         int    // values so far
	expectKey bool   // an object's next string is a key
	key       string // the key of the current value (an array inherits its parent's)
}

// parseTemplate splits one status into static runs and holes.
func parseTemplate(line []byte) (template, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	plain := bytes.Contains(line, []byte(`"time_us":`))
	appendString := appendTwitterString
	if plain {
		appendString = appendPlainString
	}
	var (
		t     = template{plain: plain}
		stack []frame
		cur   []byte
	)
	flush := func() {
		if len(cur) > 0 {
			t.parts = append(t.parts, part{kind: static, raw: cur})
			cur = nil
		}
	}
	hole := func(k holeKind, old string) {
		flush()
		t.parts = append(t.parts, part{kind: k, old: old})
	}
	top := func() *frame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	beforeValue := func() (key string, depth int) {
		if f := top(); f != nil {
			if !f.obj && f.n > 0 {
				cur = append(cur, ',')
			}
			return f.key, len(stack)
		}
		return "", 0
	}
	afterValue := func() {
		if f := top(); f != nil {
			f.n++
			if f.obj {
				f.expectKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return template{}, err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				key, _ := beforeValue()
				cur = append(cur, byte(v))
				stack = append(stack, frame{obj: v == '{', expectKey: v == '{', key: key})
			case '}', ']':
				stack = stack[:len(stack)-1]
				cur = append(cur, byte(v))
				afterValue()
			}
		case string:
			if f := top(); f != nil && f.obj && f.expectKey {
				if f.n > 0 {
					cur = append(cur, ',')
				}
				cur = appendString(cur, v)
				cur = append(cur, ':')
				f.key, f.expectKey = v, false
				continue
			}
			key, depth := beforeValue()
			switch {
			case (key == "id_str" || strings.HasSuffix(key, "_id_str")) && isDigits(v):
				hole(holeIDStr, v)
			case key == "timestamp_ms" && isDigits(v):
				hole(holeTimeMs, v)
			case key == "created_at" && depth == 1:
				hole(holeCreated, v)
			case key == "createdAt":
				hole(holeCreatedISO, v)
			case isTokenKey(key) && v != "":
				hole(holeToken, v)
			case isTextKey(key) && v != "":
				hole(holeText, v)
			case strings.Contains(key, "url") && strings.ContainsAny(v, "0123456789"):
				hole(holeURL, v)
			default:
				cur = appendString(cur, v)
			}
			afterValue()
		case json.Number:
			key, depth := beforeValue()
			s := v.String()
			switch {
			case (key == "id" || strings.HasSuffix(key, "_id")) && isDigits(s):
				if key == "id" && depth == 1 {
					t.topID = s
				}
				hole(holeID, s)
			case key == "time_us" && depth == 1 && isDigits(s):
				t.topID = s // a Jetstream event: its time is what makes it distinct
				hole(holeTimeUS, s)
			case strings.HasSuffix(key, "_count") && isDigits(s):
				hole(holeCount, s)
			default:
				cur = append(cur, s...)
			}
			afterValue()
		case bool:
			beforeValue()
			cur = strconv.AppendBool(cur, v)
			afterValue()
		case nil:
			beforeValue()
			cur = append(cur, "null"...)
			afterValue()
		}
	}
	flush()
	return t, nil
}

func isTextKey(k string) bool {
	switch k {
	case "text", "full_text", "description", "name", "screen_name", "location":
		return true
	}
	return false
}

// isTokenKey says whether a Jetstream string is an identifier made of
// base32 characters (a DID, a record key, a revision, a CID, an at:// URI).
func isTokenKey(k string) bool {
	switch k {
	case "did", "rev", "rkey", "cid", "uri":
		return true
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// newGenerator returns a generator over ts; the same seed gives the same
// statuses for the same times. It cuts every text and URL value into runs
// once, and escapes them once, so a status costs little more than copying.
func newGenerator(ts []template, seed uint64) *generator {
	g := &generator{templates: slices.Clone(ts), rng: rand.New(rand.NewPCG(seed, 0x62656e6368)), ids: map[string]string{}}
	// The words of every text, by 128-rune block of their first rune.
	// Twitter's and Jetstream's escaping of the same word differ.
	type bucket struct {
		plain bool
		block rune
	}
	vocab := map[bucket][][]byte{}
	seen := map[bucket]map[string]bool{}
	for _, t := range ts {
		for _, p := range t.parts {
			if p.kind != holeText {
				continue
			}
			for _, w := range splitWords(p.old) {
				k := bucket{t.plain, block(w.s)}
				if seen[k] == nil {
					seen[k] = map[string]bool{}
				}
				if w.word && !seen[k][w.s] {
					seen[k][w.s] = true
					vocab[k] = append(vocab[k], escaped(w.s, t.plain))
				}
			}
		}
	}
	for _, ws := range vocab {
		slices.SortFunc(ws, bytes.Compare) // map order must not change the output
	}
	for i := range g.templates {
		t := &g.templates[i]
		t.parts = slices.Clone(t.parts)
		for j := range t.parts {
			p := &t.parts[j]
			switch p.kind {
			case holeText:
				for _, w := range splitWords(p.old) {
					if w.word {
						p.pieces = append(p.pieces, span{kind: 'w', words: vocab[bucket{t.plain, block(w.s)}]})
					} else {
						p.pieces = append(p.pieces, span{kind: 's', raw: escaped(w.s, t.plain)})
					}
				}
			case holeToken:
				for _, d := range splitToken(p.old) {
					if d.word {
						p.pieces = append(p.pieces, span{kind: 'b', n: len(d.s)})
					} else {
						p.pieces = append(p.pieces, span{kind: 's', raw: escaped(d.s, t.plain)})
					}
				}
			case holeURL:
				for _, d := range splitDigits(p.old) {
					if d.word {
						p.pieces = append(p.pieces, span{kind: 'd', n: len(d.s)})
					} else {
						p.pieces = append(p.pieces, span{kind: 's', raw: escaped(d.s, t.plain)})
					}
				}
			}
		}
	}
	return g
}

// escaped is s as Twitter escaped it inside a JSON string, without quotes.
// plain: as encoding/json escapes it (Jetstream's events), UTF-8 as is.
func escaped(s string, plain bool) []byte {
	if plain {
		b := appendPlainString(nil, s)
		return b[1 : len(b)-1]
	}
	b := appendTwitterString(nil, s)
	return b[1 : len(b)-1]
}

// status returns the next status, with a new unique id, created at at, as
// one line without a terminator. The slice is reused by the next call.
func (g *generator) status(at time.Time) []byte {
	g.seq++
	t := &g.templates[g.rng.IntN(len(g.templates))]
	clear(g.ids)
	// A snowflake-shaped id: the time, then a sequence, so ids never repeat.
	const twepoch = 1288834974657
	id := strconv.FormatInt((at.UnixMilli()-twepoch)<<22|(g.seq&0x3fffff), 10)
	g.ids[t.topID] = id
	b := g.buf[:0]
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case static:
			b = append(b, p.raw...)
		case holeID:
			b = append(b, g.mapID(p.old)...)
		case holeIDStr:
			b = append(b, '"')
			b = append(b, g.mapID(p.old)...)
			b = append(b, '"')
		case holeTimeMs:
			b = append(b, '"')
			b = strconv.AppendInt(b, at.UnixMilli(), 10)
			b = append(b, '"')
		case holeCreated:
			b = append(b, '"')
			b = at.UTC().AppendFormat(b, time.RubyDate)
			b = append(b, '"')
		case holeText, holeURL, holeToken:
			b = g.appendPieces(b, p.pieces)
		case holeTimeUS:
			b = strconv.AppendInt(b, at.UnixMicro(), 10)
		case holeCreatedISO:
			b = append(b, '"')
			b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
			b = append(b, '"')
		case holeCount:
			b = g.appendDigits(b, len(p.old))
		}
	}
	g.buf = b
	return b
}

// mapID gives an id of the template a new value, the same for every
// occurrence in one status (id and id_str agree). Ids are 64-bit signed
// integers, so a 19-digit one (user ids since 2020) starts with 1 to 8:
// readers decode the number in "id" as an int64.
func (g *generator) mapID(old string) string {
	if n, ok := g.ids[old]; ok {
		return n
	}
	b := g.appendDigits(nil, len(old))
	if len(b) == 19 && b[0] == '9' {
		b[0] = byte('1' + g.rng.IntN(8))
	}
	n := string(b)
	g.ids[old] = n
	return n
}

// appendDigits appends a random number of n digits (no leading zero unless
// n is 1).
func (g *generator) appendDigits(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		d := g.rng.IntN(10)
		if i == 0 && n > 1 {
			d = 1 + g.rng.IntN(9)
		}
		b = append(b, byte('0'+d))
	}
	return b
}

// appendPieces appends a text or URL value as a JSON string: every word
// replaced by a random word of the templates written in the same script,
// every digit run by random digits; spaces, punctuation, emoji stay.
func (g *generator) appendPieces(b []byte, ps []span) []byte {
	b = append(b, '"')
	for i := range ps {
		switch p := &ps[i]; p.kind {
		case 'w':
			b = append(b, p.words[g.rng.IntN(len(p.words))]...)
		case 'd':
			for range p.n {
				b = append(b, byte('0'+g.rng.IntN(10)))
			}
		case 'b':
			const base32 = "234567abcdefghijklmnopqrstuvwxyz" // the alphabet of record keys and CIDs
			for range p.n {
				b = append(b, base32[g.rng.IntN(len(base32))])
			}
		default:
			b = append(b, p.raw...)
		}
	}
	return append(b, '"')
}

type piece struct {
	s    string
	word bool // a word (splitWords) or a digit run (splitDigits)
}

// splitDigits cuts s into runs of ASCII digits and runs of anything else.
func splitDigits(s string) []piece {
	var ps []piece
	start := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || isDigit(s[i]) != isDigit(s[start]) {
			ps = append(ps, piece{s[start:i], isDigit(s[start])})
			start = i
		}
	}
	return ps
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// splitToken cuts a Jetstream identifier into what stays (the did:plc:
// method, a CID's "bafyrei" prefix, an at:// URI's scheme, slashes and
// collection) and base32 runs to replace (the words).
func splitToken(s string) []piece {
	var ps []piece
	for i, seg := range strings.Split(s, "/") {
		if i > 0 {
			ps = append(ps, piece{"/", false})
		}
		switch {
		case seg == "":
		case seg == "at:" || strings.Contains(seg, "."):
			ps = append(ps, piece{seg, false}) // scheme, empty, a collection NSID
		case strings.HasPrefix(seg, "did:"):
			j := strings.LastIndexByte(seg, ':') + 1
			ps = append(ps, piece{seg[:j], false})
			if j < len(seg) {
				ps = append(ps, piece{seg[j:], true})
			}
		case strings.HasPrefix(seg, "bafyrei") && len(seg) > 7:
			ps = append(ps, piece{seg[:7], false}, piece{seg[7:], true})
		default:
			ps = append(ps, piece{seg, true})
		}
	}
	return ps
}

// splitWords cuts s into runs of letters (with their combining marks) and
// runs of anything else.
func splitWords(s string) []piece {
	var ps []piece
	start, inWord := 0, false
	for i, r := range s {
		w := unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
		if i > 0 && w != inWord {
			ps = append(ps, piece{s[start:i], inWord})
			start = i
		}
		inWord = w
	}
	if start < len(s) {
		ps = append(ps, piece{s[start:], inWord})
	}
	return ps
}

// block is the 128-rune Unicode block of a word's first rune: Latin,
// Arabic, Devanagari, kana and CJK words land in different buckets.
func block(w string) rune {
	r, _ := utf8.DecodeRuneInString(w)
	return r >> 7
}

// appendPlainString appends s as a JSON string with only what JSON
// requires escaped (quote, backslash, control characters): UTF-8 stays
// UTF-8, as in Jetstream's events.
func appendPlainString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendTwitterString appends s as a JSON string the way Twitter's stream
// wrote it: ASCII as is, except quote, backslash and control characters, "/"
// as "\/", "<", ">" and "&" as \u escapes, everything else as \uXXXX
// (surrogate pairs above the BMP).
func appendTwitterString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r == '<' || r == '>' || r == '&':
			b = u(b, r)
		case r < 0x80:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = u(b, 0xd800+(r>>10))
			b = u(b, 0xdc00+(r&0x3ff))
		default:
			b = u(b, r)
		}
	}
	return append(b, '"')
}

// genStats describes a generated file.
type genStats struct {
	Count     int     `json:"count"`
	Bytes     int64   `json:"bytes"`           // value bytes, without line terminators
	MeanBytes float64 `json:"mean_bytes"`      // per status
	P50Bytes  int     `json:"p50_bytes"`       // median status size
	P99Bytes  int     `json:"p99_bytes"`       // 99th percentile status size
	MaxBytes  int     `json:"max_bytes"`       // largest status
	Templates int     `json:"templates"`       // real statuses the sizes were drawn from
	ZstdRatio float64 `json:"zstd_ratio"`      // raw/compressed of the first 1000 lines, zstd default level
	Class     string  `json:"class,omitempty"` // size class (sizeclass.go); "": the templates as drawn
	Title     string  `json:"title,omitempty"` // the class for a reader
}

// generateFile writes n statuses, one a line, to out and, when keyed is not
// "", the same statuses as "id_str<TAB>status" lines for kcat -K '\t'.
func generateFile(templates []template, n int, seed uint64, out, keyed string) (genStats, error) {
	g := newGenerator(templates, seed)
	f, err := os.Create(out)
	if err != nil {
		return genStats{}, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var kw *bufio.Writer
	if keyed != "" {
		kf, err := os.Create(keyed)
		if err != nil {
			return genStats{}, err
		}
		defer kf.Close()
		kw = bufio.NewWriterSize(kf, 1<<20)
		defer kw.Flush()
	}
	sizes := make([]int, 0, n)
	var sample bytes.Buffer
	// Statuses a few milliseconds apart, like a sampled stream's.
	at := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
	st := genStats{Count: n, Templates: len(templates)}
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(1+g.rng.IntN(40)) * time.Millisecond)
		line := g.status(at)
		sizes = append(sizes, len(line))
		st.Bytes += int64(len(line))
		if i < 1000 {
			sample.Write(line)
			sample.WriteByte('\n')
		}
		w.Write(line)
		if err := w.WriteByte('\n'); err != nil {
			return genStats{}, fmt.Errorf("writing %s: %w", out, err)
		}
		if kw != nil {
			kw.WriteString(messageKey(line))
			kw.WriteByte('\t')
			kw.Write(line)
			if err := kw.WriteByte('\n'); err != nil {
				return genStats{}, fmt.Errorf("writing %s: %w", keyed, err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return genStats{}, fmt.Errorf("writing %s: %w", out, err)
	}
	if kw != nil {
		if err := kw.Flush(); err != nil {
			return genStats{}, fmt.Errorf("writing %s: %w", keyed, err)
		}
	}
	slices.Sort(sizes)
	st.MeanBytes = float64(st.Bytes) / float64(n)
	st.P50Bytes = sizes[n/2]
	st.P99Bytes = sizes[min(n-1, n*99/100)]
	st.MaxBytes = sizes[n-1]
	st.ZstdRatio = zstdRatio(sample.Bytes())
	return st, nil
}

// statusKey returns the top-level id_str of a status, the key the producer
// gives it, found without decoding the whole line: the top level's id_str is
// the one at nesting depth 1.
func statusKey(line []byte) string {
	depth, inStr, esc := 0, false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case esc:
			esc = false
		case inStr:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			if depth == 1 && bytes.HasPrefix(line[i:], []byte(`"id_str":"`)) {
				rest := line[i+len(`"id_str":"`):]
				if j := bytes.IndexByte(rest, '"'); j >= 0 {
					return string(rest[:j])
				}
			}
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return ""
}

// zstdRatio is how much zstd (default level, as kafka-go and librdkafka
// use it) shrinks b, one block as in a produce batch.
func zstdRatio(b []byte) float64 {
	enc, err := zstd.NewWriter(nil)
	if err != nil || len(b) == 0 {
		return 0
	}
	defer enc.Close()
	return float64(len(b)) / float64(len(enc.EncodeAll(b, nil)))
}
