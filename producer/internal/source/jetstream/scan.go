package jetstream

import "bytes"

// scan fills f from raw, a valid JSON object (json.Valid), without
// allocating, and reports whether it could: it gives up (false, f in any
// state) on whatever encoding/json might read otherwise than as written,
// and fields.read then decodes raw with it. It reads the event's did,
// kind, time_us and commit, and the commit's rev, operation, collection,
// rkey, cid and record (kept as its bytes), and it gives up when one of
// those keys comes twice or in another case (encoding/json matches keys
// without regard to case and keeps the last), when a key there holds an
// escape or a byte outside ASCII, when one of the strings holds an escape
// or a byte outside ASCII (encoding/json replaces invalid UTF-8), when
// time_us is not an integer of at most 18 digits, or when a value has
// another type than encoding/json can store (null leaves the field as it
// is, as encoding/json does).
func (f *fields) scan(raw []byte) bool {
	names := []string{"did", "time_us", "kind", "commit"}
	return scanKnown(raw, skipSpace(raw, 0), names, func(i int, v []byte) bool {
		var ok bool
		switch i {
		case 0:
			f.did, ok = plainString(v, f.did)
		case 1:
			f.timeUS, ok = integer(v, f.timeUS)
		case 2:
			f.kind, ok = plainString(v, f.kind)
		case 3:
			ok = f.scanCommit(v)
		}
		return ok
	})
}

// scanCommit reads the commit object v (null: no commit).
func (f *fields) scanCommit(v []byte) bool {
	if string(v) == "null" {
		return true
	}
	if v[0] != '{' {
		return false
	}
	f.commit = true
	names := []string{"rev", "operation", "collection", "rkey", "cid", "record"}
	return scanKnown(v, 0, names, func(i int, v []byte) bool {
		var ok bool
		switch i {
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
				ok = true
			case v[0] == '{':
				f.record, ok = v, true
			}
		}
		return ok
	})
}

// scanKnown calls field with the index in names of each key of the
// object at b[i] (scanObject) that is one of them, and its value, until
// field returns false; it skips the other keys, and gives up (false) on a
// key that matchKey gives up on or one of the names that comes twice.
// There are at most 64 names.
func scanKnown(b []byte, i int, names []string, field func(i int, v []byte) bool) bool {
	var seen uint64 // bit i: names[i] came
	return scanObject(b, i, func(key []byte, v []byte) bool {
		i := matchKey(key, names...)
		switch {
		case i == unknownKey:
			return true
		case i < 0 || seen&(1<<i) != 0:
			return false
		}
		seen |= 1 << i
		return field(i, v)
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

// scanObject calls field with each key (the bytes between its quotes) and
// value (its bytes) of the object that starts at b[i], a valid JSON
// value, until field returns false; it reports whether b[i] starts an
// object and field never returned false.
func scanObject(b []byte, i int, field func(key, v []byte) bool) bool {
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return true
	}
	for {
		end := skipString(b, i)
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // the colon
		end = skipValue(b, i)
		if !field(key, b[i:end]) {
			return false
		}
		i = skipSpace(b, end)
		if b[i] == '}' {
			return true
		}
		i = skipSpace(b, i+1) // the comma
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index after the valid JSON value that starts at
// b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}
