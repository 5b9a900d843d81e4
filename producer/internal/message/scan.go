package message

import "bytes"

// scan reads a line as fastjson's parser reads it, in one pass and without
// building its values: it follows the parser's grammar (the same
// whitespace, strings found by their closing quote, numbers as any run of
// digits, '.', '-', '+', 'e' and 'E', true, false and null), and keeps,
// of the top-level object's keys, the first value of each key Classify
// reads. fastjson copies the line, and builds a value for every string,
// number, array and object in it: most of a status is the nested user and
// entities, which Classify never reads.
//
// ok is true only when fastjson accepts the line as an object and reads
// from it what scan read: scan gives up (ok false) on anything it does not
// follow itself, and Classify then asks fastjson. It gives up on a line
// fastjson would refuse; on nesting deeper than scanMaxDepth (fastjson
// allows 300); on NaN and Inf, which fastjson reads as numbers; on a
// top-level key with a backslash (fastjson unescapes keys); and on a string
// Classify reads (id_str, timestamp_ms, created_at) with a backslash.
func scan(raw []byte) (scanned, bool) {
	s := scanner{b: raw}
	i := skipWS(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return s.f, false
	}
	i, ok := s.object(i+1, 1, true)
	if !ok {
		return s.f, false
	}
	return s.f, skipWS(raw, i) == len(raw)
}

// scanMaxDepth bounds scan's nesting (its recursion); fastjson's parser
// reads deeper lines, which scan leaves to it.
const scanMaxDepth = 64

// scanned is what scan kept of the top-level keys Classify reads.
type scanned struct {
	user, text, fullText, idStr, id, timestampMs, createdAt field
	control                                                 bool // a key of a control message is there (kindAndKey's)
}

// field is one top-level value: its kind and, for a string, its bytes
// between the quotes (no backslash in them when Classify reads them), for a
// number, its text.
type field struct {
	kind byte // 0: absent; '"': string; '0': number; 'o': anything else
	raw  []byte
}

func (f field) present() bool { return f.kind != 0 }

// str is a string's bytes (as fastjson's GetStringBytes gives them: no
// backslash in them), nil for any other kind.
func (f field) str() []byte {
	if f.kind != '"' {
		return nil
	}
	return f.raw
}

// idStrSet: id_str is a string that is not empty.
func (f *scanned) idStrSet() bool { return f.idStr.kind == '"' && len(f.idStr.raw) > 0 }

// isStatus is topLevel.isStatus on what scan kept.
func (f *scanned) isStatus() bool {
	if !f.user.present() || (!f.text.present() && !f.fullText.present()) {
		return false
	}
	if !f.idStrSet() && f.id.kind != '0' {
		return false
	}
	return !f.control
}

type scanner struct {
	b []byte
	f scanned
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// object reads an object's members after its '{'; top: keep the keys.
func (s *scanner) object(i, depth int, top bool) (int, bool) {
	b := s.b
	i = skipWS(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		i = skipWS(b, i)
		if i == len(b) || b[i] != '"' {
			return i, false
		}
		start := i + 1
		end, ok := s.str(start)
		if !ok || (top && bytes.IndexByte(b[start:end], '\\') >= 0) {
			return i, false
		}
		i = skipWS(b, end+1)
		if i == len(b) || b[i] != ':' {
			return i, false
		}
		i = skipWS(b, i+1)
		vstart := i
		var kind byte
		if i, kind, ok = s.value(i, depth); !ok {
			return i, false
		}
		if top && !s.keep(b[start:end], kind, b[vstart:i]) {
			return i, false
		}
		i = skipWS(b, i)
		if i == len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// keep notes a top-level member; false gives up (a string whose bytes
// Classify reads has a backslash: fastjson would unescape it).
func (s *scanner) keep(key []byte, kind byte, v []byte) bool {
	f := &s.f
	var p *field
	switch string(key) {
	case "user":
		p = &f.user
	case "text":
		p = &f.text
	case "full_text":
		p = &f.fullText
	case "id_str":
		p = &f.idStr
	case "id":
		p = &f.id
	case "timestamp_ms":
		p = &f.timestampMs
	case "created_at":
		p = &f.createdAt
	case "delete", "scrub_geo", "limit", "status_withheld", "user_withheld", "disconnect", "warning", "friends", "event", "direct_message":
		f.control = true
		return true
	default:
		return true
	}
	if p.present() {
		return true // fastjson's Object.Get finds the first
	}
	p.kind, p.raw = kind, v
	if kind == '"' {
		p.raw = v[1 : len(v)-1]
		if p == &f.idStr || p == &f.timestampMs || p == &f.createdAt {
			return bytes.IndexByte(p.raw, '\\') < 0
		}
	}
	return true
}

// value reads the value at i (no whitespace before it) and its kind.
func (s *scanner) value(i, depth int) (int, byte, bool) {
	b := s.b
	if i == len(b) || depth >= scanMaxDepth {
		return i, 0, false
	}
	switch c := b[i]; c {
	case '{':
		i, ok := s.object(i+1, depth+1, false)
		return i, 'o', ok
	case '[':
		i, ok := s.array(i+1, depth+1)
		return i, 'o', ok
	case '"':
		end, ok := s.str(i + 1)
		return end + 1, '"', ok
	case 't':
		return word(b, i, "true")
	case 'f':
		return word(b, i, "false")
	case 'n':
		return word(b, i, "null") // not NaN: fastjson's, left to it
	default:
		// fastjson's parseRawNumber: a run of these characters. A sign
		// alone is Inf, NaN or an error to fastjson: left to it.
		j := i
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == '-' || b[j] == 'e' || b[j] == 'E' || b[j] == '+') {
			j++
		}
		if j == i || (j == i+1 && (c == '-' || c == '+')) {
			return j, 0, false
		}
		return j, '0', true
	}
}

func word(b []byte, i int, w string) (int, byte, bool) {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return i, 0, false
	}
	return i + len(w), 'o', true
}

// array reads an array's elements after its '['.
func (s *scanner) array(i, depth int) (int, bool) {
	b := s.b
	i = skipWS(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		i = skipWS(b, i)
		var ok bool
		if i, _, ok = s.value(i, depth); !ok {
			return i, false
		}
		i = skipWS(b, i)
		if i == len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// str finds the closing quote of the string whose bytes begin at i, as
// fastjson's parseRawString does: the first quote after an even run of
// backslashes (none, mostly).
func (s *scanner) str(i int) (end int, ok bool) {
	b := s.b
	start := i
	for {
		n := bytes.IndexByte(b[i:], '"')
		if n < 0 {
			return len(b), false
		}
		q := i + n
		k := q
		for k > start && b[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q, true
		}
		i = q + 1
	}
}
