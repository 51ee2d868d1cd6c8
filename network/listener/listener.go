// Package listener runs listening sockets: it accepts connections, runs
// the listener's network filter chain on each, tracks them for graceful
// drain, hands a redirected connection to the listener configured for its
// original destination, and hands sockets over during a smooth upgrade.
package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/network"
)

// Chain is what runs on each accepted connection: connection filters in
// order, then the terminal handler.
type Chain struct {
	Filters []network.ConnFilter
	Handler network.Handler
}

// Listener is one configured listener. Its chain can be swapped while it
// runs (new connections get the new chain).
type Listener struct {
	cfg   *config.Listener
	log   *log.Logger
	idle  time.Duration
	chain atomic.Pointer[Chain]

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*network.Conn]struct{}
	stopping bool
	drained  chan struct{} // closed when stopping and no connection is left

	poller *network.Poller

	accepted atomic.Uint64
	handedIn atomic.Uint64
	handoff  atomic.Pointer[handoff]
}

// New returns a listener for cfg that will serve connections with chain.
// Nothing is opened until Listen or Use.
func New(cfg *config.Listener, chain *Chain, lg *log.Logger) *Listener {
	l := &Listener{
		cfg:   cfg,
		log:   lg,
		idle:  cfg.ConnectionIdleTimeout.D(),
		conns: make(map[*network.Conn]struct{}),
	}
	l.chain.Store(chain)
	return l
}

// Name returns the listener's configured name.
func (l *Listener) Name() string { return l.cfg.Name }

// Config returns the listener's config.
func (l *Listener) Config() *config.Listener { return l.cfg }

// SetChain replaces the filter chain for connections accepted from now on.
func (l *Listener) SetChain(c *Chain) { l.chain.Store(c) }

// ErrAddrInUse is wrapped by Listen when another socket owns the address.
var ErrAddrInUse = errors.New("address already in use")

// Listen opens the listening socket. A port owned by another process gives
// an error that says so, wrapping ErrAddrInUse.
func (l *Listener) Listen() error {
	lc := net.ListenConfig{Control: controlFunc(l.cfg)}
	ln, err := lc.Listen(context.Background(), "tcp", l.cfg.Address)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listener %q: %s is already in use by another socket (find its owner with: ss -ltnp 'sport = :%s'): %w",
				l.cfg.Name, l.cfg.Address, port(l.cfg.Address), ErrAddrInUse)
		}
		if errors.Is(err, syscall.EPERM) && l.cfg.UseOriginalDst == "tproxy" {
			return fmt.Errorf("listener %q: use_original_dst tproxy needs IP_TRANSPARENT on %s, which needs root or CAP_NET_ADMIN: %w",
				l.cfg.Name, l.cfg.Address, err)
		}
		if errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("listener %q: no permission to listen on %s (ports below 1024 need root or CAP_NET_BIND_SERVICE): %w",
				l.cfg.Name, l.cfg.Address, err)
		}
		return fmt.Errorf("listener %q: listen on %s: %w", l.cfg.Name, l.cfg.Address, err)
	}
	l.Use(ln)
	return nil
}

// Use makes the listener accept on an already open socket (one inherited
// from a previous process during a smooth upgrade).
func (l *Listener) Use(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
}

// Socket returns the open listening socket, or nil.
func (l *Listener) Socket() net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ln
}

// Addr returns the bound address, or nil before Listen.
func (l *Listener) Addr() net.Addr {
	if ln := l.Socket(); ln != nil {
		return ln.Addr()
	}
	return nil
}

func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return p
}

// Serve accepts connections until StopAccepting or Close. Each connection
// runs on its own goroutine.
func (l *Listener) Serve() error {
	ln := l.Socket()
	if ln == nil {
		return fmt.Errorf("listener %q: Serve before Listen", l.cfg.Name)
	}
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if l.isStopping() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and similar: back off instead of
			// spinning, and keep serving the connections we have.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			l.log.Errorf("[network] [listener] %s accept failed, retrying in %s: %v", l.cfg.Name, backoff, err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		l.accepted.Add(1)
		c := &network.Conn{
			Conn:        raw,
			ID:          network.NextConnID(),
			Listener:    l.cfg.Name,
			Start:       time.Now(),
			IdleTimeout: l.idle,
		}
		if l.cfg.UseOriginalDst != "" {
			l.dispatch(c)
			continue
		}
		if !l.track(c) {
			raw.Close()
			continue
		}
		go l.serveConn(c)
	}
}

// dispatch recovers the original destination of a connection accepted by
// a redirect/tproxy listener and hands the connection to the listener
// configured for that destination, if any; otherwise this listener serves
// it. It runs in the accept loop, before tracking, so that a connection is
// tracked (and drained) by exactly the listener that serves it; the
// getsockopt it costs does not block.
func (l *Listener) dispatch(c *network.Conn) {
	dst, err := originalDst(c.Conn, l.cfg.UseOriginalDst)
	if err != nil {
		if l.log.Enabled(log.DEBUG) {
			l.log.Debugf("[network] [listener] %s connection %d from %s: no original destination (%s), serving it here: %v",
				l.cfg.Name, c.ID, c.RemoteAddr(), l.cfg.UseOriginalDst, err)
		}
	} else {
		c.OriginalDst = dst
		if h := l.handoff.Load(); h != nil {
			if to := h.lookup(dst); to != nil && to != l {
				if l.log.Enabled(log.DEBUG) {
					l.log.Debugf("[network] [listener] %s connection %d to %s handed to listener %s",
						l.cfg.Name, c.ID, dst, to.cfg.Name)
				}
				to.ServeHandoff(c)
				return
			}
		}
	}
	if !l.track(c) {
		c.Close()
		return
	}
	go l.serveConn(c)
}

func (l *Listener) serveConn(c *network.Conn) {
	defer func() {
		// A bug in one connection's handler must not take the process
		// down with every other connection.
		if r := recover(); r != nil {
			l.log.Errorf("[network] [listener] %s connection %d panic: %v", l.cfg.Name, c.ID, r)
			c.Close()
		}
		// A parked connection lives on without this goroutine; its
		// close (whoever resumes it) untracks it.
		if !c.Detached() {
			c.Close()
		}
	}()
	chain := l.chain.Load()
	for _, f := range chain.Filters {
		if !f.OnAccept(c) {
			c.Close()
			return
		}
	}
	chain.Handler.ServeConn(c)
}

func (l *Listener) track(c *network.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping {
		return false
	}
	l.conns[c] = struct{}{}
	c.Poller = l.poller
	c.SetOnClose(func() { l.untrack(c) })
	return true
}

// SetPoller makes the listener's connections park in p while idle
// (nil: they wait on their own goroutine).
func (l *Listener) SetPoller(p *network.Poller) {
	l.mu.Lock()
	l.poller = p
	l.mu.Unlock()
}

func (l *Listener) untrack(c *network.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
	if l.stopping && len(l.conns) == 0 && l.drained != nil {
		close(l.drained)
		l.drained = nil
	}
}

func (l *Listener) isStopping() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopping
}

// ActiveConns returns the number of open downstream connections.
func (l *Listener) ActiveConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Accepted returns how many connections were accepted in total.
func (l *Listener) Accepted() uint64 { return l.accepted.Load() }

// StopAccepting closes the listening socket and marks every open
// connection as draining. During a smooth upgrade the new process holds
// its own descriptor of the same socket, so closing ours loses nothing;
// then tr is non-nil and connections idle at a request boundary are
// passed to the new process with it instead of being closed.
func (l *Listener) StopAccepting(tr network.TransferFunc) {
	l.mu.Lock()
	l.stopping = true
	ln := l.ln
	for c := range l.conns {
		if tr != nil {
			c.SetTransfer(tr)
		}
		c.SetDraining()
	}
	l.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// Drain waits until every connection has ended or ctx is done; it returns
// ctx.Err() in the latter case. Call StopAccepting first.
func (l *Listener) Drain(ctx context.Context) error {
	l.mu.Lock()
	if len(l.conns) == 0 {
		l.mu.Unlock()
		return nil
	}
	if l.drained == nil {
		l.drained = make(chan struct{})
	}
	ch := l.drained
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CloseConns closes every open connection at once.
func (l *Listener) CloseConns() {
	l.mu.Lock()
	conns := make([]*network.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Close stops accepting and closes every connection immediately.
func (l *Listener) Close() {
	l.StopAccepting(nil)
	l.CloseConns()
}
