package proxy

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/codec/http1"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/router"
	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/upstream"
	"mosn.dev/proxy/upstream/circuit"
)

// h1Server serves one downstream HTTP/1 connection: requests are handled
// one at a time, so pipelined requests are answered in order. Between
// requests the connection holds no read buffer.
type h1Server struct {
	// lookupFn is s.lookup, made once (see begin).
	lookupFn func(string) (string, bool)
	p        *Proxy
	c        *network.Conn
	wait     func() error
	buf      *[]byte
	r, w     int
	parser   *http1.Parser
	body     http1.BodyReader
	out      []byte
	info     accesslog.Info
	req      reqView
	resp     *http1.Header // the response head being logged, or nil
	lookup   func(string) (string, bool)
	// local and remote are the connection's addresses, formatted once.
	local, remote string

	// Per attempt: whether a failed exchange may be sent again, and the
	// route's retry policy for 5xx answers.
	allowRetry bool
	allow5xx   bool
	policy     router.RetryPolicy

	// flt runs the listener's stream filters on this request, or is nil.
	flt *h1Filters

	// rq is the request in progress.
	rq h1Req
	// lp is the event loop serving the connection, or nil while a
	// goroutine does (see eventLoop); lw is the loop's state for it.
	lp *eventLoop
	lw loopConn
}

func newH1Server(p *Proxy, c *network.Conn) *h1Server {
	s := &h1Server{p: p, c: c, wait: network.NewReadWaiter(c.Conn), parser: http1.NewRequestParser(p.limits)}
	s.req.h = s.parser.Header()
	s.lookup = s.lookupVar
	s.local, s.remote = addrString(c.LocalAddr()), addrString(c.RemoteAddr())
	return s
}

// reqView lets the router read a parsed request without copying.
type reqView struct{ h *http1.Header }

func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (v *reqView) Host() string {
	h, _ := v.h.Host()
	return bstr(h)
}
func (v *reqView) Path() string   { return bstr(v.h.Path()) }
func (v *reqView) Query() string  { return bstr(v.h.Query()) }
func (v *reqView) Method() string { return bstr(v.h.Method()) }
func (v *reqView) Header(name string) (string, bool) {
	b, ok := v.h.Get(name)
	return bstr(b), ok
}

// headerOps adapts an http1.Header to router.HeaderSetter.
type headerOps struct{ h *http1.Header }

func (o headerOps) Get(name string) (string, bool) {
	b, ok := o.h.Get(name)
	return string(b), ok
}
func (o headerOps) Set(name, value string) { o.h.Set(name, value) }
func (o headerOps) Add(name, value string) { o.h.Add(name, value) }
func (o headerOps) Del(name string)        { o.h.Del(name) }

func (s *h1Server) lookupVar(name string) (string, bool) {
	if h, ok := strings.CutPrefix(name, "request_header_"); ok {
		v, found := s.req.h.Get(h)
		return string(v), found
	}
	if h, ok := strings.CutPrefix(name, "response_header_"); ok && s.resp != nil {
		v, found := s.resp.Get(h)
		return string(v), found
	}
	return "", false
}

func (s *h1Server) serve() {
	for {
		err := s.readHead()
		if err == errParked {
			// The poller or the event loop owns the connection now:
			// s must not be touched again.
			return
		}
		if err != nil || !s.handle() || s.closing() {
			break
		}
	}
	s.c.Close()
	s.releaseBuf()
}

// errParked ends a serving goroutine whose idle connection was handed to
// the poller.
var errParked = errors.New("parked")

// parkAfter is how long an idle connection waits on its goroutine before
// it is parked: resuming a parked connection costs about 15 µs more than
// a goroutine's wake-up, which only connections quiet for a second pay.
const parkAfter = time.Second

// waitBriefly waits up to parkAfter (or the idle timeout if shorter) for
// the next request, holding no buffer, and wakes up for a drain. It
// reports how long it waited and whether bytes (or EOF) are queued.
func (s *h1Server) waitBriefly() (time.Duration, bool) {
	s.releaseBuf()
	if !s.c.EnterIdle() {
		return 0, false
	}
	wait := parkAfter
	if t := s.c.IdleTimeout; t > 0 && t < wait {
		wait = t
	}
	start := time.Now()
	s.c.SetReadDeadline(start.Add(wait))
	err := s.wait()
	s.c.ExitIdle()
	s.c.SetReadDeadline(time.Time{})
	return time.Since(start), err == nil
}

// park hands the idle connection to the poller (see network.Conn.Park)
// for the rest of its idle timeout: nothing is buffered, and the h1Server
// is dropped; a new one serves the connection when it becomes readable.
func (s *h1Server) park(waited time.Duration) bool {
	c := s.c
	if c.Poller == nil || c.Draining() || !network.Alive(c.Conn) {
		// No poller, or bytes (or EOF) are already queued: read them.
		return false
	}
	idle := c.IdleTimeout
	if idle > 0 {
		if idle -= waited; idle <= 0 {
			return false
		}
	}
	s.releaseBuf()
	p := s.p
	return c.Park(idle, true, func(r network.WakeReason) { p.resumeH1(c, r) })
}

// resumeH1 serves a parked HTTP/1 connection again, on the poller's new
// goroutine.
func (p *Proxy) resumeH1(c *network.Conn, r network.WakeReason) {
	defer func() {
		if e := recover(); e != nil {
			p.log.Errorf("[proxy] [http1] connection %d panic: %v", c.ID, e)
			c.Close()
		}
	}()
	switch r {
	case network.IdleTimeout:
		c.Close()
		return
	case network.Woken:
		switch {
		case !c.Draining():
			c.Close() // the poller is shutting down
			return
		case c.CanTransfer():
			// Queued request bytes travel with the socket.
			c.Transfer()
			c.Close()
			return
		case network.Alive(c.Conn):
			c.Close()
			return
		}
		// A request arrived just as the drain began: serve it.
	}
	newH1Server(p, c).serve()
}

func (s *h1Server) releaseBuf() {
	if s.buf != nil && s.r == s.w {
		bufPool.Put(s.buf)
		s.buf = nil
		s.r, s.w = 0, 0
	}
	if cap(s.out) > 64<<10 {
		s.out = nil
	}
}

// fill reads more bytes from the downstream. When nothing is buffered it
// first waits for data without holding a buffer.
func (s *h1Server) fill(idle bool) error {
	if s.r == s.w {
		s.r, s.w = 0, 0
		if idle && s.p.h1Loops && s.adopt() {
			return errParked
		}
		if idle && s.buf != nil && !s.c.Draining() {
			// A busy keep-alive connection sends its next request soon:
			// read it with the buffer still held, which costs one syscall
			// less than parking first. Only a connection quiet for
			// hotWindow parks without a buffer.
			//
			// Other connections' work first (see yieldGate).
			s.p.gate.yield()
			s.c.SetReadDeadline(time.Now().Add(hotWindow))
			n, err := s.p.gate.read(s.c, *s.buf)
			s.c.SetReadDeadline(time.Time{})
			if n > 0 {
				s.w = n
				return nil
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				if err == nil {
					err = io.ErrNoProgress
				}
				return err
			}
		}
		var waited time.Duration
		if idle && s.c.Poller != nil {
			// Connections active in the last parkAfter keep waiting on
			// this goroutine (no buffer held); quieter ones are parked.
			var ok bool
			waited, ok = s.waitBriefly()
			if ok {
				idle = false
			} else if t := s.c.IdleTimeout; t > 0 && waited >= t && !s.c.Draining() {
				return os.ErrDeadlineExceeded // the idle timeout
			}
		}
		if idle && s.park(waited) {
			return errParked
		}
		if idle {
			if err := s.waitIdle(); err != nil {
				return err
			}
		}
	}
	if s.buf == nil {
		s.buf = bufPool.Get().(*[]byte)
	}
	b := *s.buf
	if s.r > 0 {
		copy(b, b[s.r:s.w])
		s.w -= s.r
		s.r = 0
	}
	if s.w == len(b) {
		grown := make([]byte, 2*len(b))
		copy(grown, b[:s.w])
		*s.buf = grown
		b = grown
	}
	n, err := s.c.Read(b[s.w:])
	s.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// hotWindow is how long a keep-alive connection waits for its next
// request holding its read buffer before it parks without one.
const hotWindow = 50 * time.Millisecond

// errDrained ends an idle connection during a graceful stop;
// errTransferred one whose socket was passed to a new process.
var (
	errDrained     = errors.New("draining")
	errTransferred = errors.New("transferred to the new process")
)

// closing reports whether the connection must end after the current
// response: it is draining and cannot be passed to a new process (one
// that can is kept alive and passed on at its next idle point).
func (s *h1Server) closing() bool {
	return s.c.Draining() && !s.c.CanTransfer()
}

// waitIdle waits for the next request without holding a buffer, honouring
// the listener's idle timeout and waking up for a graceful stop.
func (s *h1Server) waitIdle() error {
	s.releaseBuf()
	if !s.c.EnterIdle() {
		return s.drained()
	}
	if t := s.c.IdleTimeout; t > 0 {
		s.c.SetReadDeadline(time.Now().Add(t))
	}
	err := s.wait()
	s.c.ExitIdle()
	s.c.SetReadDeadline(time.Time{})
	if err != nil && s.c.Draining() {
		switch {
		case s.c.CanTransfer():
			// Nothing is read yet: a request already queued travels
			// with the socket.
			return s.drained()
		case network.Alive(s.c.Conn):
			// Only the drain woke us and no request is queued.
			return errDrained
		default:
			// A request arrived just as the drain began: serve it.
			return nil
		}
	}
	return err
}

// drained ends an idle draining connection: passed to the new process
// during a smooth upgrade, else closed.
func (s *h1Server) drained() error {
	if s.c.Transfer() {
		return errTransferred
	}
	return errDrained
}

// readHead parses the next request head. An error ends the connection;
// errParked means it was handed over (see serve).
func (s *h1Server) readHead() error {
	s.parser.Reset()
	for {
		if s.r < s.w {
			n, err := s.parser.Parse((*s.buf)[s.r:s.w])
			if err == nil {
				s.r += n
				return nil
			}
			if err != http1.ErrNeedMore {
				s.localReply(http1.StatusOf(err), false, err.Error())
				return err
			}
		}
		if err := s.fill(s.r == s.w); err != nil {
			if err == errParked {
				return err
			}
			if s.r < s.w {
				s.p.log.Debugf("[proxy] [http1] connection %d: incomplete request head: %v", s.c.ID, err)
			}
			return err
		}
	}
}

// hop-by-hop fields are not forwarded (RFC 9110 §7.6.1); framing fields
// are rewritten by the proxy.
var hopByHop = []string{"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length", "expect"}

func isHopByHop(name []byte, conn []byte) bool {
	for _, h := range hopByHop {
		if len(name) == len(h) && strings.EqualFold(bstr(name), h) {
			return true
		}
	}
	if len(conn) > 0 {
		for _, tok := range strings.Split(bstr(conn), ",") {
			if strings.EqualFold(strings.TrimSpace(tok), bstr(name)) {
				return true
			}
		}
	}
	return false
}

// appendFields appends the fields of h that are not hop-by-hop.
func appendFields(dst []byte, h *http1.Header) []byte {
	conn, _ := h.Get("connection")
	h.Range(func(name, value []byte) bool {
		if !isHopByHop(name, conn) {
			dst = append(dst, name...)
			dst = append(dst, ':', ' ')
			dst = append(dst, value...)
			dst = append(dst, '\r', '\n')
		}
		return true
	})
	return dst
}

func appendFraming(dst []byte, f http1.Framing, chunked bool) []byte {
	switch {
	case f.Kind == http1.BodyLength:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, f.Length, 10)
		dst = append(dst, '\r', '\n')
	case chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	return dst
}

// h1Req is the state of the request in progress: what handle works out
// before the first try, and where its tries stand. It lives in the
// h1Server so that a request the event loop began can be finished by a
// goroutine.
type h1Req struct {
	start   time.Time
	keep    bool
	route   *router.Route
	cl      *upstream.Cluster
	lbctx   upstream.LBContext
	br      *circuit.Breaker // its request slot is held, or nil
	timeout time.Duration
	// deadline is start plus the route timeout (for all tries).
	deadline time.Time
	retries  uint32
	attempt  uint32
	retrying bool // a max_retries slot is held
	// The current try's host, and whether its connection was reused.
	host   *upstream.Host
	reused bool
	// picked is the host the event loop picked for a try it left to a
	// goroutine (tryLater), which then uses it: picking again would
	// skew the balancer.
	picked *upstream.Host
}

// handle proxies one request; false means close the connection.
func (s *h1Server) handle() bool {
	defer s.endRequest()
	if keep, done := s.begin(); done {
		return keep
	}
	if s.p.h1ToH2 {
		rq := &s.rq
		return s.viaH2(rq.cl, rq.route, rq.lbctx, rq.timeout, rq.retries, rq.keep)
	}
	return s.tries()
}

// endRequest releases the circuit breaker's slots the request holds and
// logs it (once).
func (s *h1Server) endRequest() {
	rq := &s.rq
	if rq.retrying {
		rq.br.ReleaseRetry()
		rq.retrying = false
	}
	if rq.br != nil {
		rq.br.ReleaseRequest()
		rq.br = nil
	}
	s.logAccess(rq.start)
}

// begin does what comes before a request's first try: the stream
// filters, routing, local answers and the circuit breaker's request
// slot. done means the request was answered; keep then says whether the
// connection stays open.
func (s *h1Server) begin() (keep, done bool) {
	start := time.Now()
	hdr := s.parser.Header()
	s.resp = nil
	s.info = accesslog.Info{
		StartTime:               start,
		Protocol:                "HTTP1",
		ConnectionID:            s.c.ID,
		ListenerName:            s.c.Listener,
		DownstreamLocalAddress:  s.local,
		DownstreamRemoteAddress: s.remote,
	}
	if s.p.logLookup {
		if s.lookupFn == nil {
			s.lookupFn = s.lookup // once: a method value allocates
		}
		s.info.Lookup = s.lookupFn
	}
	s.rq = h1Req{start: start}
	keep = s.parser.KeepAlive()
	s.rq.keep = keep
	framing := s.parser.Framing()
	s.body.Reset(framing, s.p.limits)
	s.flt = nil
	if chain := s.p.filters.New(); chain != nil {
		s.flt = &h1Filters{s: s, chain: chain}
	}
	if s.flt.run(stream.BeforeRoute) {
		return s.flt.keep, true
	}

	if string(hdr.Method()) == "CONNECT" {
		s.localReply(501, false, "CONNECT is not supported by this proxy")
		return false, true
	}
	if s.p.maxBody > 0 && framing.Kind == http1.BodyLength && framing.Length > s.p.maxBody {
		s.info.ResponseFlags |= accesslog.ReqEntityTooLarge
		s.localReply(413, false, "request body too large")
		return false, true
	}

	var route *router.Route
	clusterName := s.p.cfg.Cluster
	timeout := DefaultTimeout
	// Connect failures are retried on another host like MOSN does, even
	// without a retry policy.
	s.policy = router.RetryPolicy{}
	retries := s.policy.MaxRetries()
	if s.p.routes != nil {
		route = s.p.routes.Match(&s.req)
		if route == nil {
			s.info.ResponseFlags |= accesslog.NoRouteFound
			return s.replyKeep(404, keep, "no route"), true
		}
		s.info.RouteName = route.Name()
		if status, body, ok := route.DirectResponse(); ok {
			return s.replyKeep(status, keep, body), true
		}
		if status, loc, ok := route.Redirect(&s.req); ok {
			return s.redirect(status, loc, keep), true
		}
		clusterName = route.Cluster(&s.req, rand.Uint64())
		if t := route.Timeout(); t > 0 {
			timeout = t
		}
		s.policy = route.Retry()
		retries = s.policy.MaxRetries()
	}
	s.info.UpstreamCluster = clusterName
	if s.flt != nil {
		s.flt.cluster = clusterName
		if s.flt.run(stream.AfterRoute) {
			return s.flt.keep, true
		}
		if l := s.flt.limit; l > 0 && framing.Kind == http1.BodyLength && framing.Length > l {
			s.info.ResponseFlags |= accesslog.ReqEntityTooLarge
			s.localReply(s.flt.limitSt, false, "request body too large")
			return false, true
		}
	}
	cl := s.p.clusters.Get(clusterName)
	if cl == nil {
		s.info.ResponseFlags |= accesslog.NoRouteFound
		return s.replyKeep(503, keep, "cluster "+clusterName+" not found"), true
	}
	if route != nil {
		if np, ok := route.RewritePath(&s.req); ok {
			target := np
			if q := hdr.Query(); len(q) > 0 {
				target += "?" + string(q)
			}
			hdr.SetTarget(target)
		}
		route.RequestHeaderOps().Apply(headerOps{hdr})
	}
	lbctx := upstream.LBContext{OriginalDst: s.c.OriginalDst}
	if route != nil {
		if k, ok := route.HashKey(&s.req, s.remote); ok {
			lbctx.HashKey, lbctx.HasHash = k, true
		}
		lbctx.MetadataMatch = route.MetadataMatch(clusterName)
	}
	if s.flt != nil {
		lbctx.MetadataMatch = mergeMeta(lbctx.MetadataMatch, s.flt.meta)
	}
	if od := cl.Config().OriginalDstLbConfig; od != nil && od.UseHeader {
		if v, ok := s.req.Header(od.HeaderNameOrDefault()); ok && v != "" {
			lbctx.OriginalDst = v
		}
	}
	br := s.p.breakers.Get(cl.Config())
	if !br.AcquireRequest() {
		s.info.ResponseFlags |= accesslog.UpstreamOverflow
		return s.replyAfterBody(503, keep, "upstream overflow"), true
	}
	rq := &s.rq
	rq.br, rq.route, rq.cl, rq.lbctx = br, route, cl, lbctx
	rq.timeout, rq.deadline, rq.retries = timeout, start.Add(timeout), retries
	return keep, false
}

// tries sends the request to upstream hosts, from try s.rq.attempt on,
// until one answers or the retries run out.
func (s *h1Server) tries() bool {
	for ; ; s.rq.attempt++ {
		uc, st, keep := s.nextTry(false)
		switch st {
		case tryDone:
			return keep
		case tryAgain:
			continue
		}
		res := s.exchange(uc, s.rq.route, s.rq.deadline, s.rq.keep)
		if keep, done := s.tryEnded(res); done {
			return keep
		}
	}
}

// tryState is what nextTry did.
type tryState int

const (
	tryGo    tryState = iota // a connection is ready: exchange on it
	tryDone                  // the request was answered (an error reply)
	tryAgain                 // no connection: go on with the next try
	tryLater                 // the event loop has no idle connection: a goroutine must dial
)

// nextTry starts try s.rq.attempt: a max_retries slot for a retry, a
// host, a connection to it. From the event loop (loop set) it only takes
// an idle connection, and a host that has none gives tryLater with
// nothing done that a goroutine's nextTry would repeat.
func (s *h1Server) nextTry(loop bool) (*upConn, tryState, bool) {
	rq := &s.rq
	if rq.attempt > 0 && !rq.retrying {
		// A retry holds a max_retries slot until the request ends.
		if !rq.br.AcquireRetry() {
			s.info.ResponseFlags |= accesslog.UpstreamOverflow
			return nil, tryDone, s.replyAfterBody(503, rq.keep, "upstream overflow (max_retries)")
		}
		rq.retrying = true
	}
	h := rq.picked
	rq.picked = nil
	if h == nil {
		h = rq.cl.Pick(&rq.lbctx)
	}
	if h == nil {
		s.info.ResponseFlags |= accesslog.NoHealthyUpstream
		return nil, tryDone, s.replyAfterBody(503, rq.keep, "no healthy upstream")
	}
	s.info.UpstreamHost = h.Address()
	if s.flt != nil {
		s.flt.host = h.Address()
		if s.flt.run(stream.AfterChooseHost) {
			return nil, tryDone, s.flt.keep
		}
	}
	var (
		uc     *upConn
		reused bool
		err    error
	)
	if loop {
		if uc = s.lp.take(rq.cl, h); uc == nil {
			rq.picked = h
			return nil, tryLater, false
		}
		reused = true
	} else {
		uc, reused, err = s.p.pools.get(rq.cl, h, s.p.limits, rq.br)
	}
	if err != nil {
		if errors.Is(err, errConnOverflow) {
			s.info.ResponseFlags |= accesslog.UpstreamOverflow
			return nil, tryDone, s.replyAfterBody(503, rq.keep, "upstream overflow (max_connections)")
		}
		if rq.attempt < rq.retries {
			rq.lbctx.Exclude = h
			return nil, tryAgain, false
		}
		s.info.ResponseFlags |= accesslog.UpstreamConnectionFailure
		return nil, tryDone, s.replyAfterBody(503, rq.keep, "upstream connect error")
	}
	h.RequestStart()
	rq.host, rq.reused = h, reused
	bodyless := s.parser.Framing().Kind == http1.BodyNone
	s.allowRetry = rq.attempt < rq.retries && bodyless
	s.allow5xx = rq.attempt < s.policy.NumRetries && bodyless
	return uc, tryGo, false
}

// tryEnded ends the current try with its exchange's result; done means
// the request is over (keep: the connection stays open), else the next
// try follows.
func (s *h1Server) tryEnded(res exResult) (keep, done bool) {
	rq := &s.rq
	rq.host.RequestEnd()
	switch res {
	case exRetry:
		if !rq.reused {
			rq.lbctx.Exclude = rq.host
		}
		return false, false
	case exDone:
		return rq.keep && !s.closing(), true
	}
	return false, true
}

type exResult int

const (
	exDone      exResult = iota // response relayed, downstream may continue
	exDoneClose                 // response relayed, close downstream
	exFailed                    // failed after a reply was sent or the downstream broke
	exRetry                     // nothing was sent downstream and the request can be sent again
)

// exchange sends the request on uc and relays the response.
func (s *h1Server) exchange(uc *upConn, route *router.Route, deadline time.Time, keep bool) exResult {
	uc.SetDeadline(deadline)
	if res, ok := s.send(uc, route); !ok {
		return res
	}
	// The answer cannot be there yet: other connections' work first
	// (see yieldGate).
	s.p.gate.yield()
	s.respStart(uc)
	return s.await(uc, route, keep)
}

// await reads the response head, then relays the response.
func (s *h1Server) await(uc *upConn, route *router.Route, keep bool) exResult {
	for {
		if res, st := s.respHead(uc); st != headMore {
			if st == headFailed {
				return res
			}
			return s.relay(uc, route, keep)
		}
		if err := uc.fill(); err != nil {
			return s.upstreamFailed(uc, err, uc.w > 0 || s.parser.Framing().Kind != http1.BodyNone)
		}
	}
}

// send writes the request (head and body) to uc; on false the exchange
// ended with the result given.
func (s *h1Server) send(uc *upConn, route *router.Route) (exResult, bool) {
	hdr := s.parser.Header()
	framing := s.parser.Framing()
	uc.requests++
	s.info.UpstreamLocalAddress = uc.localAddr()

	// Request head.
	uc.out = append(uc.out[:0], hdr.Method()...)
	uc.out = append(uc.out, ' ')
	uc.out = append(uc.out, hdr.Target()...)
	uc.out = append(uc.out, " HTTP/1.1\r\n"...)
	if route != nil {
		if host, ok := route.HostRewrite(&s.req, uc.host.Address()); ok {
			hdr.Set("host", host)
		}
	}
	uc.out = appendFields(uc.out, hdr)
	upgrade := s.parser.Upgrade()
	if upgrade != nil {
		// Upgrade and Connection are hop-by-hop, but a protocol switch
		// (websocket) must reach the upstream to happen at all.
		uc.out = append(uc.out, "Connection: Upgrade\r\nUpgrade: "...)
		uc.out = append(uc.out, upgrade...)
		uc.out = append(uc.out, '\r', '\n')
	}
	chunked := framing.Kind == http1.BodyChunked
	uc.out = appendFraming(uc.out, framing, chunked)
	uc.out = append(uc.out, '\r', '\n')

	// Request body, streamed.
	if framing.Kind != http1.BodyNone {
		if s.parser.ExpectContinue() && s.r == s.w {
			if err := s.write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
				return exFailed, false
			}
		}
		if err := s.forwardBody(uc, chunked); err != nil {
			if !errors.Is(err, errTooLarge) && (errors.Is(err, errDownstream) || errors.Is(err, errBadBody)) {
				// The upstream saw part of a request: it cannot be reused.
				uc.close()
			}
			if errors.Is(err, errDownstream) {
				s.info.ResponseFlags |= accesslog.DownstreamConnectionTermination
				return exFailed, false
			}
			if errors.Is(err, errBadBody) {
				s.localReply(400, false, err.Error())
				return exFailed, false
			}
			if errors.Is(err, errTooLarge) {
				uc.close()
				s.info.ResponseFlags |= accesslog.ReqEntityTooLarge
				st := 413
				if s.flt != nil && s.flt.limitSt > 0 {
					st = s.flt.limitSt
				}
				s.localReply(st, false, "request body too large")
				return exFailed, false
			}
			return s.upstreamFailed(uc, err, true), false
		}
	}
	if err := uc.flush(); err != nil {
		return s.upstreamFailed(uc, err, framing.Kind != http1.BodyNone), false
	}
	s.info.RequestReceivedDuration = time.Since(s.info.StartTime)
	return 0, true
}

// headState is what respHead found.
type headState int

const (
	headMore   headState = iota // the head is not complete: read more
	headDone                    // the response head is parsed
	headFailed                  // a bad response: answered 502
)

// respStart readies uc's parser for the response to the request.
func (s *h1Server) respStart(uc *upConn) {
	uc.parser.Reset()
	uc.parser.SetRequestMethod(s.parser.Header().Method())
}

// respHead parses the response head from what uc has buffered, skipping
// interim (1xx) answers.
func (s *h1Server) respHead(uc *upConn) (exResult, headState) {
	for uc.buf != nil && uc.r < uc.w {
		n, err := uc.parser.Parse(uc.in())
		if err == nil {
			uc.r += n
			if st := uc.parser.Header().Status(); st >= 100 && st < 200 && st != 101 {
				s.respStart(uc)
				continue
			}
			return 0, headDone
		}
		if err != http1.ErrNeedMore {
			s.p.log.Warnf("[proxy] [http1] bad response from %s: %v", uc.host.Address(), err)
			uc.cl.ReportResult(uc.host, false)
			uc.close()
			s.info.ResponseFlags |= accesslog.UpstreamConnectionTermination
			s.localReply(502, false, "bad response from upstream")
			return exFailed, headFailed
		}
		break
	}
	return 0, headMore
}

// relay relays the response whose head uc's parser holds: head, then
// the body, streamed.
func (s *h1Server) relay(uc *upConn, route *router.Route, keep bool) exResult {
	hdr := s.parser.Header()
	s.info.ResponseReceivedDuration = time.Since(s.info.StartTime)
	resp := uc.parser.Header()
	uc.cl.ReportResult(uc.host, resp.Status() < 500)
	if s.parser.Upgrade() != nil && resp.Status() == 101 {
		return s.tunnel(uc, resp)
	}
	if s.allow5xx && s.policy.RetryStatus(resp.Status()) {
		s.p.log.Debugf("[proxy] [http1] retrying after status %d from %s", resp.Status(), uc.host.Address())
		uc.close()
		return exRetry
	}
	s.resp = resp
	s.info.ResponseCode = resp.Status()
	rframing := uc.parser.Framing()
	if route != nil {
		route.ResponseHeaderOps().Apply(headerOps{resp})
	}
	if s.flt != nil {
		s.flt.respHead = resp
		s.flt.chain.Append(context.Background(), s.flt)
	}
	downKeep := keep && !s.closing()
	// A body delimited by the upstream closing is re-framed as chunked for
	// an HTTP/1.1 client so its connection can stay open.
	rechunk := rframing.Kind == http1.BodyChunked || (rframing.Kind == http1.BodyUntilClose && hdr.ProtoMinor() == 1)
	if rframing.Kind == http1.BodyUntilClose && !rechunk {
		downKeep = false
	}
	s.out = append(s.out[:0], "HTTP/1.1 "...)
	s.out = strconv.AppendInt(s.out, int64(resp.Status()), 10)
	s.out = append(s.out, ' ')
	s.out = append(s.out, resp.Reason()...)
	s.out = append(s.out, '\r', '\n')
	s.out = appendFields(s.out, resp)
	s.out = appendFraming(s.out, rframing, rechunk)
	if st := resp.Status(); rframing.Kind == http1.BodyNone && st >= 200 && st != 204 {
		// No body follows, but the length the upstream gave is relayed:
		// 0 for an empty answer (without it an HTTP/1.1 client reads
		// until the connection closes), the entity's for HEAD and 304.
		if cl := uc.parser.ContentLength(); cl >= 0 {
			s.out = append(s.out, "Content-Length: "...)
			s.out = strconv.AppendInt(s.out, cl, 10)
			s.out = append(s.out, '\r', '\n')
		}
	}
	if !downKeep {
		s.out = append(s.out, "Connection: close\r\n"...)
	}
	s.out = append(s.out, '\r', '\n')

	// Response body, streamed.
	uc.body.Reset(rframing, s.p.limits)
	var sent uint64
	starved := false
	for !uc.body.Done() && rframing.Kind != http1.BodyNone {
		if uc.r == uc.w || uc.buf == nil || starved {
			if len(s.out) > 0 {
				if err := s.write(s.out); err != nil {
					uc.close()
					s.info.ResponseFlags |= accesslog.DownstreamConnectionTermination
					return exFailed
				}
				s.out = s.out[:0]
			}
			uc.SetReadDeadline(time.Now().Add(s.bodyTimeout()))
			if err := uc.fill(); err != nil {
				if rframing.Kind == http1.BodyUntilClose && errors.Is(err, io.EOF) {
					break
				}
				uc.close()
				s.info.ResponseFlags |= accesslog.UpstreamConnectionTermination
				return exFailed
			}
		}
		n, _, err := uc.body.Decode(uc.in(), func(p []byte) {
			sent += uint64(len(p))
			if rechunk {
				s.out = http1.AppendChunk(s.out, p)
			} else {
				s.out = append(s.out, p...)
			}
		})
		uc.r += n
		starved = n == 0
		if err != nil {
			uc.close()
			s.info.ResponseFlags |= accesslog.UpstreamConnectionTermination
			return exFailed
		}
		if len(s.out) >= 32<<10 {
			if err := s.write(s.out); err != nil {
				uc.close()
				s.info.ResponseFlags |= accesslog.DownstreamConnectionTermination
				return exFailed
			}
			s.out = s.out[:0]
		}
	}
	if rechunk {
		s.out = http1.AppendLastChunk(s.out, uc.body.Trailers())
	}
	s.info.BytesSent = sent
	werr := s.write(s.out)
	s.out = s.out[:0]
	// One clock reading for both: the request is finished when its
	// answer is written.
	s.info.RequestFinishedDuration = time.Since(s.info.StartTime)
	s.logAccessTook(s.info.RequestFinishedDuration)
	s.resp = nil
	if uc.parser.KeepAlive() && rframing.Kind != http1.BodyUntilClose {
		s.putUp(uc)
	} else {
		uc.close()
	}
	if werr != nil {
		return exFailed
	}
	if !downKeep {
		return exDoneClose
	}
	return exDone
}

// putUp ends the request's use of uc, which stays open for another.
func (s *h1Server) putUp(uc *upConn) {
	if s.lp != nil {
		s.lp.put(uc)
		return
	}
	uc.SetDeadline(time.Time{})
	s.p.pools.put(uc)
}

// write sends b downstream. On a goroutine it blocks until all is sent;
// from the event loop it never blocks, and what the socket did not take
// waits in s.lw.pending for the goroutine the loop then hands the
// connection to.
func (s *h1Server) write(b []byte) error {
	if s.lp != nil {
		return s.lp.write(s, b)
	}
	_, err := s.c.Write(b)
	return err
}

func (s *h1Server) bodyTimeout() time.Duration { return DefaultTimeout }

// tunnel relays a 101 Switching Protocols answer and then carries bytes
// both ways until either side closes (websocket and other upgrades).
func (s *h1Server) tunnel(uc *upConn, resp *http1.Header) exResult {
	s.info.ResponseCode = 101
	s.out = append(s.out[:0], "HTTP/1.1 101 "...)
	s.out = append(s.out, resp.Reason()...)
	s.out = append(s.out, '\r', '\n')
	s.out = appendFields(s.out, resp)
	if up, ok := resp.Get("upgrade"); ok {
		s.out = append(s.out, "Connection: Upgrade\r\nUpgrade: "...)
		s.out = append(s.out, up...)
		s.out = append(s.out, '\r', '\n')
	}
	s.out = append(s.out, '\r', '\n')
	// Bytes the upstream sent right after its 101 belong to the new
	// protocol, as do bytes the client sent after its request.
	if uc.buf != nil && uc.r < uc.w {
		s.out = append(s.out, uc.in()...)
		uc.r = uc.w
	}
	if err := s.write(s.out); err != nil {
		uc.close()
		return exFailed
	}
	s.out = s.out[:0]
	if s.buf != nil && s.r < s.w {
		if _, err := uc.Write((*s.buf)[s.r:s.w]); err != nil {
			uc.close()
			return exFailed
		}
		s.r = s.w
	}
	uc.SetDeadline(time.Time{})
	s.logAccess(s.info.StartTime)
	s.releaseBuf()
	uc.release()
	res := network.Pipe(s.c.Conn, uc.Conn, s.c.IdleTimeout)
	uc.host.ConnEnd()
	s.info.BytesReceived, s.info.BytesSent = uint64(res.Sent), uint64(res.Received)
	return exDoneClose
}

var (
	errDownstream = errors.New("downstream connection failed")
	errBadBody    = errors.New("malformed request body")
	errTooLarge   = errors.New("request body too large")
)

// forwardBody streams the request body to the upstream, re-encoding
// chunked bodies (extensions dropped, trailers kept).
func (s *h1Server) forwardBody(uc *upConn, chunked bool) error {
	var got uint64
	starved := false
	for {
		// Read more when nothing is buffered, or when what is buffered is
		// an incomplete piece the decoder cannot use yet (a partial chunk
		// size line).
		if s.r == s.w || starved {
			if err := uc.flush(); err != nil {
				return err
			}
			s.c.SetReadDeadline(time.Now().Add(DefaultTimeout))
			err := s.fill(false)
			s.c.SetReadDeadline(time.Time{})
			if err != nil {
				return errDownstream
			}
		}
		n, done, err := s.body.Decode((*s.buf)[s.r:s.w], func(p []byte) {
			got += uint64(len(p))
			if chunked {
				uc.out = http1.AppendChunk(uc.out, p)
			} else {
				uc.out = append(uc.out, p...)
			}
		})
		s.r += n
		starved = n == 0 && !done
		if err != nil {
			return errBadBody
		}
		if s.p.maxBody > 0 && got > uint64(s.p.maxBody) {
			return errTooLarge
		}
		if s.flt != nil && s.flt.limit > 0 && got > uint64(s.flt.limit) {
			return errTooLarge
		}
		if done {
			break
		}
		if len(uc.out) >= 32<<10 {
			if err := uc.flush(); err != nil {
				return err
			}
		}
	}
	s.info.BytesReceived = got
	if chunked {
		uc.out = http1.AppendLastChunk(uc.out, s.body.Trailers())
	}
	return nil
}

// upstreamFailed handles a failure while talking to the upstream before
// any response byte reached the downstream.
func (s *h1Server) upstreamFailed(uc *upConn, err error, consumed bool) exResult {
	// A reused connection the server closed before answering is stale,
	// not a sign that the host fails.
	if consumed || uc.requests == 1 || errors.Is(err, os.ErrDeadlineExceeded) {
		uc.cl.ReportResult(uc.host, false)
	}
	uc.close()
	if !consumed && s.allowRetry && !errors.Is(err, os.ErrDeadlineExceeded) {
		return exRetry
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.info.ResponseFlags |= accesslog.UpstreamRequestTimeout
		s.localReply(504, false, "upstream request timeout")
		return exFailed
	}
	s.info.ResponseFlags |= accesslog.UpstreamConnectionTermination
	s.localReply(502, false, "upstream connection closed")
	return exFailed
}

// replyAfterBody answers locally; the unread request body makes the
// connection unusable for another request, so it is closed unless the
// request had none.
func (s *h1Server) replyAfterBody(status int, keep bool, msg string) bool {
	if s.parser.Framing().Kind != http1.BodyNone {
		keep = false
	}
	return s.replyKeep(status, keep, msg)
}

func (s *h1Server) replyKeep(status int, keep bool, msg string) bool {
	if s.parser.Framing().Kind != http1.BodyNone {
		keep = false
	}
	keep = keep && !s.closing()
	s.localReply(status, keep, msg)
	return keep
}

func (s *h1Server) redirect(status int, location string, keep bool) bool {
	if s.parser.Framing().Kind != http1.BodyNone {
		keep = false
	}
	s.info.ResponseCode = status
	s.out = append(s.out[:0], "HTTP/1.1 "...)
	s.out = strconv.AppendInt(s.out, int64(status), 10)
	s.out = append(s.out, ' ')
	s.out = append(s.out, http1.StatusText(status)...)
	s.out = append(s.out, "\r\nLocation: "...)
	s.out = append(s.out, location...)
	s.out = append(s.out, "\r\nContent-Length: 0\r\n"...)
	if !keep {
		s.out = append(s.out, "Connection: close\r\n"...)
	}
	s.out = append(s.out, '\r', '\n')
	s.write(s.out)
	s.out = s.out[:0]
	return keep
}

// localReply writes a response generated by the proxy itself.
func (s *h1Server) localReply(status int, keep bool, body string) {
	s.info.ResponseCode = status
	s.out = append(s.out[:0], "HTTP/1.1 "...)
	s.out = strconv.AppendInt(s.out, int64(status), 10)
	s.out = append(s.out, ' ')
	s.out = append(s.out, http1.StatusText(status)...)
	s.out = append(s.out, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	s.out = strconv.AppendInt(s.out, int64(len(body)), 10)
	if !keep {
		s.out = append(s.out, "\r\nConnection: close"...)
	}
	s.out = append(s.out, "\r\n\r\n"...)
	s.out = append(s.out, body...)
	s.write(s.out)
	s.out = s.out[:0]
	s.info.BytesSent = uint64(len(body))
}

func (s *h1Server) logAccess(start time.Time) { s.logAccessTook(time.Since(start)) }

// logAccessTook records and logs the request, which took d in all; a
// request that never started is not logged.
func (s *h1Server) logAccessTook(d time.Duration) {
	if s.info.StartTime.IsZero() {
		return
	}
	s.info.Duration = d
	s.p.stats.record(&s.info, s.info.ResponseCode)
	for _, l := range s.p.accessLogs {
		l.Log(&s.info)
	}
	// Logged once: a second call for the same request is a no-op.
	s.info.StartTime = time.Time{}
}

// addrString formats an address; a closed stand-in connection has none.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
