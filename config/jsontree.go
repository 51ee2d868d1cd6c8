package config

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The config reader accepts what people write by hand: JSON plus // and
// /* */ comments and trailing commas in objects and arrays. Everything else
// is strict RFC 8259 JSON (valid UTF-8, no single quotes, no bare words, no
// leading zeros). It builds a tree that remembers where each value starts,
// so that type errors and validation can point at line:column.

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 1000

// position is a 1-based line and column (in characters).
type position struct{ line, col int }

// node is one JSON value.
type node struct {
	kind nodeKind
	pos  position
	// str is the decoded string, or the number's literal text.
	str     string
	boolean bool
	items   []*node
	members []member
}

// member is one key/value pair of an object, in source order.
type member struct {
	key    string
	keyPos position
	value  *node
}

// jsonReader parses one document.
type jsonReader struct {
	data []byte
	file string
	off  int
	// line is the current line; lineStart is the offset where it begins.
	line      int
	lineStart int
	// colOff/col cache the last column computed on the current line, so
	// that long single-line documents stay linear.
	colOff, col int
	depth       int
}

// parseTree reads a whole document. The error is a *SyntaxError.
func parseTree(data []byte, file string) (*node, error) {
	r := &jsonReader{data: data, file: file, line: 1, col: 1}
	// A UTF-8 byte order mark, as some Windows editors write, is skipped.
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		r.off, r.lineStart, r.colOff = 3, 3, 3
	}
	if err := r.skipSpace(); err != nil {
		return nil, err
	}
	if r.off >= len(r.data) {
		return nil, r.errAt(r.pos(), "empty document: expected a JSON object")
	}
	n, err := r.value()
	if err != nil {
		return nil, err
	}
	if err := r.skipSpace(); err != nil {
		return nil, err
	}
	if r.off < len(r.data) {
		return nil, r.errAt(r.pos(), fmt.Sprintf("unexpected %s after the top-level value", r.describe()))
	}
	return n, nil
}

// pos returns the position of r.off, which must be on the current line.
func (r *jsonReader) pos() position {
	if r.colOff < r.lineStart || r.colOff > r.off {
		r.colOff, r.col = r.lineStart, 1
	}
	r.col += utf8.RuneCount(r.data[r.colOff:r.off])
	r.colOff = r.off
	return position{r.line, r.col}
}

func (r *jsonReader) errAt(p position, msg string) error {
	return &SyntaxError{File: r.file, Line: p.line, Col: p.col, Msg: msg}
}

// describe names what is at r.off for error messages.
func (r *jsonReader) describe() string {
	if r.off >= len(r.data) {
		return "end of input"
	}
	c, size := utf8.DecodeRune(r.data[r.off:])
	if c == utf8.RuneError && size == 1 {
		return fmt.Sprintf("byte 0x%02x (invalid UTF-8)", r.data[r.off])
	}
	if c < 0x20 || c == 0x7f {
		return fmt.Sprintf("control character %U", c)
	}
	return strconv.QuoteRune(c)
}

// skipSpace skips whitespace and comments.
func (r *jsonReader) skipSpace() error {
	for r.off < len(r.data) {
		switch r.data[r.off] {
		case ' ', '\t', '\r':
			r.off++
		case '\n':
			r.off++
			r.line++
			r.lineStart = r.off
		case '/':
			if err := r.skipComment(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

func (r *jsonReader) skipComment() error {
	start := r.pos()
	if r.off+1 >= len(r.data) || (r.data[r.off+1] != '/' && r.data[r.off+1] != '*') {
		return r.errAt(start, "unexpected '/' (comments start with // or /*)")
	}
	if r.data[r.off+1] == '/' {
		for r.off < len(r.data) && r.data[r.off] != '\n' {
			r.off++
		}
		return nil
	}
	r.off += 2
	for r.off < len(r.data) {
		switch r.data[r.off] {
		case '\n':
			r.off++
			r.line++
			r.lineStart = r.off
		case '*':
			if r.off+1 < len(r.data) && r.data[r.off+1] == '/' {
				r.off += 2
				return nil
			}
			r.off++
		default:
			r.off++
		}
	}
	return r.errAt(start, "unterminated /* comment")
}

// value parses one value; r.off is at its first byte.
func (r *jsonReader) value() (*node, error) {
	p := r.pos()
	if r.off >= len(r.data) {
		return nil, r.errAt(p, "unexpected end of input, expected a value")
	}
	switch c := r.data[r.off]; {
	case c == '{':
		return r.object(p)
	case c == '[':
		return r.array(p)
	case c == '"':
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: kindString, pos: p, str: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		lit, err := r.number()
		if err != nil {
			return nil, err
		}
		return &node{kind: kindNumber, pos: p, str: lit}, nil
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
		end := r.off
		for end < len(r.data) && isWordByte(r.data[end]) {
			end++
		}
		word := string(r.data[r.off:end])
		switch word {
		case "true", "false":
			r.off = end
			return &node{kind: kindBool, pos: p, boolean: word == "true"}, nil
		case "null":
			r.off = end
			return &node{kind: kindNull, pos: p}, nil
		}
		return nil, r.errAt(p, fmt.Sprintf("unexpected word %q, expected a value (strings need double quotes)", word))
	case c == '\'':
		return nil, r.errAt(p, "unexpected \"'\", strings need double quotes")
	default:
		return nil, r.errAt(p, fmt.Sprintf("unexpected %s, expected a value", r.describe()))
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (r *jsonReader) enter(p position) error {
	r.depth++
	if r.depth > maxDepth {
		return r.errAt(p, fmt.Sprintf("nesting deeper than %d levels", maxDepth))
	}
	return nil
}

func (r *jsonReader) object(open position) (*node, error) {
	if err := r.enter(open); err != nil {
		return nil, err
	}
	r.off++ // '{'
	n := &node{kind: kindObject, pos: open}
	for {
		if err := r.skipSpace(); err != nil {
			return nil, err
		}
		if r.off >= len(r.data) {
			return nil, r.errAt(r.pos(), fmt.Sprintf("unexpected end of input: object opened at %d:%d is not closed", open.line, open.col))
		}
		if r.data[r.off] == '}' {
			r.off++
			r.depth--
			return n, nil
		}
		if r.data[r.off] != '"' {
			return nil, r.errAt(r.pos(), fmt.Sprintf("unexpected %s, expected a string key or '}'", r.describe()))
		}
		keyPos := r.pos()
		key, err := r.str()
		if err != nil {
			return nil, err
		}
		if err := r.skipSpace(); err != nil {
			return nil, err
		}
		if r.off >= len(r.data) || r.data[r.off] != ':' {
			return nil, r.errAt(r.pos(), "expected ':' after object key")
		}
		r.off++
		if err := r.skipSpace(); err != nil {
			return nil, err
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, keyPos: keyPos, value: v})
		if err := r.skipSpace(); err != nil {
			return nil, err
		}
		if r.off < len(r.data) && r.data[r.off] == ',' {
			r.off++
			continue
		}
		if r.off < len(r.data) && r.data[r.off] == '}' {
			continue
		}
		if r.off >= len(r.data) {
			return nil, r.errAt(r.pos(), fmt.Sprintf("unexpected end of input: object opened at %d:%d is not closed", open.line, open.col))
		}
		return nil, r.errAt(r.pos(), "expected ',' or '}' after object value")
	}
}

func (r *jsonReader) array(open position) (*node, error) {
	if err := r.enter(open); err != nil {
		return nil, err
	}
	r.off++ // '['
	n := &node{kind: kindArray, pos: open}
	for {
		if err := r.skipSpace(); err != nil {
			return nil, err
		}
		if r.off >= len(r.data) {
			return nil, r.errAt(r.pos(), fmt.Sprintf("unexpected end of input: array opened at %d:%d is not closed", open.line, open.col))
		}
		if r.data[r.off] == ']' {
			r.off++
			r.depth--
			return n, nil
		}
		if r.data[r.off] == ',' {
			return nil, r.errAt(r.pos(), "unexpected ',', expected a value or ']'")
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		if err := r.skipSpace(); err != nil {
			return nil, err
		}
		if r.off < len(r.data) && r.data[r.off] == ',' {
			r.off++
			continue
		}
		if r.off < len(r.data) && r.data[r.off] == ']' {
			continue
		}
		if r.off >= len(r.data) {
			return nil, r.errAt(r.pos(), fmt.Sprintf("unexpected end of input: array opened at %d:%d is not closed", open.line, open.col))
		}
		return nil, r.errAt(r.pos(), "expected ',' or ']' after array element")
	}
}

// str parses a string literal at r.off and returns its decoded value.
func (r *jsonReader) str() (string, error) {
	open := r.pos()
	r.off++ // opening quote
	start := r.off
	// Fast path: no escapes.
	for r.off < len(r.data) {
		c := r.data[r.off]
		if c == '"' {
			s := string(r.data[start:r.off])
			r.off++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		r.off++
	}
	buf := make([]byte, 0, r.off-start+16)
	buf = append(buf, r.data[start:r.off]...)
	for {
		if r.off >= len(r.data) {
			return "", r.errAt(open, "unterminated string")
		}
		c := r.data[r.off]
		switch {
		case c == '"':
			r.off++
			return string(buf), nil
		case c < 0x20:
			if c == '\n' {
				return "", r.errAt(open, "unterminated string (strings cannot span lines; use \\n)")
			}
			return "", r.errAt(r.pos(), fmt.Sprintf("control character %U in string (escape it)", rune(c)))
		case c >= utf8.RuneSelf:
			ru, size := utf8.DecodeRune(r.data[r.off:])
			if ru == utf8.RuneError && size == 1 {
				return "", r.errAt(r.pos(), "invalid UTF-8 in string")
			}
			buf = append(buf, r.data[r.off:r.off+size]...)
			r.off += size
		case c == '\\':
			var err error
			buf, err = r.escape(buf)
			if err != nil {
				return "", err
			}
		default:
			buf = append(buf, c)
			r.off++
		}
	}
}

// escape decodes one escape sequence at r.off (the backslash).
func (r *jsonReader) escape(buf []byte) ([]byte, error) {
	p := r.pos()
	if r.off+1 >= len(r.data) {
		return nil, r.errAt(p, "unterminated string")
	}
	c := r.data[r.off+1]
	r.off += 2
	switch c {
	case '"', '\\', '/':
		return append(buf, c), nil
	case 'b':
		return append(buf, '\b'), nil
	case 'f':
		return append(buf, '\f'), nil
	case 'n':
		return append(buf, '\n'), nil
	case 'r':
		return append(buf, '\r'), nil
	case 't':
		return append(buf, '\t'), nil
	case 'u':
		ru, ok := r.hex4()
		if !ok {
			return nil, r.errAt(p, `invalid \u escape (want four hex digits)`)
		}
		if utf16.IsSurrogate(ru) {
			// A valid pair joins; a lone surrogate becomes U+FFFD, as
			// encoding/json does.
			if r.off+1 < len(r.data) && r.data[r.off] == '\\' && r.data[r.off+1] == 'u' {
				save := r.off
				r.off += 2
				lo, ok := r.hex4()
				if ok {
					if dec := utf16.DecodeRune(ru, lo); dec != utf8.RuneError {
						return utf8.AppendRune(buf, dec), nil
					}
				}
				r.off = save
			}
			ru = utf8.RuneError
		}
		return utf8.AppendRune(buf, ru), nil
	}
	if c > ' ' && c < utf8.RuneSelf {
		return nil, r.errAt(p, fmt.Sprintf(`invalid escape "\%c" in string (valid: \" \\ \/ \b \f \n \r \t \uXXXX)`, c))
	}
	r.off--
	return nil, r.errAt(p, fmt.Sprintf("invalid escape: backslash followed by %s", r.describe()))
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.off+4 > len(r.data) {
		return 0, false
	}
	var v rune
	for _, c := range r.data[r.off : r.off+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			v |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	r.off += 4
	return v, true
}

// number scans a number literal with JSON's grammar and returns its text.
func (r *jsonReader) number() (string, error) {
	p := r.pos()
	start := r.off
	d := r.data
	i := r.off
	bad := func() (string, error) {
		end := i
		for end < len(d) && (isWordByte(d[end]) || d[end] == '.' || d[end] == '+' || d[end] == '-') {
			end++
		}
		return "", r.errAt(p, fmt.Sprintf("invalid number %q", d[start:end]))
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
		if i < len(d) && d[i] >= '0' && d[i] <= '9' {
			return bad() // leading zero
		}
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return bad()
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return bad()
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return bad()
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && isWordByte(d[i]) {
		return bad()
	}
	r.off = i
	return string(d[start:i]), nil
}

// appendJSON writes n as compact strict JSON. Strings are re-escaped from
// their decoded value, so equal trees always give equal bytes; numbers keep
// their literal text.
func appendJSON(b []byte, n *node) []byte {
	switch n.kind {
	case kindNull:
		return append(b, "null"...)
	case kindBool:
		if n.boolean {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case kindNumber:
		return append(b, n.str...)
	case kindString:
		return appendQuoted(b, n.str)
	case kindArray:
		b = append(b, '[')
		for i, it := range n.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, it)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i, m := range n.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, m.key)
			b = append(b, ':')
			b = appendJSON(b, m.value)
		}
		return append(b, '}')
	}
}

const hexDigits = "0123456789abcdef"

// appendQuoted writes s (valid UTF-8) as a JSON string, escaping only what
// JSON requires.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
