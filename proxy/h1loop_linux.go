//go:build linux

package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"mosn.dev/proxy/codec/http1"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
)

// eventLoop serves keep-alive HTTP/1 connections the way an event-driven
// server does. One goroutine waits for all the sockets it holds (the
// downstream connections it adopted and the upstream connections their
// requests use) in an epoll set of its own, and handles each request
// that needs no other waiting: a head with no body or with all of its
// body already read, proxied on an idle upstream connection, whose
// answer arrives whole in one buffer. That is nearly every request of a
// busy keep-alive client. It serves HTTP/2 connections whose upstream is
// HTTP/1 the same way (h2loop_linux.go).
//
// Why: with a goroutine per connection the runtime served requests out
// of order. A goroutine whose bytes had already arrived ran on, while
// those that had to wait for the poller waited until the run queue
// drained, so under load a few requests waited several rounds: the p99
// latency was 1.5 to 2 times nginx's at the same throughput. The loop
// takes sockets in the order the kernel reports them ready, as nginx
// does, and does no goroutine switch per request.
//
// Everything else is handed to a goroutine at the point it is reached
// (evacuate): a body still to read, an upgrade, a response still
// streaming, a downstream socket that would block, an upstream failure
// (retries, 502, 504), no idle upstream connection (a dial), a drain. The
// goroutine runs the ordinary code from there on, and gives the
// connection back at its next idle point (adopt). A connection idle for
// parkAfter is parked in the poller as before.
//
// All state of the loop, and of the connections it holds, belongs to its
// goroutine; other goroutines reach it only through post.
type eventLoop struct {
	p      *Proxy
	epfd   int
	ep     *os.File        // epfd, waited on through the runtime's poller
	rc     syscall.RawConn // ep's
	evfd   int             // an eventfd that wakes the loop for posted work
	waitFn func(uintptr) bool
	polls  int // poll calls in the current wait

	// A busy loop seldom waits in the runtime's poller, which polls the
	// network for every other goroutine only when nothing is runnable
	// (or every 10 ms from sysmon): goroutines the loop handed work to
	// would wait for their sockets that long. So the loop goes through
	// the poller at least every loopYield: yf, an eventfd the runtime
	// polls, is made readable and waited for.
	yf      *os.File
	yrc     syscall.RawConn
	yfd     int
	yieldFn func(uintptr) bool
	yielded bool // the yield's first call (the write) is done
	polled  time.Time

	mu       sync.Mutex
	posted   []loopMsg
	signaled bool
	closed   bool

	slots  []loopSlot // slot 0 is the eventfd
	free   []uint32
	inUse  int
	events [128]unix.EpollEvent
	nev    int

	// idleUp are the loop's idle upstream connections, by host.
	idleUp map[poolKey][]*upConn
	// busy are the connections waiting for an upstream answer, idle the
	// others (least recently active first).
	busy, idle connList
	// h2s are the HTTP/2 connections the loop serves, h2wait the streams
	// whose answers it awaits (see h2loop_linux.go).
	h2s        map[*h2Conn]struct{}
	h2wait     map[*h2Stream]struct{}
	nextSweep  time.Time
	emptySince time.Time
}

// eventLoopsOn: this platform has the event loop.
const eventLoopsOn = true

// loopSweep is how often the loop looks for expired route timeouts and
// for connections idle long enough to park.
const loopSweep = 20 * time.Millisecond

// loopYield is the longest a busy loop goes without letting the runtime
// poll the network (see eventLoop.yf).
const loopYield = 500 * time.Microsecond

// loopLinger is how long a loop with no connections waits for new ones
// before its goroutine ends.
const loopLinger = 30 * time.Second

// loopMsg is work posted to the loop: adopt s, or (drain) look at s
// again because it started draining.
type loopMsg struct {
	s     *h1Server
	sc    *h2Conn // or an HTTP/2 connection
	drain bool
	// slot and gen name the adoption the drain is for: s itself may be
	// a goroutine's by then, and is not looked at unless its slot still
	// holds it.
	slot, gen uint32
}

// loopSlot is one registered socket: a downstream connection (s), or an
// upstream connection (uc).
type loopSlot struct {
	gen uint32
	s   *h1Server
	sc  *h2Conn
	uc  *upConn
}

// loopConn is the loop's state for a downstream connection.
type loopConn struct {
	slot, gen uint32
	k         *network.RawIO // the socket's, for reads and writes that never wait
	// uc is the upstream connection of the request in flight; waiting:
	// the request was sent and its answer is awaited; head: the answer's
	// head is parsed and its body is still arriving.
	uc      *upConn
	waiting bool
	head    bool
	// readable: the socket may hold unread bytes (it became readable
	// since a read last drained it); hup: the peer's end of stream (or an
	// error) is among them.
	readable bool
	hup      bool
	// pending is what the socket did not take of a response.
	pending []byte
	// since is when the connection last went idle.
	since      time.Time
	prev, next *h1Server
	list       *connList
	// noAdopt keeps the goroutine the connection was handed to from
	// giving it straight back (set when the loop parks it elsewhere).
	noAdopt bool
}

// loopUp is the loop's state for an upstream connection it holds.
type loopUp struct {
	l         *eventLoop // nil when the loop does not hold it
	slot, gen uint32
	owner     *h1Server // the request it serves, or nil while idle
	st        *h2Stream // or the HTTP/2 stream
	hup       bool      // the server's end of stream is queued
}

type connList struct {
	head, tail *h1Server
	n          int
}

func (q *connList) push(s *h1Server) {
	s.lw.list = q
	s.lw.prev, s.lw.next = q.tail, nil
	if q.tail != nil {
		q.tail.lw.next = s
	} else {
		q.head = s
	}
	q.tail = s
	q.n++
}

func (q *connList) remove(s *h1Server) {
	if s.lw.list != q {
		return
	}
	if s.lw.prev != nil {
		s.lw.prev.lw.next = s.lw.next
	} else {
		q.head = s.lw.next
	}
	if s.lw.next != nil {
		s.lw.next.lw.prev = s.lw.prev
	} else {
		q.tail = s.lw.prev
	}
	s.lw.prev, s.lw.next, s.lw.list = nil, nil, nil
	q.n--
}

// eventLoopFor returns the event loop for connection id, starting it when
// needed, or nil when the proxy serves HTTP/1 without one.
func (p *Proxy) eventLoopFor(id uint64) *eventLoop {
	p.loopMu.Lock()
	defer p.loopMu.Unlock()
	if p.loopsBroken {
		return nil
	}
	if p.loops == nil {
		p.loops = make([]*eventLoop, max(1, runtime.GOMAXPROCS(0)))
	}
	i := int(id % uint64(len(p.loops)))
	if l := p.loops[i]; l != nil && l.open() {
		return l
	}
	l, err := newEventLoop(p)
	if err != nil {
		p.log.Warnf("[proxy] [http1] no event loop, serving with goroutines: %v", err)
		p.loopsBroken = true
		return nil
	}
	p.loops[i] = l
	return l
}

func newEventLoop(p *Proxy) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	fail := func(err error) (*eventLoop, error) {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		return fail(err)
	}
	// Non-blocking, so that os.NewFile registers it with the runtime's
	// poller: the loop then waits in the runtime like any goroutine.
	if err := unix.SetNonblock(epfd, true); err != nil {
		return fail(err)
	}
	ep := os.NewFile(uintptr(epfd), "http1-loop")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		unix.Close(evfd)
		return nil, err
	}
	yfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ep.Close()
		unix.Close(evfd)
		return nil, err
	}
	yf := os.NewFile(uintptr(yfd), "http1-loop-yield")
	yrc, err := yf.SyscallConn()
	if err != nil {
		yf.Close()
		ep.Close()
		unix.Close(evfd)
		return nil, err
	}
	l := &eventLoop{p: p, epfd: epfd, ep: ep, rc: rc, evfd: evfd, yf: yf, yrc: yrc, yfd: yfd,
		slots: make([]loopSlot, 1, 64), idleUp: map[poolKey][]*upConn{},
		h2s: map[*h2Conn]struct{}{}, h2wait: map[*h2Stream]struct{}{}}
	l.waitFn = l.poll
	l.yieldFn = l.yield1
	l.emptySince = time.Now()
	go l.run()
	return l, nil
}

func (l *eventLoop) open() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.closed
}

// post hands m to the loop; false when the loop has ended.
func (l *eventLoop) post(m loopMsg) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.posted = append(l.posted, m)
	wake := !l.signaled
	l.signaled = true
	l.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		unix.Write(l.evfd, one[:])
	}
	return true
}

// yield1 is the yield's RawConn callback: the first call makes yf
// readable (after the runtime's poller state was reset, so its edge is
// not missed) and waits, the second drains it.
func (l *eventLoop) yield1(fd uintptr) bool {
	var b = [8]byte{1}
	if !l.yielded {
		l.yielded = true
		unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), 8)
		return false
	}
	unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), 8)
	return true
}

// yieldPoller lets the runtime run and poll the network for other
// goroutines, then goes on.
func (l *eventLoop) yieldPoller() {
	l.yielded = false
	l.yrc.Read(l.yieldFn)
}

// poll takes the ready events without waiting; false when there are none.
func (l *eventLoop) poll(fd uintptr) bool {
	l.polls++
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if errno != 0 {
		n = 0
	}
	l.nev = int(n)
	return n > 0
}

func (l *eventLoop) run() {
	defer l.ep.Close()
	defer l.yf.Close()
	defer unix.Close(l.evfd)
	var deadline time.Time
	for {
		// Take what is ready; when nothing is, wait in the runtime's
		// poller, until there is something to time out.
		if next := l.nextWake(); !next.Equal(deadline) {
			deadline = next
			l.ep.SetReadDeadline(deadline)
		}
		l.polls = 0
		if err := l.rc.Read(l.waitFn); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			l.p.log.Errorf("[proxy] [http1] event loop: %v", err)
			l.shutdown()
			return
		}
		waited := l.polls != 1
		for i := 0; i < l.nev; i++ {
			l.dispatch(l.events[i])
		}
		l.nev = 0
		now := time.Now()
		if waited {
			l.polled = now
		} else if now.Sub(l.polled) >= loopYield {
			l.yieldPoller()
			l.polled = now
		}
		if !now.Before(l.nextSweep) {
			l.sweep(now)
			l.nextSweep = now.Add(loopSweep)
		}
		switch {
		case l.idle.n+l.busy.n+len(l.h2s)+len(l.h2wait) > 0:
			l.emptySince = time.Time{}
		case l.emptySince.IsZero():
			l.emptySince = now
		case now.Sub(l.emptySince) >= loopLinger:
			// No client for a while: the upstream connections go back
			// to the shared pool, and the loop ends.
			l.releaseIdleUps()
			if l.inUse == 0 && l.end() {
				return
			}
		}
	}
}

// nextWake is when the loop must look at its connections even if no
// socket becomes ready: the next sweep while requests are in flight
// (route timeouts), else when the oldest idle connection is to be parked
// or closed, else when an empty loop ends.
func (l *eventLoop) nextWake() time.Time {
	if l.busy.n > 0 || len(l.h2s)+len(l.h2wait) > 0 {
		return l.nextSweep
	}
	if s := l.idle.head; s != nil {
		wait := parkAfter
		if t := s.c.IdleTimeout; t > 0 && t < wait {
			wait = t
		}
		return s.lw.since.Add(wait)
	}
	if !l.emptySince.IsZero() {
		return l.emptySince.Add(loopLinger)
	}
	return l.nextSweep
}

// releaseIdleUps hands the loop's idle upstream connections back to the
// shared pool.
func (l *eventLoop) releaseIdleUps() {
	for key, list := range l.idleUp {
		for i, uc := range list {
			l.letGo(uc)
			l.p.pools.put(uc)
			list[i] = nil
		}
		delete(l.idleUp, key)
	}
}

// end ends an empty loop unless work was posted meanwhile.
func (l *eventLoop) end() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.posted) > 0 {
		return false
	}
	l.closed = true
	return true
}

// shutdown hands every connection to a goroutine and ends the loop (its
// epoll set failed, which should not happen).
func (l *eventLoop) shutdown() {
	l.mu.Lock()
	l.closed = true
	posted := l.posted
	l.posted = nil
	l.mu.Unlock()
	for _, m := range posted {
		switch {
		case m.drain:
		case m.sc != nil:
			m.sc.lw.noAdopt = true
			go m.sc.serveOn(nil)
		default:
			m.s.lw.noAdopt = true
			go l.p.runEvacuated(m.s, nil)
		}
	}
	for i := range l.slots {
		if sc := l.slots[i].sc; sc != nil && sc.lp == l {
			sc.lw.noAdopt = true
			l.leaveH2(sc, nil)
			continue
		}
		s := l.slots[i].s
		if s == nil || s.lp != l {
			continue
		}
		s.lw.noAdopt = true
		if s.lw.waiting {
			l.streamRest(s, s.lw.uc)
		} else {
			l.evacuate(s, nil)
		}
	}
	for _, list := range l.idleUp {
		for _, uc := range list {
			l.closeUp(uc)
		}
	}
}

func (l *eventLoop) dispatch(ev unix.EpollEvent) {
	slot, gen := uint32(ev.Fd), uint32(ev.Pad)
	if slot == 0 {
		l.takePosted()
		return
	}
	if int(slot) >= len(l.slots) || l.slots[slot].gen != gen {
		return // the socket left the loop since
	}
	sl := l.slots[slot]
	// The peer's FIN (or an error) may have come with the last bytes, in
	// the same edge: reads then go on past a short one, to the end.
	hup := ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	defer func() {
		if e := recover(); e != nil {
			l.p.log.Errorf("[proxy] [http1] event loop panic: %v", e)
			l.abort(sl)
		}
	}()
	if sl.uc != nil {
		if hup {
			sl.uc.lp.hup = true
		}
		if st := sl.uc.lp.st; st != nil {
			l.upEventH2(sl.uc, st)
			return
		}
		l.upEvent(sl.uc)
		return
	}
	if sc := sl.sc; sc != nil {
		sc.lw.readable = true
		if hup {
			sc.lw.hup = true
		}
		l.serveH2(sc)
		return
	}
	sl.s.lw.readable = true
	if hup {
		sl.s.lw.hup = true
	}
	if sl.s.lw.waiting {
		return // pipelined bytes (or EOF): read after the answer
	}
	l.serveDown(sl.s)
}

// abort closes what a panic left behind.
func (l *eventLoop) abort(sl loopSlot) {
	defer func() { recover() }()
	s := sl.s
	if sl.uc != nil && sl.uc.lp.st != nil {
		sl.uc.lp.st.sc.x.p.log.Debugf("[proxy] [http2] event loop: stream %d handed over after a panic", sl.uc.lp.st.id)
		l.handStream(sl.uc.lp.st)
		return
	}
	if sc := sl.sc; sc != nil {
		if sc.lp == l {
			l.leaveH2(sc, func() bool { sc.shutdown(); return false })
		}
		return
	}
	if sl.uc != nil {
		s = sl.uc.lp.owner
		if s == nil {
			l.closeUp(sl.uc)
			return
		}
	}
	if s != nil && s.lp == l {
		l.closeDown(s)
	}
}

func (l *eventLoop) takePosted() {
	var b [8]byte
	unix.Read(l.evfd, b[:])
	l.mu.Lock()
	posted := l.posted
	l.posted = nil
	l.signaled = false
	l.mu.Unlock()
	for i, m := range posted {
		l.takeMsg(m)
		posted[i] = loopMsg{}
	}
}

func (l *eventLoop) takeMsg(m loopMsg) {
	defer func() {
		if e := recover(); e != nil {
			l.p.log.Errorf("[proxy] [http1] event loop panic: %v", e)
		}
	}()
	if m.sc != nil {
		switch {
		case !m.drain:
			l.adoptH2(m.sc)
		case int(m.slot) < len(l.slots):
			if sl := l.slots[m.slot]; sl.gen == m.gen && sl.sc == m.sc {
				l.leaveH2(m.sc, nil)
			}
		}
		return
	}
	if !m.drain {
		l.adopt(m.s)
		return
	}
	if int(m.slot) < len(l.slots) {
		if sl := l.slots[m.slot]; sl.gen == m.gen && sl.s == m.s && !m.s.lw.waiting {
			l.evacuate(m.s, nil)
		}
	}
}

func (l *eventLoop) alloc() uint32 {
	l.inUse++
	if n := len(l.free); n > 0 {
		i := l.free[n-1]
		l.free = l.free[:n-1]
		return i
	}
	l.slots = append(l.slots, loopSlot{})
	return uint32(len(l.slots) - 1)
}

func (l *eventLoop) release(slot uint32) {
	sl := &l.slots[slot]
	sl.gen++
	sl.s, sl.sc, sl.uc = nil, nil, nil
	l.free = append(l.free, slot)
	l.inUse--
}

// register adds k to the epoll set (edge-triggered) under a new slot.
func (l *eventLoop) register(k *network.RawIO) (uint32, uint32, error) {
	slot := l.alloc()
	gen := l.slots[slot].gen
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(slot), Pad: int32(gen)}
	if err := epollCtl(k, l.epfd, unix.EPOLL_CTL_ADD, &ev); err != nil {
		l.release(slot)
		return 0, 0, err
	}
	return slot, gen, nil
}

// unregister takes k out of the epoll set (a closed socket is out
// already).
func (l *eventLoop) unregister(k *network.RawIO, slot uint32) {
	epollCtl(k, l.epfd, unix.EPOLL_CTL_DEL, nil)
	l.release(slot)
}

// adopt takes a downstream connection from its goroutine; it is idle,
// with nothing buffered.
func (l *eventLoop) adopt(s *h1Server) {
	slot, gen, err := l.register(s.lw.k)
	if err != nil {
		s.lw.noAdopt = true
		go l.p.runEvacuated(s, nil)
		return
	}
	l.slots[slot].s = s
	s.lp = l
	s.lw.slot, s.lw.gen = slot, gen
	// Edge-triggered: bytes that arrived before the registration are
	// reported by it, as readable.
	s.lw.readable = false
	s.lw.since = time.Now()
	l.idle.push(s)
	c := s.c
	c.OnDrain(func() { l.post(loopMsg{s: s, drain: true, slot: slot, gen: gen}) })
}

// evacuate hands s, and the upstream connection of its request, to a new
// goroutine that runs then (nil: serve the connection from its next
// request head).
func (l *eventLoop) evacuate(s *h1Server, then func() bool) {
	l.p.stats.loopHandoff.Inc()
	l.detach(s)
	if uc := s.lw.uc; uc != nil {
		l.letGo(uc)
		uc.SetDeadline(s.rq.deadline)
		s.lw.uc = nil
	}
	s.lw.waiting, s.lw.head = false, false
	go l.p.runEvacuated(s, then)
}

// detach takes s out of the loop.
func (l *eventLoop) detach(s *h1Server) {
	// The drain hook holds s: a parked connection must not keep it.
	s.c.OnDrain(nil)
	l.unregister(s.lw.k, s.lw.slot)
	if s.lw.list != nil {
		s.lw.list.remove(s)
	}
	s.lp = nil
}

// runEvacuated serves a connection the loop handed over: first what the
// loop left unsent, then step (or the next request), then on as usual.
func (p *Proxy) runEvacuated(s *h1Server, step func() bool) {
	defer func() {
		if e := recover(); e != nil {
			p.log.Errorf("[proxy] [http1] connection %d panic: %v", s.c.ID, e)
			s.c.Close()
		}
	}()
	if len(s.lw.pending) > 0 {
		_, err := s.c.Write(s.lw.pending)
		s.lw.pending = nil
		if err != nil {
			if step != nil {
				// The request still ends (its breaker slots, its log).
				s.endRequest()
			}
			s.c.Close()
			s.releaseBuf()
			return
		}
	}
	if step != nil && (!step() || s.closing()) {
		s.c.Close()
		s.releaseBuf()
		return
	}
	s.serve()
}

// closeDown closes a downstream connection and what its request holds.
func (l *eventLoop) closeDown(s *h1Server) {
	l.detach(s)
	if uc := s.lw.uc; uc != nil {
		s.lw.uc = nil
		uc.close()
	}
	if s.lw.waiting {
		s.lw.waiting = false
		s.rq.host.RequestEnd()
		s.endRequest()
	}
	s.c.Close()
	s.r, s.w = 0, 0
	s.releaseBuf()
}

// serveDown reads and handles requests of s until one waits for its
// upstream, leaves the loop, or nothing more is readable.
func (l *eventLoop) serveDown(s *h1Server) {
	for {
		if s.buf != nil && s.r < s.w {
			s.parser.Reset()
			n, err := s.parser.Parse((*s.buf)[s.r:s.w])
			if err == nil {
				s.r += n
				if !l.request(s) {
					return
				}
				continue
			}
			if err != http1.ErrNeedMore || (s.r == 0 && s.w == len(*s.buf)) {
				// A bad head (its error answer), or one larger than the
				// buffer: the goroutine's readHead does what is needed.
				l.evacuate(s, nil)
				return
			}
		}
		if !s.lw.readable {
			if s.r == s.w {
				s.releaseBuf()
			}
			return
		}
		if s.buf == nil {
			s.buf = bufPool.Get().(*[]byte)
			s.r, s.w = 0, 0
		} else if s.r > 0 {
			b := *s.buf
			copy(b, b[s.r:s.w])
			s.w -= s.r
			s.r = 0
		}
		b := (*s.buf)[s.w:]
		n, errno := s.lw.k.TryRead(b)
		switch {
		case errno == unix.EAGAIN:
			s.lw.readable = false
			continue
		case errno != 0 || n == 0:
			if s.r < s.w {
				s.p.log.Debugf("[proxy] [http1] connection %d: incomplete request head: %v", s.c.ID, errno)
			}
			l.closeDown(s)
			return
		}
		// A read that did not fill the buffer emptied the socket; more
		// bytes raise a new edge.
		s.lw.readable = n == len(b) || s.lw.hup
		s.w += n
	}
}

// request handles the request head just parsed; true when it is done
// and s goes on with the next one.
func (l *eventLoop) request(s *h1Server) bool {
	framing := s.parser.Framing()
	switch {
	case s.c.Draining(), s.parser.Upgrade() != nil,
		framing.Kind == http1.BodyChunked,
		framing.Kind == http1.BodyLength && (s.parser.ExpectContinue() || int64(s.w-s.r) < framing.Length):
		// A body still to read (or to ask for), a protocol switch, a
		// drain: served by a goroutine.
		l.evacuate(s, s.handle)
		return false
	}
	l.idle.remove(s)
	l.busy.push(s)
	keep, done := s.begin()
	if done {
		return l.requestEnded(s, keep)
	}
	uc, st, keep := s.nextTry(true)
	switch st {
	case tryDone:
		return l.requestEnded(s, keep)
	case tryLater:
		l.evacuate(s, s.finishTries)
		return false
	}
	uc.lp.owner = s
	s.lw.uc = uc
	if res, ok := s.send(uc, s.rq.route); !ok {
		return l.tryEnded(s, res)
	}
	s.lw.waiting = true
	s.respStart(uc)
	return false
}

// finishTries goes on with a request's tries on a goroutine.
func (s *h1Server) finishTries() bool {
	defer s.endRequest()
	return s.tries()
}

// finishTry ends the try in progress with res on a goroutine, and goes
// on with the request's next tries if it needs them.
func (s *h1Server) finishTry(res func() exResult) func() bool {
	return func() bool {
		defer s.endRequest()
		if keep, done := s.tryEnded(res()); done {
			return keep
		}
		s.rq.attempt++
		return s.tries()
	}
}

// tryEnded ends the loop's try with res; true when s goes on with its
// next request.
func (l *eventLoop) tryEnded(s *h1Server, res exResult) bool {
	if uc := s.lw.uc; uc != nil {
		uc.lp.owner = nil
		s.lw.uc = nil
	}
	s.lw.waiting, s.lw.head = false, false
	keep, done := s.tryEnded(res)
	if !done {
		// A retry: another host, perhaps a dial.
		s.rq.attempt++
		l.evacuate(s, s.finishTries)
		return false
	}
	return l.requestEnded(s, keep)
}

// requestEnded ends the request of s; true when s goes on with its next
// request in the loop.
func (l *eventLoop) requestEnded(s *h1Server, keep bool) bool {
	s.endRequest()
	l.p.stats.loopServed.Inc()
	l.busy.remove(s)
	l.idle.push(s)
	s.lw.since = time.Now()
	switch {
	case len(s.lw.pending) > 0:
		// The goroutine sends the rest, then goes on or closes.
		l.evacuate(s, func() bool { return keep })
		return false
	case !keep:
		l.closeDown(s)
		return false
	case s.c.Draining():
		l.evacuate(s, nil)
		return false
	}
	return true
}

// upEvent handles a readable upstream connection.
func (l *eventLoop) upEvent(uc *upConn) {
	s := uc.lp.owner
	if s == nil || !s.lw.waiting {
		// An idle connection: the server closed it (or sent what no
		// request asked for).
		l.dropIdle(uc)
		return
	}
	for {
		b := uc.loopSpace()
		if len(b) == 0 {
			// The answer does not fit the buffer: streamed by a goroutine.
			l.streamRest(s, uc)
			return
		}
		n, errno := uc.rio.TryRead(b)
		if errno == unix.EAGAIN {
			return
		}
		if errno != 0 || n == 0 {
			var err error = io.EOF
			if errno != 0 {
				err = &net.OpError{Op: "read", Net: "tcp", Err: errno}
			}
			if s.lw.head {
				// The body was cut short, or ends with the connection.
				l.streamRest(s, uc)
				return
			}
			consumed := uc.w > 0 || s.parser.Framing().Kind != http1.BodyNone
			l.evacuate(s, s.finishTry(func() exResult { return s.upstreamFailed(uc, err, consumed) }))
			return
		}
		uc.w += n
		if !s.lw.head {
			res, st := s.respHead(uc)
			switch st {
			case headMore:
				if n < len(b) && !uc.lp.hup {
					return
				}
				continue
			case headFailed:
				if l.tryEnded(s, res) {
					l.next(s)
				}
				return
			}
			s.lw.head = true
		}
		if !whole(uc, s.p.limits) {
			if n < len(b) && !uc.lp.hup {
				return // the rest of the body raises a new edge
			}
			continue
		}
		res := s.relay(uc, s.rq.route, s.rq.keep)
		if l.tryEnded(s, res) {
			l.next(s)
		}
		return
	}
}

// next goes on with s after a request ended in upEvent: its next request
// may be buffered or readable already.
func (l *eventLoop) next(s *h1Server) {
	if s.lp == l && !s.lw.waiting {
		l.serveDown(s)
	}
}

// streamRest hands an answer whose head is parsed (or whose head does
// not fit) to a goroutine, which streams the rest.
func (l *eventLoop) streamRest(s *h1Server, uc *upConn) {
	if s.lw.head {
		l.evacuate(s, s.finishTry(func() exResult { return s.relay(uc, s.rq.route, s.rq.keep) }))
		return
	}
	l.evacuate(s, s.finishTry(func() exResult { return s.await(uc, s.rq.route, s.rq.keep) }))
}

// whole reports whether uc holds the entire body of the response whose
// head its parser holds (or the body is malformed: relay fails it).
func whole(uc *upConn, limits http1.Limits) bool {
	f := uc.parser.Framing()
	switch f.Kind {
	case http1.BodyNone:
		return true
	case http1.BodyLength:
		return int64(uc.w-uc.r) >= f.Length
	case http1.BodyChunked:
		var br http1.BodyReader
		br.Reset(f, limits)
		_, done, err := br.Decode(uc.in(), func([]byte) {})
		return done || err != nil
	}
	return false // until the upstream closes
}

// loopSpace returns where the loop's next read of u goes: the rest of
// its buffer (taken from the pool if need be). There is no compaction: a
// parsed answer head points into the buffer.
func (u *upConn) loopSpace() []byte {
	if u.buf == nil {
		u.buf = bufPool.Get().(*[]byte)
		u.r, u.w = 0, 0
	}
	return (*u.buf)[u.w:]
}

// take returns an idle upstream connection to h for the loop, or nil.
func (l *eventLoop) take(cl *upstream.Cluster, h *upstream.Host) *upConn {
	key := poolKey{cl.Name(), h.Address()}
	if list := l.idleUp[key]; len(list) > 0 {
		uc := list[len(list)-1]
		list[len(list)-1] = nil
		l.idleUp[key] = list[:len(list)-1]
		return uc
	}
	for {
		uc := l.p.pools.getIdle(key)
		if uc == nil {
			return nil
		}
		if uc.rio == nil {
			l.p.pools.put(uc)
			return nil
		}
		slot, gen, err := l.register(uc.rio)
		if err != nil {
			l.p.pools.put(uc)
			return nil
		}
		l.slots[slot].uc = uc
		uc.lp = loopUp{l: l, slot: slot, gen: gen}
		// Deadlines are the loop's own while it holds the connection.
		uc.SetDeadline(time.Time{})
		return uc
	}
}

// preDial is how many requests before max_request_per_conn the loop has
// a replacement connection dialled (see pools.warm).
const preDial = 16

// put keeps uc, at the end of a request, for the loop's next requests.
func (l *eventLoop) put(uc *upConn) {
	uc.lp.owner, uc.lp.st = nil, nil
	if uc.max >= 4*preDial && uc.requests == uc.max-preDial {
		go l.p.pools.warm(uc.cl, uc.host, l.p.limits, uc.br)
	}
	if uc.requests >= uc.max || uc.r != uc.w {
		l.closeUp(uc)
		return
	}
	uc.release()
	list := l.idleUp[uc.key]
	if len(list) >= maxIdlePerHost {
		l.closeUp(uc)
		return
	}
	l.idleUp[uc.key] = append(list, uc)
}

// dropIdle closes an idle connection the server closed.
func (l *eventLoop) dropIdle(uc *upConn) {
	list := l.idleUp[uc.key]
	for i, u := range list {
		if u == uc {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			l.idleUp[uc.key] = list[:len(list)-1]
			break
		}
	}
	l.closeUp(uc)
}

func (l *eventLoop) closeUp(uc *upConn) {
	uc.lp.owner, uc.lp.st = nil, nil
	uc.close() // leaves the loop first (see upConn.close)
}

// letGo takes uc out of the loop, to be used by a goroutine.
func (l *eventLoop) letGo(uc *upConn) {
	if uc.lp.l != l {
		return
	}
	l.unregister(uc.rio, uc.lp.slot)
	uc.lp = loopUp{}
}

// leaveLoop is called by upConn.close.
func (u *upConn) leaveLoop() {
	if u.lp.l != nil {
		u.lp.l.letGo(u)
	}
}

// write sends b to the downstream of s without blocking; what the socket
// does not take waits in s.lw.pending.
func (l *eventLoop) write(s *h1Server, b []byte) error {
	if len(s.lw.pending) > 0 {
		s.lw.pending = append(s.lw.pending, b...)
		return nil
	}
	rest, err := writeAll(s.lw.k, b)
	if len(rest) > 0 {
		s.lw.pending = append(s.lw.pending[:0], rest...)
	}
	return err
}

// errUpBlocked: the upstream socket did not take a whole request (its
// send buffer is full, which an idle connection's should not be).
var errUpBlocked = errors.New("upstream connection not writable")

// flushLoop sends u.out from the event loop without blocking.
func (u *upConn) flushLoop() error {
	rest, err := writeAll(u.rio, u.out)
	u.out = u.out[:0]
	if err == nil && len(rest) > 0 {
		err = errUpBlocked
	}
	return err
}

// sweep fails requests past their route timeout, and parks (or closes)
// connections idle for parkAfter (or their idle timeout).
func (l *eventLoop) sweep(now time.Time) {
	if len(l.h2s)+len(l.h2wait) > 0 {
		l.sweepH2(now)
	}
	for s := l.busy.head; s != nil; {
		next := s.lw.next
		if s.lw.waiting && !now.Before(s.rq.deadline) {
			l.timedOut(s)
		}
		s = next
	}
	for s := l.idle.head; s != nil; {
		next := s.lw.next
		waited := now.Sub(s.lw.since)
		t := s.c.IdleTimeout
		switch {
		case t > 0 && waited >= t:
			if s.r == s.w {
				l.closeDown(s)
			} else {
				l.evacuate(s, nil)
			}
		case waited >= parkAfter:
			l.park(s, waited)
		default:
			return // the rest went idle later
		}
		s = next
	}
}

// timedOut hands a request past its route timeout to a goroutine, which
// answers 504.
func (l *eventLoop) timedOut(s *h1Server) {
	uc := s.lw.uc
	l.evacuate(s, s.finishTry(func() exResult { return s.upstreamFailed(uc, os.ErrDeadlineExceeded, true) }))
}

// park hands an idle connection to the poller (as h1Server.park does),
// or to a goroutine when there is none or something is buffered.
func (l *eventLoop) park(s *h1Server, waited time.Duration) {
	if s.r < s.w || s.c.Poller == nil {
		s.lw.noAdopt = true
		l.evacuate(s, nil)
		return
	}
	l.detach(s)
	s.releaseBuf()
	c, p := s.c, l.p
	idle := c.IdleTimeout
	if idle > 0 {
		idle -= waited
	}
	if !c.Park(idle, true, func(r network.WakeReason) { p.resumeH1(c, r) }) {
		s.lw.noAdopt = true
		go p.runEvacuated(s, nil)
	}
}

// adopt hands the connection to the proxy's event loop at an idle point
// (nothing buffered); true when the loop has it and the goroutine must
// return.
func (s *h1Server) adopt() bool {
	if s.lw.noAdopt {
		s.lw.noAdopt = false
		return false
	}
	if s.c.Draining() {
		return false
	}
	l := s.p.eventLoopFor(s.c.ID)
	if l == nil {
		return false
	}
	k := s.c.RawIO()
	if k == nil {
		return false
	}
	s.releaseBuf()
	s.lw = loopConn{k: k}
	s.c.Detach()
	return l.post(loopMsg{s: s})
}

// writeAll writes b to r until it is all sent or the socket is full
// (never waiting); rest is what it did not take.
func writeAll(r *network.RawIO, b []byte) (rest []byte, err error) {
	for len(b) > 0 {
		n, errno := r.TryWrite(b)
		switch errno {
		case 0:
			b = b[n:]
		case unix.EAGAIN:
			return b, nil
		default:
			return nil, &net.OpError{Op: "write", Net: "tcp", Err: errno}
		}
	}
	return nil, nil
}

// epollCtl changes r's registration in epfd.
func epollCtl(r *network.RawIO, epfd, op int, ev *unix.EpollEvent) error {
	var cerr error
	if err := r.Control(func(fd uintptr) { cerr = unix.EpollCtl(epfd, op, int(fd), ev) }); err != nil {
		return err
	}
	return cerr
}
