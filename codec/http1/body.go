package http1

// Chunked decoder states.
const (
	stSize uint8 = iota
	stData
	stDataCRLF
	stTrailers
	stDone
)

// BodyReader decodes a message body framed as a Parser reported. It never
// buffers or copies the body: Decode hands out sub-slices of the caller's
// data. Framing (chunk-size lines, CRLFs, the trailer section) is consumed
// only once complete, so the caller keeps the unconsumed bytes, appends what
// it reads next and calls again. A BodyReader is reused with Reset and then
// allocates nothing, except to grow its trailer buffer.
type BodyReader struct {
	limits    Limits
	kind      BodyKind
	state     uint8
	remaining int64 // bytes left in the body (length) or in the chunk
	excess    int64 // framing overhead balance, see Limits.MaxChunkOverhead
	err       error
	trailers  Parser
}

// NewBodyReader returns a BodyReader for a body framed as f.
func NewBodyReader(f Framing, l Limits) *BodyReader {
	r := &BodyReader{}
	r.Reset(f, l)
	return r
}

// Reset prepares r for a new body framed as f, keeping its buffers.
func (r *BodyReader) Reset(f Framing, l Limits) {
	r.limits = l.withDefaults()
	r.kind = f.Kind
	r.state = stSize
	r.remaining = 0
	r.excess = 0
	r.err = nil
	switch f.Kind {
	case BodyNone:
		r.state = stDone
	case BodyLength:
		r.remaining = f.Length
		if f.Length <= 0 {
			r.state = stDone
		}
	}
	tl := r.limits
	tl.MaxHeaderBytes = r.limits.MaxTrailerBytes
	r.trailers.limits = tl
	r.trailers.trailer = true
	r.trailers.Reset()
}

// Done reports whether the whole body (and trailer section) has been read.
func (r *BodyReader) Done() bool { return r.state == stDone }

// Trailers returns the trailer fields of a chunked body, complete once Decode
// reported done. It is empty for other framings.
func (r *BodyReader) Trailers() *Header { return &r.trailers.hdr }

// Decode consumes body bytes from data, calling out (if not nil) with each
// piece of body content, in order; the pieces alias data. It returns how
// many bytes of data were consumed and whether the body is complete, in which
// case data[consumed:] is the next message. With done false and no error all
// of the body in data has been handed out and the caller should call again
// with data[consumed:] followed by more bytes.
//
// For BodyUntilClose every byte is content and done is never reported: the
// body ends when the peer closes the connection. Once an error is returned it
// is returned again by every call.
func (r *BodyReader) Decode(data []byte, out func(chunk []byte)) (consumed int, done bool, err error) {
	if r.err != nil {
		return 0, false, r.err
	}
	switch r.kind {
	case BodyNone:
		return 0, true, nil
	case BodyUntilClose:
		if len(data) > 0 && out != nil {
			out(data)
		}
		return len(data), false, nil
	case BodyLength:
		if r.state == stDone {
			return 0, true, nil
		}
		n := len(data)
		if int64(n) > r.remaining {
			n = int(r.remaining)
		}
		if n > 0 && out != nil {
			out(data[:n])
		}
		r.remaining -= int64(n)
		if r.remaining == 0 {
			r.state = stDone
		}
		return n, r.state == stDone, nil
	}
	pos, err := r.decodeChunked(data, out)
	if err != nil {
		r.err = err
		return 0, false, err
	}
	return pos, r.state == stDone, nil
}

func (r *BodyReader) decodeChunked(data []byte, out func([]byte)) (int, error) {
	pos := 0
	for {
		switch r.state {
		case stDone:
			return pos, nil

		case stSize:
			avail := data[pos:]
			if len(avail) > r.limits.MaxChunkLineBytes {
				avail = avail[:r.limits.MaxChunkLineBytes]
			}
			lf := -1
			for i, c := range avail {
				if c == '\n' {
					lf = i
					break
				}
			}
			if lf < 0 {
				if len(avail) == r.limits.MaxChunkLineBytes {
					return 0, ErrChunkLineTooLong
				}
				return pos, nil
			}
			size, err := parseChunkLine(avail[:lf])
			if err != nil {
				return 0, err
			}
			// Account framing against data as net/http does (lf excludes
			// the LF; the CR stands in for the CRLF after the data).
			r.excess += int64(lf-1) + 2
			if size >= (1<<62)-16 {
				r.excess = 0
			} else {
				r.excess -= 16 + 2*size
				if r.excess < 0 {
					r.excess = 0
				}
			}
			if r.excess > int64(r.limits.MaxChunkOverhead) {
				return 0, ErrChunkOverhead
			}
			pos += lf + 1
			if size == 0 {
				r.state = stTrailers
			} else {
				r.remaining = size
				r.state = stData
			}

		case stData:
			n := len(data) - pos
			if int64(n) > r.remaining {
				n = int(r.remaining)
			}
			if n > 0 && out != nil {
				out(data[pos : pos+n])
			}
			pos += n
			r.remaining -= int64(n)
			if r.remaining > 0 {
				return pos, nil
			}
			r.state = stDataCRLF

		case stDataCRLF:
			if pos == len(data) {
				return pos, nil
			}
			if data[pos] != '\r' {
				return 0, ErrBadChunk
			}
			if pos+1 == len(data) {
				return pos, nil
			}
			if data[pos+1] != '\n' {
				return 0, ErrBadChunk
			}
			pos += 2
			r.state = stSize

		case stTrailers:
			n, err := r.trailers.Parse(data[pos:])
			switch err {
			case nil:
			case ErrNeedMore:
				return pos, nil
			case ErrHeaderTooLarge, ErrTooManyHeaders:
				return 0, ErrTrailerTooLarge
			default:
				return 0, err
			}
			pos += n
			r.state = stDone
		}
	}
}

// parseChunkLine parses "chunk-size [ chunk-ext ] CR" (the LF removed):
// 1 to 16 hex digits whose value fits in an int64, then extensions
// ";name" or ";name=value" (value a token or quoted-string) with no
// whitespace, then the CR.
func parseChunkLine(l []byte) (int64, error) {
	if len(l) == 0 || l[len(l)-1] != '\r' {
		return 0, ErrBadChunk
	}
	l = l[:len(l)-1]
	i := 0
	var n uint64
	for i < len(l) && hexVal[l[i]] != 0xff {
		if i == 16 {
			return 0, ErrBadChunk
		}
		n = n<<4 | uint64(hexVal[l[i]])
		i++
	}
	if i == 0 || n > 1<<63-1 {
		return 0, ErrBadChunk
	}
	for i < len(l) {
		if l[i] != ';' {
			return 0, ErrBadChunk
		}
		i++
		s := i
		for i < len(l) && tokenTab[l[i]] {
			i++
		}
		if i == s {
			return 0, ErrBadChunk
		}
		if i == len(l) || l[i] == ';' {
			continue
		}
		if l[i] != '=' {
			return 0, ErrBadChunk
		}
		i++
		if i < len(l) && l[i] == '"' {
			end, ok := quotedStringEnd(l, i)
			if !ok {
				return 0, ErrBadChunk
			}
			i = end
			continue
		}
		s = i
		for i < len(l) && tokenTab[l[i]] {
			i++
		}
		if i == s {
			return 0, ErrBadChunk
		}
	}
	return int64(n), nil
}

// quotedStringEnd returns the index after the quoted-string starting at
// b[i] == '"' (RFC 9110 §5.6.4).
func quotedStringEnd(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 == len(b) || !valueTab[b[i+1]] {
				return 0, false
			}
			i += 2
		case valueTab[c]:
			i++
		default:
			return 0, false
		}
	}
	return 0, false
}

// AppendChunkHeader appends the chunk-size line for a chunk of size bytes
// (size > 0). The caller then writes the data and "\r\n"; this lets a proxy
// forward body slices without copying them.
func AppendChunkHeader(dst []byte, size int) []byte {
	dst = appendHex(dst, uint64(size))
	return append(dst, '\r', '\n')
}

// AppendChunk appends p as one chunk. An empty p appends nothing, since a
// zero-size chunk would end the body.
func AppendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = AppendChunkHeader(dst, len(p))
	dst = append(dst, p...)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk, the trailer fields (if trailers is
// not nil) and the empty line that ends a chunked body.
func AppendLastChunk(dst []byte, trailers *Header) []byte {
	dst = append(dst, '0', '\r', '\n')
	if trailers != nil {
		dst = trailers.AppendFields(dst)
	}
	return append(dst, '\r', '\n')
}

func appendHex(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = digits[v&0xf]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}
