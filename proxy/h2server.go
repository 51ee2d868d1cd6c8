package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	h2c "mosn.dev/proxy/codec/http2"
	"mosn.dev/proxy/network"
)

// The settings our HTTP/2 server announces, and its buffering limits.
const (
	// h2MaxStreams is SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it
	// are refused with REFUSED_STREAM, which clients retry.
	h2MaxStreams = 250
	// h2StreamWindow is SETTINGS_INITIAL_WINDOW_SIZE, the request body
	// bytes a client may send on one stream ahead of the proxy.
	h2StreamWindow = 256 << 10
	// h2ConnWindow bounds the request body bytes buffered for one
	// connection (all its streams together).
	h2ConnWindow = 1 << 20
	// h2MaxFrame is the largest frame we accept (the protocol's default
	// SETTINGS_MAX_FRAME_SIZE, which we keep).
	h2MaxFrame = 16384
	// h2FlushAt is how many response body bytes a stream buffers before
	// they are written out without waiting for the handler (the standard
	// library's server buffers 4 KiB per stream too).
	h2FlushAt = 4096
	// h2MaxOut is the queued output beyond which response writers wait
	// for the socket; h2MaxCtl the queued control frames (acks to a peer
	// that does not read) beyond which the connection is closed.
	h2MaxOut = 256 << 10
	h2MaxCtl = 1 << 20
	// h2InBuf is the read buffer: a whole frame of h2MaxFrame fits.
	h2InBuf = 32 << 10
	// h2ResetMemory is how many streams we reset are remembered, so that
	// frames the client sent before it saw the reset are ignored.
	h2ResetMemory = 16
	// h2PartialTimeout bounds the wait for the rest of a frame on a
	// connection with no stream when the listener has no idle timeout.
	h2PartialTimeout = time.Minute
)

var h2InPool = sync.Pool{New: func() any { b := make([]byte, h2InBuf); return &b }}

// Errors that end a connection's serving loop without a protocol error.
var (
	errH2Done   = errors.New("http2: connection finished")
	errH2Woken  = errors.New("http2: woken")
	errH2Closed = errors.New("http2: connection closed")
	errH2Reset  = errors.New("http2: stream reset")
)

// h2Conn is one downstream HTTP/2 connection served by our own server:
// frames are read with x/net's Framer on the connection's goroutine, each
// request runs its handler on its own goroutine, and every frame is
// written through one output buffer that whoever finds it idle writes
// out (no writer goroutine). Between requests the connection holds no
// buffer, and after parkAfter it is parked in the poller like HTTP/1:
// what survives is this struct and the HPACK table.
type h2Conn struct {
	x   *h2
	c   *network.Conn
	dec h2c.Decoder // the HPACK table survives parking

	// What only an active connection needs: nil while it is parked,
	// which leaves this struct small. Set and cleared with mu and wmu
	// held; a stream's handler still running after its stream was
	// closed checks the stream's state before it touches any of it.
	*h2Live

	// wakeOnLast asks closeStream to wake the serving goroutine when the
	// last stream ends (see readActive).
	wakeOnLast atomic.Bool

	// lp is the event loop that serves the connection's read side (nil:
	// its goroutine does), and lw the loop's state for it; both belong
	// to the loop's goroutine while lp is set (see h2Conn.adopt).
	lp *eventLoop
	lw h2LoopConn
	// onGoroutines counts the connection's streams run by goroutines
	// (the others are the event loop's).
	onGoroutines atomic.Int32

	// Read side, owned by the serving goroutine.
	sawSettings bool
	peerGoAway  bool
	linger      bool // close after the client read our GOAWAY
	drainPhase  int8 // 1: first GOAWAY and PING sent; 2: final GOAWAY due

	mu        sync.Mutex // streams, lastID, goAwayID, the reset ring
	lastID    uint32
	goAwayID  uint32
	goingAway bool

	// Guarded by wmu.
	wmu          sync.Mutex
	werr         error
	peerMaxFrame int32
	sendWin      int64 // connection send window
	peerInitWin  int64 // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	// tryIO is set while an event loop serves the connection: writes
	// then never wait (see flushLocked).
	tryIO      *network.RawIO
	recvWin    int64 // connection receive window left to the peer
	connCredit int64 // consumed bytes not yet returned to the peer
}

// h2Live is the part of a connection that goes while it is parked.
type h2Live struct {
	ci     *connInfo
	remote string
	emit   func(h2c.Field)

	// Read side, owned by the serving goroutine.
	fr         *http2.Framer
	in         h2In
	quietReads uint8  // reads with open streams that timed out in a row
	hdrID      uint32 // a header block in progress (CONTINUATION expected)
	hdrEnd     bool
	hdrSelfDep bool
	truncated  bool
	listSize   uint32
	hdrBlock   []byte
	fields     []h2c.Field
	drainAt    time.Time
	// partialSince is when the connection, with no stream open, began
	// waiting for the rest of a frame or header block.
	partialSince time.Time

	// Guarded by mu.
	streams   map[uint32]*h2Stream
	resetRing [h2ResetMemory]uint32
	resetNext int

	// Guarded by wmu.
	wcond      sync.Cond
	out, spare []byte
	gen        uint64 // incremented whenever out is handed to the socket
	flushing   bool
	hbuf       []byte // header block scratch
	dateSec    int64
	date       string
}

// h2In buffers what the connection's socket delivered.
type h2In struct {
	sc   *h2Conn
	buf  *[]byte
	r, w int
}

// Read gives the Framer buffered bytes. The loop only reads a frame once
// it is complete in the buffer, so the socket is read here only if that
// invariant is broken; then it blocks.
func (in *h2In) Read(p []byte) (int, error) {
	for in.r == in.w {
		if err := in.sc.readMore(); err != nil && err != errH2Woken {
			return 0, err
		}
	}
	n := copy(p, (*in.buf)[in.r:in.w])
	in.r += n
	return n, nil
}

// frameReady reports whether a whole frame (or a header the Framer
// rejects on its own) is buffered.
func (in *h2In) frameReady() bool {
	n := in.w - in.r
	if n < h2c.HeaderLen {
		return false
	}
	b := (*in.buf)[in.r:]
	l := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	return l > h2MaxFrame || n >= h2c.HeaderLen+l
}

// space returns where the next read goes: the buffer (taken from the
// pool if need be) after what is buffered, compacted so that a whole
// frame fits.
func (in *h2In) space() []byte {
	if in.buf == nil {
		in.buf = h2InPool.Get().(*[]byte)
		in.r, in.w = 0, 0
	}
	b := *in.buf
	if in.r == in.w {
		in.r, in.w = 0, 0
	} else if len(b)-in.r < h2c.HeaderLen+h2MaxFrame {
		copy(b, b[in.r:in.w])
		in.w -= in.r
		in.r = 0
	}
	return b[in.w:]
}

func (in *h2In) release() {
	if in.buf != nil && in.r == in.w {
		h2InPool.Put(in.buf)
		in.buf = nil
		in.r, in.w = 0, 0
	}
}

// serve runs our HTTP/2 server on one downstream connection.
func (x *h2) serve(c *network.Conn) {
	sc := &h2Conn{
		x:            x,
		c:            c,
		sendWin:      65535,
		peerInitWin:  65535,
		peerMaxFrame: 16384,
		recvWin:      h2ConnWindow,
	}
	// No string bound: strings cannot outgrow the block, whose size
	// checkBlockSize bounds, and a list over the limit gets a 431 rather
	// than a connection error.
	sc.dec.Init(h2c.DefaultTableSize)
	sc.init()
	defer sc.recoverPanic()
	var preface [24]byte
	if t := c.IdleTimeout; t > 0 {
		c.SetReadDeadline(time.Now().Add(t))
	}
	if n, err := io.ReadFull(c.Conn, preface[:]); err != nil || string(preface[:]) != string(http2Preface) {
		if n == 0 {
			// A connection closed (or timed out) before a byte, as
			// health checks do, is no protocol error.
			c.Close()
			return
		}
		x.p.stats.protocolError()
		lingerClose(c)
		return
	}
	c.SetReadDeadline(time.Time{})
	// The serving goroutine sends GOAWAY (a parked connection is woken
	// by the drain itself).
	c.OnDrain(sc.c.Interrupt)
	sc.wmu.Lock()
	sc.out = h2c.AppendSettings(sc.out, false,
		h2c.Setting{ID: uint16(http2.SettingMaxConcurrentStreams), Val: h2MaxStreams},
		h2c.Setting{ID: uint16(http2.SettingInitialWindowSize), Val: h2StreamWindow},
		h2c.Setting{ID: uint16(http2.SettingMaxHeaderListSize), Val: sc.maxHeaderList()})
	sc.out = h2c.AppendWindowUpdate(sc.out, 0, h2ConnWindow-65535)
	sc.flushLocked()
	sc.wmu.Unlock()
	sc.loop()
}

// init sets up what a fresh or resumed connection needs.
func (sc *h2Conn) init() {
	if sc.h2Live != nil {
		return
	}
	l := &h2Live{
		remote:  sc.c.RemoteAddr().String(),
		streams: map[uint32]*h2Stream{},
	}
	// The addresses are formatted once per activation, not per request.
	l.ci = &connInfo{c: sc.c, local: sc.c.LocalAddr().String(), remote: l.remote}
	l.in.sc = sc
	l.wcond.L = &sc.wmu
	l.emit = sc.onField
	l.fr = http2.NewFramer(io.Discard, &l.in)
	l.fr.SetMaxReadFrameSize(h2MaxFrame)
	l.fr.SetReuseFrames()
	sc.mu.Lock()
	sc.wmu.Lock()
	sc.h2Live = l
	sc.wmu.Unlock()
	sc.mu.Unlock()
}

// h2DefaultHeaderList is the header list size HTTP/2 requests may have
// when Http1.max_header_size is not configured, in bytes (RFC 7541
// sizes: each field counts 32 bytes more than its name and value). gRPC
// metadata can be larger than an HTTP/1 head.
const h2DefaultHeaderList = 64 << 10

// maxHeaderList is SETTINGS_MAX_HEADER_LIST_SIZE: a configured
// max_header_size plus room for ten fields' overhead (as net/http), else
// h2DefaultHeaderList. Larger requests are answered 431.
func (sc *h2Conn) maxHeaderList() uint32 {
	if n := sc.x.p.limits.MaxHeaderBytes; n > 0 {
		return uint32(n) + 320
	}
	return h2DefaultHeaderList
}

func (sc *h2Conn) recoverPanic() {
	if e := recover(); e != nil {
		sc.x.p.log.Errorf("[proxy] [http2] connection %d panic: %v", sc.c.ID, e)
		sc.shutdown()
	}
}

// loop reads and handles frames until the connection ends or is parked.
func (sc *h2Conn) loop() {
	for {
		if sc.drainPhase == 0 && sc.c.Draining() {
			sc.startDrain()
		}
		for sc.in.frameReady() {
			sc.partialSince = time.Time{}
			f, err := sc.fr.ReadFrame()
			if err == nil {
				err = sc.handle(f)
			}
			if err != nil && !sc.onError(err) {
				return
			}
		}
		if err := sc.flushCtl(); err != nil {
			sc.shutdown()
			return
		}
		switch err := sc.fill(); err {
		case nil, errH2Woken:
		case errParked:
			return
		case errH2Done:
			sc.shutdown()
			return
		default:
			if sc.in.w > sc.in.r && !errors.Is(err, io.EOF) {
				sc.x.p.log.Debugf("[proxy] [http2] connection %d: %v", sc.c.ID, err)
			}
			sc.shutdown()
			return
		}
	}
}

// onError handles an error from reading or handling a frame; it reports
// whether the connection goes on.
func (sc *h2Conn) onError(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		if se.Code != http2.ErrCodeRefusedStream {
			sc.x.p.stats.protocolError()
		}
		sc.resetID(se.StreamID, se.Code)
		return true
	case errors.As(err, &ce):
		sc.x.p.stats.protocolError()
		detail := ""
		if d := sc.fr.ErrorDetail(); d != nil {
			detail = d.Error()
		}
		sc.fail(http2.ErrCode(ce), detail)
		return false
	case errors.Is(err, http2.ErrFrameTooLarge):
		sc.x.p.stats.protocolError()
		sc.fail(http2.ErrCodeFrameSize, "frame too large")
		return false
	}
	sc.x.p.log.Debugf("[proxy] [http2] connection %d: %v", sc.c.ID, err)
	sc.shutdown()
	return false
}

// fail sends GOAWAY with code and closes the connection.
func (sc *h2Conn) fail(code http2.ErrCode, detail string) {
	sc.x.p.log.Debugf("[proxy] [http2] connection %d: %s %s", sc.c.ID, code, detail)
	sc.goAway(code, detail)
	sc.linger = true
	sc.shutdown()
}

// lingerClose closes a connection the client may still be writing to
// once it has read what we wrote: closing a socket with unread input makes
// the kernel send a reset, which can destroy our last frames (GOAWAY)
// before the client reads them. It waits at most a second.
func lingerClose(c *network.Conn) {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		end := time.Now().Add(time.Second)
		c.SetReadDeadline(end)
		bp := bufPool.Get().(*[]byte)
		for n := 0; n < 1<<20; {
			k, err := c.Read(*bp)
			n += k
			if errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(end) {
				c.SetReadDeadline(end) // an Interrupt, not our deadline
				continue
			}
			if err != nil {
				break
			}
		}
		bufPool.Put(bp)
	}
	c.Close()
}

// handle acts on one frame.
func (sc *h2Conn) handle(f http2.Frame) error {
	fh := f.Header()
	if !sc.sawSettings {
		if _, ok := f.(*http2.SettingsFrame); !ok || fh.Flags.Has(http2.FlagSettingsAck) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		sc.sawSettings = true
	}
	switch f := f.(type) {
	case *http2.HeadersFrame:
		if f.StreamID%2 == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		sc.hdrID, sc.hdrEnd = f.StreamID, f.StreamEnded()
		sc.hdrSelfDep = f.HasPriority() && f.Priority.StreamDep == f.StreamID
		sc.hdrBlock = append(sc.hdrBlock[:0], f.HeaderBlockFragment()...)
		if f.HeadersEnded() {
			return sc.endHeaders()
		}
		return sc.checkBlockSize()
	case *http2.ContinuationFrame:
		sc.hdrBlock = append(sc.hdrBlock, f.HeaderBlockFragment()...)
		if f.HeadersEnded() {
			return sc.endHeaders()
		}
		return sc.checkBlockSize()
	case *http2.DataFrame:
		return sc.onData(f)
	case *http2.SettingsFrame:
		return sc.onSettings(f)
	case *http2.WindowUpdateFrame:
		return sc.onWindowUpdate(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			return sc.ctl(func(b []byte) []byte { return h2c.AppendPing(b, true, f.Data) })
		}
		if f.Data == drainPing && sc.drainPhase == 1 {
			// The client has seen the first GOAWAY: streams it opens
			// from now on are refused, which it knows to retry.
			sc.drainPhase = 2
			sc.goAway(http2.ErrCodeNo, "")
		}
	case *http2.RSTStreamFrame:
		if f.StreamID > sc.maxID() {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if st := sc.stream(f.StreamID); st != nil {
			sc.closeStream(st, errH2Reset)
		}
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
		}
	case *http2.GoAwayFrame:
		sc.peerGoAway = true
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	return nil
}

// checkBlockSize ends a connection whose header block grows far past
// what we accept (its HPACK state cannot be kept without decoding it).
func (sc *h2Conn) checkBlockSize() error {
	if len(sc.hdrBlock) > 2*int(sc.maxHeaderList())+h2MaxFrame {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	return nil
}

func (sc *h2Conn) maxID() uint32 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.lastID
}

func (sc *h2Conn) stream(id uint32) *h2Stream {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.streams[id]
}

func (sc *h2Conn) active() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.streams)
}

// onField collects one decoded header field and its share of the
// header list size.
func (sc *h2Conn) onField(f h2c.Field) {
	if sc.truncated {
		return
	}
	sc.listSize += f.Size()
	if sc.listSize > sc.maxHeaderList() {
		sc.truncated = true
		return
	}
	sc.fields = append(sc.fields, f)
}

// endHeaders decodes a complete header block: a new request, or the
// trailers of an open one.
func (sc *h2Conn) endHeaders() error {
	id, end, block := sc.hdrID, sc.hdrEnd, sc.hdrBlock
	sc.hdrID = 0
	sc.fields, sc.listSize, sc.truncated = sc.fields[:0], 0, false
	err := sc.dec.Decode(block, sc.emit)
	if cap(sc.hdrBlock) > 2*h2MaxFrame {
		sc.hdrBlock = nil
	}
	if err != nil {
		sc.x.p.log.Debugf("[proxy] [http2] connection %d: %v", sc.c.ID, err)
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if st := sc.stream(id); st != nil {
		if st.remoteDone.Load() {
			sc.wmu.Lock()
			ended := st.ended
			sc.wmu.Unlock()
			if ended {
				// Both sides ended the stream: it is closed even if
				// its goroutine has not removed it yet (RFC 9113 §5.1).
				return http2.ConnectionError(http2.ErrCodeStreamClosed)
			}
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
		}
		if !end || sc.truncated {
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
		}
		return sc.onTrailers(st)
	}
	if id <= sc.maxID() {
		if sc.wasReset(id) {
			return nil
		}
		return http2.ConnectionError(http2.ErrCodeStreamClosed)
	}
	sc.mu.Lock()
	sc.lastID = id
	refuse := (sc.goingAway && id > sc.goAwayID) || len(sc.streams) >= h2MaxStreams
	sc.mu.Unlock()
	if sc.hdrSelfDep {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if refuse {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	if sc.truncated {
		sc.x.p.stats.protocolError()
		sc.simpleResponse(id, http.StatusRequestHeaderFieldsTooLarge, !end)
		return nil
	}
	_, st, err := sc.newRequest(id, end)
	if err != nil {
		sc.x.p.log.Debugf("[proxy] [http2] connection %d stream %d: %v", sc.c.ID, id, err)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if st == nil {
		sc.simpleResponse(id, http.StatusMethodNotAllowed, !end)
		return nil
	}
	sc.mu.Lock()
	sc.streams[id] = st
	sc.mu.Unlock()
	if sc.lp != nil && sc.lp.startStream(st) {
		return nil
	}
	sc.goStream(st)
	return nil
}

// goStream runs the stream's request on a goroutine of its own.
func (sc *h2Conn) goStream(st *h2Stream) {
	sc.onGoroutines.Add(1)
	sc.x.p.workers.Go(st)
}

// connection-specific fields, malformed in HTTP/2 (RFC 9113 §8.2.2).
func connectionSpecific(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// newRequest builds the request of a new stream from the decoded fields.
// A nil stream without error means a request we do not serve (CONNECT).
func (sc *h2Conn) newRequest(id uint32, end bool) (*http.Request, *h2Stream, error) {
	var method, scheme, authority, path string
	var seen uint8
	regular := false
	n := 0
	for _, f := range sc.fields {
		if strings.HasPrefix(f.Name, ":") {
			if regular {
				return nil, nil, errors.New("pseudo-header after a regular field")
			}
			var bit uint8
			switch f.Name {
			case ":method":
				method, bit = f.Value, 1
			case ":scheme":
				scheme, bit = f.Value, 2
			case ":authority":
				authority, bit = f.Value, 4
			case ":path":
				path, bit = f.Value, 8
			default:
				return nil, nil, fmt.Errorf("pseudo-header %q", f.Name)
			}
			if seen&bit != 0 {
				return nil, nil, fmt.Errorf("duplicate %s", f.Name)
			}
			seen |= bit
			continue
		}
		regular = true
		if !validH2Name(f.Name) {
			return nil, nil, fmt.Errorf("invalid field name %q", f.Name)
		}
		if !httpguts.ValidHeaderFieldValue(f.Value) {
			return nil, nil, fmt.Errorf("invalid value of %q", f.Name)
		}
		if connectionSpecific(f.Name) || f.Name == "te" && f.Value != "trailers" {
			return nil, nil, fmt.Errorf("connection-specific field %q", f.Name)
		}
		n++
	}
	if method == "CONNECT" {
		return nil, nil, nil
	}
	if method == "" || scheme == "" || path == "" {
		return nil, nil, errors.New("missing :method, :scheme or :path")
	}
	if !validMethod(method) {
		return nil, nil, fmt.Errorf("invalid method %q", method)
	}
	st := sc.x.newStream()
	keep := st.reuse
	*st = h2Stream{sc: sc, id: id, declared: -1, recvWin: h2StreamWindow, reuse: keep}
	u := &st.url
	if !parsePlainPath(u, path) {
		pu, err := url.ParseRequestURI(path)
		switch {
		case err == nil:
			*u = *pu
		case path == "*" && method == "OPTIONS":
			*u = url.URL{Path: "*"}
		default:
			return nil, nil, fmt.Errorf("invalid :path %q", path)
		}
	}
	hdr := st.reuse.reqHdr
	if hdr == nil {
		hdr = make(http.Header, n)
		st.reuse.reqHdr = hdr
	} else {
		clear(hdr)
	}
	// One backing array for the values of all fields: a slice per field
	// otherwise.
	vals := st.reuse.reqVals[:0]
	if cap(vals) < n {
		vals = make([]string, 0, n)
		st.reuse.reqVals = vals
	}
	var cookies []string
	for _, f := range sc.fields {
		if strings.HasPrefix(f.Name, ":") {
			continue
		}
		if f.Name == "cookie" {
			cookies = append(cookies, f.Value)
			continue
		}
		k, ok := canonicalHeaders[f.Name]
		if !ok {
			k = http.CanonicalHeaderKey(f.Name)
		}
		if vs := hdr[k]; vs != nil {
			hdr[k] = append(vs, f.Value)
		} else {
			vals = append(vals, f.Value)
			hdr[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	// RFC 9113 §8.2.3: split cookies are joined for HTTP/1.1 peers.
	if len(cookies) == 1 {
		hdr["Cookie"] = cookies
	} else if len(cookies) > 1 {
		hdr["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	if authority == "" {
		authority = hdr.Get("Host")
	}
	delete(hdr, "Host")
	cl := int64(-1)
	if vs := hdr["Content-Length"]; len(vs) > 0 {
		for _, v := range vs {
			if v != vs[0] {
				return nil, nil, errors.New("conflicting content-length")
			}
		}
		v, err := strconv.ParseUint(vs[0], 10, 63)
		if err != nil {
			return nil, nil, errors.New("invalid content-length")
		}
		cl = int64(v)
		if end && cl != 0 {
			return nil, nil, errors.New("content-length without a body")
		}
	}
	st.declared = cl
	st.bcond.L = &st.bmu
	sc.wmu.Lock()
	st.sendWin = sc.peerInitWin
	sc.wmu.Unlock()
	st.rw.st = st
	st.ci = sc.ci
	rv := http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        hdr,
		Host:          authority,
		RemoteAddr:    sc.remote,
		RequestURI:    path,
		ContentLength: cl,
	}
	req := &rv
	if end {
		req.Body, req.ContentLength = http.NoBody, 0
		st.remoteDone.Store(true)
	} else {
		req.Body = st
		if vs := hdr["Trailer"]; len(vs) > 0 {
			req.Trailer = http.Header{}
			for _, v := range vs {
				for _, k := range strings.Split(v, ",") {
					if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" && httpguts.ValidTrailerHeader(k) {
						req.Trailer[k] = nil
					}
				}
			}
			delete(hdr, "Trailer")
		}
		if v, ok := hdr["Expect"]; ok && len(v) == 1 && strings.EqualFold(v[0], "100-continue") {
			st.expect = true
		}
	}
	st.rw.head = method == http.MethodHead
	// The stream is the request's context: no context is allocated
	// per request, and the request lives in the stream.
	st.reqv = *req.WithContext(st)
	st.req = &st.reqv
	return st.req, st, nil
}

// parsePlainPath sets u to what url.ParseRequestURI makes of path when
// path is an absolute path of characters that need no escaping and an
// optional query without control characters (almost every request),
// without allocating; false leaves the rest to url.ParseRequestURI.
func parsePlainPath(u *url.URL, path string) bool {
	p, q, hasQuery := strings.Cut(path, "?")
	if len(p) == 0 || p[0] != '/' || hasQuery && q == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !plainPathByte[p[i]] {
			return false
		}
	}
	for i := 0; i < len(q); i++ {
		if c := q[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	*u = url.URL{Path: p, RawQuery: q}
	return true
}

// plainPathByte marks the bytes url.URL keeps as they are in a path:
// unreserved characters and the sub-delimiters it does not escape.
var plainPathByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~/$&+,:;=@" {
		t[c] = true
	}
	return t
}()

// validH2Name: a token with no upper-case letters (RFC 9113 §8.2.1).
func validH2Name(s string) bool {
	if !httpguts.ValidHeaderFieldName(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return true
}

func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return m != ""
}

// onTrailers completes a request body with its trailers.
func (sc *h2Conn) onTrailers(st *h2Stream) error {
	for _, f := range sc.fields {
		if strings.HasPrefix(f.Name, ":") || !validH2Name(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value) {
			return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
		}
	}
	if st.declared >= 0 && st.got != st.declared {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	// Kept apart from the request (its handler copies req.Trailer when
	// it clones the request): Read hands them over at the end of the
	// body, on the reading goroutine.
	if st.req.Trailer != nil {
		tr := http.Header{}
		for _, f := range sc.fields {
			k := http.CanonicalHeaderKey(f.Name)
			if httpguts.ValidTrailerHeader(k) {
				tr[k] = append(tr[k], f.Value)
			}
		}
		st.bmu.Lock()
		st.trailers = tr
		st.bmu.Unlock()
	}
	sc.remoteEnd(st)
	return nil
}

// onData buffers request body bytes for the stream's handler.
func (sc *h2Conn) onData(f *http2.DataFrame) error {
	id, l := f.StreamID, int64(f.Length)
	st := sc.stream(id)
	sc.wmu.Lock()
	if l > sc.recvWin {
		sc.wmu.Unlock()
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	sc.recvWin -= l
	if st == nil || st.remoteDone.Load() {
		sc.wmu.Unlock()
		sc.refund(nil, l) // nobody reads it
		if st == nil && id > sc.maxID() {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if st == nil && sc.wasReset(id) {
			return nil
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if l > st.recvWin {
		sc.wmu.Unlock()
		sc.refund(nil, l)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	st.recvWin -= l
	sc.wmu.Unlock()
	data := f.Data()
	if pad := l - int64(len(data)); pad > 0 {
		sc.refund(st, pad)
	}
	st.got += int64(len(data))
	if st.declared >= 0 && (st.got > st.declared || f.StreamEnded() && st.got != st.declared) {
		sc.refund(nil, int64(len(data)))
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if len(data) > 0 {
		st.bmu.Lock()
		if st.bodyClosed {
			st.bmu.Unlock()
			sc.refund(nil, int64(len(data)))
		} else {
			st.body = append(st.body, data...)
			st.buffered += int64(len(data))
			st.bcond.Signal()
			st.bmu.Unlock()
		}
	}
	if f.StreamEnded() {
		sc.remoteEnd(st)
	}
	return nil
}

// remoteEnd marks the request complete; a stream whose response is done
// too is closed.
func (sc *h2Conn) remoteEnd(st *h2Stream) {
	st.remoteDone.Store(true)
	st.bmu.Lock()
	if st.berr == nil {
		st.berr = io.EOF
	}
	st.bcond.Broadcast()
	st.bmu.Unlock()
	sc.mu.Lock()
	done := st.handlerDone
	sc.mu.Unlock()
	if done {
		sc.closeStream(st, nil)
	}
}

// refund returns consumed (or discarded) body bytes to the peer's
// windows: the connection's always, the stream's when st is not nil and
// still receiving. WINDOW_UPDATEs go out once a quarter of a window is
// owed, so small bodies cost none.
func (sc *h2Conn) refund(st *h2Stream, n int64) {
	if n <= 0 {
		return
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	sc.connCredit += n
	send := false
	if sc.connCredit >= h2ConnWindow/4 {
		sc.out = h2c.AppendWindowUpdate(sc.out, 0, uint32(sc.connCredit))
		sc.recvWin += sc.connCredit
		sc.connCredit = 0
		send = true
	}
	if st != nil && !st.remoteDone.Load() {
		st.credit += n
		if st.credit >= h2StreamWindow/4 {
			sc.out = h2c.AppendWindowUpdate(sc.out, st.id, uint32(st.credit))
			st.recvWin += st.credit
			st.credit = 0
			send = true
		}
	}
	if send {
		sc.flushLocked()
	}
}

func (sc *h2Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			sc.mu.Lock()
			sc.wmu.Lock()
			delta := int64(s.Val) - sc.peerInitWin
			sc.peerInitWin = int64(s.Val)
			var bad bool
			for _, st := range sc.streams {
				st.sendWin += delta
				if st.sendWin > 1<<31-1 {
					bad = true
				}
			}
			sc.wcond.Broadcast()
			sc.wmu.Unlock()
			sc.mu.Unlock()
			if bad {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
		case http2.SettingMaxFrameSize:
			sc.wmu.Lock()
			sc.peerMaxFrame = int32(s.Val)
			sc.wmu.Unlock()
		}
		// HEADER_TABLE_SIZE: our encoder uses no dynamic table.
		// ENABLE_PUSH, MAX_CONCURRENT_STREAMS: we never push.
		return nil
	})
	if err != nil {
		return err
	}
	return sc.ctl(func(b []byte) []byte { return h2c.AppendSettings(b, true) })
}

func (sc *h2Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	incr := int64(f.Increment)
	if f.StreamID == 0 {
		sc.wmu.Lock()
		sc.sendWin += incr
		over := sc.sendWin > 1<<31-1
		sc.wcond.Broadcast()
		sc.wmu.Unlock()
		if over {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		return nil
	}
	st := sc.stream(f.StreamID)
	if st == nil {
		if f.StreamID > sc.maxID() {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	sc.wmu.Lock()
	st.sendWin += incr
	over := st.sendWin > 1<<31-1
	sc.wcond.Broadcast()
	sc.wmu.Unlock()
	if over {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
	}
	return nil
}

// ctl queues a control frame from the read loop; the loop writes queued
// frames before it waits for more input. A peer that makes us queue
// too much without reading loses its connection.
func (sc *h2Conn) ctl(app func([]byte) []byte) error {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if len(sc.out) > h2MaxCtl {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	sc.out = app(sc.out)
	return nil
}

// flushCtl writes what the read loop queued, unless a writer is already
// at it.
func (sc *h2Conn) flushCtl() error {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if len(sc.out) > 0 {
		sc.flushLocked()
	}
	return sc.werr
}

// flushLocked writes the output buffer to the socket, with wmu held
// (released during the write). If another goroutine is writing it
// returns at once: that one writes what was queued meanwhile before it
// stops, so concurrent streams share write calls.
//
// While an event loop serves the connection, nobody waits here: what the
// socket does not take at once is written by a goroutine started for it.
func (sc *h2Conn) flushLocked() {
	if sc.flushing {
		return
	}
	if k := sc.tryIO; k != nil && len(sc.out) > 0 && sc.werr == nil {
		rest, err := writeAll(k, sc.out)
		sc.gen++
		switch {
		case err != nil:
			sc.werr = err
		case len(rest) == 0:
			sc.out = sc.out[:0]
		default:
			sc.out = sc.out[:copy(sc.out, rest)]
			sc.flushing = true
			go sc.flushOn()
			return
		}
		sc.wcond.Broadcast()
		return
	}
	sc.flushing = true
	sc.writeOut()
}

// flushOn writes what the event loop's flush left (the socket was full).
func (sc *h2Conn) flushOn() {
	sc.wmu.Lock()
	sc.writeOut()
	sc.wmu.Unlock()
}

// writeOut writes the output buffer until it is empty, with wmu held
// (released during the writes) and flushing set.
func (sc *h2Conn) writeOut() {
	for len(sc.out) > 0 && sc.werr == nil {
		buf := sc.out
		sc.out = sc.spare[:0]
		sc.gen++
		sc.wmu.Unlock()
		_, err := sc.c.Write(buf)
		sc.wmu.Lock()
		if cap(buf) <= h2MaxOut {
			sc.spare = buf[:0]
		} else {
			sc.spare = nil
		}
		if err != nil {
			sc.werr = err
		}
	}
	sc.flushing = false
	sc.wcond.Broadcast()
}

// goAway tells the client no stream above the last one seen will be
// served. A connection with no stream left then closes.
func (sc *h2Conn) goAway(code http2.ErrCode, detail string) {
	sc.mu.Lock()
	if sc.goingAway && code == http2.ErrCodeNo {
		sc.mu.Unlock()
		return
	}
	sc.goingAway = true
	sc.goAwayID = sc.lastID
	last := sc.lastID
	sc.mu.Unlock()
	sc.linger = true
	sc.wmu.Lock()
	sc.out = h2c.AppendGoAway(sc.out, last, uint32(code), detail)
	sc.flushLocked()
	sc.wmu.Unlock()
}

// fill reads more input. A connection with no stream and nothing
// buffered is idle: it waits without buffers, parks, or ends.
func (sc *h2Conn) fill() error {
	if sc.in.r == sc.in.w && sc.hdrID == 0 && sc.active() == 0 {
		if err := sc.idle(); err != nil {
			return err
		}
		if sc.in.w > sc.in.r {
			return nil // the hot read got bytes
		}
	} else if sc.in.w > sc.in.r || sc.hdrID != 0 {
		if sc.active() == 0 {
			// Part of a frame or of a header block, and no stream: the
			// rest must come within the idle timeout, or a client could
			// hold the connection with a few bytes.
			limit := sc.c.IdleTimeout
			if limit <= 0 {
				limit = h2PartialTimeout
			}
			if sc.partialSince.IsZero() {
				sc.partialSince = time.Now()
			}
			end := sc.partialSince.Add(limit)
			if !time.Now().Before(end) {
				sc.goAway(http2.ErrCodeNo, "idle timeout")
				return errH2Done
			}
			sc.c.SetReadDeadline(end)
		}
	} else if sc.in.r == sc.in.w {
		return sc.readActive()
	}
	return sc.readMore()
}

// readActive reads the next frames of a connection with open streams.
// Usually the read has a deadline (hotWindow, growing while the streams
// stay quiet to about a second), so that after its last stream the
// connection goes idle by itself: waking it from the stream's goroutine
// costs a wake-up and a read that finds nothing, on every request of a
// client that sends one at a time. A connection that must end once its
// streams are done (GOAWAY either way, a drain) is woken instead.
func (sc *h2Conn) readActive() error {
	c := sc.c
	if sc.peerGoAway || c.Draining() || sc.isGoingAway() {
		sc.wakeOnLast.Store(true)
		if sc.active() == 0 {
			return nil // look again
		}
		return sc.readMore()
	}
	sc.wakeOnLast.Store(false)
	// Other work first (see yieldGate): the frames this read waits for
	// usually follow answers other goroutines are about to send.
	sc.x.p.gate.yield()
	c.SetReadDeadline(time.Now().Add(hotWindow << sc.quietReads))
	if c.Draining() {
		// The drain's wake-up may have come before the deadline above.
		c.SetReadDeadline(time.Time{})
		return nil
	}
	err := sc.readMore()
	if err == errH2Woken {
		if sc.quietReads < 4 {
			sc.quietReads++
		}
		return nil
	}
	if err == nil {
		sc.quietReads = 0
		c.SetReadDeadline(time.Time{})
	}
	return err
}

// readMore reads from the socket into the input buffer. A read that
// times out was woken (see wake) and reports errH2Woken.
func (sc *h2Conn) readMore() error {
	in := &sc.in
	n, err := sc.x.p.gate.read(sc.c, in.space())
	in.w += n
	if n > 0 {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		sc.c.SetReadDeadline(time.Time{})
		sc.wmu.Lock()
		werr := sc.werr
		sc.wmu.Unlock()
		if werr != nil {
			return werr
		}
		return errH2Woken
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// idle waits for the next stream holding no buffer: parkAfter on this
// goroutine, then parked in the poller; the listener's idle timeout and
// a drain end the connection with GOAWAY.
func (sc *h2Conn) idle() error {
	c := sc.c
	if sc.drainPhase == 0 && c.Draining() {
		sc.startDrain()
	}
	if sc.drainPhase == 1 {
		// Wait (a second at most) for the client to acknowledge the
		// first GOAWAY, serving what it sent before it saw it.
		sc.in.release()
		if rest := time.Second - time.Since(sc.drainAt); rest > 0 {
			if _, ok := sc.waitFor(rest, true); ok {
				return nil
			}
		}
		sc.drainPhase = 2
	}
	if c.Draining() || sc.peerGoAway || sc.isGoingAway() {
		sc.goAway(http2.ErrCodeNo, "")
		return errH2Done
	}
	if sc.x.loops && sc.adopt() {
		return errParked
	}
	if sc.in.buf != nil {
		// A busy connection sends its next request soon: read it with
		// the buffer still held, which saves waiting without a buffer
		// (a peek) first. Only a connection quiet for hotWindow goes on
		// without one.
		switch err := sc.hotRead(); err {
		case nil:
			return nil
		case os.ErrDeadlineExceeded:
		default:
			return err
		}
		if c.Draining() {
			return sc.idle()
		}
	}
	sc.in.release()
	sc.releaseOut()
	if cap(sc.hdrBlock) > 0 {
		sc.hdrBlock = nil
	}
	if cap(sc.fields) > 32 {
		sc.fields = nil
	}
	limit := c.IdleTimeout
	first := parkAfter
	if c.Poller == nil || limit > 0 && limit < first {
		first = limit
	}
	waited, ok := sc.waitFor(first, false)
	if ok {
		return nil
	}
	if c.Draining() {
		return sc.idle() // drain gracefully
	}
	if limit > 0 && waited >= limit {
		sc.goAway(http2.ErrCodeNo, "idle timeout")
		return errH2Done
	}
	if sc.park(waited) {
		return errParked
	}
	var rest time.Duration
	if limit > 0 {
		rest = limit - waited
	}
	if _, ok := sc.waitFor(rest, false); ok {
		return nil
	}
	sc.goAway(http2.ErrCodeNo, "idle timeout")
	return errH2Done
}

// hotRead reads into the (empty) input buffer for up to hotWindow. It
// returns os.ErrDeadlineExceeded when nothing came, or a drain began.
func (sc *h2Conn) hotRead() error {
	c := sc.c
	in := &sc.in
	in.r, in.w = 0, 0
	end := time.Now().Add(hotWindow)
	for {
		c.SetReadDeadline(end)
		n, err := c.Read(*in.buf)
		c.SetReadDeadline(time.Time{})
		if n > 0 {
			in.w = n
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if c.Draining() || !time.Now().Before(end) {
				return os.ErrDeadlineExceeded
			}
			continue // an Interrupt: the last stream of a moment ago
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
}

// waitFor waits up to d (0: without limit) for input without reading
// it, through early wake-ups. It reports the time waited and whether
// input (or EOF) is queued. A drain ends the wait, unless draining says
// the connection already drains.
func (sc *h2Conn) waitFor(d time.Duration, draining bool) (time.Duration, bool) {
	c := sc.c
	wait := network.NewReadWaiter(c.Conn)
	start := time.Now()
	for {
		if !draining && !c.EnterIdle() {
			return time.Since(start), false
		}
		if d > 0 {
			c.SetReadDeadline(start.Add(d))
		}
		err := wait()
		if !draining {
			c.ExitIdle()
		}
		c.SetReadDeadline(time.Time{})
		waited := time.Since(start)
		if err == nil {
			return waited, true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || !draining && c.Draining() || d > 0 && waited >= d {
			return waited, false
		}
	}
}

// drainPing marks the PING that follows the first GOAWAY of a drain.
var drainPing = [8]byte{'m', 'o', 's', 'n', 'd', 'r', 'a', 'i'}

// startDrain begins a graceful close as RFC 9113 §6.8 suggests: a GOAWAY
// with the highest stream id tells the client to open no more streams
// while those already on their way are still served; the final GOAWAY
// follows once a PING round trip shows the client has seen it.
func (sc *h2Conn) startDrain() {
	sc.drainPhase, sc.drainAt = 1, time.Now()
	sc.linger = true
	sc.wmu.Lock()
	sc.out = h2c.AppendGoAway(sc.out, 1<<31-1, uint32(http2.ErrCodeNo), "")
	sc.out = h2c.AppendPing(sc.out, false, drainPing)
	sc.flushLocked()
	sc.wmu.Unlock()
}

func (sc *h2Conn) isGoingAway() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.goingAway
}

// releaseOut drops the output buffers of a connection with nothing to
// write.
func (sc *h2Conn) releaseOut() {
	sc.wmu.Lock()
	if !sc.flushing && len(sc.out) == 0 {
		sc.out, sc.spare, sc.hbuf = nil, nil, nil
	}
	sc.wmu.Unlock()
}

// park hands the idle connection to the poller for the rest of its idle
// timeout. Only the struct and the HPACK table stay; resume rebuilds the
// Framer and serves on the poller's new goroutine.
func (sc *h2Conn) park(waited time.Duration) bool {
	c := sc.c
	if c.Poller == nil || c.Draining() || !network.Alive(c.Conn) {
		return false
	}
	idle := c.IdleTimeout
	if idle > 0 {
		if idle -= waited; idle <= 0 {
			return false
		}
	}
	sc.wmu.Lock()
	quiet := !sc.flushing && len(sc.out) == 0
	sc.wmu.Unlock()
	if !quiet {
		return false
	}
	sc.in.release()
	sc.dec.Pack()
	sc.mu.Lock()
	sc.wmu.Lock()
	l := sc.h2Live
	sc.h2Live = nil
	sc.wmu.Unlock()
	sc.mu.Unlock()
	if !c.Park(idle, true, sc.resume) {
		sc.mu.Lock()
		sc.wmu.Lock()
		sc.h2Live = l
		sc.wmu.Unlock()
		sc.mu.Unlock()
		return false
	}
	return true
}

// resume serves a parked connection again.
func (sc *h2Conn) resume(r network.WakeReason) {
	defer sc.recoverPanic()
	c := sc.c
	sc.init()
	switch r {
	case network.IdleTimeout:
		sc.goAway(http2.ErrCodeNo, "idle timeout")
		sc.shutdown()
		return
	case network.Woken:
		if !c.Draining() {
			sc.shutdown() // the poller is shutting down
			return
		}
		// HTTP/2 connections are not passed to a new process: the
		// loop drains this one and the client opens a new one.
	}
	sc.loop()
}

// shutdown closes the connection and fails every open stream.
func (sc *h2Conn) shutdown() {
	sc.wmu.Lock()
	if sc.werr == nil && (sc.flushing || len(sc.out) > 0) {
		// What is queued (a GOAWAY) goes out first; a second at most,
		// for a client that does not read.
		sc.c.SetWriteDeadline(time.Now().Add(time.Second))
		for sc.flushing {
			sc.wcond.Wait()
		}
		sc.flushLocked()
	}
	if sc.werr == nil {
		sc.werr = errH2Closed
	}
	sc.wcond.Broadcast()
	sc.wmu.Unlock()
	sc.mu.Lock()
	sts := make([]*h2Stream, 0, len(sc.streams))
	for _, st := range sc.streams {
		sts = append(sts, st)
	}
	sc.mu.Unlock()
	for _, st := range sts {
		sc.closeStream(st, errH2Closed)
	}
	sc.in.release()
	if sc.linger {
		lingerClose(sc.c)
		return
	}
	sc.c.Close()
}

// resetID resets a stream by id (a stream error on a frame).
func (sc *h2Conn) resetID(id uint32, code http2.ErrCode) {
	// A stream whose goroutine is closing it meanwhile gets no
	// RST_STREAM from resetStream: then it is sent here, or the peer
	// would never hear about the frame it sent.
	if st := sc.stream(id); st != nil {
		if sc.resetStream(st, code) {
			return
		}
		sc.wmu.Lock()
		sent := st.rstQueued
		sc.wmu.Unlock()
		if sent {
			return // reset by its own goroutine just now
		}
	}
	sc.remember(id)
	sc.wmu.Lock()
	sc.out = h2c.AppendRSTStream(sc.out, id, uint32(code))
	sc.wmu.Unlock()
}

// resetStream sends RST_STREAM (unless the stream is closed already, or
// reset) and closes the stream. It reports whether it queued the
// RST_STREAM. Only a stream we reset is remembered: frames a peer sends
// on a stream it closed or reset itself are answered as errors.
func (sc *h2Conn) resetStream(st *h2Stream, code http2.ErrCode) bool {
	sc.wmu.Lock()
	queue := !st.closed && !st.rstQueued && sc.werr == nil
	if queue {
		// The handler may be about to write: nothing of the stream
		// may follow its RST_STREAM.
		st.ended, st.rstQueued = true, true
	}
	sc.wmu.Unlock()
	if queue {
		// Before the RST_STREAM goes out: frames the client sent before
		// it saw it are ignored.
		sc.remember(st.id)
		sc.wmu.Lock()
		if sc.werr == nil {
			sc.out = h2c.AppendRSTStream(sc.out, st.id, uint32(code))
			sc.flushLocked()
		}
		sc.wmu.Unlock()
	}
	sc.closeStream(st, errH2Reset)
	return queue
}

// remember notes a stream we reset, whose in-flight frames are ignored.
func (sc *h2Conn) remember(id uint32) {
	sc.mu.Lock()
	if sc.h2Live != nil {
		sc.resetRing[sc.resetNext] = id
		sc.resetNext = (sc.resetNext + 1) % h2ResetMemory
	}
	sc.mu.Unlock()
}

func (sc *h2Conn) wasReset(id uint32) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, v := range sc.resetRing {
		if v == id {
			return true
		}
	}
	return false
}

// closeStream removes a stream; err (if any) fails its handler's reads
// and writes and cancels its context. Body bytes nobody read go back to
// the connection's window. The stream leaves the table last: once the
// serving goroutine sees no stream it may park the connection, and
// nothing here touches the socket after that.
func (sc *h2Conn) closeStream(st *h2Stream, err error) {
	sc.mu.Lock()
	if st.closing {
		sc.mu.Unlock()
		return
	}
	st.closing = true
	sc.mu.Unlock()
	if err != nil {
		st.cancel()
	}
	sc.wmu.Lock()
	st.closed = true
	if err != nil {
		st.ended = true
		sc.wcond.Broadcast()
	}
	sc.wmu.Unlock()
	st.bmu.Lock()
	if err != nil && (st.berr == nil || st.berr == io.EOF && len(st.body) > st.boff) {
		st.berr = err
	}
	unread := st.buffered
	st.buffered = 0
	st.bodyClosed = true
	st.body = nil
	st.bcond.Broadcast()
	st.bmu.Unlock()
	sc.refund(nil, unread)
	sc.mu.Lock()
	delete(sc.streams, st.id)
	left := len(sc.streams)
	sc.mu.Unlock()
	if left == 0 && sc.wakeOnLast.Load() {
		sc.c.Interrupt()
	}
}

// simpleResponse answers a stream the proxy does not route (431, 405)
// with a status and no body; reset tells a client still sending the
// body to stop.
func (sc *h2Conn) simpleResponse(id uint32, status int, reset bool) {
	sc.wmu.Lock()
	sc.hbuf = h2c.AppendField(sc.hbuf[:0], h2c.Field{Name: ":status", Value: strconv.Itoa(status)})
	sc.out = h2c.AppendHeaders(sc.out, id, true, sc.hbuf, int(sc.peerMaxFrame))
	if reset {
		sc.out = h2c.AppendRSTStream(sc.out, id, uint32(http2.ErrCodeNo))
	}
	sc.wmu.Unlock()
	sc.remember(id)
}

// httpDate returns the Date header value, computed once a second.
func (sc *h2Conn) httpDate() string {
	now := time.Now()
	if s := now.Unix(); s != sc.dateSec || sc.date == "" {
		sc.dateSec = s
		sc.date = now.UTC().Format(http.TimeFormat)
	}
	return sc.date
}

// h2Stream is one request/response exchange. Its handler reads the
// request body through it (it is the request's Body) and writes the
// response through rw.
type h2Stream struct {
	sc       *h2Conn
	id       uint32
	ci       *connInfo
	req      *http.Request
	declared int64 // content-length, or -1
	got      int64 // body bytes received
	expect   bool  // 100-continue owed on the first body read
	rw       h2rw

	// Read loop only.
	recvWin int64

	// Guarded by sc.mu.
	handlerDone bool
	closing     bool

	// Guarded by sc.wmu.
	sendWin   int64
	credit    int64
	ended     bool // END_STREAM or RST_STREAM queued: nothing more to write
	rstQueued bool // our RST_STREAM is (being) queued
	closed    bool // closeStream ran: no RST_STREAM for it any more
	lastData  int  // offset in sc.out of our last DATA frame, or -1
	lastGen   uint64
	unflushed int

	// The request body, guarded by bmu.
	bmu        sync.Mutex
	bcond      sync.Cond
	body       []byte
	boff       int
	buffered   int64 // received, not yet read
	berr       error // io.EOF after END_STREAM, or why the stream ended
	bodyClosed bool
	// trailers arrived with END_STREAM; trailerDst is the forwarded
	// request's Trailer, filled at the end of the body (see SetTrailerDst).
	trailers   http.Header
	trailerDst http.Header

	remoteDone atomic.Bool // END_STREAM received

	// The stream as its request's context (see Done), guarded by cmu.
	cmu      sync.Mutex
	cerr     error
	done     chan struct{}
	afters   []streamAfter
	afterSeq uint64
	upstream net.Conn // an upstream connection to abort on reset
	lup      *upConn  // the event loop's upstream connection for it
	reqv     http.Request
	// reuse is what the stream keeps when it is used again (see
	// h2.spare): maps and slices cleared rather than allocated.
	reuse h2Reuse
	ex    h2Exchange // the proxying state of the request (http2.go)
	url   url.URL
}

// h2Reuse holds a stream's header maps and value slices across its uses.
type h2Reuse struct {
	reqHdr, respHdr   http.Header
	reqVals, respVals []string
}

// Run serves the stream's request; the proxy's worker pool runs it on a
// goroutine of its own.
func (st *h2Stream) Run() {
	defer st.sc.onGoroutines.Add(-1)
	st.run(st.req)
}

// run serves the stream's request.
func (st *h2Stream) run(req *http.Request) {
	st.serve(func() { st.sc.x.handleStream(st, &st.rw, req) })
}

// h2Resume goes on with a stream the event loop handed to a goroutine.
type h2Resume struct{ st *h2Stream }

func (r h2Resume) Run() {
	defer r.st.sc.onGoroutines.Add(-1)
	r.st.serve(func() { r.st.sc.x.resumeStream(r.st) })
}

// serve runs handler, the stream's request (from its start or where the
// event loop left it), and then ends the stream.
func (st *h2Stream) serve(handler func()) {
	sc := st.sc
	defer func() {
		code := http2.ErrCodeNo
		if e := recover(); e != nil {
			if e != http.ErrAbortHandler {
				sc.x.p.log.Errorf("[proxy] [http2] connection %d stream %d panic: %v", sc.c.ID, st.id, e)
			}
			code = http2.ErrCodeInternal
		} else {
			st.rw.finish()
		}
		sc.mu.Lock()
		st.handlerDone = true
		sc.mu.Unlock()
		if code == http2.ErrCodeNo && st.remoteDone.Load() {
			sc.closeStream(st, nil)
			return
		}
		// A failed handler, or a complete response while the client
		// still sends: ask it to stop (RFC 9113 §8.1).
		sc.resetStream(st, code)
	}()
	handler()
}

// Read reads the request body.
func (st *h2Stream) Read(p []byte) (int, error) {
	if st.expect {
		st.expect = false
		st.rw.informational(http.StatusContinue, nil)
	}
	st.bmu.Lock()
	for st.boff == len(st.body) && st.berr == nil {
		st.bcond.Wait()
	}
	if st.boff < len(st.body) {
		n := copy(p, st.body[st.boff:])
		st.boff += n
		if st.boff == len(st.body) {
			st.body, st.boff = st.body[:0], 0
		}
		st.buffered -= int64(n)
		st.bmu.Unlock()
		st.sc.refund(st, int64(n))
		return n, nil
	}
	err := st.berr
	if err == io.EOF && st.trailerDst != nil {
		for k, vs := range st.trailers {
			st.trailerDst[k] = vs
		}
		st.trailerDst = nil
	}
	st.bmu.Unlock()
	return 0, err
}

// setTrailerDst names the map the request trailers go to once the body
// is read to its end: the Trailer of the request the transport sends.
func (st *h2Stream) setTrailerDst(dst http.Header) {
	st.bmu.Lock()
	st.trailerDst = dst
	st.bmu.Unlock()
}

// Close discards the rest of the request body.
func (st *h2Stream) Close() error {
	st.bmu.Lock()
	unread := st.buffered
	st.buffered, st.body, st.boff = 0, nil, 0
	st.bodyClosed = true
	if st.berr == nil {
		st.berr = http.ErrBodyReadAfterClose
	}
	st.bmu.Unlock()
	st.sc.refund(nil, unread)
	return nil
}

// h2rw is the stream's http.ResponseWriter. The head is sent with the
// first body bytes (or at the end); body bytes go straight into the
// connection's output as DATA frames within the flow-control windows.
type h2rw struct {
	st     *h2Stream
	hdr    http.Header
	status int
	sent   bool
	head   bool // a HEAD request: the body is dropped
	// sent100: a 100 Continue went out.
	sent100 bool
	// trailers declared by the "Trailer" header when the head was sent.
	trailers []string
}

func (w *h2rw) Header() http.Header {
	if w.hdr == nil {
		w.hdr = make(http.Header)
	}
	return w.hdr
}

func (w *h2rw) WriteHeader(code int) {
	if w.sent || w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code, w.hdr)
		return
	}
	w.status = code
}

// informational sends a 1xx head now.
func (w *h2rw) informational(code int, h http.Header) {
	if code == http.StatusContinue {
		// Ours when the body is first read, and the upstream's relayed:
		// one is enough.
		if w.sent100 {
			return
		}
		w.sent100 = true
	}
	sc := w.st.sc
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if w.st.ended || w.sent || sc.werr != nil {
		return
	}
	sc.hbuf = appendHead(sc.hbuf[:0], code, h, nil, "")
	sc.out = h2c.AppendHeaders(sc.out, w.st.id, false, sc.hbuf, int(sc.peerMaxFrame))
	w.st.lastData = -1
	sc.flushLocked()
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (w *h2rw) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.head {
		return len(p), nil
	}
	return w.st.writeData(p, w)
}

func (w *h2rw) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush writes out the head and whatever body is queued.
func (w *h2rw) Flush() { w.FlushError() }

func (w *h2rw) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	st := w.st
	sc := st.sc
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if st.ended {
		return errH2Reset
	}
	if !w.sent {
		w.sendHeadLocked(false, nil)
	}
	st.unflushed = 0
	sc.flushLocked()
	return sc.werr
}

// sendHeadLocked queues the response head (wmu held). sniff is the first
// body bytes, for a Content-Type the handler did not set.
func (w *h2rw) sendHeadLocked(end bool, sniff []byte) {
	sc := w.st.sc
	w.sent = true
	ctype := ""
	if _, ok := w.hdr["Content-Type"]; !ok && len(sniff) > 0 && bodyAllowed(w.status) {
		ctype = http.DetectContentType(sniff)
	}
	for _, v := range w.hdr["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	date := ""
	if _, ok := w.hdr["Date"]; !ok {
		date = sc.httpDate()
	}
	sc.hbuf = appendHead(sc.hbuf[:0], w.status, w.hdr, nil, ctype)
	if date != "" {
		sc.hbuf = h2c.AppendField(sc.hbuf, h2c.Field{Name: "date", Value: date})
	}
	sc.out = h2c.AppendHeaders(sc.out, w.st.id, end, sc.hbuf, int(sc.peerMaxFrame))
	w.st.lastData = -1
	if end {
		w.st.ended = true
	}
}

// appendHead encodes a response head or, with status 0, trailers.
func appendHead(b []byte, status int, h http.Header, only []string, ctype string) []byte {
	if status != 0 {
		b = h2c.AppendField(b, h2c.Field{Name: ":status", Value: statusString(status)})
	}
	emit := func(k string, vs []string) {
		name := lowerHeader(k)
		if connectionSpecific(name) || name == "trailer" {
			return
		}
		for _, v := range vs {
			if httpguts.ValidHeaderFieldValue(v) {
				b = h2c.AppendField(b, h2c.Field{Name: name, Value: v})
			}
		}
	}
	if only != nil {
		for _, k := range only {
			if vs := h[k]; len(vs) > 0 {
				emit(k, vs)
			}
		}
	} else {
		for k, vs := range h {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				continue
			}
			emit(k, vs)
		}
	}
	if ctype != "" {
		b = h2c.AppendField(b, h2c.Field{Name: "content-type", Value: ctype})
	}
	return b
}

func statusString(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 304:
		return "304"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}

// writeData queues p as DATA frames, waiting for flow-control credit and
// for the socket when too much is queued.
func (st *h2Stream) writeData(p []byte, w *h2rw) (int, error) {
	sc := st.sc
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if st.ended || sc.werr != nil {
		return 0, errH2Reset
	}
	if !w.sent {
		w.sendHeadLocked(false, p)
	}
	total := 0
	for len(p) > 0 {
		if st.ended || sc.werr != nil {
			return total, errH2Reset
		}
		n := int64(len(p))
		n = min(n, int64(sc.peerMaxFrame), st.sendWin, sc.sendWin)
		if n <= 0 || len(sc.out) >= h2MaxOut && sc.flushing {
			if len(sc.out) > 0 && !sc.flushing {
				// Let the peer see what it has, so it returns credit.
				st.unflushed = 0
				sc.flushLocked()
				continue
			}
			sc.wcond.Wait()
			continue
		}
		st.lastData, st.lastGen = len(sc.out), sc.gen
		sc.out = h2c.AppendData(sc.out, st.id, false, p[:n])
		st.sendWin -= n
		sc.sendWin -= n
		st.unflushed += int(n)
		p = p[n:]
		total += int(n)
	}
	if st.unflushed >= h2FlushAt {
		st.unflushed = 0
		sc.flushLocked()
	}
	return total, nil
}

// finish ends the response after the handler returned: the head if not
// sent (with END_STREAM when there is nothing else), trailers, or
// END_STREAM set on the last queued DATA frame when it has not been
// written yet (else an empty DATA frame carries it).
func (w *h2rw) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	st := w.st
	sc := st.sc
	var trailers []string
	if len(w.hdr) > 0 {
		for _, k := range w.trailers {
			if len(w.hdr[k]) > 0 {
				trailers = append(trailers, k)
			}
		}
		for k := range w.hdr {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				name := k[len(http.TrailerPrefix):]
				w.hdr[name] = w.hdr[k]
				trailers = append(trailers, name)
			}
		}
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if st.ended || sc.werr != nil {
		return
	}
	if !w.sent {
		w.sendHeadLocked(len(trailers) == 0, nil)
	}
	switch {
	case st.ended:
	case len(trailers) > 0:
		sc.hbuf = appendHead(sc.hbuf[:0], 0, w.hdr, trailers, "")
		sc.out = h2c.AppendHeaders(sc.out, st.id, true, sc.hbuf, int(sc.peerMaxFrame))
	case st.lastData >= 0 && st.lastGen == sc.gen && st.lastData+4 < len(sc.out):
		sc.out[st.lastData+4] |= h2c.FlagEndStream
	default:
		sc.out = h2c.AppendData(sc.out, st.id, true, nil)
	}
	st.ended = true
	sc.flushLocked()
}

// commonFields are the usual header field names in canonical form. Two
// lookup tables are built from them once and never change: for HTTP/2
// responses (canonical to lower case) and for HTTP/1.1 answers read by
// h1Transport (any case to canonical), so neither allocates for them.
var commonFields = []string{
	"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
	"Access-Control-Allow-Origin", "Age", "Allow", "Authorization", "Cache-Control",
	"Connection", "Content-Disposition", "Content-Encoding", "Content-Language",
	"Content-Length", "Content-Location", "Content-Range", "Content-Type", "Cookie", "Date",
	"Etag", "Expect", "Expires", "From", "Grpc-Accept-Encoding", "Grpc-Encoding",
	"Grpc-Message", "Grpc-Status", "Grpc-Status-Details-Bin", "Host", "Keep-Alive",
	"Last-Modified", "Link", "Location", "Origin", "Range", "Referer", "Retry-After", "Server",
	"Set-Cookie", "Strict-Transport-Security", "Trailer", "Transfer-Encoding", "User-Agent",
	"Vary", "Via", "Www-Authenticate", "X-Content-Type-Options", "X-Forwarded-For",
	"X-Forwarded-Proto", "X-Request-Id",
}

var lowerHeaders, canonicalHeaders = func() (lower, canon map[string]string) {
	lower, canon = map[string]string{}, map[string]string{}
	for _, k := range commonFields {
		l := strings.ToLower(k)
		lower[k] = l
		canon[k], canon[l] = k, k
	}
	return lower, canon
}()

func lowerHeader(k string) string {
	if v, ok := lowerHeaders[k]; ok {
		return v
	}
	return strings.ToLower(k)
}
