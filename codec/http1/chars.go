package http1

import "encoding/binary"

// Byte-class tables. They are filled once at package initialisation and only
// read afterwards; a table lookup per byte is the cheapest way to validate the
// grammar of RFC 9110 §5.6 on the hot path.
var (
	// tokenTab marks tchar (RFC 9110 §5.6.2): field names, methods, codings.
	tokenTab [256]bool
	// valueTab marks bytes allowed in a field value: field-vchar (VCHAR and
	// obs-text), SP and HTAB. Every other CTL, DEL, CR and LF are excluded, so
	// a scan stops at the end of the line.
	valueTab [256]bool
	// targetTab marks bytes allowed in a request-target: VCHAR except '#'
	// (a fragment is never sent on the wire).
	targetTab [256]bool
	// regNameTab marks the bytes accepted in a host name: RFC 3986 unreserved.
	regNameTab [256]bool
	// hexVal maps a hex digit to its value and every other byte to 0xff.
	hexVal [256]byte
	// lowerTab maps ASCII upper-case letters to lower case.
	lowerTab [256]byte
)

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		lowerTab[c] = b
		if 'A' <= b && b <= 'Z' {
			lowerTab[c] = b + ('a' - 'A')
		}
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		switch {
		case alnum:
			tokenTab[c] = true
		case b == '!' || b == '#' || b == '$' || b == '%' || b == '&' || b == '\'' ||
			b == '*' || b == '+' || b == '-' || b == '.' || b == '^' || b == '_' ||
			b == '`' || b == '|' || b == '~':
			tokenTab[c] = true
		}
		valueTab[c] = b == '\t' || b == ' ' || (b > ' ' && b != 0x7f)
		targetTab[c] = b > ' ' && b < 0x7f && b != '#'
		regNameTab[c] = alnum || b == '-' || b == '.' || b == '_' || b == '~'
		hexVal[c] = 0xff
		switch {
		case '0' <= b && b <= '9':
			hexVal[c] = b - '0'
		case 'a' <= b && b <= 'f':
			hexVal[c] = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			hexVal[c] = b - 'A' + 10
		}
	}
}

// equalFold reports whether b equals s ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b[i] != s[i] && lowerTab[b[i]] != lowerTab[s[i]] {
			return false
		}
	}
	return true
}

// equalFoldLower is equalFold for a lower-case s, the common case of a known
// field name.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		if lowerTab[b[i]] != lower[i] {
			return false
		}
	}
	return true
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenTab[c] {
			return false
		}
	}
	return true
}

func isTokenString(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTab[s[i]] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS returns the bounds of b[start:end] without leading and trailing
// SP/HTAB.
func trimOWS(b []byte, start, end int) (int, int) {
	for start < end && isOWS(b[start]) {
		start++
	}
	for end > start && isOWS(b[end-1]) {
		end--
	}
	return start, end
}

// listContainsToken reports whether the comma-separated list v contains tok
// (lower case) as an element, ignoring ASCII case and OWS around elements.
func listContainsToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		s, e := trimOWS(v, 0, i)
		if equalFoldLower(v[s:e], tok) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// Word-at-a-time scanning. The classic bit tricks below flag a byte of x that
// is below n (for n <= 0x80) or zero; a word without flags certainly has no
// such byte, and a flagged word is rescanned a byte at a time, so false
// positives cost time, never correctness.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func hasLess(x uint64, n byte) uint64 { return (x - ones*uint64(n)) & ^x & highs }

func hasZero(x uint64) uint64 { return (x - ones) & ^x & highs }

// skipValue returns the index of the first byte at or after i that is not
// allowed in a field value (a CTL other than HTAB, DEL), or len(d).
func skipValue(d []byte, i int) int {
	for i+8 <= len(d) {
		x := binary.LittleEndian.Uint64(d[i:])
		if hasLess(x, 0x20)|hasZero(x^(ones*0x7f)) != 0 {
			break
		}
		i += 8
	}
	for i < len(d) && valueTab[d[i]] {
		i++
	}
	return i
}

// skipTarget returns the index of the first byte at or after i that is not
// allowed in a request-target, or len(d).
func skipTarget(d []byte, i int) int {
	for i+8 <= len(d) {
		x := binary.LittleEndian.Uint64(d[i:])
		if hasLess(x, 0x21)|hasZero(x^(ones*0x7f))|hasZero(x^(ones*'#'))|x&highs != 0 {
			break
		}
		i += 8
	}
	for i < len(d) && targetTab[d[i]] {
		i++
	}
	return i
}
