package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"mosn.dev/proxy/codec/http1"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
	"mosn.dev/proxy/upstream/circuit"
)

// bufSize is the read buffer of a connection while it is active (bytes).
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// maxIdlePerHost caps idle keep-alive connections kept per upstream host.
const maxIdlePerHost = 256

// freshIdle is how long a pooled connection is reused without probing it.
const freshIdle = time.Second

// upConn is one HTTP/1 upstream connection.
type upConn struct {
	net.Conn
	host     *upstream.Host
	cl       *upstream.Cluster // results are reported to it (outlier detection)
	key      poolKey
	buf      *[]byte
	r, w     int
	parser   *http1.Parser
	body     http1.BodyReader
	out      []byte
	requests uint32
	max      uint32
	idleAt   time.Time // when it was put back in the pool
	local    string    // LocalAddr formatted, for access logs
	br       *circuit.Breaker
	gate     *yieldGate
	rio      *network.RawIO // raw system calls for Conn, or nil
	lp       loopUp         // the event loop's state, while one holds it
	// headLen is the length of the answer head the event loop parsed
	// at r (its parser holds it), or 0.
	headLen int
}

// reader is what fill reads the socket through.
func (u *upConn) reader() io.Reader {
	if u.rio != nil {
		return u.rio
	}
	return u.Conn
}

func (u *upConn) in() []byte { return (*u.buf)[u.r:u.w] }

// localAddr is the connection's local address, formatted once.
func (u *upConn) localAddr() string {
	if u.local == "" {
		u.local = u.LocalAddr().String()
	}
	return u.local
}

// fill reads more response bytes, compacting the buffer first.
func (u *upConn) fill() error {
	if u.buf == nil {
		u.buf = bufPool.Get().(*[]byte)
		u.r, u.w = 0, 0
	}
	b := *u.buf
	if u.r > 0 {
		copy(b, b[u.r:u.w])
		u.w -= u.r
		u.r = 0
	}
	if u.w == len(b) {
		grown := make([]byte, 2*len(b))
		copy(grown, b[:u.w])
		*u.buf = grown
		b = grown
	}
	var n int
	var err error
	if u.gate != nil {
		n, err = u.gate.read(u.reader(), b[u.w:])
	} else {
		n, err = u.reader().Read(b[u.w:])
	}
	u.w += n
	if n > 0 {
		return nil
	}
	return err
}

func (u *upConn) flush() error {
	if len(u.out) == 0 {
		return nil
	}
	if u.lp.l != nil {
		return u.flushLoop()
	}
	var err error
	if u.rio != nil {
		_, err = u.rio.Write(u.out)
	} else {
		_, err = u.Conn.Write(u.out)
	}
	u.out = u.out[:0]
	return err
}

// release returns the read buffer to the pool when nothing is buffered.
func (u *upConn) release() {
	if u.buf != nil && u.r == u.w {
		if cap(*u.buf) == bufSize {
			bufPool.Put(u.buf)
		}
		u.buf = nil
		u.r, u.w = 0, 0
	}
	if cap(u.out) > 64<<10 {
		u.out = nil
	}
}

func (u *upConn) close() {
	u.leaveLoop()
	u.Conn.Close()
	u.host.ConnEnd()
	u.br.ReleaseConn()
	u.r, u.w = 0, 0
	u.release()
}

// poolKey names the idle connections of one host of one cluster (a
// struct, so that looking it up allocates nothing).
type poolKey struct{ cluster, host string }

// pools holds idle keep-alive connections per upstream host.
type pools struct {
	mu   sync.Mutex
	idle map[poolKey][]*upConn
	gate *yieldGate // the connections' reads report to it
}

func newPools(gate *yieldGate) *pools {
	return &pools{idle: map[poolKey][]*upConn{}, gate: gate}
}

// get returns an idle connection to h, or dials a new one. reused tells
// which, because a reused connection may have been closed by the server in
// the meantime and a request that failed on it can be retried.
// errConnOverflow is returned when the cluster is at max_connections.
var errConnOverflow = errors.New("upstream overflow: max_connections")

func (ps *pools) get(cl *upstream.Cluster, h *upstream.Host, limits http1.Limits, br *circuit.Breaker) (*upConn, bool, error) {
	key := poolKey{cl.Name(), h.Address()}
	if u := ps.getIdle(key); u != nil {
		// A connection back in the pool for a moment is trusted without
		// a probe (a syscall per request otherwise); if the server did
		// close it, the request is sent again on a new one.
		return u, true, nil
	}
	if !br.AcquireConn() {
		return nil, false, errConnOverflow
	}
	h.ConnStart()
	c, err := cl.Dial(context.Background(), h)
	if err != nil {
		h.ConnEnd()
		br.ReleaseConn()
		return nil, false, err
	}
	return ps.newConn(c, cl, h, limits, br), false, nil
}

// warm dials a connection to h for the pool, ahead of need: the event
// loop does this when one of its connections nears max_request_per_conn,
// so that its replacement is not dialled on a request's path (where the
// loop cannot dial). A failed dial is reported by the dialler and
// otherwise dropped: the next request dials for itself.
func (ps *pools) warm(cl *upstream.Cluster, h *upstream.Host, limits http1.Limits, br *circuit.Breaker) {
	if !br.AcquireConn() {
		return
	}
	h.ConnStart()
	c, err := cl.Dial(context.Background(), h)
	if err != nil {
		h.ConnEnd()
		br.ReleaseConn()
		return
	}
	ps.put(ps.newConn(c, cl, h, limits, br))
}

// newConn wraps a connection dialled to h.
func (ps *pools) newConn(c net.Conn, cl *upstream.Cluster, h *upstream.Host, limits http1.Limits, br *circuit.Breaker) *upConn {
	return &upConn{
		rio:    network.NewRawIO(c),
		gate:   ps.gate,
		br:     br,
		Conn:   c,
		host:   h,
		cl:     cl,
		key:    poolKey{cl.Name(), h.Address()},
		parser: http1.NewResponseParser(limits),
		max:    cl.Config().MaxRequestPerConnOrDefault(),
	}
}

// getIdle returns an idle connection for key, or nil; it never dials.
func (ps *pools) getIdle(key poolKey) *upConn {
	for {
		ps.mu.Lock()
		list := ps.idle[key]
		var u *upConn
		if n := len(list); n > 0 {
			u = list[n-1]
			list[n-1] = nil
			ps.idle[key] = list[:n-1]
		}
		ps.mu.Unlock()
		if u == nil || time.Since(u.idleAt) < freshIdle || network.Alive(u.Conn) {
			return u
		}
		u.close()
	}
}

// put keeps a connection for reuse unless it reached max_request_per_conn
// or the host has enough idle ones.
func (ps *pools) put(u *upConn) {
	if u.requests >= u.max || u.r != u.w {
		u.close()
		return
	}
	u.release()
	u.idleAt = time.Now()
	ps.mu.Lock()
	if len(ps.idle[u.key]) >= maxIdlePerHost {
		ps.mu.Unlock()
		u.close()
		return
	}
	ps.idle[u.key] = append(ps.idle[u.key], u)
	ps.mu.Unlock()
}
