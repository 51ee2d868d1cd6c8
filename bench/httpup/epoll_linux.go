package main

import (
	"errors"
	"net"
	"runtime"
	"syscall"
)

// epollConn is the state of one connection of the epoll loop.
type epollConn struct {
	buf     []byte // unparsed input; cap readBufSize
	out     []byte // output; out[off:] is not written yet
	off     int
	skip    int64 // request body bytes still to discard
	closing bool  // close once out is written
}

// serveEpoll serves ln from one epoll loop on one locked OS thread: per
// request one read and one write system call, plus one epoll_wait per
// batch of ready connections. It is cheaper per request than a goroutine
// per connection (which also pays a read that finds no data, a park and a
// wake-up) and than nginx's return 200, which matters because the upstream
// shares its CPU with the load generator. It runs until an error or until
// stop is closed (nil: never), then closes its connections and returns.
func (s *rawServer) serveEpoll(ln *net.TCPListener, stop <-chan struct{}) error {
	runtime.LockOSThread()
	rc, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	// A duplicate of the listening socket: the loop owns its descriptor,
	// and ln (which the Go runtime also polls) keeps the port bound.
	lfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { lfd, derr = syscall.Dup(int(fd)) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	defer syscall.Close(lfd)
	syscall.CloseOnExec(lfd)
	if err := syscall.SetNonblock(lfd, true); err != nil {
		return err
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(epfd)
	if err := epollCtl(epfd, syscall.EPOLL_CTL_ADD, lfd, syscall.EPOLLIN); err != nil {
		return err
	}
	// stop wakes the loop through a pipe in its epoll set.
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return err
	}
	defer syscall.Close(p[0])
	if err := epollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], syscall.EPOLLIN); err != nil {
		syscall.Close(p[1])
		return err
	}
	if stop == nil {
		defer syscall.Close(p[1])
	} else {
		// The goroutine owns the write end, so that it never writes to a
		// descriptor closed (and maybe reused) after the loop returned.
		go func() {
			<-stop
			_, _ = syscall.Write(p[1], []byte{0})
			syscall.Close(p[1])
		}()
	}
	conns := make(map[int]*epollConn)
	closeConn := func(fd int) {
		delete(conns, fd)
		syscall.Close(fd) // also removes it from the epoll set
	}
	defer func() {
		for fd := range conns {
			closeConn(fd)
		}
	}()
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == p[0] {
				return nil
			}
			if fd == lfd {
				if err := s.acceptAll(epfd, lfd, conns); err != nil {
					return err
				}
				continue
			}
			c := conns[fd]
			if c == nil {
				continue
			}
			if len(c.out) > 0 {
				// Waiting for EPOLLOUT (or an error, which the write sees).
				switch done, err := flush(fd, c); {
				case err != nil:
					closeConn(fd)
				case done && c.closing:
					closeConn(fd)
				case done:
					if epollCtl(epfd, syscall.EPOLL_CTL_MOD, fd, syscall.EPOLLIN) != nil {
						closeConn(fd)
					}
				}
				continue
			}
			if !s.readAndAnswer(epfd, fd, c) {
				closeConn(fd)
			}
		}
	}
}

// acceptAll accepts every pending connection and adds it to the set.
func (s *rawServer) acceptAll(epfd, lfd int, conns map[int]*epollConn) error {
	for {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		switch {
		case err == syscall.EAGAIN:
			return nil
		case err == syscall.EINTR || err == syscall.ECONNABORTED:
			continue
		case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
			// Out of descriptors: leave the rest in the backlog for now.
			return nil
		case err != nil:
			return err
		}
		s.stats.conns.Add(1)
		// Like nginx and Go: answers leave at once, whatever is in flight.
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if err := epollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN); err != nil {
			syscall.Close(fd)
			continue
		}
		conns[fd] = &epollConn{buf: make([]byte, 0, readBufSize)}
	}
}

// readAndAnswer reads what fd has, writes the answers and reports whether
// the connection stays open.
func (s *rawServer) readAndAnswer(epfd, fd int, c *epollConn) bool {
	n, err := syscall.Read(fd, c.buf[len(c.buf):cap(c.buf)])
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return true
	}
	if err != nil || n == 0 {
		return false
	}
	c.buf = c.buf[:len(c.buf)+n]
	var used int
	c.out, used, c.closing = s.consume(c.buf, &c.skip, c.out)
	c.buf = c.buf[:copy(c.buf, c.buf[used:])]
	if len(c.out) == 0 {
		return !c.closing
	}
	done, err := flush(fd, c)
	if err != nil {
		return false
	}
	if done {
		return !c.closing
	}
	// The socket buffer is full: stop reading until it drains.
	return epollCtl(epfd, syscall.EPOLL_CTL_MOD, fd, syscall.EPOLLOUT) == nil
}

// flush writes c.out and reports whether all of it went out.
func flush(fd int, c *epollConn) (bool, error) {
	for c.off < len(c.out) {
		n, err := syscall.Write(fd, c.out[c.off:])
		if err == syscall.EAGAIN {
			return false, nil
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		c.off += n
	}
	c.out, c.off = trimOut(c.out), 0
	return true, nil
}

func epollCtl(epfd, op, fd int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	return syscall.EpollCtl(epfd, op, fd, &ev)
}
