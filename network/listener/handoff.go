package listener

import (
	"net"
	"net/netip"
	"sync/atomic"

	"mosn.dev/proxy/network"
)

// Registry finds the listener that serves a connection whose original
// destination was recovered by a redirect or tproxy listener, following
// MOSN: the listener configured on exactly that ip:port, else the one on
// the wildcard address with that port, else none (the connection stays
// where it was accepted). It is safe for concurrent use; Set replaces the
// whole set at once.
type Registry struct {
	set atomic.Pointer[listenerSet]
}

type listenerSet struct {
	exact map[netip.AddrPort]*Listener
	// any4 holds listeners on 0.0.0.0:port, any6 those on [::]:port, by
	// port. A listener on ":port" (no host) is in both: Go opens it
	// dual-stack.
	any4 map[uint16]*Listener
	any6 map[uint16]*Listener
}

// NewRegistry returns a registry over ls (see Set).
func NewRegistry(ls []*Listener) *Registry {
	r := &Registry{}
	r.Set(ls)
	return r
}

// Set makes ls the listeners hand-offs can go to. Unix-socket and UDP
// listeners, and addresses whose host is a name rather than an IP, are
// left out. When two listeners have the same address the first wins.
func (r *Registry) Set(ls []*Listener) {
	s := &listenerSet{
		exact: make(map[netip.AddrPort]*Listener),
		any4:  make(map[uint16]*Listener),
		any6:  make(map[uint16]*Listener),
	}
	add := func(m map[uint16]*Listener, p uint16, l *Listener) {
		if _, dup := m[p]; !dup {
			m[p] = l
		}
	}
	for _, l := range ls {
		if n := l.cfg.Network; n != "" && n != "tcp" {
			continue
		}
		host, ps, err := net.SplitHostPort(l.cfg.Address)
		if err != nil {
			continue
		}
		p, err := netip.ParseAddrPort(net.JoinHostPort("0.0.0.0", ps))
		if err != nil {
			continue
		}
		port := p.Port()
		if host == "" {
			add(s.any4, port, l)
			add(s.any6, port, l)
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip == netip.IPv4Unspecified():
			add(s.any4, port, l)
		case ip == netip.IPv6Unspecified():
			add(s.any6, port, l)
		default:
			ap := netip.AddrPortFrom(ip.WithZone(""), port)
			if _, dup := s.exact[ap]; !dup {
				s.exact[ap] = l
			}
		}
	}
	r.set.Store(s)
}

// Lookup returns the listener for original destination dst ("ip:port"),
// or nil when no listener matches or dst is not an address. For an IPv4
// destination a 0.0.0.0 listener is preferred over a [::] one, and the
// other way round for IPv6.
func (r *Registry) Lookup(dst string) *Listener {
	s := r.set.Load()
	if s == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(dst)
	if err != nil {
		return nil
	}
	ip := ap.Addr().Unmap().WithZone("")
	if l := s.exact[netip.AddrPortFrom(ip, ap.Port())]; l != nil {
		return l
	}
	first, second := s.any4, s.any6
	if ip.Is6() {
		first, second = s.any6, s.any4
	}
	if l := first[ap.Port()]; l != nil {
		return l
	}
	return second[ap.Port()]
}

// handoff holds the lookup a listener asks where a connection goes.
type handoff struct {
	lookup func(dst string) *Listener
}

// SetHandoff sets the lookup this listener uses, after recovering a
// connection's original destination, to find the listener that serves it
// (typically (*Registry).Lookup over every listener of the process). A nil
// lookup, or one that returns nil or this listener, keeps connections on
// this listener. Only listeners with use_original_dst consult it.
func (l *Listener) SetHandoff(lookup func(dst string) *Listener) {
	if lookup == nil {
		l.handoff.Store(nil)
		return
	}
	l.handoff.Store(&handoff{lookup: lookup})
}

// ServeHandoff serves a connection accepted by another listener (a
// redirect or tproxy listener whose original destination matched this
// one's address) with this listener's chain. The connection is tracked for
// drain like an accepted one and reports this listener's name and idle
// timeout; when this listener is stopping it is closed at once. It returns
// without waiting for the connection to end.
func (l *Listener) ServeHandoff(c *network.Conn) {
	c.Listener = l.cfg.Name
	c.IdleTimeout = l.idle
	if !l.track(c) {
		c.Close()
		return
	}
	l.handedIn.Add(1)
	go l.serveConn(c)
}

// HandedIn returns how many connections other listeners handed to this
// one in total.
func (l *Listener) HandedIn() uint64 { return l.handedIn.Load() }
