// Package network is the NET/IO layer: accepted connections, the network
// filter chain that serves them, and the byte pump used by L4 proxying.
package network

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is an accepted downstream connection and what filters need to know
// about it. The embedded net.Conn is the raw socket (a *net.TCPConn for TCP
// listeners), so handlers can use it directly.
type Conn struct {
	net.Conn
	// ID is unique within the process, for logs and the access log.
	ID uint64
	// Listener is the name of the listener that serves the connection:
	// the one that accepted it, or the one an original-dst listener
	// handed it to.
	Listener string
	// OriginalDst is the connection's original destination "ip:port"
	// recovered by a redirect/tproxy listener, or "" when unknown.
	OriginalDst string
	// Start is when the connection was accepted.
	Start time.Time
	// IdleTimeout is the listener's connection_idle_timeout (0: none);
	// handlers apply it unless their own config overrides it.
	IdleTimeout time.Duration

	// Poller, when set (by the listener), parks the connection while it
	// is idle so that it holds no goroutine; see Park.
	Poller *Poller

	draining atomic.Bool
	mu       sync.Mutex
	idle     bool
	onDrain  func()
	transfer TransferFunc
	parked   *Parked
	parkedFD int // the socket while parked detached (see Park), else 0
	parkIdle time.Duration
	parkRec  *Parked // the detached park's record, kept for Rearm
	fast     func(fd int) bool
	detached bool
	closed   bool
	onClose  func()
	rio      atomic.Pointer[rawFor]
}

// rawFor is the raw I/O of one socket (Conn.Conn changes when a
// connection is parked and resumed).
type rawFor struct {
	of net.Conn
	io *RawIO
}

// RawIO returns the raw I/O of the current socket, or nil when it is not
// a socket the runtime polls. It changes when the connection is parked
// and resumed.
func (c *Conn) RawIO() *RawIO {
	conn := c.Conn
	if p := c.rio.Load(); p != nil && p.of == conn {
		return p.io
	}
	p := &rawFor{of: conn, io: NewRawIO(conn)}
	c.rio.Store(p)
	return p.io
}

// Read reads from the socket, with raw system calls where it can (see
// RawIO).
func (c *Conn) Read(p []byte) (int, error) {
	if r := c.RawIO(); r != nil {
		return r.Read(p)
	}
	return c.Conn.Read(p)
}

// Write writes to the socket, with raw system calls where it can (see
// RawIO).
func (c *Conn) Write(p []byte) (int, error) {
	if r := c.RawIO(); r != nil {
		return r.Write(p)
	}
	return c.Conn.Write(p)
}

// errNotDetachable: the connection is not a socket whose descriptor can
// be taken from the runtime.
var errNotDetachable = errors.New("connection cannot be detached")

// closedConn stands in for the socket while it is parked detached: any
// use fails as on a closed connection, and it holds no memory.
type closedConn struct{}

func (closedConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (closedConn) Write([]byte) (int, error)        { return 0, net.ErrClosed }
func (closedConn) Close() error                     { return nil }
func (closedConn) LocalAddr() net.Addr              { return nil }
func (closedConn) RemoteAddr() net.Addr             { return nil }
func (closedConn) SetDeadline(time.Time) error      { return net.ErrClosed }
func (closedConn) SetReadDeadline(time.Time) error  { return net.ErrClosed }
func (closedConn) SetWriteDeadline(time.Time) error { return net.ErrClosed }

// SetOnClose sets f to run once when the connection is closed through
// Close (listeners untrack it there).
func (c *Conn) SetOnClose(f func()) {
	c.mu.Lock()
	c.onClose = f
	c.mu.Unlock()
}

// Close closes the connection once: a parked connection leaves the
// poller first, then the socket is closed and the close hook runs.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	pk, f, fd, conn := c.parked, c.onClose, c.parkedFD, c.Conn
	c.parked, c.onClose = nil, nil
	c.mu.Unlock()
	if pk != nil && c.Poller.Cancel(pk) && fd > 0 {
		// Still parked detached: the bare descriptor is the socket.
		// (Had it just resumed, the resuming side sees closed and
		// closes it.)
		closeFD(fd)
	}
	err := conn.Close()
	if f != nil {
		f()
	}
	return err
}

// Park hands an idle connection to the poller, so that no goroutine waits
// for it: it returns true when the connection is parked, and then the
// caller must return at once and not touch the connection again (the
// connection belongs to resume, which runs on a new goroutine when the
// socket is readable, idle has passed, or the connection starts
// draining). It returns false when there is no poller, the connection is
// draining or closed, or registration failed; the caller then waits the
// usual way. Call it only with nothing buffered in user space.
func (c *Conn) Park(idle time.Duration, detach bool, resume func(WakeReason)) bool {
	if c.Poller == nil {
		return false
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// Raw I/O state is rebuilt on the first read after the wake-up: a
	// parked connection keeps none (nor, detached, the socket it refers
	// to).
	c.rio.Store(nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.draining.Load() {
		return false
	}
	if detach {
		// Nothing else uses the socket while it is parked, so the
		// runtime's structures for it can go (several hundred bytes
		// a connection); they are rebuilt on resume.
		if fd, err := detachFD(c.Conn); err == nil {
			park := c.Poller.ParkFD
			if c.fast != nil {
				park = c.Poller.ParkFDKeep
			}
			pk, err := park(fd, idle, func(r WakeReason) { c.resumeDetached(r, resume) })
			if err != nil {
				// The socket is only this descriptor now: put it back.
				if nc, aerr := attachFD(fd); aerr == nil {
					c.Conn = nc
				} else {
					closeFD(fd)
					c.Conn = closedConn{}
				}
				return false
			}
			c.Conn = closedConn{}
			c.parkedFD = fd
			c.parkIdle = idle
			c.parked, c.parkRec = pk, pk
			c.detached = true
			return true
		}
	}
	pk, err := c.Poller.Park(rc, idle, func(r WakeReason) {
		c.mu.Lock()
		c.parked = nil
		c.mu.Unlock()
		resume(r)
	})
	if err != nil {
		return false
	}
	c.parked = pk
	c.detached = true
	return true
}

// SetFastRead sets a function that a detached parked connection tries
// first when it becomes readable: it gets the bare descriptor and returns
// true when it fully handled what was readable (a heartbeat answered
// with a single send), and the connection then parks again without ever
// being rebuilt. On false the connection resumes as usual; the function
// keeps whatever it consumed for the handler.
func (c *Conn) SetFastRead(f func(fd int) bool) {
	c.mu.Lock()
	c.fast = f
	c.mu.Unlock()
}

// resumeDetached gives a detached connection its socket back before
// resume runs; a connection closed meanwhile only loses its descriptor.
// When the connection became readable and has a fast read, that is tried
// first, and a connection it fully served parks again at once.
func (c *Conn) resumeDetached(r WakeReason, resume func(WakeReason)) {
	c.mu.Lock()
	fd, rec := c.parkedFD, c.parkRec
	c.parked, c.parkedFD = nil, 0
	if c.closed {
		c.mu.Unlock()
		closeFD(fd) // the last reference: the kernel drops the registration
		return
	}
	if r == Readable && rec != nil && rec.keep {
		fast := c.fast
		c.mu.Unlock()
		handled := fast(fd)
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			closeFD(fd)
			return
		}
		if handled && !c.draining.Load() && c.Poller.Rearm(rec, c.parkIdle) == nil {
			c.parked, c.parkedFD = rec, fd
			c.mu.Unlock()
			return
		}
		c.Poller.Release(fd)
		if c.draining.Load() {
			r = Woken
		}
	}
	nc, err := attachFD(fd)
	if err != nil {
		// resume's first read fails and it closes the connection.
		closeFD(fd)
		nc = closedConn{}
	}
	c.Conn = nc
	c.mu.Unlock()
	resume(r)
}

// Detach marks the connection as served elsewhere than on the goroutine
// its listener started it on (an event loop): the listener leaves it
// open when that goroutine returns, and whoever serves it closes it.
func (c *Conn) Detach() {
	c.mu.Lock()
	c.detached = true
	c.mu.Unlock()
}

// Detached reports whether the connection was ever parked: its serving
// goroutine has handed it to the poller, and whoever resumes it closes
// it. Listeners read it after their handler returns.
func (c *Conn) Detached() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.detached
}

// TransferFunc passes a connection's socket to another process (the new
// one during a smooth upgrade). It returns nil when the socket now lives
// there.
type TransferFunc func(c *Conn) error

// SetTransfer makes the connection transferable: a handler that drains it
// passes it on with tr at its next idle point instead of closing it.
// Listeners call it before SetDraining during a smooth upgrade.
func (c *Conn) SetTransfer(tr TransferFunc) {
	c.mu.Lock()
	c.transfer = tr
	c.mu.Unlock()
}

// CanTransfer reports whether a draining connection would be passed to
// another process rather than closed, so a handler keeps it alive (no
// "Connection: close") until its next idle point.
func (c *Conn) CanTransfer() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transfer != nil
}

// Transfer passes a draining connection to another process. Handlers
// call it only at a request boundary with nothing read and unserved:
// bytes the client sent since stay queued in the socket and reach the
// new process with it. It returns true on success; the caller then closes
// its descriptor, which the peer does not see, and writes nothing more.
// On false the caller closes the connection as a drain would.
func (c *Conn) Transfer() bool {
	c.mu.Lock()
	tr := c.transfer
	c.transfer = nil
	c.mu.Unlock()
	if tr == nil || !c.draining.Load() {
		return false
	}
	return tr(c) == nil
}

// OnDrain registers f to run (once, on its own goroutine) when the
// connection starts draining; multiplexing handlers use it to send their
// protocol's GOAWAY and finish the streams they have. A nil f removes
// the function registered.
func (c *Conn) OnDrain(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f == nil {
		c.onDrain = nil
		return
	}
	if c.draining.Load() {
		go f()
		return
	}
	c.onDrain = f
}

// Draining reports whether the process asked this connection to finish:
// request/response handlers close it at the next request boundary.
func (c *Conn) Draining() bool { return c.draining.Load() }

// SetDraining marks the connection as draining and wakes it if it is idle
// between requests (by expiring its read deadline), so a keep-alive
// connection does not hold a graceful stop until the client gives up.
func (c *Conn) SetDraining() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining.Swap(true) {
		return
	}
	if c.idle {
		c.Conn.SetReadDeadline(time.Now())
	}
	if c.onDrain != nil {
		go c.onDrain()
	}
	if pk := c.parked; pk != nil {
		c.parked = nil
		c.Poller.Wake(pk)
	}
}

// Interrupt makes a Read blocked on the connection return a timeout error
// now, so that its serving goroutine looks at its state again (another
// goroutine finished the last stream, or a drain began). It does nothing
// while the connection is parked or closed.
func (c *Conn) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parked == nil && c.parkedFD == 0 && !c.closed {
		c.Conn.SetReadDeadline(time.Now())
	}
}

// EnterIdle is called by a handler before it waits for the next request.
// It returns false when the connection is draining and should be closed
// instead.
func (c *Conn) EnterIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining.Load() {
		return false
	}
	c.idle = true
	return true
}

// ExitIdle is called when the wait for the next request ends. The caller
// then resets its read deadline, which overrides one SetDraining may have
// set meanwhile: a request that already arrived is served.
func (c *Conn) ExitIdle() {
	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
}

var connIDs atomic.Uint64

// NextConnID returns a process-unique connection id.
func NextConnID() uint64 { return connIDs.Add(1) }
