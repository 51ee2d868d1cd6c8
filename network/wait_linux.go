//go:build linux

package network

import (
	"net"
	"syscall"
	"unsafe"
)

// readableWaiter returns a function that blocks (in the runtime poller,
// honouring read deadlines) until c has data, EOF or an error queued,
// without consuming anything. It peeks one byte with MSG_PEEK so that no
// buffer is needed while the connection is quiet.
func readableWaiter(c net.Conn) func() error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return func() error { return nil }
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() error { return nil }
	}
	var b [1]byte
	peek := func(fd uintptr) bool {
		_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		// EAGAIN: nothing yet, let the poller wait. Anything else (data,
		// EOF, an error) is for the following Read to report.
		return errno != syscall.EAGAIN
	}
	return func() error { return rc.Read(peek) }
}
