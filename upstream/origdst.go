package upstream

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"mosn.dev/proxy/config"
)

// defaultOrigDstMax bounds the destinations an LB_ORIGINAL_DST cluster
// caches.
const defaultOrigDstMax = 4096

// origDstPort is the port assumed when the destination has none, as MOSN
// does for header-supplied destinations.
const origDstPort = "80"

// origDstPool makes and caches the hosts of an LB_ORIGINAL_DST cluster.
//
// Lookups take a read lock only. The cache is keyed by the raw destination
// string so that the hit path does not allocate; different raw strings that
// normalise to one address (as replace_local makes likely) share one Host.
type origDstPool struct {
	cluster      string
	replaceLocal bool
	max          int

	mu     sync.RWMutex
	byRaw  map[string]*Host
	byAddr map[string]*Host
}

func newOrigDstPool(cluster string, replaceLocal bool, max int) *origDstPool {
	return &origDstPool{
		cluster:      cluster,
		replaceLocal: replaceLocal,
		max:          max,
		byRaw:        make(map[string]*Host),
		byAddr:       make(map[string]*Host),
	}
}

func (p *origDstPool) pick(ctx *LBContext) *Host {
	if ctx == nil || ctx.OriginalDst == "" {
		return nil
	}
	raw := ctx.OriginalDst
	p.mu.RLock()
	h := p.byRaw[raw]
	p.mu.RUnlock()
	if h != nil {
		return h
	}
	addr, ok := normalizeOrigDst(raw, p.replaceLocal)
	if !ok {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h = p.byRaw[raw]; h != nil {
		return h
	}
	h = p.byAddr[addr]
	if h == nil {
		h = NewHost(config.Host{Address: addr}, p.cluster)
	}
	if len(p.byRaw) >= p.max {
		p.evictIdle()
		if len(p.byRaw) >= p.max {
			// Every cached destination is busy: serve this one uncached
			// rather than grow without bound.
			return h
		}
	}
	p.byRaw[strings.Clone(raw)] = h
	p.byAddr[addr] = h
	return h
}

// evictIdle drops the cached hosts that have no connection or request in
// flight. Called with p.mu held.
func (p *origDstPool) evictIdle() {
	idle := func(h *Host) bool { return h.ActiveConns() == 0 && h.ActiveRequests() == 0 }
	for k, h := range p.byRaw {
		if idle(h) {
			delete(p.byRaw, k)
		}
	}
	for k, h := range p.byAddr {
		if idle(h) {
			delete(p.byAddr, k)
		}
	}
}

// hostsSorted returns the cached hosts, one per address, sorted by address.
func (p *origDstPool) hostsSorted() []*Host {
	p.mu.RLock()
	hosts := make([]*Host, 0, len(p.byAddr))
	for _, h := range p.byAddr {
		hosts = append(hosts, h)
	}
	p.mu.RUnlock()
	slices.SortFunc(hosts, func(a, b *Host) int { return strings.Compare(a.address, b.address) })
	return hosts
}

// normalizeOrigDst turns a destination ("ip:port", "ip", "[v6]:port",
// a bare IPv6 address without zone, or "name[:port]" from a header) into
// "host:port",
// with port 80 when missing and the host replaced by 127.0.0.1 when
// replaceLocal is set. It reports false for anything else.
func normalizeOrigDst(s string, replaceLocal bool) (string, bool) {
	host, port := s, origDstPort
	// Zones ("fe80::1%eth0") are refused: they mean nothing off this
	// machine and netip accepts any bytes in them.
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			return "", false
		}
		host, port = ap.Addr().String(), strconv.Itoa(int(ap.Port()))
	} else if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		host = a.String()
	} else {
		if h, p, err := net.SplitHostPort(s); err == nil {
			host, port = h, p
		}
		var ok bool
		if port, ok = canonicalPort(port); !ok || !validHostname(host) {
			return "", false
		}
	}
	if replaceLocal {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), true
}

// canonicalPort returns p, a decimal port 1..65535, without leading zeros.
func canonicalPort(p string) (string, bool) {
	if p == "" || len(p) > 5 || p[0] < '0' || p[0] > '9' {
		return "", false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return strconv.Itoa(n), true
}

// validHostname accepts DNS names: letters, digits, '-', '_' and
// non-empty dot-separated labels of at most 63 bytes, 253 in all.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 || h[len(h)-1] == '.'
}
