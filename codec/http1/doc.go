// Package http1 is the proxy's HTTP/1.1 codec (RFC 9110, RFC 9112): a
// strict, incremental, zero-copy parser of request and response heads, a
// streaming body decoder and the matching encoders.
//
// It does no I/O and starts no goroutines. The caller reads from the socket
// and passes the bytes it has:
//
//	p := http1.NewRequestParser(http1.Limits{})
//	n, err := p.Parse(buf)            // ErrNeedMore: read more, call again
//	h := p.Header()                   // method, target, fields (owned copy)
//	br.Reset(p.Framing(), limits)     // then br.Decode(buf[n:], out)
//
// The head is copied once into a buffer the Header owns, so the read buffer
// can be reused at once; fields are offsets into that buffer. Parser, Header
// and BodyReader are reused per connection and then allocate nothing.
//
// # Strictness
//
// The parser rejects, with an *Error naming the status to answer (400 unless
// stated), everything request smuggling and response splitting feed on:
//
//   - line endings other than CRLF: bare LF (RFC 9112 §2.2 lets a recipient
//     accept it; a proxy that does while the next hop does not is a
//     smuggling vector) and bare CR;
//   - an empty line or whitespace before the request line, and whitespace
//     before the first field line;
//   - obsolete line folding (a field line starting with SP or HTAB);
//   - whitespace between a field name and the colon, field names that are not
//     tokens, lines without a colon;
//   - CTLs other than HTAB, and DEL, in field values (obs-text is allowed);
//   - request lines that are not exactly method SP target SP version, methods
//     that are not tokens, versions that are not HTTP/DIGIT.DIGIT (400), and
//     versions other than HTTP/1.0 and HTTP/1.1 (505);
//   - request-targets with bytes outside VCHAR, with '#', with a bad
//     percent-escape in the path, or of a form the method does not allow:
//     asterisk-form only with OPTIONS, authority-form (host:port) only and
//     always with CONNECT, absolute-form only with the http and https
//     schemes, a non-empty host and no userinfo;
//   - Content-Length values that are not 1*DIGIT or overflow an int64,
//     several Content-Length lines that are not byte-for-byte identical, and
//     comma lists ("5, 5");
//   - Content-Length together with Transfer-Encoding, Transfer-Encoding in an
//     HTTP/1.0 message;
//   - in requests, any Transfer-Encoding but a single "chunked" (any case):
//     chunked not last, repeated or parameterised, empty elements, several
//     field lines (400), and other codings before chunked (501, since the
//     proxy does not decode them);
//   - a Trailer field announcing Content-Length, Transfer-Encoding or
//     Trailer;
//   - HTTP/1.1 requests without Host, more than one Host, a Host that is not
//     uri-host [":" port] (an empty Host is accepted, as RFC 9112 §3.2 asks
//     for targets without authority);
//   - heads over Limits.MaxHeaderBytes (8 KiB) or Limits.MaxHeaders (100)
//     fields (431).
//
// Responses follow the same rules, except that Host is not checked, a status
// line without the SP and reason ("HTTP/1.1 200") is tolerated, codings other
// than chunked are passed through, and a body without Content-Length or
// chunked runs until close (RFC 9112 §6.3). After HEAD, and for 1xx, 204 and
// 304, no body follows; a 101 or a 2xx answer to CONNECT starts a tunnel.
//
// The chunked decoder accepts 1 to 16 hex digits (value at most MaxInt64)
// directly followed by extensions ";name" or ";name=token-or-quoted-string"
// without whitespace, then CRLF; data must be followed by CRLF; the size
// line is bounded by Limits.MaxChunkLineBytes (1 KiB), the trailer section
// by Limits.MaxTrailerBytes (4 KiB) and the framing overhead by
// Limits.MaxChunkOverhead. Trailers are parsed with the field-line rules.
//
// # Differences from net/http
//
// FuzzDifferentialRequest checks that every request this package accepts,
// net/http's http.ReadRequest accepts too, with the same method, target,
// version, Host, field values, framing, keep-alive, body and trailers, and
// that when net/http accepts what this package rejects, the error is one of
// the entries below (FuzzDifferentialChunked does the same for chunked
// bodies). The two disagree only where this package rejects what net/http
// accepts:
//
//  1. Bare LF line endings in the head: net/http accepts them (in trailers
//     it needs a CRLFCRLF and so mostly rejects them too).
//  2. Obsolete line folding: net/http unfolds continuation lines.
//  3. Whitespace before the colon ("Name : v"): net/http accepts it.
//  4. Versions other than HTTP/1.0 and 1.1 (HTTP/1.2, HTTP/2.0, HTTP/0.9):
//     net/http accepts any HTTP/DIGIT.DIGIT.
//  5. Request-targets: net/http also accepts bytes >= 0x80, '#', "*" with any
//     method, origin-form with CONNECT, any scheme, opaque URIs
//     ("http:foo"), userinfo, empty hosts, empty or long ports, hosts with
//     sub-delims or percent-escapes, and IPv6 zones.
//  6. Host: http.ReadRequest accepts a missing Host in HTTP/1.1 and any Host
//     value (net/http's server rejects some of these later).
//  7. Transfer-Encoding in HTTP/1.0: net/http ignores it and frames by
//     Content-Length.
//  8. Content-Length with Transfer-Encoding: chunked: net/http drops the
//     Content-Length and reads chunked.
//  9. A Trailer field announcing Content-Length, Transfer-Encoding or
//     Trailer in a message that is not chunked: net/http ignores it.
//  10. Chunk-size lines: net/http trims trailing whitespace, ignores all
//     bytes after the first ';' (malformed extensions, whitespace after ';'
//     and around '='), accepts sizes up to 2^64-1 and lines up to 4 KiB.
//  11. Limits: http.ReadRequest has no limit on head size or field count
//     (net/http's server applies MaxHeaderBytes, 1 MiB by default).
//
// Error statuses also differ: this package answers 505 for unsupported
// versions, 501 for unknown transfer codings and 431 for oversized heads.
package http1
