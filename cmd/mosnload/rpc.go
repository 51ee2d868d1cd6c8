package main

import (
	"net"
	"sync"
	"time"
)

// frameKind classifies a frame read by an RPC client.
type frameKind uint8

const (
	// frameOther is ignored: heartbeat acks, GoAway, stray requests.
	frameOther frameKind = iota
	// frameResponse answers one of our requests.
	frameResponse
	// framePing is a heartbeat from the server; rpcFrame.reply answers it.
	framePing
)

// rpcFrame is what an rpcCodec reports about one frame.
type rpcFrame struct {
	kind   frameKind
	id     uint64
	status int
	// data is the number of bytes after the fixed header (class, header
	// map, content, body), counted as "data" in the traffic line.
	data  int
	reply []byte
}

// rpcCodec is the protocol-specific part of a multiplexed RPC client
// connection.
type rpcCodec interface {
	// appendRequest appends a request with the given id to dst.
	appendRequest(dst []byte, id uint64) []byte
	// nextID returns the id that follows id on one connection.
	nextID(id uint64) uint64
	// parse parses the frame at the start of data and returns it and its
	// length, or a length of 0 when data holds only part of a frame. An
	// error means the stream cannot be decoded any further.
	parse(data []byte) (rpcFrame, int, error)
}

// redialBackoff is the shortest time between two dials of one client
// after a failed one; requests due in between fail at once.
const redialBackoff = 100 * time.Millisecond

// rpcConn is a multiplexed RPC client connection: a writer goroutine
// batches queued requests into one write, a reader goroutine matches
// responses to pending requests by id, in any order. Ids restart at the
// first id on every new TCP connection, as sofaload's per-connection
// counter does.
type rpcConn struct {
	cl      *client
	codec   rpcCodec
	addr    string
	timeout time.Duration

	wake chan struct{}
	quit chan struct{}

	// wmu is held by whoever writes: the writer goroutine or a direct
	// sender. It guards batch and buf.
	wmu   sync.Mutex
	batch []*call
	buf   []byte

	mu      sync.Mutex
	queue   []*call
	ctrl    []byte // heartbeat answers waiting for the writer
	pending map[uint64]*call
	nc      net.Conn
	lastID  uint64
	// maxID is the highest id answered on nc, to count reordering.
	maxID        uint64
	lastDialFail time.Time
	started      bool
	closed       bool
}

func newRPCConn(cl *client, codec rpcCodec, addr string, timeout time.Duration) *rpcConn {
	return &rpcConn{
		cl: cl, codec: codec, addr: addr, timeout: timeout,
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		pending: make(map[uint64]*call),
	}
}

func (c *rpcConn) connect() error {
	c.mu.Lock()
	if !c.started {
		c.started = true
		go c.writeLoop()
	}
	c.mu.Unlock()
	nc, err := c.dial()
	if err != nil {
		return err
	}
	c.attach(nc)
	return nil
}

// dial opens a TCP connection and records how long the connect took.
func (c *rpcConn) dial() (net.Conn, error) {
	d := net.Dialer{Timeout: c.timeout}
	t0 := time.Now()
	nc, err := d.Dial("tcp", c.addr)
	if err != nil {
		c.mu.Lock()
		c.lastDialFail = time.Now()
		c.mu.Unlock()
		return nil, err
	}
	c.cl.recordConnect(time.Since(t0))
	return nc, nil
}

// attach makes nc the current connection and starts its reader.
func (c *rpcConn) attach(nc net.Conn) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		nc.Close()
		return false
	}
	c.nc = nc
	c.lastID, c.maxID = 0, 0
	c.mu.Unlock()
	go c.readLoop(nc)
	return true
}

// redial reconnects unless the last dial failed very recently.
func (c *rpcConn) redial() net.Conn {
	c.mu.Lock()
	wait := time.Since(c.lastDialFail) < redialBackoff
	c.mu.Unlock()
	if wait {
		return nil
	}
	nc, err := c.dial()
	if err != nil {
		c.cl.r.connectErrs.Add(1)
		return nil
	}
	if !c.attach(nc) {
		return nil
	}
	return nc
}

// send queues call. With direct, the caller writes the queue itself when
// no write is under way, which saves a goroutine hand-off per request; the
// reader never passes direct, so that it keeps reading whatever the peer
// does.
func (c *rpcConn) send(call *call, direct bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.cl.finish(call, outErrored, 0)
		return
	}
	c.queue = append(c.queue, call)
	c.mu.Unlock()
	if direct && c.wmu.TryLock() {
		c.flush(false)
		c.wmu.Unlock()
		return
	}
	c.signal()
}

func (c *rpcConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop flushes the queue whenever it is signalled.
func (c *rpcConn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.quit:
			return
		}
		c.wmu.Lock()
		c.flush(true)
		c.wmu.Unlock()
	}
}

// flush writes the queued requests and heartbeat answers in one write. It
// is called with wmu held. Without a connection it dials when mayDial,
// else leaves the work to the writer goroutine.
func (c *rpcConn) flush(mayDial bool) {
	c.mu.Lock()
	nc := c.nc
	if nc == nil && !mayDial {
		c.mu.Unlock()
		c.signal()
		return
	}
	c.batch, c.queue = c.queue, c.batch[:0]
	c.buf = append(c.buf[:0], c.ctrl...)
	c.ctrl = c.ctrl[:0]
	c.mu.Unlock()
	batch := c.batch
	defer clear(batch) // drop the references; the array is reused
	if len(batch) == 0 && len(c.buf) == 0 {
		return
	}
	if nc == nil && len(batch) > 0 {
		nc = c.redial()
	}
	if nc == nil {
		c.failAll(batch, outErrored)
		return
	}
	c.mu.Lock()
	if c.nc != nc { // lost while dialling or since the batch was taken
		c.mu.Unlock()
		c.failAll(batch, outErrored)
		return
	}
	for _, call := range batch {
		id := c.codec.nextID(c.lastID)
		for c.pending[id] != nil { // only after the id space wrapped
			id = c.codec.nextID(id)
		}
		c.lastID = id
		c.pending[id] = call
		c.buf = c.codec.appendRequest(c.buf, id)
	}
	c.mu.Unlock()
	if _, err := nc.Write(c.buf); err != nil {
		c.lose(nc)
	}
	if cap(c.buf) > 1<<20 { // do not keep a burst's buffer forever
		c.buf = nil
	}
}

// failAll finishes calls with outcome o.
func (c *rpcConn) failAll(calls []*call, o outcome) {
	for _, call := range calls {
		c.cl.finish(call, o, 0)
	}
}

// lose closes nc after an error and fails the requests pending on it. The
// next request dials again.
func (c *rpcConn) lose(nc net.Conn) {
	c.mu.Lock()
	if c.nc != nc {
		c.mu.Unlock()
		return
	}
	c.nc = nil
	c.ctrl = c.ctrl[:0]
	lost := c.pending
	c.pending = make(map[uint64]*call)
	c.mu.Unlock()
	nc.Close()
	for _, call := range lost {
		c.cl.finish(call, outErrored, 0)
	}
}

// readLoop reads and dispatches frames until nc fails.
func (c *rpcConn) readLoop(nc net.Conn) {
	buf := make([]byte, 64<<10)
	start, end := 0, 0
	for {
		if end == len(buf) {
			if start > 0 {
				end = copy(buf, buf[start:end])
				start = 0
			} else { // one frame larger than the buffer
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		n, err := nc.Read(buf[end:])
		end += n
		c.cl.rxTotal.Add(int64(n))
		for start < end {
			f, m, perr := c.codec.parse(buf[start:end])
			if perr != nil {
				c.lose(nc)
				return
			}
			if m == 0 {
				break
			}
			start += m
			c.handle(nc, f)
		}
		if start == end {
			start, end = 0, 0
		}
		if err != nil {
			c.lose(nc)
			return
		}
	}
}

// handle dispatches one frame read from nc.
func (c *rpcConn) handle(nc net.Conn, f rpcFrame) {
	c.cl.rxData.Add(int64(f.data))
	switch f.kind {
	case frameResponse:
		c.mu.Lock()
		if c.nc != nc { // ids restart on a new connection: do not mix them
			c.mu.Unlock()
			return
		}
		call := c.pending[f.id]
		if call != nil {
			delete(c.pending, f.id)
			if f.id < c.maxID {
				c.cl.r.reordered.Add(1)
			} else {
				c.maxID = f.id
			}
		}
		c.mu.Unlock()
		if call == nil {
			c.cl.r.unknownIDs.Add(1)
			return
		}
		c.cl.finish(call, outResponse, f.status)
	case framePing:
		c.mu.Lock()
		if c.nc == nc {
			c.ctrl = append(c.ctrl, f.reply...)
		}
		c.mu.Unlock()
		c.signal()
	}
}

func (c *rpcConn) expire(now time.Time) {
	var due []*call
	c.mu.Lock()
	for id, call := range c.pending {
		if now.Sub(call.sched) >= c.timeout {
			delete(c.pending, id)
			due = append(due, call)
		}
	}
	keep := c.queue[:0]
	for _, call := range c.queue {
		if now.Sub(call.sched) >= c.timeout {
			due = append(due, call)
		} else {
			keep = append(keep, call)
		}
	}
	clear(c.queue[len(keep):])
	c.queue = keep
	c.mu.Unlock()
	c.failAll(due, outTimeout)
}

func (c *rpcConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	nc := c.nc
	c.nc = nil
	left := c.queue
	c.queue = nil
	for _, call := range c.pending {
		left = append(left, call)
	}
	c.pending = make(map[uint64]*call)
	c.mu.Unlock()
	close(c.quit)
	if nc != nil {
		nc.Close()
	}
	c.failAll(left, outErrored)
}
