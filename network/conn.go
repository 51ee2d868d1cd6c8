// Package network is the NET/IO layer: accepted connections, the network
// filter chain that serves them, and the byte pump used by L4 proxying.
package network

import (
	"net"
	"sync"
	"sync/atomic"
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

	draining atomic.Bool
	mu       sync.Mutex
	idle     bool
	onDrain  func()
	transfer TransferFunc
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
// protocol's GOAWAY and finish the streams they have.
func (c *Conn) OnDrain(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
