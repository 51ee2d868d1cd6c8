//go:build linux

package network

import (
	"errors"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Poller parks idle connections without a goroutine: the socket sits in
// an epoll set of its own (the Go runtime's poller keeps its separate
// registration), and a goroutine is started only when the socket becomes
// readable, its idle timeout passes, or the process wakes it (drain).
//
// A parked connection costs the Parked record (about 100 bytes) on top of
// the socket's own structures: no goroutine stack, no buffer. Idle
// timeouts live in a timing wheel swept once a second, so no timer
// exists per connection and the sweep touches only the connections whose
// slot comes up.
type Poller struct {
	epfd   int
	wakefd int

	mu     sync.Mutex
	next   uint32
	parked map[uint32]*Parked
	wheel  [wheelSlots]*Parked // heads of intrusive lists, by expiry second
	closed bool
	done   chan struct{}
}

// wheelSlots is the timing wheel's length in seconds; deadlines further
// out stay in their slot and are looked at once per turn.
const wheelSlots = 64

// WakeReason says why a parked connection resumed.
type WakeReason uint8

const (
	// Readable: bytes, EOF or an error are queued on the socket.
	Readable WakeReason = iota
	// IdleTimeout: the idle timeout given to Park passed.
	IdleTimeout
	// Woken: Wake was called (the connection is draining).
	Woken
)

// Parked is one parked connection.
type Parked struct {
	token uint32
	fd    int
	// keep: when readable, the descriptor stays registered (disabled,
	// EPOLLONESHOT) so that Rearm costs one epoll_ctl; the owner then
	// calls Rearm or Release.
	keep    bool
	resume  func(WakeReason)
	expires int64 // unix seconds, 0 for none
	slot    int
	prev    *Parked
	next    *Parked
}

// NewPoller starts a poller: one goroutine waits in epoll_wait and one
// ticks the timing wheel once a second.
func NewPoller() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: 0}); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return nil, err
	}
	p := &Poller{epfd: epfd, wakefd: wfd, next: 1, parked: make(map[uint32]*Parked), done: make(chan struct{})}
	go p.loop()
	go p.tick()
	return p, nil
}

// ErrPollerClosed is returned by Park after Close.
var ErrPollerClosed = errors.New("poller closed")

// Park registers the socket behind rc. Exactly one of these follows, on a
// new goroutine: resume(Readable) when the socket is readable or hung up,
// resume(IdleTimeout) when idle > 0 has passed, resume(Woken) after
// Wake. Cancel withdraws the registration without calling resume. On
// error nothing is registered and the caller waits the usual way.
func (p *Poller) Park(rc syscall.RawConn, idle time.Duration, resume func(WakeReason)) (*Parked, error) {
	var (
		pk   *Parked
		perr error
	)
	if err := rc.Control(func(fd uintptr) { pk, perr = p.ParkFD(int(fd), idle, resume) }); err != nil {
		return nil, err
	}
	return pk, perr
}

// ParkFD is Park for a bare descriptor that the caller keeps open until
// the connection resumes or is cancelled.
func (p *Poller) ParkFD(fd int, idle time.Duration, resume func(WakeReason)) (*Parked, error) {
	return p.parkFD(fd, idle, false, resume)
}

// ParkFDKeep is ParkFD for a connection that may handle what made it
// readable without resuming: after resume(Readable) its owner must call
// Rearm (to park it again, cheaply) or Release.
func (p *Poller) ParkFDKeep(fd int, idle time.Duration, resume func(WakeReason)) (*Parked, error) {
	return p.parkFD(fd, idle, true, resume)
}

func (p *Poller) parkFD(fd int, idle time.Duration, keep bool, resume func(WakeReason)) (*Parked, error) {
	pk := &Parked{fd: fd, resume: resume, slot: -1, keep: keep}
	if idle > 0 {
		pk.expires = time.Now().Add(idle + time.Second - 1).Unix()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPollerClosed
	}
	for {
		pk.token = p.next
		p.next++
		if p.next == 0 {
			p.next = 1 // 0 is the wake eventfd
		}
		if _, used := p.parked[pk.token]; !used {
			break
		}
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(pk.token)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return nil, err
	}
	p.parked[pk.token] = pk
	if pk.expires != 0 {
		p.wheelAdd(pk)
	}
	return pk, nil
}

// take removes pk from the poller if it is still parked; the caller that
// gets true owns the resumption.
func (p *Poller) take(pk *Parked, del bool) bool {
	if cur, ok := p.parked[pk.token]; !ok || cur != pk {
		return false
	}
	delete(p.parked, pk.token)
	if pk.slot >= 0 {
		p.wheelRemove(pk)
	}
	if del {
		// The socket is still open (Cancel runs before it is closed),
		// so the descriptor is the registered one.
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pk.fd, nil)
	}
	return true
}

// Rearm parks again a connection resumed Readable from ParkFDKeep, with
// the same record and resume function, for up to idle.
func (p *Poller) Rearm(pk *Parked, idle time.Duration) error {
	pk.expires = 0
	if idle > 0 {
		pk.expires = time.Now().Add(idle + time.Second - 1).Unix()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pk.fd, nil)
		return ErrPollerClosed
	}
	if _, used := p.parked[pk.token]; used {
		return errors.New("poller: token in use")
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(pk.token)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, pk.fd, &ev); err != nil {
		return err
	}
	p.parked[pk.token] = pk
	if pk.expires != 0 {
		p.wheelAdd(pk)
	}
	return nil
}

// Release drops the registration of descriptor fd, resumed Readable from
// ParkFDKeep and not rearmed.
func (p *Poller) Release(fd int) {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// Wake resumes a parked connection with Woken; it does nothing if the
// connection already resumed.
func (p *Poller) Wake(pk *Parked) {
	p.mu.Lock()
	ok := p.take(pk, true)
	p.mu.Unlock()
	if ok {
		go pk.resume(Woken)
	}
}

// Cancel withdraws a parked connection without resuming it; it reports
// whether the connection was still parked. Call it before closing the
// socket.
func (p *Poller) Cancel(pk *Parked) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.take(pk, true)
}

// Len returns the number of parked connections.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// Close stops the poller and resumes every parked connection with Woken
// so that its owner can close it.
func (p *Poller) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var left []*Parked
	for _, pk := range p.parked {
		left = append(left, pk)
	}
	for _, pk := range left {
		p.take(pk, true)
	}
	p.mu.Unlock()
	var one = [8]byte{1}
	unix.Write(p.wakefd, one[:])
	<-p.done
	unix.Close(p.epfd)
	unix.Close(p.wakefd)
	for _, pk := range left {
		go pk.resume(Woken)
	}
}

func (p *Poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	ready := make([]*Parked, 0, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		ready = ready[:0]
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		for i := 0; i < n; i++ {
			tok := uint32(events[i].Fd)
			if tok == 0 {
				continue
			}
			if pk := p.parked[tok]; pk != nil && p.take(pk, !pk.keep) {
				ready = append(ready, pk)
			}
		}
		p.mu.Unlock()
		for _, pk := range ready {
			go pk.resume(Readable)
		}
	}
}

// tick sweeps one wheel slot a second.
func (p *Poller) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var expired []*Parked
	last := time.Now().Unix() - 1
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			sec := now.Unix()
			// A late tick sweeps every second it missed (at most a
			// whole turn).
			from := last + 1
			if sec-from >= wheelSlots {
				from = sec - wheelSlots + 1
			}
			last = sec
			expired = expired[:0]
			p.mu.Lock()
			for s := from; s <= sec; s++ {
				slot := int(s % wheelSlots)
				for pk := p.wheel[slot]; pk != nil; {
					next := pk.next
					if pk.expires <= sec && p.take(pk, true) {
						expired = append(expired, pk)
					}
					pk = next
				}
			}
			p.mu.Unlock()
			for _, pk := range expired {
				go pk.resume(IdleTimeout)
			}
		}
	}
}

func (p *Poller) wheelAdd(pk *Parked) {
	pk.slot = int(pk.expires % wheelSlots)
	pk.prev = nil
	pk.next = p.wheel[pk.slot]
	if pk.next != nil {
		pk.next.prev = pk
	}
	p.wheel[pk.slot] = pk
}

func (p *Poller) wheelRemove(pk *Parked) {
	if pk.prev != nil {
		pk.prev.next = pk.next
	} else {
		p.wheel[pk.slot] = pk.next
	}
	if pk.next != nil {
		pk.next.prev = pk.prev
	}
	pk.prev, pk.next, pk.slot = nil, nil, -1
}
