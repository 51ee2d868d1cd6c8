package upstream

import (
	"fmt"
	"syscall"
)

// markControl returns a net.Dialer Control function that sets SO_MARK on
// the socket before it connects, so that policy routing or iptables can
// tell the proxy's own upstream traffic apart (needs CAP_NET_ADMIN).
func markControl(mark uint32) func(network, address string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, int(mark))
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("set SO_MARK %d: %w", mark, serr)
		}
		return nil
	}
}
