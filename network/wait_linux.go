//go:build linux

package network

import (
	"net"
	"syscall"
	"unsafe"
)

// NewReadWaiter returns a function that blocks (in the runtime poller,
// honouring read deadlines) until c has data, EOF or an error queued,
// without consuming anything. It peeks one byte with MSG_PEEK so that no
// buffer is needed while the connection is quiet.
func NewReadWaiter(c net.Conn) func() error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return func() error { return nil }
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() error { return nil }
	}
	var (
		b    [1]byte
		perr syscall.Errno
	)
	peek := func(fd uintptr) bool {
		_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case syscall.EAGAIN:
			return false // nothing yet: let the poller wait
		case 0, syscall.EINTR:
			return true // data or EOF: the following Read reports it
		default:
			// The kernel clears a pending socket error (ECONNRESET) once
			// it is reported, so it must be passed on from here or the
			// following Read would see a clean EOF.
			perr = errno
			return true
		}
	}
	return func() error {
		perr = 0
		if err := rc.Read(peek); err != nil {
			return err
		}
		if perr != 0 {
			return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: perr}
		}
		return nil
	}
}

// Alive reports whether an idle connection can be reused: nothing is
// queued to read (no EOF, no error, no stray bytes from the peer). It
// never blocks.
func Alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = rc.Control(func(fd uintptr) {
		_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		alive = errno == syscall.EAGAIN
	})
	return err == nil && alive
}

// PeekPrefix waits until c has at least len(want) bytes queued or the
// queued bytes stop being a prefix of want, without consuming anything.
// It reports whether the connection starts with want. Read deadlines
// apply while waiting.
func PeekPrefix(c net.Conn, want []byte) (bool, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	buf := make([]byte, len(want))
	var (
		match bool
		perr  syscall.Errno
	)
	err = rc.Read(func(fd uintptr) bool {
		n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case syscall.EAGAIN:
			return false
		case 0:
		default:
			perr = errno
			return true
		}
		if n == 0 { // EOF: the following Read reports it
			return true
		}
		got := buf[:n]
		if string(got) != string(want[:n]) {
			return true
		}
		if int(n) == len(want) {
			match = true
			return true
		}
		// A matching but short prefix: wait for more bytes.
		return false
	})
	if err != nil {
		return false, err
	}
	if perr != 0 {
		return false, perr
	}
	return match, nil
}

// Peek waits until c has data (or EOF, or an error) and returns up to n
// queued bytes without consuming them; an empty result means EOF. Read
// deadlines apply while waiting.
func Peek(c net.Conn, n int) ([]byte, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	var (
		got  int
		perr syscall.Errno
	)
	err = rc.Read(func(fd uintptr) bool {
		m, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(n),
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case syscall.EAGAIN:
			return false
		case 0:
			got = int(m)
		default:
			perr = errno
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if perr != 0 {
		return nil, perr
	}
	return buf[:got], nil
}
