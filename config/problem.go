package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one error or warning about a config, located by its JSON path
// and, when known, by its position in the source file.
type Problem struct {
	// Path is the JSON path, e.g. "servers[0].listeners[1].address".
	Path string
	// Line and Col are 1-based; 0 means unknown. Col counts characters
	// (Unicode code points), not bytes.
	Line, Col int
	File      string
	Msg       string
}

// String renders "path (file:line:col): msg", leaving out the parts that
// are empty.
func (p Problem) String() string {
	var loc string
	switch {
	case p.Line > 0 && p.File != "":
		loc = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.Line > 0:
		loc = fmt.Sprintf("%d:%d", p.Line, p.Col)
	default:
		loc = p.File
	}
	switch {
	case p.Path != "" && loc != "":
		return p.Path + " (" + loc + "): " + p.Msg
	case p.Path != "":
		return p.Path + ": " + p.Msg
	case loc != "":
		return loc + ": " + p.Msg
	}
	return p.Msg
}

// Problems is a list of config errors; as an error it prints one problem
// per line.
type Problems []Problem

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Err returns ps as an error, or a nil error when there are no problems
// (so that callers avoid the non-nil interface holding an empty list).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// SyntaxError is a malformed config file. Line and Col are 1-based; Col
// counts characters.
type SyntaxError struct {
	File      string
	Line, Col int
	Msg       string
}

// Error renders "file:line:col: msg".
func (e *SyntaxError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Key is a map key as a Path part. It renders as ".key" when it is made of
// letters, digits, '_' and '-', and as `["key"]` otherwise, so that keys
// such as "mosn.lb" stay readable and unambiguous.
type Key string

// Path renders a JSON path such as "servers[0].listeners[1].name" from
// mixed parts: strings are field names (or already-rendered paths) joined
// with dots, integers are array indexes, and Key values are map keys.
// Empty strings are skipped.
func Path(parts ...any) string {
	var b strings.Builder
	for _, part := range parts {
		switch p := part.(type) {
		case string:
			appendName(&b, p)
		case Key:
			if plainKey(string(p)) {
				appendName(&b, string(p))
			} else {
				b.WriteByte('[')
				b.WriteString(strconv.Quote(string(p)))
				b.WriteByte(']')
			}
		case int:
			appendIndex(&b, int64(p))
		case int64:
			appendIndex(&b, p)
		case int32:
			appendIndex(&b, int64(p))
		case uint:
			appendIndex(&b, int64(p))
		case uint32:
			appendIndex(&b, int64(p))
		case uint64:
			b.WriteString("[" + strconv.FormatUint(p, 10) + "]")
		default:
			appendName(&b, fmt.Sprint(p))
		}
	}
	return b.String()
}

func appendName(b *strings.Builder, name string) {
	if name == "" {
		return
	}
	if b.Len() > 0 && name[0] != '[' {
		b.WriteByte('.')
	}
	b.WriteString(name)
}

func appendIndex(b *strings.Builder, i int64) {
	b.WriteByte('[')
	b.WriteString(strconv.FormatInt(i, 10))
	b.WriteByte(']')
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parentPath drops the last segment of a path rendered by Path, or returns
// "" when there is none. A quoted key holding '.' or '[' may be cut in the
// middle; callers only use the result to look up known paths, and keep
// trimming when it is not one.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
