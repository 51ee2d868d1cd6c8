package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/codec/http1"
	"mosn.dev/proxy/router"
	"mosn.dev/proxy/upstream"
)

// viaH2 forwards the current HTTP/1 request as an h2c stream and relays
// the answer as HTTP/1.1 (chunked when its length is unknown, trailers
// kept). It returns whether the downstream connection stays open.
func (s *h1Server) viaH2(cl *upstream.Cluster, route *router.Route, lbctx upstream.LBContext, timeout time.Duration, retries uint32, keep bool) bool {
	hdr := s.parser.Header()
	framing := s.parser.Framing()
	ch := &choice{cl: cl, lbctx: lbctx, retries: retries, info: &s.info, timeout: timeout, flt: nil}
	host, _ := hdr.Host()
	u := &url.URL{Scheme: "http", Host: "upstream", Path: string(hdr.Path()), RawQuery: string(hdr.Query())}
	req := &http.Request{
		Method:     string(hdr.Method()),
		URL:        u,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     http.Header{},
		Host:       string(host),
		Body:       http.NoBody,
	}
	conn, _ := hdr.Get("connection")
	hdr.Range(func(name, value []byte) bool {
		if !isHopByHop(name, conn) && !strings.EqualFold(bstr(name), "host") {
			req.Header.Add(string(name), string(value))
		}
		return true
	})
	br := &h1Body{s: s}
	// Before anything else uses the connection's buffer, the body must
	// be the server's again.
	defer br.Close()
	switch framing.Kind {
	case http1.BodyLength:
		req.ContentLength = framing.Length
		req.Body = br
	case http1.BodyChunked:
		req.ContentLength = -1
		req.Body = br
	}
	resp, err := s.p.http2.roundTrip(req, ch)
	if err != nil {
		status := 502
		var dialErr *upstream.DialError
		switch {
		case errors.Is(err, errNoHost), errors.As(err, &dialErr):
			status = 503
		case errors.Is(err, context.DeadlineExceeded):
			status = 504
		}
		br.Close()
		return s.replyAfterBody(status, keep && br.done.Load(), http1.StatusText(status))
	}
	defer resp.Body.Close()
	s.info.ResponseCode = resp.StatusCode
	if route != nil {
		route.ResponseHeaderOps().Apply(headerMap(resp.Header))
	}
	// A body still going up when the answer's head came back may never
	// end: the connection then closes after the answer.
	downKeep := keep && !s.closing() && (framing.Kind == http1.BodyNone || br.done.Load())
	// Trailers (gRPC status, checksums) need the chunked coding to
	// reach an HTTP/1.1 client, even when the length is known.
	chunked := (resp.ContentLength < 0 || len(resp.Trailer) > 0) && hdr.ProtoMinor() == 1
	if resp.ContentLength < 0 && !chunked {
		downKeep = false
	}
	s.out = append(s.out[:0], "HTTP/1.1 "...)
	s.out = strconv.AppendInt(s.out, int64(resp.StatusCode), 10)
	s.out = append(s.out, ' ')
	s.out = append(s.out, http1.StatusText(resp.StatusCode)...)
	s.out = append(s.out, '\r', '\n')
	for k, vs := range resp.Header {
		if isHopByHop([]byte(k), nil) || k == "Trailer" {
			continue
		}
		for _, v := range vs {
			if http1Valid(k, v) {
				s.out = append(s.out, k...)
				s.out = append(s.out, ':', ' ')
				s.out = append(s.out, v...)
				s.out = append(s.out, '\r', '\n')
			}
		}
	}
	switch {
	case resp.ContentLength >= 0 && !chunked:
		s.out = append(s.out, "Content-Length: "...)
		s.out = strconv.AppendInt(s.out, resp.ContentLength, 10)
		s.out = append(s.out, '\r', '\n')
	case chunked:
		s.out = append(s.out, "Transfer-Encoding: chunked\r\n"...)
		if len(resp.Trailer) > 0 {
			names := make([]string, 0, len(resp.Trailer))
			for k := range resp.Trailer {
				names = append(names, k)
			}
			s.out = append(s.out, "Trailer: "...)
			s.out = append(s.out, strings.Join(names, ", ")...)
			s.out = append(s.out, '\r', '\n')
		}
	}
	if !downKeep {
		s.out = append(s.out, "Connection: close\r\n"...)
	}
	s.out = append(s.out, '\r', '\n')
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var sent uint64
	for {
		n, rerr := resp.Body.Read(*bp)
		if n > 0 {
			sent += uint64(n)
			if chunked {
				s.out = http1.AppendChunk(s.out, (*bp)[:n])
			} else {
				s.out = append(s.out, (*bp)[:n]...)
			}
			if _, err := s.c.Write(s.out); err != nil {
				s.info.ResponseFlags |= accesslog.DownstreamConnectionTermination
				return false
			}
			s.out = s.out[:0]
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			s.info.ResponseFlags |= accesslog.UpstreamConnectionTermination
			return false
		}
	}
	if chunked {
		s.out = append(s.out, "0\r\n"...)
		for k, vs := range resp.Trailer {
			for _, v := range vs {
				if http1Valid(k, v) {
					s.out = append(s.out, k...)
					s.out = append(s.out, ':', ' ')
					s.out = append(s.out, v...)
					s.out = append(s.out, '\r', '\n')
				}
			}
		}
		s.out = append(s.out, '\r', '\n')
	}
	s.info.BytesSent = sent
	_, werr := s.c.Write(s.out)
	s.out = s.out[:0]
	return werr == nil && downKeep
}

// h1Body streams the HTTP/1 request body into an HTTP/2 request. The
// upstream client may read it on a goroutine of its own, also after its
// round trip returned (a body still going up while the answer comes
// down): Close stops it, and viaH2 closes it before the connection's
// buffer is used for anything else.
type h1Body struct {
	s    *h1Server
	pend []byte
	done atomic.Bool // the whole body was read
	err  error

	closed  atomic.Bool
	mu      sync.Mutex
	cond    sync.Cond // signalled when a read ends
	reading bool
}

// errBodyClosed fails reads of a request body after Close.
var errBodyClosed = errors.New("request body closed")

func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	b.reading = true
	b.mu.Unlock()
	n, err := b.read(p)
	b.mu.Lock()
	b.reading = false
	if b.cond.L != nil {
		b.cond.Broadcast()
	}
	b.mu.Unlock()
	return n, err
}

func (b *h1Body) read(p []byte) (int, error) {
	s := b.s
	for len(b.pend) == 0 {
		if b.done.Load() {
			return 0, io.EOF
		}
		if b.err != nil {
			return 0, b.err
		}
		if s.r == s.w {
			if err := b.fill(); err != nil {
				b.err = errDownstream
				continue
			}
		}
		n, done, err := s.body.Decode((*s.buf)[s.r:s.w], func(c []byte) { b.pend = append(b.pend, c...) })
		s.r += n
		s.info.BytesReceived += uint64(len(b.pend))
		if err != nil {
			b.err = errBadBody
		}
		b.done.Store(done)
		if n == 0 && !done && err == nil && len(b.pend) == 0 {
			// A partial chunk line: read more.
			if err := b.fill(); err != nil {
				b.err = errDownstream
			}
		}
	}
	n := copy(p, b.pend)
	b.pend = b.pend[n:]
	return n, nil
}

// fill reads more of the body from the downstream, within the default
// timeout; Close ends the wait.
func (b *h1Body) fill() error {
	s := b.s
	s.c.SetReadDeadline(time.Now().Add(DefaultTimeout))
	defer s.c.SetReadDeadline(time.Time{})
	// Checked after the deadline is set: a Close from now on moves it.
	if b.closed.Load() {
		return errBodyClosed
	}
	return s.fill(false)
}

// Close ends the body: a read waiting for the downstream returns, and
// Close returns once no read is running, so that the connection's buffer
// belongs to its server again.
func (b *h1Body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed.Store(true)
	if b.cond.L == nil {
		b.cond.L = &b.mu
	}
	if !b.reading {
		return nil
	}
	for b.reading {
		b.s.c.SetReadDeadline(aLongTimeAgo)
		b.cond.Wait()
	}
	b.s.c.SetReadDeadline(time.Time{})
	return nil
}
