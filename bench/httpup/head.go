package main

import (
	"bytes"
	"errors"
)

// maxHead is the largest request head (request line, header fields and the
// empty line) the server accepts, in bytes. Larger heads are answered with
// 431 and the connection is closed.
const maxHead = 8 << 10

var (
	// errIncomplete means the buffer does not hold a whole request head yet.
	errIncomplete = errors.New("incomplete request head")
	// errHeadTooLarge means the head is longer than maxHead.
	errHeadTooLarge = errors.New("request head too large")
	// errBadRequest means the head is not a valid HTTP/1.x request head.
	errBadRequest = errors.New("malformed request head")
)

// reqHead is the part of a request head the server acts on. Its byte
// slices point into the buffer given to parseHead.
type reqHead struct {
	// Method is the request method, for example "GET".
	Method []byte
	// Path is the request target's path: the query is cut off, and an
	// absolute-form target ("http://host/p") is reduced to its path.
	Path []byte
	// Len is the length of the head in bytes, the final empty line and any
	// empty lines before the request line included.
	Len int
	// BodyLen is the Content-Length of the request, 0 without one.
	BodyLen int64
	// Chunked is true when the request has a Transfer-Encoding. The server
	// does not decode chunked bodies: it answers 501 and closes.
	Chunked bool
	// Close is true when the connection ends after this request: the client
	// sent "Connection: close", or it spoke HTTP/1.0 without
	// "Connection: keep-alive".
	Close bool
}

// parseHead parses the request head at the start of b. It returns
// errIncomplete when b holds only the start of a head, errHeadTooLarge when
// the head is over maxHead bytes, and errBadRequest for anything that is not
// a valid HTTP/1.0 or HTTP/1.1 request head.
func parseHead(b []byte) (reqHead, error) {
	var h reqHead
	// RFC 9112 section 2.2: a server should ignore empty lines received
	// before the request line (some clients send a CRLF after a body).
	skip := 0
	for len(b)-skip >= 2 && b[skip] == '\r' && b[skip+1] == '\n' {
		skip += 2
	}
	if skip > maxHead {
		return h, errHeadTooLarge
	}
	b = b[skip:]
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if skip+len(b) > maxHead {
			return h, errHeadTooLarge
		}
		if len(b) == 1 && b[0] == '\r' {
			// The start of another empty line.
			return h, errIncomplete
		}
		// Reject garbage early rather than waiting for maxHead bytes of it.
		if i := bytes.IndexByte(b, '\n'); i >= 0 && (i == 0 || b[i-1] != '\r') {
			return h, errBadRequest
		}
		return h, errIncomplete
	}
	h.Len = skip + end + 4
	if h.Len > maxHead {
		return h, errHeadTooLarge
	}
	head := b[:end+2] // every line, the last one included, ends with CRLF

	i := bytes.Index(head, []byte("\r\n"))
	var http10 bool
	var err error
	h.Method, h.Path, http10, err = parseRequestLine(head[:i])
	if err != nil {
		return h, err
	}
	keepAlive := false
	haveLen := false
	for rest := head[i+2:]; len(rest) > 0; {
		j := bytes.Index(rest, []byte("\r\n"))
		line := rest[:j]
		rest = rest[j+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			// Also rejects obsolete line folding (a line starting with
			// whitespace), as RFC 9112 section 5.2 allows.
			return h, errBadRequest
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validValue(value) {
			return h, errBadRequest
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok || (haveLen && n != h.BodyLen) {
				return h, errBadRequest
			}
			h.BodyLen, haveLen = n, true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.Chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for _, opt := range bytes.Split(value, []byte(",")) {
				opt = trimOWS(opt)
				if bytes.EqualFold(opt, []byte("close")) {
					h.Close = true
				} else if bytes.EqualFold(opt, []byte("keep-alive")) {
					keepAlive = true
				}
			}
		}
	}
	if h.Chunked && haveLen {
		// RFC 9112 section 6.1: a request with both may be a smuggling
		// attempt; a server ought to treat it as an error.
		return h, errBadRequest
	}
	if http10 && !keepAlive {
		h.Close = true
	}
	return h, nil
}

// parseRequestLine splits "METHOD SP target SP HTTP/1.x".
func parseRequestLine(line []byte) (method, path []byte, http10 bool, err error) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, nil, false, errBadRequest
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return nil, nil, false, errBadRequest
	}
	sp2 += sp1 + 1
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !isToken(method) {
		return nil, nil, false, errBadRequest
	}
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return nil, nil, false, errBadRequest
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return nil, nil, false, errBadRequest
		}
	}
	path = target
	if target[0] != '/' {
		// absolute-form: scheme "://" authority path; or "*" (OPTIONS).
		k := bytes.Index(target, []byte("://"))
		switch {
		case string(target) == "*":
		case k > 0:
			rest := target[k+3:]
			if s := bytes.IndexByte(rest, '/'); s >= 0 {
				path = rest[s:]
			} else {
				path = []byte("/")
			}
		default:
			return nil, nil, false, errBadRequest
		}
	}
	if q := bytes.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	return method, path, http10, nil
}

// parseLength parses a Content-Length value: decimal digits only, at most
// 18 of them so that the value fits an int64.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// validValue reports whether a field value holds no control characters
// other than horizontal tab (RFC 9110 section 5.5).
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
