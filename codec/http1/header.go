package http1

// span locates bytes in a Header's buffer. uint32 keeps a field at 16 bytes.
type span struct{ off, n uint32 }

type field struct{ name, value span }

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

// Request-target forms.
const (
	FormOrigin    TargetForm = iota // "/path?query"
	FormAbsolute                    // "http://host:port/path?query" (to a proxy)
	FormAuthority                   // "host:port" (CONNECT)
	FormAsterisk                    // "*" (server-wide OPTIONS)
)

// Header is a request or response head: the start line and the field lines,
// stored as offsets into one buffer the Header owns. A Parser copies the raw
// head into that buffer once, so the caller's read buffer can be reused as
// soon as Parse returns.
//
// Byte slices returned by the accessors alias the buffer: they stay valid and
// unchanged until the next Parse into this Header or Reset, and their capacity
// is clipped so that appending to them never writes into the Header.
// Mutations only ever append to the buffer, so slices obtained before a
// mutation keep their content.
//
// Field names keep the case they were received or set with; lookups ignore
// ASCII case. Values have leading and trailing SP/HTAB removed.
//
// The zero Header is an empty HTTP/1.1 head ready for Set* and Add.
type Header struct {
	buf    []byte
	fields []field

	method    span
	target    span
	path      span
	query     span
	authority span
	reason    span

	status   uint16
	http10   bool
	hasQuery bool
	form     TargetForm
}

func (h *Header) bytes(s span) []byte {
	end := s.off + s.n
	return h.buf[s.off:end:end]
}

// Reset empties h for reuse, keeping its buffers.
func (h *Header) Reset() {
	buf, fields := h.buf[:0], h.fields[:0]
	*h = Header{buf: buf, fields: fields}
}

// CopyTo makes dst an independent copy of h, reusing dst's buffers.
func (h *Header) CopyTo(dst *Header) {
	buf := append(dst.buf[:0], h.buf...)
	fields := append(dst.fields[:0], h.fields...)
	*dst = *h
	dst.buf, dst.fields = buf, fields
}

// Method returns the request method (case-sensitive, as received).
func (h *Header) Method() []byte { return h.bytes(h.method) }

// Target returns the request-target as received: path and query for origin
// form, the whole URI for absolute form, host:port for authority form, "*".
func (h *Header) Target() []byte { return h.bytes(h.target) }

// Form returns the form of the request-target.
func (h *Header) Form() TargetForm { return h.form }

// Path returns the path of the request-target without the query: for
// absolute form the part after the authority, which is empty for a URI such
// as "http://example.com" (meaning "/"); "*" for asterisk form; empty for
// authority form. Percent-encoding is left as received.
func (h *Header) Path() []byte { return h.bytes(h.path) }

// Query returns the query of the request-target without the '?', or nil if
// the target has no '?'.
func (h *Header) Query() []byte {
	if !h.hasQuery {
		return nil
	}
	return h.bytes(h.query)
}

// Authority returns host[:port] of an absolute-form or authority-form
// target, or nil for the other forms.
func (h *Header) Authority() []byte {
	if h.form != FormAbsolute && h.form != FormAuthority {
		return nil
	}
	return h.bytes(h.authority)
}

// Host returns the authority the request is for: the target's authority when
// it has one (RFC 9112 §3.2.2 says it replaces the Host field), otherwise the
// first Host value. ok is false when there is neither.
func (h *Header) Host() (host []byte, ok bool) {
	if a := h.Authority(); a != nil {
		return a, true
	}
	return h.Get("Host")
}

// Proto returns "HTTP/1.1" or "HTTP/1.0".
func (h *Header) Proto() string {
	if h.http10 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// ProtoMinor returns the minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
func (h *Header) ProtoMinor() int {
	if h.http10 {
		return 0
	}
	return 1
}

// Status returns the status code of a response head (0 for a request).
func (h *Header) Status() int { return int(h.status) }

// Reason returns the reason phrase of a response head.
func (h *Header) Reason() []byte { return h.bytes(h.reason) }

// Len returns the number of field lines.
func (h *Header) Len() int { return len(h.fields) }

// Field returns the name and value of the i-th field line, 0 <= i < Len().
func (h *Header) Field(i int) (name, value []byte) {
	f := &h.fields[i]
	return h.bytes(f.name), h.bytes(f.value)
}

func (h *Header) nameIs(f *field, name string) bool {
	if int(f.name.n) != len(name) {
		return false
	}
	b := h.buf[f.name.off : f.name.off+f.name.n]
	for i := 0; i < len(name); i++ {
		if b[i] != name[i] && lowerTab[b[i]] != lowerTab[name[i]] {
			return false
		}
	}
	return true
}

// Get returns the value of the first field named name (ASCII
// case-insensitive). Values of repeated fields are not combined.
func (h *Header) Get(name string) (value []byte, ok bool) {
	for i := range h.fields {
		f := &h.fields[i]
		if h.nameIs(f, name) {
			return h.bytes(f.value), true
		}
	}
	return nil, false
}

// Has reports whether a field named name is present.
func (h *Header) Has(name string) bool {
	_, ok := h.Get(name)
	return ok
}

// Values calls fn with each value of the fields named name, in order, until
// fn returns false.
func (h *Header) Values(name string, fn func(value []byte) bool) {
	for i := range h.fields {
		f := &h.fields[i]
		if h.nameIs(f, name) && !fn(h.bytes(f.value)) {
			return
		}
	}
}

// Range calls fn with each field line in order until fn returns false.
func (h *Header) Range(fn func(name, value []byte) bool) {
	for i := range h.fields {
		f := &h.fields[i]
		if !fn(h.bytes(f.name), h.bytes(f.value)) {
			return
		}
	}
}

func validValueString(v string) bool {
	for i := 0; i < len(v); i++ {
		if !valueTab[v[i]] {
			return false
		}
	}
	return true
}

func trimOWSString(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func (h *Header) appendString(s string) span {
	off := len(h.buf)
	h.buf = append(h.buf, s...)
	return span{uint32(off), uint32(len(s))}
}

// Add appends a field line. The value loses leading and trailing SP/HTAB. It
// returns ErrInvalidArgument, and changes nothing, if name is not a token or
// value holds a CTL other than HTAB (which could inject a line).
func (h *Header) Add(name, value string) error {
	if !isTokenString(name) || !validValueString(value) {
		return ErrInvalidArgument
	}
	value = trimOWSString(value)
	n := h.appendString(name)
	v := h.appendString(value)
	h.fields = append(h.fields, field{n, v})
	return nil
}

// Set replaces the value of the first field named name and removes the
// others, or adds the field if there is none. Errors are those of Add.
func (h *Header) Set(name, value string) error {
	if !isTokenString(name) || !validValueString(value) {
		return ErrInvalidArgument
	}
	value = trimOWSString(value)
	for i := range h.fields {
		if h.nameIs(&h.fields[i], name) {
			h.fields[i].value = h.appendString(value)
			h.delFrom(i+1, name)
			return nil
		}
	}
	n := h.appendString(name)
	v := h.appendString(value)
	h.fields = append(h.fields, field{n, v})
	return nil
}

// Del removes every field named name.
func (h *Header) Del(name string) { h.delFrom(0, name) }

func (h *Header) delFrom(start int, name string) {
	j := start
	for i := start; i < len(h.fields); i++ {
		if h.nameIs(&h.fields[i], name) {
			continue
		}
		h.fields[j] = h.fields[i]
		j++
	}
	h.fields = h.fields[:j]
}

// SetMethod sets the request method; it must be a token.
func (h *Header) SetMethod(method string) error {
	if !isTokenString(method) {
		return ErrInvalidArgument
	}
	h.method = h.appendString(method)
	return nil
}

// SetTarget sets the request-target, in any of the four forms, and updates
// Path, Query and Authority. It does not check that the form fits the method.
func (h *Header) SetTarget(target string) error {
	for i := 0; i < len(target); i++ {
		if !targetTab[target[i]] {
			return ErrInvalidArgument
		}
	}
	base := len(h.buf)
	h.buf = append(h.buf, target...)
	if !h.setTargetAt(base, len(target)) {
		h.buf = h.buf[:base]
		return ErrInvalidArgument
	}
	return nil
}

// setTargetAt classifies the target stored at buf[off:off+n] and records its
// parts. It reports false if the target is malformed.
func (h *Header) setTargetAt(off, n int) bool {
	ti, ok := parseTarget(h.buf[off : off+n])
	if !ok {
		return false
	}
	h.target = span{uint32(off), uint32(n)}
	h.form = ti.form
	h.path = span{uint32(off + ti.pathOff), uint32(ti.pathLen)}
	h.query = span{uint32(off + ti.queryOff), uint32(ti.queryLen)}
	h.hasQuery = ti.hasQuery
	h.authority = span{uint32(off + ti.authOff), uint32(ti.authLen)}
	return true
}

// SetProto sets the version: minor 1 for HTTP/1.1, 0 for HTTP/1.0.
func (h *Header) SetProto(minor int) error {
	switch minor {
	case 0:
		h.http10 = true
	case 1:
		h.http10 = false
	default:
		return ErrInvalidArgument
	}
	return nil
}

// SetStatus sets the status code (100..599) and reason phrase of a response.
// An empty reason is replaced by the standard phrase of the code, if any.
func (h *Header) SetStatus(code int, reason string) error {
	if code < 100 || code > 599 || !validValueString(reason) {
		return ErrInvalidArgument
	}
	if reason == "" {
		reason = StatusText(code)
	}
	h.status = uint16(code)
	h.reason = h.appendString(reason)
	return nil
}

// AppendFields appends the field lines as "Name: value\r\n" each, without
// the terminating empty line.
func (h *Header) AppendFields(dst []byte) []byte {
	for i := range h.fields {
		f := &h.fields[i]
		dst = append(dst, h.buf[f.name.off:f.name.off+f.name.n]...)
		dst = append(dst, ':', ' ')
		dst = append(dst, h.buf[f.value.off:f.value.off+f.value.n]...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// AppendRequest appends the head as a request: the request line, the field
// lines in canonical "Name: value\r\n" form and the empty line.
func (h *Header) AppendRequest(dst []byte) []byte {
	dst = append(dst, h.Method()...)
	dst = append(dst, ' ')
	dst = append(dst, h.Target()...)
	dst = append(dst, ' ')
	dst = append(dst, h.Proto()...)
	dst = append(dst, '\r', '\n')
	dst = h.AppendFields(dst)
	return append(dst, '\r', '\n')
}

// AppendResponse appends the head as a response: the status line (with the
// SP before the reason even when the reason is empty, as RFC 9112 §4 asks),
// the field lines and the empty line.
func (h *Header) AppendResponse(dst []byte) []byte {
	dst = append(dst, h.Proto()...)
	dst = append(dst, ' ')
	s := h.status
	dst = append(dst, byte('0'+s/100%10), byte('0'+s/10%10), byte('0'+s%10), ' ')
	dst = append(dst, h.Reason()...)
	dst = append(dst, '\r', '\n')
	dst = h.AppendFields(dst)
	return append(dst, '\r', '\n')
}

// StatusText returns the standard reason phrase of code, or "" if there is
// none.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-Authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable Content"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// String returns the head as it would be serialised, for debugging. A head
// with a status is shown as a response.
func (h *Header) String() string {
	if h.status != 0 {
		return string(h.AppendResponse(nil))
	}
	return string(h.AppendRequest(nil))
}
