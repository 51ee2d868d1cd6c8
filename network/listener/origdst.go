package listener

import (
	"fmt"
	"net"
	"net/netip"
)

// originalDst returns the destination ("ip:port") the client connected to
// before iptables sent the connection to this listener: for "redirect" the
// conntrack entry's original destination (SO_ORIGINAL_DST), for "tproxy"
// the socket's own local address (TPROXY keeps it intact).
func originalDst(c net.Conn, mode string) (string, error) {
	var (
		ap  netip.AddrPort
		err error
	)
	switch mode {
	case "tproxy":
		ap, err = localAddrPort(c)
	case "redirect":
		ap, err = redirectDst(c)
	default:
		return "", fmt.Errorf("unknown use_original_dst %q", mode)
	}
	if err != nil {
		return "", err
	}
	return ap.String(), nil
}

// localAddrPort returns the local address of a TCP connection, with an
// IPv4-mapped IPv6 address written as IPv4 so that it compares equal to
// configured IPv4 addresses.
func localAddrPort(c net.Conn) (netip.AddrPort, error) {
	a, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("local address %v is not TCP", c.LocalAddr())
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
