package listener

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// The netfilter socket options that return a redirected connection's
// original destination: SO_ORIGINAL_DST at SOL_IP (a sockaddr_in) and
// IP6T_SO_ORIGINAL_DST at SOL_IPV6 (a sockaddr_in6). Both are 80.
const (
	soOriginalDst     = 80
	ip6tSoOriginalDst = 80
)

// redirectDst reads the original destination of a connection that an
// iptables REDIRECT (or DNAT) rule sent here. It fails with ENOENT when
// conntrack has no entry for the connection (it was not redirected and
// conntrack is off in this network namespace).
func redirectDst(c net.Conn) (netip.AddrPort, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%T has no socket to ask for SO_ORIGINAL_DST", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	local, err := localAddrPort(c)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var (
		ap   netip.AddrPort
		serr error
	)
	// The IPv4 option also answers for IPv4 clients of a dual-stack IPv6
	// socket, so the family of the connection decides, not the socket's.
	cerr := rc.Control(func(fd uintptr) {
		if local.Addr().Is4() {
			var m *unix.IPv6Mreq
			// IPv6Mreq is 20 bytes, room for the 16-byte sockaddr_in.
			m, serr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, soOriginalDst)
			if serr == nil {
				ap, serr = parseSockaddrIn(m.Multiaddr[:])
			}
			return
		}
		var info *unix.IPv6MTUInfo
		// IPv6MTUInfo starts with a sockaddr_in6, the struct the kernel
		// fills (it refuses buffers shorter than that).
		info, serr = unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, ip6tSoOriginalDst)
		if serr == nil {
			ap, serr = sockaddrIn6(&info.Addr)
		}
	})
	if cerr != nil {
		return netip.AddrPort{}, cerr
	}
	if serr != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockopt SO_ORIGINAL_DST: %w", serr)
	}
	return ap, nil
}

// parseSockaddrIn decodes a struct sockaddr_in as the kernel writes it:
// family in host byte order, then port and address in network byte order.
func parseSockaddrIn(b []byte) (netip.AddrPort, error) {
	if len(b) < 8 {
		return netip.AddrPort{}, errors.New("sockaddr_in too short")
	}
	if f := binary.NativeEndian.Uint16(b[0:2]); f != unix.AF_INET {
		return netip.AddrPort{}, fmt.Errorf("sockaddr_in has family %d, want AF_INET", f)
	}
	port := binary.BigEndian.Uint16(b[2:4])
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), nil
}

// sockaddrIn6 converts a struct sockaddr_in6 whose Port field holds the
// port in network byte order, as the kernel writes it.
func sockaddrIn6(sa *unix.RawSockaddrInet6) (netip.AddrPort, error) {
	if sa.Family != unix.AF_INET6 {
		return netip.AddrPort{}, fmt.Errorf("sockaddr_in6 has family %d, want AF_INET6", sa.Family)
	}
	var p [2]byte
	binary.NativeEndian.PutUint16(p[:], sa.Port)
	ip := netip.AddrFrom16(sa.Addr).Unmap()
	return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(p[:])), nil
}
