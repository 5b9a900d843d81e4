package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// A size class is a family of payloads the benchmark generates, so that
// the cost per message shows apart from the cost per byte:
//
//   - "" (as drawn): the templates as they are (the shared captures are
//     4-5 KB statuses, the project's testdata 1.2-3 KB);
//   - v1.1-1k: v1.1 statuses of 700 to 1,600 bytes: the templates in that
//     band, and the templates with their user trimmed to its ids (the
//     stream's trim_user form), in that band;
//   - v1.1-5k: v1.1 statuses of 4,000 to 6,000 bytes: the templates in that
//     band, retweets (a status whose retweeted_status is another template)
//     and retweets of a quote, in that band;
//   - jetstream: Bluesky Jetstream commits that create or update a record
//     (posts, likes: what the producer's Jetstream source publishes on its
//     topic), from Jetstream templates, each with its DID, record key,
//     revision, CID, text, createdAt and time_us replaced.
//
// Every variant is built from the templates' own bytes, so a clone with
// only testdata/tweets/ makes the same classes as one with the shared
// captures, with fewer distinct shapes.
type sizeClass struct {
	name   string
	lo, hi int // template bytes, inclusive; 0, 0: any
	title  string
}

// sizeClasses are the classes bench gen -class accepts, in chart order.
func sizeClasses() []sizeClass {
	return []sizeClass{
		{name: "jetstream", title: "Jetstream commits"},
		{name: "v1.1-1k", lo: 700, hi: 1600, title: "v1.1 statuses, 1 KB class"},
		{name: "v1.1-5k", lo: 4000, hi: 6000, title: "v1.1 statuses, 5 KB class"},
	}
}

func lookupClass(name string) (sizeClass, error) {
	if name == "" {
		return sizeClass{title: "v1.1 statuses as drawn"}, nil
	}
	var names []string
	for _, c := range sizeClasses() {
		if c.name == name {
			return c, nil
		}
		names = append(names, c.name)
	}
	return sizeClass{}, fmt.Errorf("size class %q: accepts %s, or nothing for the templates as they are", name, strings.Join(names, ", "))
}

// maxVariants bounds the templates a class keeps: enough shapes for zstd to
// see variety, few enough that building them stays quick on large captures.
const maxVariants = 2000

// classTemplates builds the class's templates from the lines of a
// templates file: the variants whose size is in the class's band, each one
// parsed. A class with no variant in its band is an error that names the
// sizes it saw.
func classTemplates(lines [][]byte, c sizeClass) ([]template, error) {
	var variants [][]byte
	switch c.name {
	case "v1.1-1k":
		variants = append(variants, lines...)
		for _, l := range lines {
			if v, ok := trimUser(l); ok {
				variants = append(variants, v)
			}
		}
	case "v1.1-5k":
		variants = append(variants, lines...)
		variants = append(variants, retweets(lines, c)...)
	case "jetstream":
		for _, l := range lines {
			if isRecordCommit(l) {
				variants = append(variants, l)
			}
		}
	default:
		variants = lines
	}
	var ts []template
	minSize, maxSize := -1, 0
	for _, v := range variants {
		if minSize < 0 || len(v) < minSize {
			minSize = len(v)
		}
		maxSize = max(maxSize, len(v))
		if c.hi > 0 && (len(v) < c.lo || len(v) > c.hi) {
			continue
		}
		t, err := parseTemplate(v)
		if err != nil {
			return nil, fmt.Errorf("parsing a %s template: %w", c.name, err)
		}
		if t.topID == "" {
			continue // not a status or an event (a delete, a limit notice)
		}
		ts = append(ts, t)
		if len(ts) == maxVariants {
			break
		}
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("no %s template between %d and %d bytes (the variants were %d to %d bytes)", c.name, c.lo, c.hi, minSize, maxSize)
	}
	return ts, nil
}

// readLines returns the non-empty lines of a JSON Lines file.
func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the templates: %w", err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			lines = append(lines, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return lines, nil
}

// field is one top-level member of a JSON object, its value's bytes as
// they were.
type field struct {
	key string
	val json.RawMessage
}

// topFields splits a JSON object into its top-level members, in order.
func topFields(line []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var fs []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fs = append(fs, field{k, v})
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return fs, nil
}

// joinFields writes members back as one object.
func joinFields(fs []field) []byte {
	b := []byte{'{'}
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(f.key)
		b = append(b, k...)
		b = append(b, ':')
		b = append(b, f.val...)
	}
	return append(b, '}')
}

func member(fs []field, key string) (json.RawMessage, int) {
	for i, f := range fs {
		if f.key == key {
			return f.val, i
		}
	}
	return nil, -1
}

// trimUser is a status as the stream sends it with trim_user: its user
// object reduced to id and id_str, and no embedded retweeted or quoted
// status. ok is false for a line that is not a status with a user.
func trimUser(line []byte) ([]byte, bool) {
	fs, err := topFields(line)
	if err != nil {
		return nil, false
	}
	u, i := member(fs, "user")
	if i < 0 {
		return nil, false
	}
	var ids struct {
		ID    json.Number `json:"id"`
		IDStr string      `json:"id_str"`
	}
	if err := json.Unmarshal(u, &ids); err != nil || ids.ID == "" {
		return nil, false
	}
	idStr, _ := json.Marshal(ids.IDStr)
	fs[i].val = json.RawMessage(fmt.Sprintf(`{"id":%s,"id_str":%s}`, ids.ID, idStr))
	out := fs[:0:0]
	for _, f := range fs {
		if f.key != "retweeted_status" && f.key != "quoted_status" {
			out = append(out, f)
		}
	}
	return joinFields(out), true
}

// embed returns outer with inner as its member key (retweeted_status or
// quoted_status), placed after the user as the stream places it; ok is
// false when either is not a status with a user.
func embed(outer, inner []byte, key string) ([]byte, bool) {
	fs, err := topFields(outer)
	if err != nil {
		return nil, false
	}
	_, ui := member(fs, "user")
	if ui < 0 || !bytes.Contains(inner, []byte(`"user":`)) {
		return nil, false
	}
	if _, i := member(fs, key); i >= 0 {
		return nil, false // already one
	}
	out := append([]field{}, fs[:ui+1]...)
	out = append(out, field{key, inner})
	out = append(out, fs[ui+1:]...)
	if key == "quoted_status" {
		if _, qi := member(out, "is_quote_status"); qi >= 0 {
			out[qi].val = json.RawMessage("true")
		}
	}
	return joinFields(out), true
}

// retweets builds retweets of one template by another, and retweets of a
// quote of a third, in a fixed order, until maxVariants of them fall in
// the class's band. A pair whose sizes add up to outside the band is not
// built: embedding adds only the member's name.
func retweets(lines [][]byte, c sizeClass) [][]byte {
	var out [][]byte
	const slack = 64 // `,"retweeted_status":`, `,"quoted_status":`, "true" for "false"
	near := func(n int) bool { return n+slack >= c.lo && n <= c.hi }
	in := func(v []byte) bool { return len(v) >= c.lo && len(v) <= c.hi }
	n := len(lines)
	for step := 1; step < n && len(out) < maxVariants; step++ {
		for i := 0; i < n && len(out) < maxVariants; i++ {
			a, b := lines[i], lines[(i+step)%n]
			if near(len(a) + len(b)) {
				if rt, ok := embed(a, b, "retweeted_status"); ok && in(rt) {
					out = append(out, rt)
				}
			}
			if q := lines[(i+step+1)%n]; step+1 < n && near(len(a)+len(b)+len(q)) {
				if quote, ok := embed(b, q, "quoted_status"); ok {
					if rt, ok := embed(a, quote, "retweeted_status"); ok && in(rt) {
						out = append(out, rt)
					}
				}
			}
		}
	}
	return out
}

// messageKey is the key the producer gives a generated line: a status's
// id_str, or a Jetstream event's at://<did>/<collection>/<rkey> URI (its
// DID for identity and account events).
func messageKey(line []byte) string {
	if k := statusKey(line); k != "" {
		return k
	}
	var e struct {
		DID    string `json:"did"`
		Commit *struct {
			Collection string `json:"collection"`
			RKey       string `json:"rkey"`
		} `json:"commit"`
	}
	if json.Unmarshal(line, &e) != nil {
		return ""
	}
	if e.Commit != nil && e.Commit.Collection != "" {
		return "at://" + e.DID + "/" + e.Commit.Collection + "/" + e.Commit.RKey
	}
	return e.DID
}
