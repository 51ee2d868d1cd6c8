//go:build linux

package network

import (
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// detachFD duplicates the socket's descriptor and closes c, so that the
// runtime's structures for it (netFD, poll descriptor, addresses) are
// released while the socket itself stays open through the returned
// descriptor. The descriptor is left in blocking mode so that attachFD
// can wrap it without registering it with the runtime twice.
func detachFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errNotDetachable
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 3)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	c.Close()
	// O_NONBLOCK belongs to the shared open file: now that the runtime
	// no longer uses it, clear it (attachFD's dup sets it again).
	if err := unix.SetNonblock(nfd, false); err != nil {
		unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}

// attachFD turns a descriptor from detachFD back into a net.Conn served
// by the runtime's poller; the descriptor itself is closed.
func attachFD(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "parked")
	c, err := net.FileConn(f)
	f.Close()
	return c, err
}

func closeFD(fd int) { unix.Close(fd) }
