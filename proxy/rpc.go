package proxy

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/codec/dubbo"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/upstream"
	"mosn.dev/proxy/upstream/circuit"
)

// The RPC engine multiplexes request/response protocols with ids (bolt,
// dubbo): many downstream requests share one upstream connection per
// host; each forwarded request gets a fresh id on that connection, and the
// response's id is mapped back. Frames are forwarded as raw bytes with the
// id rewritten in place. Heartbeats are answered locally, never routed.

// rpcWriteTimeout bounds one write to a peer; a peer that cannot take a
// response for this long is cut rather than stalling the connection that
// carries other callers' responses.
const rpcWriteTimeout = 10 * time.Second

// rpcHeartbeatInterval is how often an idle upstream connection is
// probed; one that answers nothing for two intervals is replaced.
const rpcHeartbeatInterval = 15 * time.Second

// rpcDown is one downstream RPC connection.
type rpcDown struct {
	p     *Proxy
	codec rpcCodec
	c     *network.Conn
	wmu   sync.Mutex
	out   []byte
	wait  func() error
	// pre holds bytes fastHeartbeat read from a parked connection that
	// run must handle first; broken marks a connection whose stream a
	// failed fast reply cut.
	pre     []byte
	broken  bool
	fastSet bool
	// busy: a request other than a heartbeat arrived since the last
	// idle wait (heartbeats alone do not keep a connection off the
	// poller).
	busy bool
	// inflight counts forwarded requests still waiting for an answer; a
	// draining connection is closed only when it is zero, so a graceful
	// stop loses no response.
	inflight atomic.Int64
}

// drainWait waits (bounded by the longest request timeout) until every
// request of this connection has its answer written.
func (d *rpcDown) drainWait() {
	deadline := time.Now().Add(DefaultTimeout + time.Second)
	for d.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// drainEnd ends a draining connection at a frame boundary: once every
// forwarded request is answered, its socket is passed to the new process
// during a smooth upgrade (frames the client sent meanwhile are still
// queued in it), else the caller closes it.
func (d *rpcDown) drainEnd() {
	d.drainWait()
	if d.inflight.Load() == 0 {
		// A late answer must never be written to a socket that another
		// process now serves, so only a connection with none pending
		// moves.
		d.c.Transfer()
	}
}

func (d *rpcDown) write(b []byte) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.c.SetWriteDeadline(time.Now().Add(rpcWriteTimeout))
	_, err := d.c.Write(b)
	if err != nil {
		d.c.Close()
	}
	return err
}

// serveRPC reads frames from a downstream connection until it ends.
func (p *Proxy) serveRPC(c *network.Conn, codec rpcCodec) {
	d := &rpcDown{p: p, codec: codec, c: c, wait: network.NewReadWaiter(c.Conn), busy: true}
	d.run()
}

// run serves the connection until it ends or is parked.
func (d *rpcDown) run() {
	p, c, codec := d.p, d.c, d.codec
	parked := false
	defer func() {
		if !parked {
			c.Close()
		}
	}()
	var bp *[]byte
	r, w := 0, 0
	defer func() {
		if bp != nil {
			bufPool.Put(bp)
		}
	}()
	if d.broken {
		return
	}
	if len(d.pre) > 0 {
		bp = bufPool.Get().(*[]byte)
		w = copy(*bp, d.pre)
		d.pre = d.pre[:0]
	}
	// One frame value for the connection's life: handle copies what it
	// keeps, and a frame declared in the loop would be allocated for
	// every request (it escapes through the codec interface).
	var f rpcFrame
	for {
		// Frames already buffered.
		for bp != nil && r < w {
			var (
				n   int
				err error
			)
			f, n, err = codec.parse((*bp)[r:w])
			if err != nil {
				if errors.Is(err, errNeedMoreRPC(codec)) {
					break
				}
				p.log.Warnf("[proxy] [%s] connection %d: bad frame, closing: %v", codec.name(), c.ID, err)
				return
			}
			r += n
			d.handle(&f)
		}
		if r == w {
			r, w = 0, 0
			if bp != nil {
				bufPool.Put(bp)
				bp = nil
			}
			switch d.idle() {
			case idleEnd:
				return
			case idleParked:
				parked = true
				return
			}
		}
		if bp == nil {
			bp = bufPool.Get().(*[]byte)
		}
		b := *bp
		if r > 0 {
			copy(b, b[r:w])
			w -= r
			r = 0
		}
		if w == len(b) {
			grown := make([]byte, 2*len(b))
			copy(grown, b[:w])
			*bp = grown
			b = grown
		}
		n, err := c.Read(b[w:])
		w += n
		if n == 0 && err != nil {
			return
		}
	}
}

type idleResult uint8

const (
	idleRead   idleResult = iota // bytes are queued: read them
	idleEnd                      // the connection ends
	idleParked                   // the poller owns the connection
)

// idle waits, holding no buffer, for the next frame: briefly on this
// goroutine, then parked in the poller when there is one.
func (d *rpcDown) idle() idleResult {
	c := d.c
	if !d.busy && c.Poller != nil && !c.Draining() && network.Alive(c.Conn) && d.park(c.IdleTimeout) {
		// Only heartbeats since the last wait: the connection is idle
		// and goes straight back to the poller.
		return idleParked
	}
	d.busy = false
	for hot := c.Poller != nil; ; hot = false {
		if !c.EnterIdle() {
			d.drainEnd()
			return idleEnd
		}
		wait := c.IdleTimeout
		if hot && (wait == 0 || wait > parkAfter) {
			wait = parkAfter
		} else {
			hot = false
		}
		if wait > 0 {
			c.SetReadDeadline(time.Now().Add(wait))
		}
		err := d.wait()
		c.ExitIdle()
		c.SetReadDeadline(time.Time{})
		if err == nil {
			return idleRead
		}
		if c.Draining() {
			if c.CanTransfer() || network.Alive(c.Conn) {
				// Woken by the drain. During an upgrade frames already
				// queued travel with the socket; otherwise the drain
				// ends a connection only when nothing is queued.
				d.drainEnd()
				return idleEnd
			}
			return idleRead // a frame arrived as the drain began
		}
		if !hot || !errors.Is(err, os.ErrDeadlineExceeded) {
			return idleEnd
		}
		idle := c.IdleTimeout
		if idle > 0 {
			idle -= parkAfter
		}
		if network.Alive(c.Conn) && d.park(idle) {
			return idleParked
		}
		// Bytes arrived meanwhile, or parking is unavailable: go on
		// waiting on this goroutine.
	}
}

// park hands the connection to the poller for up to idle (0: no limit).
func (d *rpcDown) park(idle time.Duration) bool {
	// The waiter is rebuilt on resume: a parked connection keeps as
	// little as possible.
	wait := d.wait
	d.wait = nil
	if cap(d.out) > 256 {
		d.out = nil
	}
	// Only a connection with no answer pending can give its socket up:
	// a late answer is written from another goroutine.
	if d.c.Poller != nil && !d.fastSet {
		d.fastSet = true
		d.c.SetFastRead(d.fastHeartbeat)
	}
	if d.c.Park(idle, d.inflight.Load() == 0, d.resume) {
		return true
	}
	d.wait = wait
	return false
}

// resume serves a parked connection again, on the poller's goroutine.
func (d *rpcDown) resume(r network.WakeReason) {
	c := d.c
	defer func() {
		if e := recover(); e != nil {
			d.p.log.Errorf("[proxy] [%s] connection %d panic: %v", d.codec.name(), c.ID, e)
			c.Close()
		}
	}()
	switch r {
	case network.IdleTimeout:
		c.Close()
		return
	case network.Woken:
		if !c.Draining() {
			c.Close() // the poller is shutting down
			return
		}
		if c.CanTransfer() || network.Alive(c.Conn) {
			d.drainEnd()
			c.Close()
			return
		}
	}
	d.wait = network.NewReadWaiter(c.Conn)
	d.run()
}

// handle routes and forwards one downstream frame.
func (d *rpcDown) handle(f *rpcFrame) {
	p := d.p
	if !f.request {
		return // a response from a client: nothing to match it to
	}
	if f.heartbeat {
		d.out = d.codec.heartbeatReply(d.out[:0], f)
		d.write(d.out)
		return
	}
	d.busy = true
	if !p.filters.Empty() {
		// Filters may wait (a fault delay): the request runs on its own
		// goroutine with its own copy of the frame, so that the
		// connection's other requests go on meanwhile. inflight holds a
		// drain until it is forwarded or answered.
		fc, _, err := d.codec.parse(append([]byte(nil), f.raw...))
		if err != nil {
			return // it parsed a moment ago
		}
		d.inflight.Add(1)
		go func() {
			defer d.inflight.Add(-1)
			defer func() {
				if e := recover(); e != nil {
					p.log.Errorf("[proxy] [%s] connection %d: request panic: %v", d.codec.name(), d.c.ID, e)
				}
			}()
			d.serve(&fc, &rpcFilters{d: d, f: &fc, chain: p.filters.New()})
		}()
		return
	}
	d.serve(f, nil)
}

// serve routes and forwards one request, running the stream filters of
// flt (nil: none) at their phases.
func (d *rpcDown) serve(f *rpcFrame, flt *rpcFilters) {
	p := d.p
	start := time.Now()
	info := &accesslog.Info{
		StartTime:               start,
		Protocol:                d.codec.name(),
		ConnectionID:            d.c.ID,
		ListenerName:            d.c.Listener,
		DownstreamLocalAddress:  d.c.LocalAddr().String(),
		DownstreamRemoteAddress: d.c.RemoteAddr().String(),
	}
	clusterName := p.cfg.Cluster
	timeout := f.timeout
	req := rpcReq{codec: d.codec, f: f}
	if len(p.accessLogs) > 0 {
		// The frame's bytes are reused once it is forwarded: keep what
		// the access log may print (%request_header_service% etc.).
		svc, _ := d.codec.header(f, "service")
		svc = strings.Clone(svc)
		method := strings.Clone(req.Method())
		info.Lookup = func(name string) (string, bool) {
			switch name {
			case "request_header_service":
				return svc, svc != ""
			case "request_header_method", "request_header_sofa_head_method_name":
				return method, method != ""
			}
			return "", false
		}
	}
	ctx := context.Background()
	if flt != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
		flt.info = info
		if flt.run(ctx, stream.BeforeRoute) {
			d.fail(f, rpcKindOf(flt.status), info, 0)
			return
		}
	}
	lbctx := upstream.LBContext{OriginalDst: d.c.OriginalDst}
	if p.routes != nil {
		route := p.routes.Match(req)
		if route == nil {
			d.fail(f, rpcNoRoute, info, accesslog.NoRouteFound)
			return
		}
		info.RouteName = route.Name()
		clusterName = route.Cluster(req, rand.Uint64())
		lbctx.MetadataMatch = route.MetadataMatch(clusterName)
		if t := route.Timeout(); t > 0 && timeout == 0 {
			timeout = t
		}
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	info.UpstreamCluster = clusterName
	if flt != nil {
		flt.cluster = clusterName
		if flt.run(ctx, stream.AfterRoute) {
			d.fail(f, rpcKindOf(flt.status), info, 0)
			return
		}
		lbctx.MetadataMatch = mergeMeta(lbctx.MetadataMatch, flt.meta)
	}
	cl := p.clusters.Get(clusterName)
	if cl == nil {
		d.fail(f, rpcNoRoute, info, accesslog.NoRouteFound)
		return
	}
	br := p.breakers.Get(cl.Config())
	if !br.AcquireRequest() {
		d.fail(f, rpcOverflow, info, accesslog.UpstreamOverflow)
		return
	}
	var (
		mc  *muxConn
		err error
	)
	for attempt := uint32(0); attempt <= 3; attempt++ {
		h := cl.Pick(&lbctx)
		if h == nil {
			d.fail(f, rpcNoHost, info, accesslog.NoHealthyUpstream)
			return
		}
		info.UpstreamHost = h.Address()
		mc, err = p.mux.get(p, cl, h, d.codec)
		if err == nil {
			break
		}
		lbctx.Exclude = h
	}
	if err != nil {
		br.ReleaseRequest()
		d.fail(f, rpcNoHost, info, accesslog.UpstreamConnectionFailure)
		return
	}
	if flt != nil {
		flt.host = info.UpstreamHost
		if flt.run(ctx, stream.AfterChooseHost) {
			br.ReleaseRequest()
			d.fail(f, rpcKindOf(flt.status), info, 0)
			return
		}
	}
	mc.forward(d, f, timeout, info, br)
}

// fail answers a request with the protocol's error status.
func (d *rpcDown) fail(f *rpcFrame, k rpcKind, info *accesslog.Info, flag uint64) {
	if info != nil {
		info.ResponseFlags |= flag
	}
	if !f.oneway {
		d.write(d.codec.errorReply(nil, f, k))
	}
	if info != nil {
		d.p.logRPC(info, -1)
	}
}

// logRPC finishes a request: metrics (the protocol status mapped to an
// HTTP class; -1 when the proxy answered itself) and the access log.
func (p *Proxy) logRPC(info *accesslog.Info, status int) {
	if status >= 0 {
		info.ResponseCode = status
	}
	info.Duration = time.Since(info.StartTime)
	class := -1
	if status >= 0 {
		class = rpcHTTPClass(info.Protocol, status)
	}
	p.stats.record(info, class)
	for _, l := range p.accessLogs {
		l.Log(info)
	}
}

// rpcHTTPClass maps a bolt or dubbo status to an HTTP status for the
// response-class counters (MOSN's mapping for bolt).
func rpcHTTPClass(protocol string, status int) int {
	if protocol == "bolt" {
		return bolt.StatusToHTTP(uint16(status))
	}
	if status == int(dubbo.StatusOK) {
		return 200
	}
	return 500
}

// rpcReq lets the router read an RPC request's headers (bolt header map,
// dubbo service/method/version/group and attachments).
type rpcReq struct {
	codec rpcCodec
	f     *rpcFrame
}

func (q rpcReq) Host() string  { return "" }
func (q rpcReq) Path() string  { return "" }
func (q rpcReq) Query() string { return "" }
func (q rpcReq) Method() string {
	if m, ok := q.codec.header(q.f, "method"); ok {
		return m
	}
	m, _ := q.codec.header(q.f, "sofa_head_method_name")
	return m
}
func (q rpcReq) Header(name string) (string, bool) { return q.codec.header(q.f, name) }

func errNeedMoreRPC(c rpcCodec) error {
	if _, ok := c.(boltCodec); ok {
		return errBoltNeedMore
	}
	return errDubboNeedMore
}

// pending is one forwarded request waiting for its response.
type pending struct {
	down   *rpcDown
	origID uint64
	frame  rpcFrame // for error replies: header fields only (raw is not kept)
	timer  *time.Timer
	info   *accesslog.Info
	br     *circuit.Breaker
}

// muxConn is one upstream connection shared by many downstream requests.
type muxConn struct {
	conn     net.Conn
	host     *upstream.Host
	cl       *upstream.Cluster // results are reported to it (outlier detection)
	codec    rpcCodec
	key      string
	pool     *muxPool
	p        *Proxy
	wmu      sync.Mutex
	mu       sync.Mutex
	pend     map[uint64]*pending
	next     atomic.Uint64
	dead     atomic.Bool
	lastRead atomic.Int64
	done     chan struct{}
}

// muxPool keeps one multiplexed connection per upstream host.
type muxPool struct {
	mu    sync.Mutex
	conns map[string]*muxEntry
}

type muxEntry struct {
	ready chan struct{}
	mc    *muxConn
	err   error
}

func newMuxPool() *muxPool { return &muxPool{conns: map[string]*muxEntry{}} }

func (mp *muxPool) get(p *Proxy, cl *upstream.Cluster, h *upstream.Host, codec rpcCodec) (*muxConn, error) {
	key := codec.name() + "|" + cl.Name() + "|" + h.Address()
	mp.mu.Lock()
	e := mp.conns[key]
	if e != nil {
		mp.mu.Unlock()
		<-e.ready
		if e.err == nil && !e.mc.dead.Load() {
			return e.mc, nil
		}
		mp.mu.Lock()
		if mp.conns[key] == e {
			delete(mp.conns, key)
		}
		if e.err != nil {
			mp.mu.Unlock()
			return nil, e.err
		}
		e = nil
	}
	e = &muxEntry{ready: make(chan struct{})}
	mp.conns[key] = e
	mp.mu.Unlock()

	h.ConnStart()
	c, err := cl.Dial(context.Background(), h)
	if err != nil {
		h.ConnEnd()
		e.err = err
		close(e.ready)
		mp.mu.Lock()
		if mp.conns[key] == e {
			delete(mp.conns, key)
		}
		mp.mu.Unlock()
		return nil, err
	}
	mc := &muxConn{conn: c, host: h, cl: cl, codec: codec, key: key, pool: mp, p: p, pend: map[uint64]*pending{}, done: make(chan struct{})}
	mc.lastRead.Store(time.Now().UnixNano())
	e.mc = mc
	close(e.ready)
	go mc.readLoop()
	go mc.keepalive()
	return mc, nil
}

func (mp *muxPool) remove(mc *muxConn) {
	mp.mu.Lock()
	if e := mp.conns[mc.key]; e != nil && e.mc == mc {
		delete(mp.conns, mc.key)
	}
	mp.mu.Unlock()
}

// forward sends f upstream with a fresh id and registers the caller.
func (mc *muxConn) forward(d *rpcDown, f *rpcFrame, timeout time.Duration, info *accesslog.Info, br *circuit.Breaker) {
	id := mc.codec.nextID(mc.next.Add(1))
	origID := f.id
	info.UpstreamLocalAddress = mc.conn.LocalAddr().String()
	if !f.oneway {
		// Keep the header fields for an error reply, not the bytes: the
		// read buffer they point into is reused.
		pd := &pending{down: d, origID: origID, frame: rpcFrame{id: f.id, request: true, bolt: f.bolt, dubbo: f.dubbo}, info: info, br: br}
		pd.frame.bolt.Raw, pd.frame.bolt.Class, pd.frame.bolt.HeaderBytes, pd.frame.bolt.Content = nil, nil, nil, nil
		pd.frame.dubbo.Raw, pd.frame.dubbo.Body = nil, nil
		d.inflight.Add(1)
		mc.mu.Lock()
		mc.pend[id] = pd
		mc.mu.Unlock()
		mc.host.RequestStart()
		pd.timer = time.AfterFunc(timeout, func() { mc.timeoutReq(id) })
	}
	mc.codec.setID(f.raw, id)
	err := mc.write(f.raw)
	mc.codec.setID(f.raw, origID)
	if f.oneway {
		br.ReleaseRequest()
		if err != nil {
			info.ResponseFlags |= accesslog.UpstreamConnectionFailure
		}
		mc.p.logRPC(info, -1)
		return
	}
	if err != nil {
		// The read loop sees the broken connection and answers every
		// pending request, this one included.
		mc.conn.Close()
	}
}

func (mc *muxConn) write(b []byte) error {
	mc.wmu.Lock()
	defer mc.wmu.Unlock()
	mc.conn.SetWriteDeadline(time.Now().Add(rpcWriteTimeout))
	_, err := mc.conn.Write(b)
	return err
}

func (mc *muxConn) take(id uint64) *pending {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	pd := mc.pend[id]
	if pd != nil {
		delete(mc.pend, id)
		pd.br.ReleaseRequest()
	}
	return pd
}

func (mc *muxConn) timeoutReq(id uint64) {
	pd := mc.take(id)
	if pd == nil {
		return
	}
	mc.host.RequestEnd()
	mc.cl.ReportResult(mc.host, false)
	pd.down.fail(&pd.frame, rpcTimeout, pd.info, accesslog.UpstreamRequestTimeout)
	pd.down.inflight.Add(-1)
}

// readLoop relays responses to their callers until the connection dies,
// then answers every request still waiting.
func (mc *muxConn) readLoop() {
	defer mc.shutdown()
	buf := make([]byte, bufSize)
	r, w := 0, 0
	var f rpcFrame // reused: deliver copies what it keeps
	for {
		for r < w {
			var (
				n   int
				err error
			)
			f, n, err = mc.codec.parse(buf[r:w])
			if err != nil {
				if errors.Is(err, errNeedMoreRPC(mc.codec)) {
					break
				}
				mc.p.log.Warnf("[proxy] [%s] bad frame from upstream %s, closing: %v", mc.codec.name(), mc.host.Address(), err)
				return
			}
			r += n
			mc.deliver(&f)
		}
		if r > 0 {
			copy(buf, buf[r:w])
			w -= r
			r = 0
		}
		if w == len(buf) {
			grown := make([]byte, 2*len(buf))
			copy(grown, buf[:w])
			buf = grown
		}
		n, err := mc.conn.Read(buf[w:])
		w += n
		if n > 0 {
			mc.lastRead.Store(time.Now().UnixNano())
		}
		if n == 0 && err != nil {
			return
		}
	}
}

func (mc *muxConn) deliver(f *rpcFrame) {
	if f.request {
		if f.heartbeat && !f.oneway {
			// The upstream probes us: answer for the proxy.
			mc.write(mc.codec.heartbeatReply(nil, f))
		}
		return
	}
	pd := mc.take(f.id)
	if pd == nil {
		return // a heartbeat ack, or a response that already timed out
	}
	pd.timer.Stop()
	mc.host.RequestEnd()
	mc.cl.ReportResult(mc.host, mc.codec.ok(f))
	mc.codec.setID(f.raw, pd.origID)
	if err := pd.down.write(f.raw); err != nil {
		pd.info.ResponseFlags |= accesslog.DownstreamConnectionTermination
	}
	pd.info.BytesSent = uint64(len(f.raw))
	mc.p.logRPC(pd.info, f.status)
	pd.down.inflight.Add(-1)
}

// shutdown marks the connection dead and fails what is still pending.
func (mc *muxConn) shutdown() {
	if mc.dead.Swap(true) {
		return
	}
	close(mc.done)
	mc.pool.remove(mc)
	mc.conn.Close()
	mc.host.ConnEnd()
	mc.mu.Lock()
	pend := mc.pend
	mc.pend = map[uint64]*pending{}
	mc.mu.Unlock()
	if len(pend) > 0 {
		// One error per lost connection, however many requests it
		// carried.
		mc.cl.ReportResult(mc.host, false)
	}
	for _, pd := range pend {
		pd.br.ReleaseRequest()
		pd.timer.Stop()
		mc.host.RequestEnd()
		pd.down.fail(&pd.frame, rpcConnLost, pd.info, accesslog.UpstreamConnectionTermination)
		pd.down.inflight.Add(-1)
	}
}

// keepalive probes an idle upstream connection with the protocol's
// heartbeat and replaces a connection that stays silent.
func (mc *muxConn) keepalive() {
	t := time.NewTicker(rpcHeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-mc.done:
			return
		case <-t.C:
		}
		idle := time.Since(time.Unix(0, mc.lastRead.Load()))
		if idle >= 2*rpcHeartbeatInterval {
			mc.p.log.Warnf("[proxy] [%s] upstream %s silent for %s, replacing the connection", mc.codec.name(), mc.host.Address(), idle.Round(time.Second))
			mc.conn.Close()
			return
		}
		if idle >= rpcHeartbeatInterval {
			id := mc.codec.nextID(mc.next.Add(1))
			mc.write(mc.codec.heartbeat(nil, id))
		}
	}
}
