package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/net/http/httpguts"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/codec/http1"
)

// h1Transport sends requests that arrived as HTTP/2 streams to HTTP/1.1
// upstreams over the proxy's own connection pool (the one HTTP/1
// downstream connections use, with our HTTP/1 codec): the stream's
// goroutine writes the request and reads the answer itself, where
// net/http's transport hands each to one of two goroutines per
// connection. The host was chosen by h2.RoundTrip (the choice travels in
// the request's context); a reused connection the upstream closed
// meanwhile is replaced once, before anything of the answer was read.
type h1Transport struct{ p *Proxy }

// errUpstreamClosed: the upstream closed or broke the connection before
// its answer was complete.
var errUpstreamClosed = errors.New("upstream connection closed")

// aLongTimeAgo makes blocked reads and writes fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip sends req to the host h2.roundTrip chose (ch.host).
func (t h1Transport) roundTrip(req *http.Request, ch *choice) (*http.Response, error) {
	br := t.p.breakers.Get(ch.cl.Config())
	hasBody := req.Body != nil && req.Body != http.NoBody
	deadline := time.Now().Add(ch.timeout)
	for attempt := 0; ; attempt++ {
		var uc *upConn
		var reused, headSent bool
		if uc = ch.loopUC; uc != nil {
			// The event loop sent the request on uc.
			ch.loopUC = nil
			reused, headSent, deadline = true, true, ch.deadline
		} else {
			var err error
			uc, reused, err = t.p.pools.get(ch.cl, ch.host, t.p.limits, br)
			if errors.Is(err, errConnOverflow) {
				return nil, errOverflow
			}
			if err != nil {
				return nil, err
			}
			ch.info.UpstreamLocalAddress = uc.localAddr()
		}
		resp, sent, err := t.exchange(uc, req, ch, hasBody, deadline, headSent)
		if err != nil && reused && !sent && attempt == 0 && !ch.cancelled(req) &&
			!errors.Is(err, context.DeadlineExceeded) {
			continue // the pooled connection was stale
		}
		return resp, err
	}
}

// abortWatch ties an upstream connection to its downstream request: a
// reset of the stream (or the end of the request's context) fails the
// connection's blocked reads and writes.
type abortWatch struct {
	st   *h2Stream
	stop func() bool
}

// watchAbort starts watching; false means the request was cancelled
// already.
func watchAbort(ch *choice, req *http.Request, c net.Conn) (abortWatch, bool) {
	if ch.st != nil {
		return abortWatch{st: ch.st}, ch.st.abortOnReset(c)
	}
	return abortWatch{stop: context.AfterFunc(req.Context(), func() { c.SetDeadline(aLongTimeAgo) })}, true
}

// end stops watching. False means the abort may have fired, leaving a
// deadline in the past on the connection, which must not be reused.
func (w abortWatch) end() bool {
	if w.st != nil {
		return w.st.abortOnReset(nil)
	}
	return w.stop()
}

// exchange writes the request on uc and reads the answer's head, within
// the route timeout (deadline). sent reports whether the upstream may
// have acted on the request: a body was (partly) sent or any byte of an
// answer arrived.
func (t h1Transport) exchange(uc *upConn, req *http.Request, ch *choice, hasBody bool, deadline time.Time, headSent bool) (resp *http.Response, sent bool, err error) {
	watch, live := watchAbort(ch, req, uc.Conn)
	fail := func(e error) (*http.Response, bool, error) {
		watch.end()
		uc.close()
		switch {
		case ch.cancelled(req):
			e = context.Canceled
		case errors.Is(e, os.ErrDeadlineExceeded):
			ch.info.ResponseFlags |= accesslog.UpstreamRequestTimeout
			e = context.DeadlineExceeded
		}
		return nil, sent, e
	}
	if !live {
		return fail(context.Canceled)
	}
	if !ch.inLoop {
		// (The loop's answer is whole in the buffer: no read waits.)
		uc.SetDeadline(deadline)
	}
	if headSent {
		// The event loop sent any body too: no retry could send it again.
		sent = hasBody
	} else {
		uc.requests++
		uc.out = appendH1Request(uc.out[:0], req, hasBody)
		if hasBody {
			var err error
			if sent, err = t.sendBody(uc, req); err != nil {
				return fail(err)
			}
		}
		if err := uc.flush(); err != nil {
			return fail(err)
		}
		// The answer cannot be there yet: other streams first (see
		// yieldGate).
		t.p.gate.yield()
	}
	return t.readResponse(uc, req, ch.st, watch, !ch.inLoop, &sent, fail)
}

// appendH1Request appends req's HTTP/1.1 head to b.
func appendH1Request(b []byte, req *http.Request, hasBody bool) []byte {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, '\r', '\n')
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
			"Proxy-Connection", "Upgrade", "Trailer":
			continue
		}
		for _, v := range vs {
			if httpguts.ValidHeaderFieldValue(v) {
				b = append(b, k...)
				b = append(b, ':', ' ')
				b = append(b, v...)
				b = append(b, '\r', '\n')
			}
		}
	}
	switch {
	case hasBody && req.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, '\r', '\n')
	case hasBody:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		if len(req.Trailer) > 0 {
			b = append(b, "Trailer: "...)
			first := true
			for k := range req.Trailer {
				if !first {
					b = append(b, ", "...)
				}
				b = append(b, k...)
				first = false
			}
			b = append(b, '\r', '\n')
		}
	case req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	b = append(b, '\r', '\n')

	return b
}

// sendBody streams the request body upstream after its head (in uc.out):
// each piece the client sent goes out as it comes (a gRPC or other
// streaming client waits for answers). sent reports whether any of it
// reached the socket.
func (t h1Transport) sendBody(uc *upConn, req *http.Request) (sent bool, err error) {
	chunked := req.ContentLength <= 0
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var n int64
	for {
		k, rerr := req.Body.Read((*bp)[:min(len(*bp), 32<<10)])
		if k > 0 {
			n += int64(k)
			if chunked {
				uc.out = http1.AppendChunk(uc.out, (*bp)[:k])
			} else {
				uc.out = append(uc.out, (*bp)[:k]...)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sent, rerr
		}
		if err := uc.flush(); err != nil {
			return true, err
		}
		sent = true
	}
	if !chunked && n != req.ContentLength {
		return sent, errors.New("request body shorter than its content-length")
	}
	if chunked {
		uc.out = append(uc.out, "0\r\n"...)
		for k, vs := range req.Trailer {
			for _, v := range vs {
				if httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(v) {
					uc.out = append(uc.out, k...)
					uc.out = append(uc.out, ':', ' ')
					uc.out = append(uc.out, v...)
					uc.out = append(uc.out, '\r', '\n')
				}
			}
		}
		uc.out = append(uc.out, '\r', '\n')
	}
	return sent, nil
}

// readResponse reads the answer's head from uc (after the request was
// sent) and returns the response, its body streaming off uc.
// sent is set once any byte of the answer arrived. st, the HTTP/2
// stream of the request (or nil), holds the response.
func (t h1Transport) readResponse(uc *upConn, req *http.Request, st *h2Stream, watch abortWatch, timed bool, sent *bool, fail func(error) (*http.Response, bool, error)) (*http.Response, bool, error) {
	if n := uc.headLen; n > 0 {
		// Parsed by the event loop (a final answer, whole).
		uc.headLen = 0
		*sent = true
		uc.r += n
	} else if err := t.readHead(uc, req.Method, sent); err != nil {
		return fail(err)
	}
	// The route timeout ends with the head: the body takes as long as
	// the peers keep the stream.
	if timed {
		uc.SetDeadline(time.Time{})
	}
	rh := uc.parser.Header()
	framing := uc.parser.Framing()
	// The response and its body: in the stream of an HTTP/2 request, else
	// in one allocation; the header map and value slice are the stream's
	// from its last use when it is reused.
	var rb *h1Resp
	var hdr http.Header
	var vals []string
	n := rh.Len()
	if st != nil {
		rb = &st.ex.h1r
		if hdr = st.reuse.respHdr; hdr != nil {
			clear(hdr)
		} else {
			hdr = make(http.Header, n)
			st.reuse.respHdr = hdr
		}
		if vals = st.reuse.respVals[:0]; cap(vals) < n {
			vals = make([]string, 0, n)
			st.reuse.respVals = vals
		}
	} else {
		rb = new(h1Resp)
		hdr = make(http.Header, n)
		vals = make([]string, 0, n)
	}
	resp := &rb.resp
	*resp = http.Response{
		StatusCode: rh.Status(),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     hdr,
		Request:    req,
	}
	resp.Status = statusLine(resp.StatusCode, rh.Reason())
	// One backing array for every value, and one string for all their
	// bytes: a slice and a string per field otherwise.
	total := 0
	rh.Range(func(_, value []byte) bool {
		total += len(value)
		return true
	})
	all := make([]byte, 0, total)
	rh.Range(func(_, value []byte) bool {
		all = append(all, value...)
		return true
	})
	// all is not written again: the string shares its bytes.
	allStr := unsafe.String(unsafe.SliceData(all), len(all))
	off := 0
	rh.Range(func(name, value []byte) bool {
		v := allStr[off : off+len(value)]
		off += len(value)
		k, ok := canonicalHeaders[string(name)]
		if !ok {
			k = http.CanonicalHeaderKey(string(name))
		}
		// Connection-specific fields are dropped by h2.forward, for
		// both upstream protocols.
		switch k {
		case "Trailer":
			// Announced trailers become resp.Trailer, as net/http does.
			for _, tk := range strings.Split(string(value), ",") {
				if tk = strings.TrimSpace(tk); tk != "" {
					if resp.Trailer == nil {
						resp.Trailer = http.Header{}
					}
					resp.Trailer[http.CanonicalHeaderKey(tk)] = nil
				}
			}
			return true
		}
		if vs := resp.Header[k]; vs != nil {
			resp.Header[k] = append(vs, v)
		} else {
			vals = append(vals, v)
			resp.Header[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
		return true
	})
	body := &rb.body
	*body = h1RespBody{t: t, uc: uc, watch: watch, resp: resp, kind: framing.Kind}
	switch framing.Kind {
	case http1.BodyNone:
		resp.ContentLength = 0
		if req.Method == http.MethodHead {
			resp.ContentLength = -1
			if v := rh.Status(); v != http.StatusNoContent && v != http.StatusNotModified {
				if l, ok := rh.Get("content-length"); ok {
					if n, err := strconv.ParseInt(string(l), 10, 64); err == nil {
						resp.ContentLength = n
					}
				}
			}
		}
		resp.Body = http.NoBody
		body.finish()
		return resp, true, nil
	case http1.BodyLength:
		resp.ContentLength = framing.Length
	default:
		resp.ContentLength = -1
	}
	uc.body.Reset(framing, t.p.limits)
	resp.Body = body
	return resp, true, nil
}

// readHead reads and parses the answer's head on uc (1xx answers
// skipped); sent is set once any byte of it arrived.
func (t h1Transport) readHead(uc *upConn, method string, sent *bool) error {
	m := []byte(method)
	uc.parser.Reset()
	uc.parser.SetRequestMethod(m)
	for {
		if uc.buf != nil && uc.r < uc.w {
			*sent = true
			n, err := uc.parser.Parse(uc.in())
			if err == nil {
				uc.r += n
				if st := uc.parser.Header().Status(); st >= 100 && st < 200 {
					uc.parser.Reset()
					uc.parser.SetRequestMethod(m)
					continue
				}
				return nil
			}
			if err != http1.ErrNeedMore {
				t.p.log.Warnf("[proxy] [http2] bad response from %s: %v", uc.host.Address(), err)
				return err
			}
		}
		if err := uc.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				err = errUpstreamClosed
			}
			return err
		}
	}
}

// h1Resp is an answer read by h1Transport: the response and its body.
type h1Resp struct {
	resp http.Response
	body h1RespBody
}

// h1RespBody streams an HTTP/1.1 answer's body off the upstream
// connection, which goes back to the pool once the body is complete.
type h1RespBody struct {
	t     h1Transport
	uc    *upConn
	watch abortWatch
	resp  *http.Response
	kind  http1.BodyKind
	done  bool
	err   error
}

func (b *h1RespBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	uc := b.uc
	for {
		if uc.body.Done() {
			b.finish()
			return 0, io.EOF
		}
		if uc.buf != nil && uc.r < uc.w {
			// Decoded bytes never outnumber the input, so at most
			// len(p) of it fills p without overflowing.
			in := uc.in()
			if len(in) > len(p) {
				in = in[:len(p)]
			}
			got := 0
			n, _, err := uc.body.Decode(in, func(q []byte) { got += copy(p[got:], q) })
			uc.r += n
			if err != nil {
				return 0, b.fail(err)
			}
			if got > 0 {
				if uc.body.Done() {
					b.finish()
				}
				return got, nil
			}
			if n > 0 {
				continue
			}
		}
		if err := uc.fill(); err != nil {
			if b.kind == http1.BodyUntilClose && errors.Is(err, io.EOF) {
				b.finish()
				return 0, io.EOF
			}
			return 0, b.fail(errUpstreamClosed)
		}
	}
}

// finish hands the connection back (or closes it) after a complete body
// and copies the trailers.
func (b *h1RespBody) finish() {
	if b.done {
		return
	}
	b.done = true
	// A cancellation that fired meanwhile may still set a deadline on
	// the connection: then it is not reused.
	reusable := b.watch.end()
	uc := b.uc
	if b.resp.Trailer != nil && b.kind == http1.BodyChunked {
		uc.body.Trailers().Range(func(name, value []byte) bool {
			k := http.CanonicalHeaderKey(string(name))
			b.resp.Trailer[k] = append(b.resp.Trailer[k], string(value))
			return true
		})
	}
	if reusable && uc.parser.KeepAlive() && b.kind != http1.BodyUntilClose && uc.r == uc.w {
		if l := uc.lp.l; l != nil {
			// The event loop's own exchange: the connection stays in it.
			l.put(uc)
			return
		}
		b.t.p.pools.put(uc)
	} else {
		uc.close()
	}
}

func (b *h1RespBody) fail(err error) error {
	b.err = err
	b.watch.end()
	b.uc.close()
	return err
}

// Close abandons a body not read to its end: its connection cannot be
// reused.
func (b *h1RespBody) Close() error {
	if !b.done && b.err == nil {
		b.fail(errUpstreamClosed)
	}
	return nil
}

// statusLine is resp.Status, without allocating for the usual answers.
func statusLine(code int, reason []byte) string {
	switch {
	case code == 200 && string(reason) == "OK":
		return "200 OK"
	case code == 404 && string(reason) == "Not Found":
		return "404 Not Found"
	}
	return strconv.Itoa(code) + " " + string(reason)
}
