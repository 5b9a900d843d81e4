package message

import (
	"encoding/binary"
	"math/bits"
)

// Valid reports what json.Valid reports (RFC 8259 JSON, strings not
// checked for UTF-8, at most 10,000 objects and arrays one inside
// another), two to three times as fast: it reads each string a run of
// plain bytes at a time instead of calling a state function for each
// byte. FuzzValid holds it to json.Valid.
func Valid(b []byte) bool {
	i, ok := validValue(b, skipSpace(b, 0), 0)
	return ok && skipSpace(b, i) == len(b)
}

// ValidValue returns the index after the valid JSON value that starts at
// b[i] (no space before it) and true, or false: Valid's check of one value,
// for a reader that walks the rest of b itself and checks it as it goes.
// depth is the number of objects and arrays the value is in (0 at the top);
// the value itself, and those in it, count against encoding/json's limit of
// 10,000 as well.
func ValidValue(b []byte, i, depth int) (int, bool) { return validValue(b, i, depth) }

// ValidString returns the index after the valid JSON string that starts at
// b[i] (its opening quote) and true, or false.
func ValidString(b []byte, i int) (int, bool) { return validString(b, i) }

// maxDepth is encoding/json's maxNestingDepth.
const maxDepth = 10000

// validValue returns the index after the valid value at b[i] and true, or
// false. depth counts the objects and arrays it is in.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		// An object is an array whose elements are members: a string key,
		// a colon, then the value.
		if depth++; depth > maxDepth {
			return i, false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				if i, ok = validString(b, i); !ok {
					return i, false
				}
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipSpace(b, i+1)
			}
			if i, ok = validValue(b, i, depth); !ok {
				return i, false
			}
			if i = skipSpace(b, i); i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case closing:
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		return validString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return validNumber(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	}
	return i, false
}

// validString returns the index after the valid string at b[i] (a quote).
// It passes over eight plain bytes at a time (plainRun).
func validString(b []byte, i int) (int, bool) {
	for i++; i < len(b); {
		i += plainRun(b[i:])
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c != '\\':
			i++
			continue
		}
		if i+1 >= len(b) {
			return i, false
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) {
				return i, false
			}
			for _, h := range b[i+2 : i+6] {
				if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
					return i, false
				}
			}
			i += 6
		default:
			return i, false
		}
	}
	return i, false
}

// validNumber returns the index after the valid number at b[i]: -?, 0 or
// a digit 1 to 9 and more digits, then maybe a fraction, then maybe an
// exponent.
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return j, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

// digits returns the index after the run of decimal digits at b[i].
func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func validLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}

// plainRun returns how many bytes at the start of b are plain string bytes
// (not a quote, a backslash or a control byte below 0x20), reading eight at
// a time: with the "haszero" and "hasless" tests of Bit Twiddling Hacks,
// (x - 0x0101...) & ^x & 0x8080... is non-zero when some byte of x is zero
// (of w ^ 0x2222..., a quote), and (w - 0x2020...) & ^w & 0x8080... when
// some byte of w is below 0x20. The lowest bit set marks the first such
// byte (a borrow can only set bits above it). It may stop short of the
// run's end in the last seven bytes of b; validString reads those one at a
// time. FuzzValid holds validString to json.Valid.
func plainRun(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := 0
	for len(b)-n >= 8 {
		w := binary.LittleEndian.Uint64(b[n:])
		q := w ^ (ones * '"')
		s := w ^ (ones * '\\')
		m := ((q - ones) &^ q) | ((s - ones) &^ s) | ((w - ones*0x20) &^ w)
		if m &= highs; m != 0 {
			return n + bits.TrailingZeros64(m)/8
		}
		n += 8
	}
	return n
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
