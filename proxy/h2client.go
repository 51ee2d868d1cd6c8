package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	"mosn.dev/proxy/accesslog"
	h2c "mosn.dev/proxy/codec/http2"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
)

// The settings our HTTP/2 upstream client announces, and its limits.
const (
	// h2cStreamWindow is our SETTINGS_INITIAL_WINDOW_SIZE: the response
	// body bytes an upstream may send on one stream ahead of the reader,
	// which is also the most a stream ever buffers.
	h2cStreamWindow = 256 << 10
	// h2cConnWindow is the receive window of a whole connection.
	h2cConnWindow = 1 << 20
	// h2cIdleTimeout closes a connection without streams for that long.
	h2cIdleTimeout = 90 * time.Second
	// h2cAssumedStreams is how many streams a connection is expected to
	// take before its SETTINGS say (requests waiting for a connection
	// being set up).
	h2cAssumedStreams = 100
	// h2cInlineBody is the largest request body of known length the
	// caller's goroutine sends before it waits for the answer; longer
	// ones, and bodies of unknown length (gRPC, streaming), are sent by a
	// goroutine of their own so that the answer flows while they go out.
	h2cInlineBody = 64 << 10
	// h2cMaxBodyChunk is the most of a request body read at a time.
	h2cMaxBodyChunk = 32 << 10
	// h2cReadBuf is the connection's read buffer.
	h2cReadBuf = 32 << 10
)

// Errors of the HTTP/2 upstream client. Errors of a connection name its
// cause; errH2cNotProcessed means the upstream did not act on the
// request, which is then retried once.
var (
	errH2cClosed       = errors.New("http2 upstream: client closed")
	errH2cNotProcessed = errors.New("http2 upstream: request not processed (refused stream or GOAWAY)")
	errH2cBodyClosed   = errors.New("http2 upstream: read on closed response body")
	errH2cBodyLength   = errors.New("http2 upstream: request body length differs from its content-length")
	errH2cIdle         = errors.New("http2 upstream: idle connection closed")
	errH2cGoneAway     = errors.New("http2 upstream: connection finished after GOAWAY")
)

// h2cStreamError fails one stream: the upstream broke the protocol on
// it (we reset it with code) or reset it itself.
type h2cStreamError struct {
	code   http2.ErrCode
	byPeer bool
	msg    string
}

func (e *h2cStreamError) Error() string {
	if e.byPeer {
		return "http2 upstream: stream reset by upstream (" + e.code.String() + ")"
	}
	return "http2 upstream: protocol error: " + e.msg
}

// h2cConnError is a connection-level protocol error of the upstream:
// the connection goes away with code.
type h2cConnError struct {
	code http2.ErrCode
	msg  string
}

func (e *h2cConnError) Error() string {
	return "connection error " + e.code.String() + ": " + e.msg
}

// h2Client is our HTTP/2 cleartext (prior knowledge) client for h2c
// upstreams: connections per cluster and host, many streams on each.
// Each connection has one goroutine reading its frames and handing them
// to streams; a request's own goroutine writes its HEADERS and DATA
// through the connection's output buffer and reads the answer. It is
// safe for concurrent use.
type h2Client struct {
	p       *Proxy
	maxList uint32 // response header list bound (RFC 7541 sizes)

	// ctx ends dials in progress when the client closes.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // connection goroutines

	mu     sync.Mutex
	conns  map[h2cKey][]*h2cConn
	closed bool
}

type h2cKey struct{ cluster, addr string }

// newH2Client returns the client of p. The response header list bound
// is 64 KiB, or a larger configured max_header_size plus ten fields'
// overhead.
func newH2Client(p *Proxy) *h2Client {
	t := &h2Client{p: p, conns: map[h2cKey][]*h2cConn{}, maxList: h2DefaultHeaderList}
	if n := p.limits.MaxHeaderBytes; n > 0 && uint32(n)+320 > t.maxList {
		t.maxList = uint32(n) + 320
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// close ends every connection and waits for their goroutines. Only tests
// call it: a Proxy is not closed, and its idle connections end after
// h2cIdleTimeout.
func (t *h2Client) close() {
	t.mu.Lock()
	t.closed = true
	var all []*h2cConn
	for _, cs := range t.conns {
		all = append(all, cs...)
	}
	t.conns = map[h2cKey][]*h2cConn{}
	t.mu.Unlock()
	t.cancel()
	for _, cc := range all {
		cc.fail(errH2cClosed)
	}
	t.wg.Wait()
}

// h2cCall is one roundTrip: the request, its cancellation and route
// timeout, and the stream of its current attempt. The first attempt's
// stream is part of it (one allocation for the usual request).
type h2cCall struct {
	t     *h2Client
	req   *http.Request
	ch    *choice
	first h2cStream

	mu     sync.Mutex
	cur    *h2cStream
	reason error         // why the call was aborted (cancel, timeout)
	wake   chan struct{} // made by a caller waiting for a connection; closed on abort

	timer *time.Timer
	stop  func() bool // ends the cancellation watch
}

// abort fails the call: its current stream is reset, a wait for a
// connection or for the answer ends with reason.
func (c *h2cCall) abort(reason error) {
	c.mu.Lock()
	if c.reason != nil {
		c.mu.Unlock()
		return
	}
	c.reason = reason
	st := c.cur
	if c.wake != nil {
		close(c.wake)
	}
	c.mu.Unlock()
	if st != nil {
		st.abort(reason)
	}
}

func (c *h2cCall) onCancel() { c.abort(context.Canceled) }

// onTimeout is the route timeout, which only runs until the head.
func (c *h2cCall) onTimeout() {
	c.mu.Lock()
	st := c.cur
	c.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		got := st.gotHead
		st.mu.Unlock()
		if got {
			return
		}
	}
	c.abort(context.DeadlineExceeded)
}

func (c *h2cCall) aborted() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// unwatch ends the cancellation watch (the stream is over).
func (c *h2cCall) unwatch() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
}

// roundTrip sends req to ch.host over a pooled connection and returns
// the answer once its head arrived. The route timeout runs until then
// (context.DeadlineExceeded, with the UT flag); a downstream that went
// away fails it with context.Canceled; dial errors are returned as they
// are. A request the upstream refused or did not process (GOAWAY) is
// retried once on another connection when its body was not read yet.
func (t *h2Client) roundTrip(req *http.Request, ch *choice) (*http.Response, error) {
	call := &h2cCall{t: t, req: req, ch: ch}
	if ch.st != nil {
		call.stop = ch.st.AfterFunc(call.onCancel)
	} else if ctx := req.Context(); ctx.Done() != nil {
		call.stop = context.AfterFunc(ctx, call.onCancel)
	}
	if ch.timeout > 0 {
		call.timer = time.AfterFunc(ch.timeout, call.onTimeout)
	}
	var exclude *h2cConn
	st := &call.first
	for attempt := 0; ; attempt++ {
		resp, cc, err := call.attempt(st, exclude)
		if err == nil {
			if call.timer != nil {
				call.timer.Stop()
			}
			return resp, nil
		}
		if reason := call.aborted(); reason != nil {
			err = reason
		}
		if attempt == 0 && cc != nil && st.retryable(err) {
			exclude = cc
			st = &h2cStream{}
			continue
		}
		if call.timer != nil {
			call.timer.Stop()
		}
		call.unwatch()
		st.mu.Lock()
		touched := st.bodyTouched
		st.mu.Unlock()
		if req.Body != nil && touched {
			// As net/http's transports do: this also ends a read of
			// the body's goroutine blocked on a body that can be closed.
			req.Body.Close()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			ch.info.ResponseFlags |= accesslog.UpstreamRequestTimeout
			return nil, context.DeadlineExceeded
		}
		if errors.Is(err, context.Canceled) || ch.cancelled(req) {
			return nil, context.Canceled
		}
		return nil, err
	}
}

// attempt sends the request on a stream of a connection (not exclude)
// and waits for the answer's head. It returns the connection used.
func (c *h2cCall) attempt(st *h2cStream, exclude *h2cConn) (*http.Response, *h2cConn, error) {
	t, req := c.t, c.req
	cc, err := t.getConn(c, exclude)
	if err != nil {
		return nil, nil, err
	}
	st.init(c, cc)
	c.mu.Lock()
	c.cur = st
	reason := c.reason
	c.mu.Unlock()
	if reason != nil {
		cc.unreserve()
		return nil, cc, reason
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	inline := !hasBody || req.ContentLength >= 0 && req.ContentLength <= h2cInlineBody
	if err := cc.openStream(st, req, hasBody); err != nil {
		return nil, cc, err
	}
	if hasBody {
		if inline {
			st.sendBody()
		} else {
			go st.sendBody()
		}
	}
	resp, err := st.awaitHead()
	return resp, cc, err
}

// getConn reserves a stream on a usable connection to the chosen host,
// dialing one when none has room, and waits until it is ready.
func (t *h2Client) getConn(c *h2cCall, exclude *h2cConn) (*h2cConn, error) {
	key := h2cKey{c.ch.cl.Name(), c.ch.host.Address()}
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, errH2cClosed
		}
		var wait *h2cConn
		for _, cc := range t.conns[key] {
			if cc == exclude {
				continue
			}
			cc.mu.Lock()
			switch {
			case cc.err != nil || cc.goAway:
			case cc.ready:
				if cc.reserved < int(cc.maxStreams) && cc.nextID < 1<<31-1 {
					cc.reserved++
					cc.mu.Unlock()
					t.mu.Unlock()
					return cc, nil
				}
			case cc.pending < h2cAssumedStreams && wait == nil:
				wait = cc
			}
			cc.mu.Unlock()
		}
		if wait == nil {
			wait = t.newConn(key, c.ch)
		}
		wait.mu.Lock()
		wait.pending++
		wait.mu.Unlock()
		t.mu.Unlock()

		c.mu.Lock()
		if c.wake == nil {
			c.wake = make(chan struct{})
			if c.reason != nil {
				close(c.wake)
			}
		}
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wait.readyCh:
		case <-wake:
		}
		wait.mu.Lock()
		wait.pending--
		failed := wait.err
		if wait.ready {
			failed = nil
		}
		wait.mu.Unlock()
		if err := c.aborted(); err != nil {
			return nil, err
		}
		if failed != nil {
			// Dial errors are returned as they are (h2.roundTrip tries
			// another host).
			return nil, failed
		}
	}
}

// newConn starts a connection to the chosen host (t.mu held): its
// goroutine dials, sends the preface and then reads its frames.
func (t *h2Client) newConn(key h2cKey, ch *choice) *h2cConn {
	cc := &h2cConn{
		t:            t,
		key:          key,
		cl:           ch.cl,
		host:         ch.host,
		readyCh:      make(chan struct{}),
		streams:      map[uint32]*h2cStream{},
		nextID:       1,
		maxStreams:   h2cAssumedStreams,
		sendWin:      65535,
		peerInitWin:  65535,
		peerMaxFrame: 16384,
		recvWin:      h2cConnWindow,
	}
	cc.wcond.L = &cc.wmu
	cc.dec.Init(h2c.DefaultTableSize)
	cc.emit = cc.onField
	t.conns[key] = append(t.conns[key], cc)
	ch.host.ConnStart()
	t.wg.Add(1)
	go cc.run()
	return cc
}

// remove takes a connection out of the pool.
func (t *h2Client) remove(cc *h2cConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.conns[cc.key]
	for i, x := range cs {
		if x == cc {
			cs = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(t.conns, cc.key)
	} else {
		t.conns[cc.key] = cs
	}
}

// h2cConn is one upstream connection.
type h2cConn struct {
	t       *h2Client
	key     h2cKey
	cl      *upstream.Cluster
	host    *upstream.Host
	readyCh chan struct{} // closed once ready (or failed)
	endOnce sync.Once

	// Read goroutine only.
	fr        *http2.Framer
	dec       h2c.Decoder
	emit      func(h2c.Field)
	hdrID     uint32
	hdrEnd    bool
	hdrBlock  []byte
	fields    []h2c.Field
	listSize  uint32
	truncated bool
	sawFirst  bool

	mu         sync.Mutex
	nc         net.Conn
	rw         io.ReadWriter // nc, or its raw I/O
	ready      bool          // dialed and the upstream's SETTINGS arrived
	err        error         // why the connection ended
	streams    map[uint32]*h2cStream
	nextID     uint32 // guarded by mu and wmu (streams open with both held)
	reserved   int    // streams open or about to be
	pending    int    // callers waiting for it to be ready
	maxStreams uint32
	goAway     bool
	goAwayID   uint32
	used       int // streams opened so far
	idleSince  time.Time
	idle       *time.Timer

	wmu          sync.Mutex
	wcond        sync.Cond
	out, spare   []byte
	hbuf         []byte
	flushing     bool
	werr         error
	sendWin      int64
	peerInitWin  int64
	peerMaxFrame int
	recvWin      int64 // connection window left to the upstream
	connCredit   int64 // consumed bytes not yet returned
}

// run dials, sends the preface and reads frames until the connection
// ends.
func (cc *h2cConn) run() {
	defer cc.t.wg.Done()
	nc, err := cc.cl.Dial(cc.t.ctx, cc.host)
	if err != nil {
		cc.fail(err)
		return
	}
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		nc.Close()
		return
	}
	cc.nc = nc
	cc.rw = nc
	if r := network.NewRawIO(nc); r != nil {
		cc.rw = r // raw system calls (see network.RawIO)
	}
	cc.mu.Unlock()
	cc.wmu.Lock()
	cc.out = append(cc.out, http2Preface...)
	cc.out = h2c.AppendSettings(cc.out, false,
		h2c.Setting{ID: uint16(http2.SettingEnablePush), Val: 0},
		h2c.Setting{ID: uint16(http2.SettingInitialWindowSize), Val: h2cStreamWindow},
		h2c.Setting{ID: uint16(http2.SettingMaxHeaderListSize), Val: cc.t.maxList})
	cc.out = h2c.AppendWindowUpdate(cc.out, 0, h2cConnWindow-65535)
	cc.flushLocked()
	cc.wmu.Unlock()
	cc.fr = http2.NewFramer(nil, bufio.NewReaderSize(cc.rw, h2cReadBuf))
	cc.fr.SetMaxReadFrameSize(16384)
	cc.fr.SetReuseFrames()
	err = cc.readLoop()
	var ce *h2cConnError
	if errors.As(err, &ce) {
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		cc.wmu.Lock()
		cc.out = h2c.AppendGoAway(cc.out, 0, uint32(ce.code), "")
		cc.flushLocked()
		cc.wmu.Unlock()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("connection closed by upstream: %w", err)
	}
	cc.fail(fmt.Errorf("http2 upstream %s: %w", cc.key.addr, err))
}

// fail ends the connection: it leaves the pool, its socket closes and
// every stream on it fails with err.
func (cc *h2cConn) fail(err error) {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.err = err
	sts := make([]*h2cStream, 0, len(cc.streams))
	for _, st := range cc.streams {
		sts = append(sts, st)
	}
	clear(cc.streams)
	nc := cc.nc
	if cc.idle != nil {
		cc.idle.Stop()
	}
	if !cc.ready {
		close(cc.readyCh)
	}
	cc.mu.Unlock()
	cc.t.remove(cc)
	cc.wmu.Lock()
	if cc.werr == nil {
		cc.werr = err
	}
	cc.wcond.Broadcast()
	cc.wmu.Unlock()
	if nc != nil {
		nc.Close()
	}
	cc.endOnce.Do(cc.host.ConnEnd)
	for _, st := range sts {
		st.fail(err, false)
	}
}

// unreserve gives back a stream reserved by getConn but not opened.
func (cc *h2cConn) unreserve() {
	cc.mu.Lock()
	cc.reserved--
	end := cc.becameIdleLocked()
	cc.mu.Unlock()
	if end {
		cc.fail(errH2cGoneAway)
	}
}

// becameIdleLocked notes a connection with no stream left (mu held).
// It reports whether the connection is to close now (after GOAWAY); the
// caller calls fail once it released mu.
func (cc *h2cConn) becameIdleLocked() bool {
	if cc.reserved > 0 || cc.err != nil {
		return false
	}
	if cc.goAway {
		return true
	}
	cc.idleSince = time.Now()
	return false
}

// idleCheck runs every h2cIdleTimeout: a connection idle for that long
// closes.
func (cc *h2cConn) idleCheck() {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	if cc.reserved == 0 && time.Since(cc.idleSince) >= h2cIdleTimeout {
		cc.goAway = true
		cc.mu.Unlock()
		cc.wmu.Lock()
		cc.out = h2c.AppendGoAway(cc.out, 0, uint32(http2.ErrCodeNo), "")
		if cc.werr == nil && !cc.flushing {
			cc.nc.SetWriteDeadline(time.Now().Add(time.Second))
		}
		cc.flushLocked()
		cc.wmu.Unlock()
		cc.fail(errH2cIdle)
		return
	}
	wait := h2cIdleTimeout
	if cc.reserved == 0 {
		wait -= time.Since(cc.idleSince)
	}
	cc.idle.Reset(wait)
	cc.mu.Unlock()
}

// flushLocked writes the output buffer with wmu held (released during
// the write). Whoever finds it idle writes everything queued meanwhile
// too, so concurrent streams share write calls.
func (cc *h2cConn) flushLocked() {
	if cc.flushing {
		return
	}
	cc.flushing = true
	for len(cc.out) > 0 && cc.werr == nil {
		buf := cc.out
		cc.out = cc.spare[:0]
		cc.wmu.Unlock()
		_, err := cc.rw.Write(buf)
		cc.wmu.Lock()
		if cap(buf) <= h2MaxOut {
			cc.spare = buf[:0]
		} else {
			cc.spare = nil
		}
		if err != nil && cc.werr == nil {
			cc.werr = fmt.Errorf("http2 upstream %s: write: %w", cc.key.addr, err)
		}
	}
	if cc.werr != nil {
		cc.out = cc.out[:0]
	}
	cc.flushing = false
	cc.wcond.Broadcast()
}

func (cc *h2cConn) flush() {
	cc.wmu.Lock()
	if len(cc.out) > 0 {
		cc.flushLocked()
	}
	cc.wmu.Unlock()
}

// openStream gives st the next stream id and queues the request's
// HEADERS, with END_STREAM when there is no body.
func (cc *h2cConn) openStream(st *h2cStream, req *http.Request, hasBody bool) error {
	cc.mu.Lock()
	if cc.err != nil || cc.goAway {
		cc.reserved--
		err := cc.err
		end := cc.becameIdleLocked()
		cc.mu.Unlock()
		if end {
			cc.fail(errH2cGoneAway)
		}
		if err == nil {
			err = errH2cNotProcessed
		}
		st.notProcessed = true
		return err
	}
	st.reused = cc.used > 0
	cc.used++
	cc.wmu.Lock()
	if st.sentEnd {
		// Aborted (cancelled, timed out) before it was opened.
		cc.wmu.Unlock()
		cc.reserved--
		end := cc.becameIdleLocked()
		cc.mu.Unlock()
		if end {
			cc.fail(errH2cGoneAway)
		}
		return st.call.aborted()
	}
	st.id = cc.nextID
	cc.nextID += 2
	cc.streams[st.id] = st
	st.inMap = true
	cc.mu.Unlock()
	st.sendWin = cc.peerInitWin
	st.recvWin = h2cStreamWindow
	cc.hbuf = appendRequestHead(cc.hbuf[:0], req, hasBody)
	cc.out = h2c.AppendHeaders(cc.out, st.id, !hasBody, cc.hbuf, cc.peerMaxFrame)
	if !hasBody {
		st.sentEnd = true
		st.localDone.Store(true)
	}
	cc.flushLocked()
	werr := cc.werr
	cc.wmu.Unlock()
	if werr != nil {
		// Nothing of it reached the upstream.
		st.notProcessed = true
		st.fail(werr, false)
		return werr
	}
	return nil
}

// appendRequestHead encodes the request's header block.
func appendRequestHead(b []byte, req *http.Request, hasBody bool) []byte {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	path := req.URL.Opaque
	if path == "" && req.URL.RawQuery == "" && !req.URL.ForceQuery {
		path = req.URL.EscapedPath()
		if path == "" {
			path = "/"
		}
	} else {
		path = req.URL.RequestURI()
	}
	b = h2c.AppendField(b, h2c.Field{Name: ":method", Value: req.Method})
	b = h2c.AppendField(b, h2c.Field{Name: ":scheme", Value: "http"})
	b = h2c.AppendField(b, h2c.Field{Name: ":authority", Value: host})
	b = h2c.AppendField(b, h2c.Field{Name: ":path", Value: path})
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection",
			"Transfer-Encoding", "Upgrade":
			continue
		case "Te":
			for _, v := range vs {
				if strings.EqualFold(v, "trailers") {
					b = h2c.AppendField(b, h2c.Field{Name: "te", Value: "trailers"})
					break
				}
			}
			continue
		}
		if len(k) == 0 || k[0] == ':' || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		name, interned := lowerHeaders[k]
		if interned && connectionSpecific(name) {
			continue
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				continue
			}
			if interned {
				b = h2c.AppendField(b, h2c.Field{Name: name, Value: v})
			} else {
				b = appendLowerLiteral(b, k, v)
			}
		}
	}
	if len(req.Trailer) > 0 && len(req.Header["Trailer"]) == 0 {
		names := make([]string, 0, len(req.Trailer))
		for k := range req.Trailer {
			names = append(names, k)
		}
		b = h2c.AppendField(b, h2c.Field{Name: "trailer", Value: strings.Join(names, ",")})
	}
	switch {
	case hasBody && req.ContentLength >= 0:
		var n [20]byte
		b = appendLowerLiteral(b, "content-length", string(strconv.AppendInt(n[:0], req.ContentLength, 10)))
	case !hasBody && (req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch):
		b = appendLowerLiteral(b, "content-length", "0")
	}
	return b
}

// appendLowerLiteral encodes a literal field without indexing whose
// name is written in lower case as it is copied (no string is made for
// the lower-case name). Connection-specific names are dropped.
func appendLowerLiteral(b []byte, name, value string) []byte {
	if len(name) <= len("proxy-connection") {
		var lb [16]byte
		l := lb[:len(name)]
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			l[i] = c
		}
		if connectionSpecific(string(l)) {
			return b
		}
	}
	return h2c.AppendLiteralLower(b, name, value)
}

// h2cStream is one attempt of a request: a stream of a connection. It
// is the response's Body.
type h2cStream struct {
	call *h2cCall
	cc   *h2cConn
	id   uint32
	head bool // a HEAD request
	// reused: the connection had served streams before this one.
	reused bool
	// notProcessed: the upstream refused the stream or never saw it.
	notProcessed bool
	inMap        bool // guarded by cc.mu

	localDone, remoteDone atomic.Bool // END_STREAM (or a reset) sent, received

	// Guarded by cc.wmu.
	sendWin int64
	recvWin int64
	credit  int64
	sentEnd bool // END_STREAM or RST_STREAM queued: nothing more to send

	// Guarded by mu.
	mu          sync.Mutex
	cond        sync.Cond
	resp        http.Response
	gotHead     bool
	anyByte     bool // a frame of the answer arrived
	err         error
	pb          *[]byte // pooled buffer behind data
	data        []byte
	roff        int
	declared    int64 // content-length, or -1
	got         int64
	trailers    http.Header
	closed      bool // Body closed, or the stream finished
	eof         bool // io.EOF was returned
	bodyTouched bool // the request body was read from
}

func (st *h2cStream) init(c *h2cCall, cc *h2cConn) {
	st.call = c
	st.cc = cc
	st.cond.L = &st.mu
	st.declared = -1
	st.head = c.req.Method == http.MethodHead
}

// retryable reports whether the failed attempt may be made again: the
// upstream did not process the request (refused, GOAWAY, never sent), or
// a reused connection broke before any byte of the answer, and the
// request body was not read.
func (st *h2cStream) retryable(err error) bool {
	if st.cc == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.bodyTouched || st.anyByte {
		return false
	}
	if st.notProcessed || errors.Is(err, errH2cNotProcessed) {
		return true
	}
	var se *h2cStreamError
	return st.reused && !errors.As(err, &se)
}

// sendBody streams the request body as DATA frames within the
// upstream's windows, then trailers (HEADERS with END_STREAM) or
// END_STREAM.
func (st *h2cStream) sendBody() {
	req := st.call.req
	st.mu.Lock()
	if st.err != nil {
		st.mu.Unlock()
		return
	}
	st.bodyTouched = true
	st.mu.Unlock()
	cc := st.cc
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:min(len(*bp), h2cMaxBodyChunk)]
	known := req.ContentLength >= 0
	var n int64
	for {
		k, rerr := req.Body.Read(buf)
		if k > 0 {
			n += int64(k)
			if known && n > req.ContentLength {
				st.resetWith(http2.ErrCodeCancel, errH2cBodyLength)
				return
			}
			last := known && n == req.ContentLength && req.Trailer == nil
			if !cc.writeData(st, buf[:k], last) {
				return
			}
			if last {
				return
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			st.resetWith(http2.ErrCodeCancel, fmt.Errorf("http2 upstream: request body: %w", rerr))
			return
		}
	}
	if known && n != req.ContentLength {
		st.resetWith(http2.ErrCodeCancel, errH2cBodyLength)
		return
	}
	cc.endRequest(st, req.Trailer)
}

// writeData queues p as DATA frames as the windows allow, waiting for
// WINDOW_UPDATEs, and writes them out. It reports false once the stream
// can take no more.
func (cc *h2cConn) writeData(st *h2cStream, p []byte, end bool) bool {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	for {
		if st.sentEnd || cc.werr != nil {
			return false
		}
		n := min(int64(len(p)), int64(cc.peerMaxFrame), st.sendWin, cc.sendWin)
		if n <= 0 && len(p) > 0 || len(cc.out) >= h2MaxOut && cc.flushing {
			if len(cc.out) > 0 && !cc.flushing {
				cc.flushLocked()
				continue
			}
			cc.wcond.Wait()
			continue
		}
		fin := end && n == int64(len(p))
		cc.out = h2c.AppendData(cc.out, st.id, fin, p[:n])
		st.sendWin -= n
		cc.sendWin -= n
		p = p[n:]
		if fin {
			st.sentEnd = true
			st.localDone.Store(true)
		}
		if len(p) == 0 {
			cc.flushLocked()
			break
		}
	}
	if end {
		cc.wmu.Unlock()
		cc.maybeRelease(st)
		cc.wmu.Lock()
	}
	return true
}

// endRequest ends the request: trailers with values go as HEADERS with
// END_STREAM, else an empty DATA frame carries END_STREAM.
func (cc *h2cConn) endRequest(st *h2cStream, tr http.Header) {
	cc.wmu.Lock()
	if st.sentEnd || cc.werr != nil {
		cc.wmu.Unlock()
		return
	}
	hasTrailers := false
	for _, vs := range tr {
		if len(vs) > 0 {
			hasTrailers = true
			break
		}
	}
	if hasTrailers {
		cc.hbuf = cc.hbuf[:0]
		for k, vs := range tr {
			if !httpguts.ValidHeaderFieldName(k) {
				continue
			}
			for _, v := range vs {
				if httpguts.ValidHeaderFieldValue(v) {
					cc.hbuf = appendLowerLiteral(cc.hbuf, k, v)
				}
			}
		}
		cc.out = h2c.AppendHeaders(cc.out, st.id, true, cc.hbuf, cc.peerMaxFrame)
	} else {
		cc.out = h2c.AppendData(cc.out, st.id, true, nil)
	}
	st.sentEnd = true
	st.localDone.Store(true)
	cc.flushLocked()
	cc.wmu.Unlock()
	cc.maybeRelease(st)
}

// resetWith resets the stream with code and fails it with err.
func (st *h2cStream) resetWith(code http2.ErrCode, err error) {
	st.cc.queueReset(st, code)
	st.fail(err, true)
	st.cc.flush()
}

// queueReset queues RST_STREAM unless the stream is over on our side
// and the upstream's; it does not write (the caller's goroutine does).
func (cc *h2cConn) queueReset(st *h2cStream, code http2.ErrCode) {
	cc.wmu.Lock()
	if cc.werr == nil && (!st.sentEnd || !st.remoteDone.Load()) && st.id != 0 {
		cc.out = h2c.AppendRSTStream(cc.out, st.id, uint32(code))
	}
	st.sentEnd = true
	st.localDone.Store(true)
	cc.wcond.Broadcast()
	cc.wmu.Unlock()
}

// abort fails the stream for the call (cancelled, timed out) and resets
// it. The RST_STREAM is written by the goroutine the failure wakes, not
// here: this may run on the downstream connection's reading goroutine.
func (st *h2cStream) abort(reason error) {
	st.mu.Lock()
	done := st.closed
	st.mu.Unlock()
	if done {
		return
	}
	st.cc.queueReset(st, http2.ErrCodeCancel)
	st.fail(reason, true)
}

// fail ends the stream with err (unless it ended already): waiting
// readers wake, buffered bytes go back to the connection window, the
// stream leaves the connection.
func (st *h2cStream) fail(err error, local bool) {
	st.mu.Lock()
	var unread int64
	// A complete answer the reader has not finished stays readable when
	// the connection ends.
	if local || !st.remoteDone.Load() || st.err != nil {
		if st.err == nil && !st.eof {
			st.err = err
		}
		unread = st.releaseLocked()
	}
	st.cond.Broadcast()
	st.mu.Unlock()
	st.remoteDone.Store(true)
	st.localDone.Store(true)
	st.cc.refund(nil, unread)
	st.cc.maybeRelease(st)
}

// releaseLocked drops the stream's buffer (mu held) and returns how many
// unread bytes it held.
func (st *h2cStream) releaseLocked() int64 {
	unread := int64(len(st.data) - st.roff)
	if st.pb != nil {
		// st.data may have outgrown it; the pooled array is unused now.
		bufPool.Put(st.pb)
		st.pb = nil
	}
	st.data, st.roff = nil, 0
	return unread
}

// maybeRelease takes the stream off its connection once both sides
// ended it.
func (cc *h2cConn) maybeRelease(st *h2cStream) {
	if !st.localDone.Load() || !st.remoteDone.Load() {
		return
	}
	cc.mu.Lock()
	end := false
	if st.inMap {
		st.inMap = false
		if cc.streams[st.id] == st {
			delete(cc.streams, st.id)
		}
		cc.reserved--
		end = cc.becameIdleLocked()
	}
	cc.mu.Unlock()
	if end {
		cc.fail(errH2cGoneAway)
	}
}

// awaitHead waits for the answer's head.
func (st *h2cStream) awaitHead() (*http.Response, error) {
	st.mu.Lock()
	for !st.gotHead && st.err == nil {
		st.cond.Wait()
	}
	err := st.err
	st.mu.Unlock()
	if err != nil {
		st.cc.flush() // our RST_STREAM, if any
		return nil, err
	}
	if st.resp.Body == http.NoBody {
		st.finish()
	}
	return &st.resp, nil
}

// finish ends the stream after its answer was read to its end.
func (st *h2cStream) finish() {
	st.call.unwatch()
	if !st.localDone.Load() {
		// The answer is complete while the request body still goes
		// out: the upstream needs no more of it.
		st.cc.queueReset(st, http2.ErrCodeCancel)
		st.cc.flush()
	}
	st.cc.maybeRelease(st)
}

// Read returns the answer's body as it arrives, returning consumed
// bytes to the upstream's windows; io.EOF follows END_STREAM, after the
// trailers were copied into the response.
func (st *h2cStream) Read(p []byte) (int, error) {
	st.mu.Lock()
	for {
		if st.eof {
			st.mu.Unlock()
			return 0, io.EOF
		}
		if st.err != nil {
			err := st.err
			st.mu.Unlock()
			st.cc.flush()
			return 0, err
		}
		if st.closed {
			st.mu.Unlock()
			return 0, errH2cBodyClosed
		}
		if st.roff < len(st.data) {
			n := copy(p, st.data[st.roff:])
			st.roff += n
			if st.roff == len(st.data) {
				st.data, st.roff = st.data[:0], 0
			}
			st.mu.Unlock()
			st.cc.refund(st, int64(n))
			return n, nil
		}
		if st.remoteDone.Load() {
			break
		}
		if len(p) == 0 {
			st.mu.Unlock()
			return 0, nil
		}
		st.cond.Wait()
	}
	if len(st.trailers) > 0 {
		if st.resp.Trailer == nil {
			st.resp.Trailer = make(http.Header, len(st.trailers))
		}
		for k, vs := range st.trailers {
			st.resp.Trailer[k] = vs
		}
	}
	st.eof, st.closed = true, true
	st.releaseLocked()
	st.mu.Unlock()
	st.finish()
	return 0, io.EOF
}

// Close ends the body: before its end the stream is reset (CANCEL) and
// its buffered bytes go back to the connection's window.
func (st *h2cStream) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	complete := st.err == nil && st.remoteDone.Load() && st.roff == len(st.data)
	unread := st.releaseLocked()
	if st.err == nil && !complete {
		st.err = errH2cBodyClosed
	}
	st.cond.Broadcast()
	st.mu.Unlock()
	st.cc.refund(nil, unread)
	if !complete {
		st.cc.queueReset(st, http2.ErrCodeCancel)
		st.remoteDone.Store(true)
		st.cc.flush()
	}
	st.finish()
	return nil
}

// refund returns consumed (or dropped) body bytes to the upstream's
// windows: the connection's always, the stream's when st is not nil and
// the stream still receives. WINDOW_UPDATEs go out once a quarter of a
// window is owed.
func (cc *h2cConn) refund(st *h2cStream, n int64) {
	if n <= 0 {
		return
	}
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	if cc.werr != nil {
		return
	}
	cc.connCredit += n
	send := false
	if cc.connCredit >= h2cConnWindow/4 {
		cc.out = h2c.AppendWindowUpdate(cc.out, 0, uint32(cc.connCredit))
		cc.recvWin += cc.connCredit
		cc.connCredit = 0
		send = true
	}
	if st != nil && !st.remoteDone.Load() {
		st.credit += n
		if st.credit >= h2cStreamWindow/4 {
			cc.out = h2c.AppendWindowUpdate(cc.out, st.id, uint32(st.credit))
			st.recvWin += st.credit
			st.credit = 0
			send = true
		}
	}
	if send {
		cc.flushLocked()
	}
}

// readLoop reads and handles the upstream's frames until an error.
func (cc *h2cConn) readLoop() error {
	for {
		f, err := cc.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &se):
				cc.streamError(se.StreamID, se.Code, "bad frame: "+se.Error())
				continue
			case errors.As(err, &ce):
				return &h2cConnError{code: http2.ErrCode(ce), msg: "bad frame"}
			case errors.Is(err, http2.ErrFrameTooLarge):
				return &h2cConnError{code: http2.ErrCodeFrameSize, msg: "frame too large"}
			}
			return err
		}
		if err := cc.handle(f); err != nil {
			return err
		}
	}
}

// streamError resets stream id with code and fails it.
func (cc *h2cConn) streamError(id uint32, code http2.ErrCode, msg string) {
	cc.mu.Lock()
	st := cc.streams[id]
	cc.mu.Unlock()
	if st == nil {
		cc.wmu.Lock()
		cc.out = h2c.AppendRSTStream(cc.out, id, uint32(code))
		cc.flushLocked()
		cc.wmu.Unlock()
		return
	}
	st.resetWith(code, &h2cStreamError{code: code, msg: msg})
}

func (cc *h2cConn) handle(f http2.Frame) error {
	if !cc.sawFirst {
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			return &h2cConnError{code: http2.ErrCodeProtocol, msg: "the upstream's preface is not SETTINGS"}
		}
		cc.sawFirst = true
	}
	if cc.hdrID != 0 {
		if _, ok := f.(*http2.ContinuationFrame); !ok {
			return &h2cConnError{code: http2.ErrCodeProtocol, msg: "header block interrupted"}
		}
	}
	switch f := f.(type) {
	case *http2.HeadersFrame:
		if f.StreamID%2 == 0 {
			return &h2cConnError{code: http2.ErrCodeProtocol, msg: "HEADERS on an even stream"}
		}
		cc.hdrID, cc.hdrEnd = f.StreamID, f.StreamEnded()
		cc.hdrBlock = append(cc.hdrBlock[:0], f.HeaderBlockFragment()...)
		if f.HeadersEnded() {
			return cc.endHeaders()
		}
		return cc.checkBlockSize()
	case *http2.ContinuationFrame:
		if f.StreamID != cc.hdrID || cc.hdrID == 0 {
			return &h2cConnError{code: http2.ErrCodeProtocol, msg: "unexpected CONTINUATION"}
		}
		cc.hdrBlock = append(cc.hdrBlock, f.HeaderBlockFragment()...)
		if f.HeadersEnded() {
			return cc.endHeaders()
		}
		return cc.checkBlockSize()
	case *http2.DataFrame:
		return cc.onData(f)
	case *http2.SettingsFrame:
		return cc.onSettings(f)
	case *http2.WindowUpdateFrame:
		return cc.onWindowUpdate(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			cc.wmu.Lock()
			if len(cc.out) > h2MaxCtl {
				cc.wmu.Unlock()
				return &h2cConnError{code: http2.ErrCodeEnhanceYourCalm, msg: "too many PINGs"}
			}
			cc.out = h2c.AppendPing(cc.out, true, f.Data)
			cc.flushLocked()
			cc.wmu.Unlock()
		}
	case *http2.RSTStreamFrame:
		return cc.onReset(f)
	case *http2.GoAwayFrame:
		cc.onGoAway(f)
	case *http2.PushPromiseFrame:
		return &h2cConnError{code: http2.ErrCodeProtocol, msg: "PUSH_PROMISE with push disabled"}
	}
	return nil
}

func (cc *h2cConn) checkBlockSize() error {
	if len(cc.hdrBlock) > 2*int(cc.t.maxList)+16384 {
		return &h2cConnError{code: http2.ErrCodeProtocol, msg: "header block too large"}
	}
	return nil
}

// lookup returns the open stream id, or nil; an id we never opened is a
// connection error.
func (cc *h2cConn) lookup(id uint32) (*h2cStream, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	st := cc.streams[id]
	if st == nil && id >= cc.nextID {
		return nil, &h2cConnError{code: http2.ErrCodeProtocol, msg: fmt.Sprintf("frame on idle stream %d", id)}
	}
	return st, nil
}

func (cc *h2cConn) onField(f h2c.Field) {
	if cc.truncated {
		return
	}
	cc.listSize += f.Size()
	if cc.listSize > cc.t.maxList {
		cc.truncated = true
		return
	}
	cc.fields = append(cc.fields, f)
}

// endHeaders decodes a complete header block (always, to keep the HPACK
// table in step) and hands it to its stream.
func (cc *h2cConn) endHeaders() error {
	id, end := cc.hdrID, cc.hdrEnd
	cc.hdrID = 0
	cc.fields, cc.listSize, cc.truncated = cc.fields[:0], 0, false
	err := cc.dec.Decode(cc.hdrBlock, cc.emit)
	if cap(cc.hdrBlock) > 64<<10 {
		cc.hdrBlock = nil
	}
	if err != nil {
		return &h2cConnError{code: http2.ErrCodeCompression, msg: err.Error()}
	}
	st, err := cc.lookup(id)
	if st == nil {
		return err
	}
	if cc.truncated {
		st.resetWith(http2.ErrCodeProtocol, &h2cStreamError{code: http2.ErrCodeProtocol,
			msg: fmt.Sprintf("response header list larger than %d bytes", cc.t.maxList)})
		return nil
	}
	if msg := st.onHeaders(cc.fields, end); msg != "" {
		st.resetWith(http2.ErrCodeProtocol, &h2cStreamError{code: http2.ErrCodeProtocol, msg: msg})
		return nil
	}
	if end {
		cc.maybeRelease(st)
	}
	return nil
}

// onHeaders takes a decoded head (1xx heads are skipped) or the
// trailers. It returns what is malformed, if anything.
func (st *h2cStream) onHeaders(fields []h2c.Field, end bool) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil || st.closed {
		return ""
	}
	st.anyByte = true
	if st.gotHead {
		if !end {
			return "trailers without END_STREAM"
		}
		var tr http.Header
		for _, f := range fields {
			if !validH2Name(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value) {
				return fmt.Sprintf("invalid trailer field %q", f.Name)
			}
			if tr == nil {
				tr = make(http.Header, len(fields))
			}
			k := canonicalKey(f.Name)
			tr[k] = append(tr[k], f.Value)
		}
		if st.declared >= 0 && st.got != st.declared && !st.head {
			return "body shorter than its content-length"
		}
		st.trailers = tr
		st.remoteDone.Store(true)
		st.cond.Broadcast()
		return ""
	}
	status := -1
	n := 0
	for i, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			if f.Name != ":status" || status != -1 || i != 0 {
				return fmt.Sprintf("unexpected pseudo-header %q", f.Name)
			}
			status = parseStatus(f.Value)
			if status < 0 {
				return fmt.Sprintf("invalid :status %q", f.Value)
			}
			continue
		}
		if !validH2Name(f.Name) {
			return fmt.Sprintf("invalid field name %q", f.Name)
		}
		if !httpguts.ValidHeaderFieldValue(f.Value) {
			return fmt.Sprintf("invalid value of %q", f.Name)
		}
		n++
	}
	switch {
	case status < 0:
		return "missing :status"
	case status == http.StatusSwitchingProtocols:
		return "101 Switching Protocols"
	case status < 200:
		if end {
			return "1xx head ends the stream"
		}
		return "" // informational: the final head follows
	}
	resp := &st.resp
	*resp = http.Response{
		StatusCode:    status,
		Status:        statusText(status),
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        make(http.Header, n),
		ContentLength: -1,
		Request:       st.call.req,
	}
	// One backing array for every value: a slice per field otherwise.
	vals := make([]string, 0, n)
	for _, f := range fields[1:] {
		if connectionSpecific(f.Name) {
			continue
		}
		k := canonicalKey(f.Name)
		switch k {
		case "Trailer":
			for _, tk := range strings.Split(f.Value, ",") {
				if tk = strings.TrimSpace(tk); tk != "" {
					if resp.Trailer == nil {
						resp.Trailer = http.Header{}
					}
					resp.Trailer[http.CanonicalHeaderKey(tk)] = nil
				}
			}
			continue
		case "Content-Length":
			v, err := strconv.ParseUint(f.Value, 10, 63)
			if err != nil || st.declared >= 0 && int64(v) != st.declared {
				return "invalid content-length"
			}
			st.declared = int64(v)
		}
		if vs := resp.Header[k]; vs != nil {
			resp.Header[k] = append(vs, f.Value)
		} else {
			vals = append(vals, f.Value)
			resp.Header[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	bodyless := st.head || status == http.StatusNoContent || status == http.StatusNotModified
	switch {
	case st.declared >= 0:
		resp.ContentLength = st.declared
		if end && st.declared != 0 && !bodyless {
			return "no body for a non-zero content-length"
		}
	case end || bodyless:
		resp.ContentLength = 0
	}
	if end {
		resp.Body = http.NoBody
		st.remoteDone.Store(true)
	} else {
		resp.Body = st
	}
	st.gotHead = true
	st.cond.Broadcast()
	return ""
}

// canonicalKey is http.CanonicalHeaderKey, without allocating for the
// usual names.
func canonicalKey(name string) string {
	if k, ok := canonicalHeaders[name]; ok {
		return k
	}
	return http.CanonicalHeaderKey(name)
}

// parseStatus parses a :status value: three digits, or -1.
func parseStatus(v string) int {
	if len(v) != 3 {
		return -1
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	if n < 100 {
		return -1
	}
	return n
}

// statusLines are resp.Status for the known codes, built once.
var statusLines = func() map[int]string {
	m := map[int]string{}
	for c := 100; c < 600; c++ {
		if s := http.StatusText(c); s != "" {
			m[c] = strconv.Itoa(c) + " " + s
		}
	}
	return m
}()

func statusText(code int) string {
	if s, ok := statusLines[code]; ok {
		return s
	}
	return strconv.Itoa(code)
}

// onData buffers response body bytes for the stream's reader, within
// the windows we granted.
func (cc *h2cConn) onData(f *http2.DataFrame) error {
	id, l := f.StreamID, int64(f.Length)
	st, err := cc.lookup(id)
	if err != nil {
		return err
	}
	cc.wmu.Lock()
	if l > cc.recvWin {
		cc.wmu.Unlock()
		return &h2cConnError{code: http2.ErrCodeFlowControl, msg: "DATA beyond the connection window"}
	}
	cc.recvWin -= l
	if st == nil {
		cc.wmu.Unlock()
		cc.refund(nil, l) // a stream we reset: nobody reads it
		return nil
	}
	if l > st.recvWin {
		cc.wmu.Unlock()
		cc.refund(nil, l)
		st.resetWith(http2.ErrCodeFlowControl, &h2cStreamError{code: http2.ErrCodeFlowControl, msg: "DATA beyond the stream window"})
		return nil
	}
	st.recvWin -= l
	cc.wmu.Unlock()
	data := f.Data()
	if pad := l - int64(len(data)); pad > 0 {
		cc.refund(st, pad)
	}
	st.mu.Lock()
	var msg string
	switch {
	case st.err != nil || st.closed:
		st.mu.Unlock()
		cc.refund(nil, int64(len(data)))
		return nil
	case !st.gotHead:
		msg = "DATA before the response head"
	case st.remoteDone.Load():
		msg = "DATA after END_STREAM"
	default:
		st.got += int64(len(data))
		if st.declared >= 0 && (st.got > st.declared || f.StreamEnded() && st.got != st.declared) {
			msg = "body length differs from its content-length"
		}
	}
	if msg != "" {
		st.mu.Unlock()
		cc.refund(nil, int64(len(data)))
		st.resetWith(http2.ErrCodeProtocol, &h2cStreamError{code: http2.ErrCodeProtocol, msg: msg})
		return nil
	}
	st.anyByte = true
	if len(data) > 0 {
		if st.pb == nil {
			st.pb = bufPool.Get().(*[]byte)
			st.data = (*st.pb)[:0]
		} else if st.roff > 0 && len(st.data)+len(data) > cap(st.data) {
			k := copy(st.data, st.data[st.roff:])
			st.data, st.roff = st.data[:k], 0
		}
		st.data = append(st.data, data...)
	}
	if f.StreamEnded() {
		st.remoteDone.Store(true)
	}
	st.cond.Broadcast()
	st.mu.Unlock()
	if f.StreamEnded() {
		cc.maybeRelease(st)
	}
	return nil
}

func (cc *h2cConn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return &h2cConnError{code: http2.ErrCodeProtocol, msg: err.Error()}
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			cc.mu.Lock()
			cc.wmu.Lock()
			delta := int64(s.Val) - cc.peerInitWin
			cc.peerInitWin = int64(s.Val)
			bad := false
			for _, st := range cc.streams {
				st.sendWin += delta
				if st.sendWin > 1<<31-1 {
					bad = true
				}
			}
			cc.wcond.Broadcast()
			cc.wmu.Unlock()
			cc.mu.Unlock()
			if bad {
				return &h2cConnError{code: http2.ErrCodeFlowControl, msg: "window overflow"}
			}
		case http2.SettingMaxFrameSize:
			cc.wmu.Lock()
			cc.peerMaxFrame = int(s.Val)
			cc.wmu.Unlock()
		case http2.SettingMaxConcurrentStreams:
			cc.mu.Lock()
			cc.maxStreams = s.Val
			cc.mu.Unlock()
		}
		// HEADER_TABLE_SIZE: our encoder uses no dynamic table.
		return nil
	})
	if err != nil {
		return err
	}
	cc.wmu.Lock()
	cc.out = h2c.AppendSettings(cc.out, true)
	cc.flushLocked()
	cc.wmu.Unlock()
	cc.mu.Lock()
	if !cc.ready && cc.err == nil {
		cc.ready = true
		cc.idleSince = time.Now()
		cc.idle = time.AfterFunc(h2cIdleTimeout, cc.idleCheck)
		close(cc.readyCh)
	}
	cc.mu.Unlock()
	return nil
}

func (cc *h2cConn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	incr := int64(f.Increment)
	if f.StreamID == 0 {
		cc.wmu.Lock()
		cc.sendWin += incr
		over := cc.sendWin > 1<<31-1
		cc.wcond.Broadcast()
		cc.wmu.Unlock()
		if over {
			return &h2cConnError{code: http2.ErrCodeFlowControl, msg: "connection window overflow"}
		}
		return nil
	}
	st, err := cc.lookup(f.StreamID)
	if st == nil {
		return err
	}
	cc.wmu.Lock()
	st.sendWin += incr
	over := st.sendWin > 1<<31-1
	cc.wcond.Broadcast()
	cc.wmu.Unlock()
	if over {
		st.resetWith(http2.ErrCodeFlowControl, &h2cStreamError{code: http2.ErrCodeFlowControl, msg: "stream window overflow"})
	}
	return nil
}

// onReset fails a stream the upstream reset. REFUSED_STREAM before any
// answer means the request was not processed; NO_ERROR after a complete
// answer only asks us to stop sending the body.
func (cc *h2cConn) onReset(f *http2.RSTStreamFrame) error {
	st, err := cc.lookup(f.StreamID)
	if st == nil {
		return err
	}
	cc.wmu.Lock()
	st.sentEnd = true
	st.localDone.Store(true)
	cc.wcond.Broadcast()
	cc.wmu.Unlock()
	st.mu.Lock()
	complete := st.gotHead && st.remoteDone.Load()
	if f.ErrCode == http2.ErrCodeRefusedStream && !st.anyByte {
		st.notProcessed = true
	}
	st.mu.Unlock()
	if complete && f.ErrCode == http2.ErrCodeNo {
		cc.maybeRelease(st)
		return nil
	}
	st.fail(&h2cStreamError{code: f.ErrCode, byPeer: true}, false)
	return nil
}

// onGoAway stops new streams on the connection; streams above the
// upstream's last one were not processed and fail (to be retried).
func (cc *h2cConn) onGoAway(f *http2.GoAwayFrame) {
	cc.mu.Lock()
	cc.goAway = true
	if cc.goAwayID == 0 || f.LastStreamID < cc.goAwayID {
		cc.goAwayID = f.LastStreamID
	}
	var refused []*h2cStream
	for id, st := range cc.streams {
		if id > f.LastStreamID {
			refused = append(refused, st)
		}
	}
	idle := cc.reserved == 0
	cc.mu.Unlock()
	for _, st := range refused {
		st.mu.Lock()
		st.notProcessed = true
		st.mu.Unlock()
		st.fail(errH2cNotProcessed, false)
	}
	if idle {
		cc.fail(errH2cGoneAway)
	}
}
