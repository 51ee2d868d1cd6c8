//go:build !linux

package listener

import (
	"errors"
	"net"
	"net/netip"
)

// redirectDst fails outside Linux: SO_ORIGINAL_DST is a netfilter option.
func redirectDst(net.Conn) (netip.AddrPort, error) {
	return netip.AddrPort{}, errors.New("use_original_dst redirect needs Linux (SO_ORIGINAL_DST)")
}
