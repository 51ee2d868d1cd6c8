//go:build linux

package main

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dialControl sets IP_BIND_ADDRESS_NO_PORT before a client socket is bound
// to its -src address: the kernel then picks the local port at connect
// time, per destination, instead of reserving one of the source address's
// ephemeral ports for good at bind time.
func dialControl(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// peekFD peeks one byte of a socket with MSG_PEEK|MSG_DONTWAIT.
func peekFD(fd uintptr) connState {
	var b [1]byte
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == syscall.EAGAIN:
		return stateAlive
	case errno != 0:
		return stateClosed
	case n == 0:
		return stateClosed // EOF
	}
	return statePending
}
