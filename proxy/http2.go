package proxy

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/router"
	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/upstream"
)

// http2Preface starts every HTTP/2 connection with prior knowledge.
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// h2 serves HTTP/2 (h2c, prior knowledge) downstream connections with our
// own server (h2server.go), and forwards requests itself: to HTTP/1.1
// upstreams through our own codec and pool (h1transport.go), to h2c ones
// through our own multiplexing client (h2client.go), choosing the host
// with the cluster's load balancer for every request.
type h2 struct {
	p       *Proxy
	up1     h1Transport
	up2     *h2Client
	useH2Up bool
	// loops: downstream connections are served by the proxy's event
	// loops between requests, and simple requests through them (see
	// eventLoop.startStream; Linux, an HTTP/1 upstream, no stream filters).
	loops bool
	// spare holds streams the event loop finished, for new ones: a
	// stream with its exchange state is a few KiB, which would otherwise
	// make most of the garbage per request.
	spare sync.Pool
}

// newStream returns a stream to fill in (a spare one, or a new one).
func (x *h2) newStream() *h2Stream {
	if st, ok := x.spare.Get().(*h2Stream); ok {
		return st
	}
	return new(h2Stream)
}

// choice is what the handler decided for a request, for the transport.
type choice struct {
	flt     *h2Filters
	cl      *upstream.Cluster
	lbctx   upstream.LBContext
	retries uint32
	host    *upstream.Host
	info    *accesslog.Info
	timeout time.Duration
	// st is the downstream stream of an HTTP/2 request (nil for HTTP/1
	// requests sent to h2c upstreams).
	st *h2Stream
	// What the event loop did before a goroutine went on with the
	// request: picked the host (picked, for the first try), or acquired
	// the breaker's request slot, started the request on host and sent
	// it on loopUC, whose answer is due by deadline. inLoop: the loop
	// itself runs the rest (the answer is whole in loopUC's buffer).
	picked   *upstream.Host
	loopUC   *upConn
	deadline time.Time
	inLoop   bool
}

func newH2(p *Proxy, upstreamH2 bool) *h2 {
	x := &h2{p: p, useH2Up: upstreamH2, up1: h1Transport{p: p}}
	if upstreamH2 {
		x.up2 = newH2Client(p)
	}
	return x
}

type connKey struct{}

// connInfo is what the connection's context carries to the handler of
// each of its streams.
type connInfo struct {
	c             *network.Conn
	local, remote string
}

// h2Req lets the router read an *http.Request.
type h2Req struct{ r *http.Request }

func (q h2Req) Host() string   { return q.r.Host }
func (q h2Req) Path() string   { return q.r.URL.Path }
func (q h2Req) Query() string  { return q.r.URL.RawQuery }
func (q h2Req) Method() string { return q.r.Method }
func (q h2Req) Header(name string) (string, bool) {
	v := q.r.Header.Values(name)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// headerMap adapts http.Header to router.HeaderSetter.
type headerMap http.Header

func (h headerMap) Get(name string) (string, bool) {
	v := http.Header(h).Values(name)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}
func (h headerMap) Set(name, value string) { http.Header(h).Set(name, value) }
func (h headerMap) Add(name, value string) { http.Header(h).Add(name, value) }
func (h headerMap) Del(name string)        { http.Header(h).Del(name) }

// h2Exchange is what proxying one request takes besides the request
// itself: kept in its stream, so that none of it is allocated apart.
type h2Exchange struct {
	info       accesslog.Info
	cw         countingWriter
	ch         choice
	out        http.Request
	u          url.URL
	r          *http.Request
	respHeader http.Header
	route      *router.Route
	h1r        h1Resp // an HTTP/1 upstream's answer
}

// lookup serves the access log's request_header_ and response_header_
// variables.
func (ex *h2Exchange) lookup(name string) (string, bool) {
	if h, ok := strings.CutPrefix(name, "request_header_"); ok {
		return h2Req{ex.r}.Header(h)
	}
	if h, ok := strings.CutPrefix(name, "response_header_"); ok && ex.respHeader != nil {
		return headerMap(ex.respHeader).Get(h)
	}
	return "", false
}

// handleStream routes one HTTP/2 request and forwards it. st is the
// request's stream (its context), whose h2Exchange it uses.
func (x *h2) handleStream(st *h2Stream, w http.ResponseWriter, r *http.Request) {
	defer x.logStream(st)
	if !x.routeStream(st, w, r, false) {
		return
	}
	x.forward(st)
}

// resumeStream goes on with a stream the event loop routed (and perhaps
// sent upstream: ch.loopUC): the rest of handleStream.
func (x *h2) resumeStream(st *h2Stream) {
	defer x.logStream(st)
	x.forward(st)
}

// logStream ends a request: its statistics and access log. (routeStream
// set the stream's response writer first thing.)
func (x *h2) logStream(st *h2Stream) {
	p := x.p
	ex := &st.ex
	info := &ex.info
	info.ResponseCode = ex.cw.status
	info.BytesSent = ex.cw.n
	info.Duration = time.Since(info.StartTime)
	ex.respHeader = ex.cw.ResponseWriter.Header()
	p.stats.record(info, info.ResponseCode)
	for _, l := range p.accessLogs {
		l.Log(info)
	}
}

// routeStream routes the request and builds what forward sends (ex.out,
// ex.ch, ex.route); false when the request was answered (or, with
// quiet, would be answered here: the event loop leaves those to a
// goroutine, which routes again).
func (x *h2) routeStream(st *h2Stream, w http.ResponseWriter, r *http.Request, quiet bool) bool {
	p := x.p
	ex := &st.ex
	ex.r = r
	info := &ex.info
	*info = accesslog.Info{StartTime: time.Now(), Protocol: "HTTP2"}
	var c *network.Conn
	if ci := st.ci; ci != nil {
		c = ci.c
		info.ConnectionID = c.ID
		info.ListenerName = c.Listener
		info.DownstreamLocalAddress = ci.local
		info.DownstreamRemoteAddress = ci.remote
	}
	rw := &ex.cw
	*rw = countingWriter{ResponseWriter: w}
	if p.logLookup {
		info.Lookup = ex.lookup
	}
	req := h2Req{r}
	clusterName := p.cfg.Cluster
	ch := &ex.ch
	*ch = choice{info: info, timeout: DefaultTimeout, retries: router.RetryPolicy{}.MaxRetries(), st: st}
	if c != nil {
		ch.lbctx.OriginalDst = c.OriginalDst
	}
	if chain := p.filters.New(); chain != nil {
		ch.flt = &h2Filters{r: r, w: rw, chain: chain, c: addrOf(c), l: localOf(c), flags: &info.ResponseFlags}
	}
	if ch.flt.run(stream.BeforeRoute) {
		return false
	}
	var route *router.Route
	if p.routes != nil {
		route = p.routes.Match(req)
		if quiet {
			if route == nil {
				return false
			}
			if _, _, ok := route.DirectResponse(); ok {
				return false
			}
		}
		if route == nil {
			info.ResponseFlags |= accesslog.NoRouteFound
			http.Error(rw, "no route", http.StatusNotFound)
			return false
		}
		info.RouteName = route.Name()
		if status, body, ok := route.DirectResponse(); ok {
			rw.WriteHeader(status)
			io.WriteString(rw, body)
			return false
		}
		if status, loc, ok := route.Redirect(req); ok {
			if quiet {
				return false
			}
			http.Redirect(rw, r, loc, status)
			return false
		}
		clusterName = route.Cluster(req, rand.Uint64())
		if t := route.Timeout(); t > 0 {
			ch.timeout = t
		}
		ch.retries = route.Retry().MaxRetries()
	}
	info.UpstreamCluster = clusterName
	if f := ch.flt; f != nil {
		f.cluster = clusterName
		if f.run(stream.AfterRoute) {
			return false
		}
		if f.limit > 0 && r.ContentLength > f.limit {
			info.ResponseFlags |= accesslog.ReqEntityTooLarge
			f.Reply(f.limitSt, nil, "request body too large")
			return false
		}
		if f.limit > 0 && r.ContentLength < 0 {
			r.Body = http.MaxBytesReader(rw, r.Body, f.limit)
		}
	}
	ch.cl = p.clusters.Get(clusterName)
	if ch.cl == nil {
		if quiet {
			return false
		}
		info.ResponseFlags |= accesslog.NoRouteFound
		http.Error(rw, "cluster "+clusterName+" not found", http.StatusServiceUnavailable)
		return false
	}
	// A shallow copy: the header is copied only when the route changes
	// it (the access log reads the request as the client sent it). The
	// context stays the stream.
	out := &ex.out
	*out = *r
	ex.u = *r.URL
	out.URL = &ex.u
	out.URL.Scheme = "http"
	out.URL.Host = "upstream"
	ex.route = route
	if route != nil {
		if np, ok := route.RewritePath(req); ok {
			out.URL.Path, out.URL.RawPath = np, ""
		}
		if ops := route.RequestHeaderOps(); !ops.Empty() {
			out.Header = r.Header.Clone()
			ops.Apply(headerMap(out.Header))
		}
		if k, ok := route.HashKey(req, info.DownstreamRemoteAddress); ok {
			ch.lbctx.HashKey, ch.lbctx.HasHash = k, true
		}
		ch.lbctx.MetadataMatch = route.MetadataMatch(clusterName)
		if host, ok := route.HostRewrite(h2Req{out}, ""); ok && host != "" {
			out.Host = host
		}
	}
	if ch.flt != nil {
		ch.lbctx.MetadataMatch = mergeMeta(ch.lbctx.MetadataMatch, ch.flt.meta)
	}
	if od := ch.cl.Config().OriginalDstLbConfig; od != nil && od.UseHeader {
		if v, ok := req.Header(od.HeaderNameOrDefault()); ok && v != "" {
			ch.lbctx.OriginalDst = v
		}
	}
	return true
}

func localOf(c *network.Conn) net.Addr {
	if c == nil {
		return &net.TCPAddr{}
	}
	return c.LocalAddr()
}

func addrOf(c *network.Conn) net.Addr {
	if c == nil {
		return &net.TCPAddr{}
	}
	return c.RemoteAddr()
}

// forward sends the routed request upstream and relays the answer with
// the route's response header ops.
func (x *h2) forward(st *h2Stream) {
	ex := &st.ex
	var w http.ResponseWriter = &ex.cw
	out, ch, route := &ex.out, &ex.ch, ex.route
	flt := ch.flt
	if st, ok := out.Body.(*h2Stream); ok && out.Trailer != nil {
		// Request trailers arrive after the request was built: they go
		// into the request the transport sends, at the end of the body.
		st.setTrailerDst(out.Trailer)
	}
	resp, err := x.roundTrip(out, ch)
	if err != nil {
		x.errorHandler(w, out, err)
		return
	}
	defer resp.Body.Close()
	for _, k := range hopByHopResponse {
		delete(resp.Header, k)
	}
	if route != nil {
		route.ResponseHeaderOps().Apply(headerMap(resp.Header))
	}
	if flt != nil {
		flt.resp = resp
		flt.chain.Append(out.Context(), flt)
	}
	var h http.Header
	if hw, ok := ex.cw.ResponseWriter.(*h2rw); ok && len(hw.hdr) == 0 && resp.Header != nil {
		// The answer's header map becomes the response's: no copy.
		hw.hdr, h = resp.Header, resp.Header
	} else {
		h = w.Header()
		for k, vs := range resp.Header {
			h[k] = vs
		}
	}
	var declared []string
	if len(resp.Trailer) > 0 {
		for k := range resp.Trailer {
			declared = append(declared, k)
		}
		h["Trailer"] = []string{strings.Join(declared, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	// Answers of unknown length (gRPC, server-sent events) are passed on
	// as they come; others leave the writer to batch.
	flush := resp.ContentLength < 0
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		n, rerr := resp.Body.Read(*bp)
		if n > 0 {
			if _, werr := w.Write((*bp)[:n]); werr != nil {
				return // the client went away or reset the stream
			}
			if flush {
				http.NewResponseController(w).Flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// The answer broke off after its head went out: the
			// stream is reset rather than ended as if complete.
			x.p.log.Debugf("[proxy] [http2] %s %s: upstream body: %v", out.Method, out.URL.Path, rerr)
			panic(http.ErrAbortHandler)
		}
	}
	resp.Body.Close() // fills resp.Trailer
	for k, vs := range resp.Trailer {
		if slices.Contains(declared, k) {
			h[k] = vs
		} else {
			h[http.TrailerPrefix+k] = vs
		}
	}
}

// hopByHopResponse are the answer's connection-specific fields, which are
// not relayed (RFC 9110 §7.6.1).
var hopByHopResponse = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te", "Trailer"}

var (
	errNoHost   = errors.New("no healthy upstream")
	errFiltered = errors.New("answered by a stream filter")
	errOverflow = errors.New("upstream overflow: max_requests")
)

// roundTrip picks the host (retrying connect failures on another one) and
// sends the request with the transport of the upstream protocol. The
// route timeout runs until the response head arrives; streams then live
// as long as their peers keep them.
func (x *h2) roundTrip(req *http.Request, ch *choice) (*http.Response, error) {
	br := x.p.breakers.Get(ch.cl.Config())
	if ch.loopUC == nil && !br.AcquireRequest() {
		ch.info.ResponseFlags |= accesslog.UpstreamOverflow
		return nil, errOverflow
	}
	defer br.ReleaseRequest()
	for attempt := uint32(0); ; attempt++ {
		h := ch.host
		if attempt > 0 || ch.loopUC == nil {
			if h = ch.picked; h != nil {
				ch.picked = nil
			} else if h = ch.cl.Pick(&ch.lbctx); h == nil {
				ch.info.ResponseFlags |= accesslog.NoHealthyUpstream
				return nil, errNoHost
			}
			ch.host = h
			ch.info.UpstreamHost = h.Address()
			if f := ch.flt; f != nil {
				f.host = h.Address()
				if f.run(stream.AfterChooseHost) {
					return nil, errFiltered
				}
			}
			req.URL.Host = h.Address()
			h.RequestStart()
		}
		var resp *http.Response
		var err error
		if x.useH2Up {
			resp, err = x.up2.roundTrip(req, ch)
		} else {
			resp, err = x.up1.roundTrip(req, ch)
		}
		h.RequestEnd()
		// Dial reports failed connects itself; a client that went away
		// says nothing about the host.
		if err == nil || !errors.As(err, new(*upstream.DialError)) && !ch.cancelled(req) {
			ch.cl.ReportResult(h, err == nil && resp.StatusCode < 500)
		}
		if err == nil {
			return resp, nil
		}
		var dialErr *upstream.DialError
		if errors.As(err, &dialErr) && attempt < ch.retries {
			ch.lbctx.Exclude = h
			continue
		}
		if errors.As(err, &dialErr) {
			ch.info.ResponseFlags |= accesslog.UpstreamConnectionFailure
		}
		return nil, err
	}
}

// cancelled reports whether the downstream request was cancelled (its
// stream reset, or its context done).
func (ch *choice) cancelled(req *http.Request) bool {
	if ch.st != nil {
		return ch.st.Err() != nil
	}
	return req.Context().Err() != nil
}

func (x *h2) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errFiltered) {
		return
	}
	status := http.StatusBadGateway
	var dialErr *upstream.DialError
	switch {
	case errors.Is(err, errNoHost), errors.As(err, &dialErr), errors.Is(err, errOverflow):
		status = http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nothing to answer.
		return
	}
	x.p.log.Debugf("[proxy] [http2] %s %s: %v", r.Method, r.URL.Path, err)
	http.Error(w, http.StatusText(status), status)
}

// countingWriter records the status and body bytes for the access log
// while keeping Flush and trailers working (Unwrap).
type countingWriter struct {
	http.ResponseWriter
	status int
	n      uint64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += uint64(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *countingWriter) Flush() {
	http.NewResponseController(w.ResponseWriter).Flush()
}
