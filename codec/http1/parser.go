package http1

// Limits bound what a Parser and a BodyReader accept. A zero field means the
// default stated on it.
type Limits struct {
	// MaxHeaderBytes bounds the head: start line, field lines and the empty
	// line, in bytes. Default 8192. Exceeding it is ErrHeaderTooLarge (431).
	MaxHeaderBytes int
	// MaxHeaders bounds the number of field lines of a head or a trailer
	// section. Default 100. Exceeding it is ErrTooManyHeaders (431) or
	// ErrTrailerTooLarge.
	MaxHeaders int
	// MaxChunkLineBytes bounds a chunk-size line with its extensions and
	// CRLF, in bytes. Default 1024.
	MaxChunkLineBytes int
	// MaxTrailerBytes bounds the trailer section after the last chunk,
	// including its final empty line, in bytes. Default 4096.
	MaxTrailerBytes int
	// MaxChunkOverhead bounds chunked framing that carries little data: each
	// chunk adds the length of its size line plus 2 and subtracts 16 plus twice
	// its size, the running sum never going below 0; a body whose sum exceeds
	// MaxChunkOverhead bytes is ErrChunkOverhead. Default 16384, net/http's
	// rule, which allows one-byte chunks but not long extensions on them.
	MaxChunkOverhead int
}

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 8192
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = 100
	}
	if l.MaxChunkLineBytes <= 0 {
		l.MaxChunkLineBytes = 1024
	}
	if l.MaxTrailerBytes <= 0 {
		l.MaxTrailerBytes = 4096
	}
	if l.MaxChunkOverhead <= 0 {
		l.MaxChunkOverhead = 16384
	}
	return l
}

// BodyKind is how the body of a message is delimited (RFC 9112 §6.3).
type BodyKind uint8

// Body kinds.
const (
	// BodyNone: no body bytes follow the head.
	BodyNone BodyKind = iota
	// BodyLength: Framing.Length bytes follow (Content-Length, > 0).
	BodyLength
	// BodyChunked: the chunked transfer coding follows.
	BodyChunked
	// BodyUntilClose: the body runs until the server closes the connection
	// (responses only).
	BodyUntilClose
)

func (k BodyKind) String() string {
	switch k {
	case BodyNone:
		return "none"
	case BodyLength:
		return "length"
	case BodyChunked:
		return "chunked"
	case BodyUntilClose:
		return "until-close"
	}
	return "invalid"
}

// Framing describes the body that follows a head.
type Framing struct {
	Kind BodyKind
	// Length is the body length in bytes for BodyLength, 0 otherwise.
	Length int64
}

// Scanner phases; each names the part of the head the scan resumes in.
const (
	phStart uint8 = iota
	phReqTarget
	phVersion
	phStatusCode
	phReason
	phLineCR
	phFieldStart
	phFieldName
	phFieldOWS
	phFieldValue
	phDone
)

// Parser reads HTTP/1 heads, requests or responses depending on how it was
// made. It does no I/O: the caller passes the bytes it has read. A Parser is
// reused for every message of a connection and allocates nothing once its
// buffers have grown to the size of the heads it sees (validating a bracketed
// IPv6 host is the one exception). It is not safe for concurrent use.
type Parser struct {
	limits   Limits
	response bool
	trailer  bool // parses a trailer section: field lines only
	reqHEAD  bool
	reqCONN  bool

	hdr Header

	// Resumable scan state, offsets into the data passed to Parse.
	phase   uint8
	first   bool // the next field line is the first one
	cur     int  // where scanning resumes
	lineOff int  // start of the current line
	mark    int  // start of the current element (target, version, name end...)
	vstart  int  // start of the current field value

	// Facts collected from fields while scanning.
	hostCount  int
	clSpan     span
	cl         int64
	hasCL      bool
	teLines    int
	teElems    int
	teChunked  int
	teOther    int
	teEmpty    bool
	teLastCh   bool
	connClose  bool
	connKeep   bool
	connUpg    bool
	upgrade    span
	hasUpgrade bool
	expect100  bool

	// Results of a complete head.
	framing   Framing
	keepAlive bool
	tunnel    bool
	upgTok    span
	hasUpgTok bool
}

// NewRequestParser returns a Parser that reads request heads.
func NewRequestParser(l Limits) *Parser {
	p := &Parser{limits: l.withDefaults()}
	p.Reset()
	return p
}

// NewResponseParser returns a Parser that reads response heads. Call
// SetRequestMethod before each response whose request was HEAD or CONNECT.
func NewResponseParser(l Limits) *Parser {
	p := &Parser{limits: l.withDefaults(), response: true}
	p.Reset()
	return p
}

// SetRequestMethod tells a response parser the method of the request the
// next responses answer: after HEAD no response has a body; after CONNECT a
// 2xx response starts a tunnel. It stays in force until called again, so that
// it also covers the final response after 1xx ones.
func (p *Parser) SetRequestMethod(method []byte) {
	p.reqHEAD = string(method) == "HEAD"
	p.reqCONN = string(method) == "CONNECT"
}

// Reset abandons any partial head; the next Parse starts a new message. The
// Header is emptied.
func (p *Parser) Reset() {
	p.hdr.Reset()
	p.resetScan()
}

func (p *Parser) resetScan() {
	p.phase = phStart
	p.first = true
	p.cur, p.lineOff, p.mark, p.vstart = 0, 0, 0, 0
	p.hostCount = 0
	p.clSpan, p.cl, p.hasCL = span{}, 0, false
	p.teLines, p.teElems, p.teChunked, p.teOther = 0, 0, 0, 0
	p.teEmpty, p.teLastCh = false, false
	p.connClose, p.connKeep, p.connUpg = false, false, false
	p.upgrade, p.hasUpgrade, p.expect100 = span{}, false, false
	p.framing, p.keepAlive, p.tunnel = Framing{}, false, false
	p.upgTok, p.hasUpgTok = span{}, false
}

// Header returns the head filled by the last successful Parse. It is
// overwritten by the next Parse; use CopyTo to keep it longer.
func (p *Parser) Header() *Header { return &p.hdr }

// Framing returns how the body after the last parsed head is delimited.
func (p *Parser) Framing() Framing { return p.framing }

// ContentLength returns the Content-Length of the last parsed head, or -1 if
// it had none.
func (p *Parser) ContentLength() int64 {
	if !p.hasCL {
		return -1
	}
	return p.cl
}

// KeepAlive reports whether the connection may carry another message after
// this one: for HTTP/1.1 unless Connection has "close", for HTTP/1.0 only if
// Connection has "keep-alive" and not "close". A response framed until close
// or starting a tunnel is never keep-alive.
func (p *Parser) KeepAlive() bool { return p.keepAlive }

// ExpectContinue reports whether an HTTP/1.1 request carries
// "Expect: 100-continue" (ignored in HTTP/1.0, RFC 9110 §10.1.1).
func (p *Parser) ExpectContinue() bool { return p.expect100 }

// Upgrade returns the first protocol of the Upgrade field when the message
// asks to switch protocols: an HTTP/1.1 request with Upgrade and a
// Connection field listing "upgrade", or a 101 response with Upgrade. It
// returns nil otherwise. The slice aliases the Header.
func (p *Parser) Upgrade() []byte {
	if !p.hasUpgTok {
		return nil
	}
	return p.hdr.bytes(p.upgTok)
}

// Tunnel reports whether, after this response, the connection carries opaque
// bytes: a 101 response or a 2xx response to CONNECT.
func (p *Parser) Tunnel() bool { return p.tunnel }

// Parse reads one head from data, which starts at the first byte of the
// message. It returns ErrNeedMore (with n == 0) until data holds the whole
// head; the caller then calls again with the same bytes and more appended
// (the bytes may have moved). Work done on the earlier bytes is not
// repeated, so feeding a head in small pieces costs the same as feeding it
// at once.
//
// On success it fills Header, Framing and the flags, and returns n, the
// length of the head: the body or the next pipelined message starts at
// data[n]. The next call starts a new message. Any other error is an *Error
// sentinel; the message is invalid and the connection should be closed
// after answering StatusOf(err) to a request.
func (p *Parser) Parse(data []byte) (n int, err error) {
	if p.phase == phDone {
		p.hdr.Reset()
		p.resetScan()
	}
	n, err = p.scan(data)
	if err != nil {
		if err != ErrNeedMore {
			p.hdr.Reset()
			p.resetScan()
		}
		return 0, err
	}
	return n, nil
}

// scan runs the resumable state machine over data[:min(len, MaxHeaderBytes)].
func (p *Parser) scan(data []byte) (int, error) {
	d := data
	if len(d) > p.limits.MaxHeaderBytes {
		d = d[:p.limits.MaxHeaderBytes]
	}
	i := p.cur
	for {
		switch p.phase {
		case phStart:
			if p.trailer {
				p.lineOff = i
				p.phase = phFieldStart
				continue
			}
			if p.response {
				// The version is scanned by phVersion, up to the SP.
				p.mark = 0
				p.phase = phVersion
				continue
			}
			// Method.
			for i < len(d) && tokenTab[d[i]] {
				i++
			}
			if i == len(d) {
				goto needMore
			}
			if d[i] != ' ' || i == 0 {
				if i == 0 {
					switch d[0] {
					case '\r', '\n', ' ', '\t':
						return 0, ErrLeadingWhitespace
					}
				}
				if d[i] == '\r' || d[i] == '\n' {
					return 0, ErrBadRequestLine
				}
				return 0, ErrBadMethod
			}
			p.hdr.method = span{0, uint32(i)}
			i++
			p.mark = i
			p.phase = phReqTarget

		case phReqTarget:
			i = skipTarget(d, i)
			if i == len(d) {
				goto needMore
			}
			if d[i] != ' ' {
				if d[i] == '\r' || d[i] == '\n' {
					return 0, ErrBadRequestLine
				}
				return 0, ErrBadTarget
			}
			if i == p.mark {
				return 0, ErrBadRequestLine
			}
			if err := p.checkTarget(d, p.mark, i); err != nil {
				return 0, err
			}
			i++
			p.mark = i
			p.phase = phVersion

		case phVersion:
			// Request version: up to CR. Response version: up to SP.
			for i < len(d) && d[i] != '\r' && d[i] != '\n' && d[i] != ' ' {
				i++
				if i-p.mark > 8 {
					return 0, p.versionError()
				}
			}
			if i == len(d) {
				goto needMore
			}
			if p.response {
				if d[i] != ' ' {
					return 0, ErrBadStatusLine
				}
			} else if d[i] == ' ' {
				return 0, ErrBadRequestLine
			}
			if err := p.setVersion(d[p.mark:i]); err != nil {
				return 0, err
			}
			if p.response {
				i++
				p.mark = i
				p.phase = phStatusCode
			} else {
				p.phase = phLineCR
			}

		case phStatusCode:
			for i < len(d) && i-p.mark < 3 && '0' <= d[i] && d[i] <= '9' {
				i++
			}
			if i-p.mark < 3 {
				if i == len(d) {
					goto needMore
				}
				return 0, ErrBadStatusLine
			}
			if i == len(d) {
				goto needMore
			}
			code := int(d[p.mark]-'0')*100 + int(d[p.mark+1]-'0')*10 + int(d[p.mark+2]-'0')
			if code < 100 || code > 599 {
				return 0, ErrBadStatusLine
			}
			p.hdr.status = uint16(code)
			switch d[i] {
			case ' ':
				i++
				p.mark = i
				p.phase = phReason
			case '\r', '\n':
				// A missing SP and reason is tolerated: servers omit them.
				p.hdr.reason = span{uint32(i), 0}
				p.phase = phLineCR
			default:
				return 0, ErrBadStatusLine
			}

		case phReason:
			i = skipValue(d, i)
			if i == len(d) {
				goto needMore
			}
			if d[i] != '\r' && d[i] != '\n' {
				return 0, ErrBadStatusLine
			}
			p.hdr.reason = span{uint32(p.mark), uint32(i - p.mark)}
			p.phase = phLineCR

		case phLineCR:
			if i == len(d) {
				goto needMore
			}
			if d[i] == '\n' {
				return 0, ErrBareLF
			}
			if i+1 == len(d) {
				goto needMore
			}
			if d[i+1] != '\n' {
				return 0, ErrBareCR
			}
			i += 2
			p.lineOff = i
			p.phase = phFieldStart

		case phFieldStart:
			if i == len(d) {
				goto needMore
			}
			switch d[i] {
			case '\r':
				if i+1 == len(d) {
					goto needMore
				}
				if d[i+1] != '\n' {
					return 0, ErrBareCR
				}
				i += 2
				if !p.trailer {
					if err := p.finish(d); err != nil {
						return 0, err
					}
				}
				p.hdr.buf = append(p.hdr.buf[:0], data[:i]...)
				p.phase = phDone
				p.cur = 0
				return i, nil
			case '\n':
				return 0, ErrBareLF
			case ' ', '\t':
				if p.first {
					return 0, ErrLeadingWhitespace
				}
				return 0, ErrObsFold
			}
			p.phase = phFieldName

		case phFieldName:
			for i < len(d) && tokenTab[d[i]] {
				i++
			}
			if i == len(d) {
				goto needMore
			}
			if d[i] != ':' {
				if isOWS(d[i]) {
					return 0, ErrSpaceBeforeColon
				}
				return 0, ErrBadFieldName
			}
			if i == p.lineOff {
				return 0, ErrBadFieldName
			}
			p.mark = i
			i++
			p.phase = phFieldOWS

		case phFieldOWS:
			for i < len(d) && isOWS(d[i]) {
				i++
			}
			if i == len(d) {
				goto needMore
			}
			p.vstart = i
			p.phase = phFieldValue

		case phFieldValue:
			i = skipValue(d, i)
			if i == len(d) {
				goto needMore
			}
			if d[i] != '\r' && d[i] != '\n' {
				return 0, ErrBadFieldValue
			}
			if err := p.addField(d, i); err != nil {
				return 0, err
			}
			p.first = false
			p.phase = phLineCR
		}
	}

needMore:
	p.cur = i
	if len(data) >= p.limits.MaxHeaderBytes {
		return 0, ErrHeaderTooLarge
	}
	return 0, ErrNeedMore
}

func (p *Parser) versionError() error {
	if p.response {
		return ErrBadStatusLine
	}
	return ErrBadVersion
}

// setVersion accepts HTTP/1.1 and HTTP/1.0; another well-formed version is
// ErrVersionNotSupported.
func (p *Parser) setVersion(v []byte) error {
	switch string(v) {
	case "HTTP/1.1":
		p.hdr.http10 = false
		return nil
	case "HTTP/1.0":
		p.hdr.http10 = true
		return nil
	}
	if len(v) == 8 && string(v[:5]) == "HTTP/" && v[6] == '.' &&
		'0' <= v[5] && v[5] <= '9' && '0' <= v[7] && v[7] <= '9' {
		return ErrVersionNotSupported
	}
	return p.versionError()
}

// checkTarget validates the request-target d[start:end] and that its form
// fits the method.
func (p *Parser) checkTarget(d []byte, start, end int) error {
	ti, ok := parseTarget(d[start:end])
	if !ok {
		return ErrBadTarget
	}
	method := d[:p.hdr.method.n]
	switch ti.form {
	case FormAsterisk:
		if string(method) != "OPTIONS" {
			return ErrBadTarget
		}
	case FormAuthority:
		if string(method) != "CONNECT" {
			return ErrBadTarget
		}
	default:
		if string(method) == "CONNECT" {
			return ErrBadTarget
		}
	}
	h := &p.hdr
	h.target = span{uint32(start), uint32(end - start)}
	h.form = ti.form
	h.path = span{uint32(start + ti.pathOff), uint32(ti.pathLen)}
	h.query = span{uint32(start + ti.queryOff), uint32(ti.queryLen)}
	h.hasQuery = ti.hasQuery
	h.authority = span{uint32(start + ti.authOff), uint32(ti.authLen)}
	return nil
}

// addField records the field line whose value ends at d[end] and applies the
// rules of the fields that affect framing and routing.
func (p *Parser) addField(d []byte, end int) error {
	if len(p.hdr.fields) >= p.limits.MaxHeaders {
		return ErrTooManyHeaders
	}
	vs, ve := p.vstart, end
	for ve > vs && isOWS(d[ve-1]) {
		ve--
	}
	ns, ne := p.lineOff, p.mark
	p.hdr.fields = append(p.hdr.fields, field{
		name:  span{uint32(ns), uint32(ne - ns)},
		value: span{uint32(vs), uint32(ve - vs)},
	})
	if p.trailer {
		return nil
	}
	name := d[ns:ne]
	// Only a few names matter; the length and first letter rule out the rest
	// before any comparison.
	switch len(name) {
	case 4:
		if equalFoldLower(name, "host") {
			return p.onHost(d[vs:ve])
		}
	case 6:
		if equalFoldLower(name, "expect") {
			if !p.hdr.http10 && !p.response && equalFoldLower(d[vs:ve], "100-continue") {
				p.expect100 = true
			}
		}
	case 7:
		switch lowerTab[name[0]] {
		case 'u':
			if !p.hasUpgrade && equalFoldLower(name, "upgrade") {
				p.upgrade = span{uint32(vs), uint32(ve - vs)}
				p.hasUpgrade = true
			}
		case 't':
			if equalFoldLower(name, "trailer") {
				return checkTrailerDecl(d[vs:ve])
			}
		}
	case 10:
		if equalFoldLower(name, "connection") {
			p.onConnection(d[vs:ve])
		}
	case 14:
		if equalFoldLower(name, "content-length") {
			return p.onContentLength(d, vs, ve)
		}
	case 17:
		if equalFoldLower(name, "transfer-encoding") {
			p.onTransferEncoding(d[vs:ve])
		}
	}
	return nil
}

func (p *Parser) onHost(v []byte) error {
	if p.response {
		return nil
	}
	p.hostCount++
	if p.hostCount > 1 {
		return ErrMultipleHost
	}
	// An empty Host is allowed: RFC 9112 §3.2 requires it when the target
	// has no authority.
	if len(v) > 0 && !validAuthority(v, false) {
		return ErrBadHost
	}
	return nil
}

func (p *Parser) onContentLength(d []byte, vs, ve int) error {
	v := d[vs:ve]
	if len(v) == 0 {
		return ErrBadContentLength
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return ErrBadContentLength
		}
		if n > (1<<63-1-9)/10 {
			// Slow path only near overflow.
			if n > (1<<63-1-int64(c-'0'))/10 {
				return ErrBadContentLength
			}
		}
		n = n*10 + int64(c-'0')
	}
	if p.hasCL {
		// Repeats must be identical: RFC 9110 §8.6 allows accepting them, and
		// comparing the bytes (not the numbers) matches net/http.
		if string(d[p.clSpan.off:p.clSpan.off+p.clSpan.n]) != string(v) {
			return ErrConflictingContentLength
		}
		return nil
	}
	p.hasCL = true
	p.cl = n
	p.clSpan = span{uint32(vs), uint32(ve - vs)}
	return nil
}

// onTransferEncoding tallies the transfer codings of one field line; they
// are judged in finish, when all lines are known.
func (p *Parser) onTransferEncoding(v []byte) {
	p.teLines++
	if len(v) == 0 {
		p.teEmpty = true
		return
	}
	for {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		s, e := trimOWS(v, 0, i)
		switch {
		case s == e:
			p.teEmpty = true
		case equalFoldLower(v[s:e], "chunked"):
			p.teElems++
			p.teChunked++
			p.teLastCh = true
		default:
			p.teElems++
			p.teOther++
			p.teLastCh = false
		}
		if i == len(v) {
			return
		}
		v = v[i+1:]
	}
}

func (p *Parser) onConnection(v []byte) {
	for {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		s, e := trimOWS(v, 0, i)
		switch e - s {
		case 5:
			if equalFoldLower(v[s:e], "close") {
				p.connClose = true
			}
		case 7:
			if equalFoldLower(v[s:e], "upgrade") {
				p.connUpg = true
			}
		case 10:
			if equalFoldLower(v[s:e], "keep-alive") {
				p.connKeep = true
			}
		}
		if i == len(v) {
			return
		}
		v = v[i+1:]
	}
}

// checkTrailerDecl rejects a Trailer field announcing a field that cannot be
// a trailer because it frames the message (RFC 9110 §6.5.1).
func checkTrailerDecl(v []byte) error {
	for {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		s, e := trimOWS(v, 0, i)
		el := v[s:e]
		if equalFoldLower(el, "content-length") || equalFoldLower(el, "transfer-encoding") ||
			equalFoldLower(el, "trailer") {
			return ErrBadTrailerField
		}
		if i == len(v) {
			return nil
		}
		v = v[i+1:]
	}
}

// finish applies the rules that need the whole head and computes framing.
func (p *Parser) finish(d []byte) error {
	h := &p.hdr
	if p.teLines > 0 {
		if h.http10 {
			// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
			return ErrBadTransferEncoding
		}
		if p.hasCL {
			return ErrContentLengthWithTE
		}
		if p.teElems == 0 || p.teChunked > 1 {
			return ErrBadTransferEncoding
		}
	}
	if p.response {
		return p.finishResponse(d)
	}
	if !h.http10 && p.hostCount == 0 {
		return ErrMissingHost
	}
	switch {
	case p.teLines > 0:
		// Requests accept exactly one coding, chunked, on one line.
		if !p.teLastCh || p.teEmpty || p.teLines > 1 {
			return ErrBadTransferEncoding
		}
		if p.teOther > 0 {
			return ErrUnsupportedTransferEncoding
		}
		p.framing = Framing{Kind: BodyChunked}
	case p.hasCL && p.cl > 0:
		p.framing = Framing{Kind: BodyLength, Length: p.cl}
	default:
		p.framing = Framing{Kind: BodyNone}
	}
	if h.http10 {
		p.keepAlive = p.connKeep && !p.connClose
	} else {
		p.keepAlive = !p.connClose
		if p.connUpg && p.hasUpgrade {
			p.setUpgradeToken(d)
		}
	}
	return nil
}

func (p *Parser) finishResponse(d []byte) error {
	h := &p.hdr
	code := int(h.status)
	switch {
	case p.teLines > 0:
		if p.teLastCh {
			p.framing = Framing{Kind: BodyChunked}
		} else {
			// RFC 9112 §6.3 rule 4: chunked not final means read until close.
			p.framing = Framing{Kind: BodyUntilClose}
		}
	case p.hasCL:
		if p.cl > 0 {
			p.framing = Framing{Kind: BodyLength, Length: p.cl}
		} else {
			p.framing = Framing{Kind: BodyNone}
		}
	default:
		p.framing = Framing{Kind: BodyUntilClose}
	}
	if p.reqHEAD || code < 200 || code == 204 || code == 304 {
		p.framing = Framing{Kind: BodyNone}
	}
	if code == 101 || (p.reqCONN && code/100 == 2) {
		p.framing = Framing{Kind: BodyNone}
		p.tunnel = true
	}
	if code == 101 && p.hasUpgrade {
		p.setUpgradeToken(d)
	}
	if h.http10 {
		p.keepAlive = p.connKeep && !p.connClose
	} else {
		p.keepAlive = !p.connClose
	}
	if p.tunnel || p.framing.Kind == BodyUntilClose {
		p.keepAlive = false
	}
	return nil
}

// setUpgradeToken records the first element of the Upgrade field, e.g.
// "websocket", as a span of the head.
func (p *Parser) setUpgradeToken(d []byte) {
	s, e := int(p.upgrade.off), int(p.upgrade.off+p.upgrade.n)
	i := s
	for i < e && d[i] != ',' {
		i++
	}
	s, i = trimOWS(d, s, i)
	if s == i {
		return
	}
	p.upgTok = span{uint32(s), uint32(i - s)}
	p.hasUpgTok = true
}
