package listener

import (
	"syscall"

	"golang.org/x/sys/unix"

	"mosn.dev/proxy/config"
)

// controlFunc sets socket options before bind: SO_REUSEPORT when the
// listener asks for it, IP_TRANSPARENT for tproxy listeners.
func controlFunc(cfg *config.Listener) func(network, address string, c syscall.RawConn) error {
	if !cfg.ReusePort && cfg.UseOriginalDst != "tproxy" {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if cfg.ReusePort {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
					return
				}
			}
			if cfg.UseOriginalDst == "tproxy" {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
