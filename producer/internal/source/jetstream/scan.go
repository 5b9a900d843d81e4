package jetstream

import (
	"bytes"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
)

// scan fills f from raw without allocating, and reports whether raw is valid
// JSON (what json.Valid accepts) and scan could read it: it checks the event
// as it reads it, in one pass (its own checks of the event's and the
// commit's braces, keys, colons and commas, message.ValidValue for every
// value in them but the commit), and it gives up (false, f in any state) on
// whatever encoding/json might read otherwise than as written, and
// fields.read then decodes raw with it. It reads the event's did, kind,
// time_us and commit, and the commit's rev, operation, collection, rkey, cid
// and record (kept as its bytes), and it gives up when one of those keys
// comes twice or in another case (encoding/json matches keys without regard
// to case and keeps the last), when a key there holds an escape or a byte
// outside ASCII, when one of the strings holds an escape or a byte outside
// ASCII (encoding/json replaces invalid UTF-8), when time_us is not an
// integer of at most 18 digits, or when a value has another type than
// encoding/json can store (null leaves the field as it is, as encoding/json
// does).
func (f *fields) scan(raw []byte) bool {
	names := []string{"did", "time_us", "kind", "commit"}
	end, ok := scanKnown(raw, skipSpace(raw, 0), 1, names, func(n, i int) (int, bool) {
		if n == 3 {
			return f.scanCommit(raw, i)
		}
		end, ok := message.ValidValue(raw, i, 1)
		if !ok {
			return end, false
		}
		v := raw[i:end]
		switch n {
		case 0:
			f.did, ok = plainString(v, f.did)
		case 1:
			f.timeUS, ok = integer(v, f.timeUS)
		case 2:
			f.kind, ok = plainString(v, f.kind)
		}
		return end, ok
	})
	return ok && skipSpace(raw, end) == len(raw)
}

// scanCommit reads the commit at b[i] (null: no commit) and returns the
// index after it.
func (f *fields) scanCommit(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == 'n' {
		return message.ValidValue(b, i, 1) // null, or not JSON
	}
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	f.commit = true
	names := []string{"rev", "operation", "collection", "rkey", "cid", "record"}
	return scanKnown(b, i, 2, names, func(n, i int) (int, bool) {
		end, ok := message.ValidValue(b, i, 2)
		if !ok {
			return end, false
		}
		v := b[i:end]
		switch n {
		case 0:
			f.rev, ok = plainString(v, f.rev)
		case 1:
			f.operation, ok = plainString(v, f.operation)
		case 2:
			f.collection, ok = plainString(v, f.collection)
		case 3:
			f.rkey, ok = plainString(v, f.rkey)
		case 4:
			f.cid, ok = plainString(v, f.cid)
		case 5:
			switch {
			case string(v) == "null":
			case v[0] == '{':
				f.record = v
			default:
				ok = false
			}
		}
		return end, ok
	})
}

// scanKnown reads the object at b[i] (scanObject), which is depth objects
// and arrays deep (itself counted), and returns the index after it. It
// calls field with the index in names of each key that is one of them and
// the index of its value, and field returns the index after the value;
// it checks the other keys' values (message.ValidValue) and passes over
// them. It gives up (false) when field does, on a key that matchKey gives
// up on, and on one of the names that comes twice. There are at most 64
// names.
func scanKnown(b []byte, i, depth int, names []string, field func(n, i int) (int, bool)) (int, bool) {
	var seen uint64 // bit n: names[n] came
	return scanObject(b, i, func(key []byte, i int) (int, bool) {
		n := matchKey(key, names...)
		switch {
		case n == unknownKey:
			return message.ValidValue(b, i, depth)
		case n < 0 || seen&(1<<n) != 0:
			return i, false
		}
		seen |= 1 << n
		return field(n, i)
	})
}

// unknownKey is matchKey's answer for a key that is none of the names.
const unknownKey = -2

// matchKey returns the index of the name key is, unknownKey when it is
// none of them even without regard to case, and -1 when scan must give up:
// the key holds an escape or a byte outside ASCII, or matches a name only
// without regard to case.
func matchKey(key []byte, names ...string) int {
	if !isPlain(key) {
		return -1
	}
	for i, n := range names {
		if string(key) == n {
			return i
		}
		if bytes.EqualFold(key, []byte(n)) {
			return -1
		}
	}
	return unknownKey
}

// isPlain reports whether s, the bytes between a string's quotes, are
// printable ASCII without an escape: what the string decodes to.
func isPlain(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// plainString returns the string v holds when it is plain (isPlain), old
// for null, and false for any other value.
func plainString(v, old []byte) ([]byte, bool) {
	if string(v) == "null" {
		return old, true
	}
	if v[0] != '"' {
		return old, false
	}
	s := v[1 : len(v)-1]
	return s, isPlain(s)
}

// integer returns the integer v holds when it has at most 18 digits (no
// fraction, no exponent), old for null, and false for any other value.
func integer(v []byte, old int64) (int64, bool) {
	if string(v) == "null" {
		return old, true
	}
	digits, neg := v, false
	if len(digits) > 0 && digits[0] == '-' {
		digits, neg = digits[1:], true
	}
	if len(digits) == 0 || len(digits) > 18 {
		return old, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return old, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// scanObject reads the object that starts at b[i] and returns the index
// after it, checking its braces, keys, colons and commas as json.Valid
// does: member is called with each key (the bytes between its quotes, a
// valid string) and the index of its value, and returns the index after
// the value, or false, which scanObject then returns.
func scanObject(b []byte, i int, member func(key []byte, i int) (int, bool)) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		end, ok := message.ValidString(b, i)
		if !ok {
			return end, false
		}
		key := b[i+1 : end-1]
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return i, false
		}
		if i, ok = member(key, skipSpace(b, i+1)); !ok {
			return i, false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
