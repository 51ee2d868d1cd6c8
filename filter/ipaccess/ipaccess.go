// Package ipaccess is the "ip_access" stream filter: it allows or denies
// requests by client IP address with ordered allow/deny rules, like
// nginx's access module. Its config is MOSN's ip_access:
//
//	{"type": "ip_access", "config": {
//	  "default_action": "deny",
//	  "header": "x-forwarded-for",
//	  "ips": [
//	    {"action": "deny", "addrs": ["10.1.0.0/16"]},
//	    {"action": "allow", "addrs": ["10.0.0.0/8", "127.0.0.1"]}]}}
//
// The first rule with an address that contains the client IP decides;
// when none does, default_action does. A denied request is answered with
// 403 "forbidden".
package ipaccess

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/stream"
)

// Name is the filter's type in stream_filters.
const Name = "ip_access"

// DeniedStatus and DeniedBody are the reply to a denied request.
const (
	DeniedStatus = 403
	DeniedBody   = "forbidden"
)

// Actions.
const (
	Allow = "allow"
	Deny  = "deny"
)

func init() {
	stream.Filters.Register(Name, Build)
}

// Config is the filter's JSON config.
type Config struct {
	// DefaultAction applies when no rule matches: "allow" (the default)
	// or "deny".
	DefaultAction string `json:"default_action,omitempty"`
	// Header, when set, names a request header holding the client IP
	// (such as x-forwarded-for: its first address is used). Without the
	// header, or when it is empty, the connection's peer address is used.
	Header string `json:"header,omitempty"`
	// Ips are the rules, tried in order.
	Ips []Rule `json:"ips,omitempty"`
}

// Rule allows or denies the addresses it lists.
type Rule struct {
	// Action is "allow" or "deny".
	Action string `json:"action,omitempty"`
	// Addrs are IP addresses ("127.0.0.1", "::1") or CIDR prefixes
	// ("10.0.0.0/8", "0.0.0.0/0" for every IPv4 address); at least one.
	Addrs []string `json:"addrs,omitempty"`
}

type rule struct {
	allow    bool
	prefixes []netip.Prefix
}

// filter is immutable once built, so every request shares it.
type filter struct {
	header  string
	rules   []rule
	dfltYes bool
}

// Build parses the config; problems name JSON paths below path.
func Build(cfg *config.Config, path string, raw json.RawMessage) (stream.Factory, error) {
	var c Config
	if _, err := cfg.DecodeRaw(path, raw, &c); err != nil {
		return nil, err
	}
	var ps config.Problems
	f := &filter{header: c.Header}
	switch c.DefaultAction {
	case "", Allow:
		f.dfltYes = true
	case Deny:
	default:
		ps = append(ps, cfg.Problemf(config.Path(path, "default_action"), "must be %q or %q, got %q", Allow, Deny, c.DefaultAction))
	}
	for i, r := range c.Ips {
		rp := config.Path(path, "ips", i)
		var nr rule
		switch r.Action {
		case Allow:
			nr.allow = true
		case Deny:
		default:
			ps = append(ps, cfg.Problemf(config.Path(rp, "action"), "must be %q or %q, got %q", Allow, Deny, r.Action))
		}
		if len(r.Addrs) == 0 {
			ps = append(ps, cfg.Problemf(config.Path(rp, "addrs"), "list at least one address or CIDR prefix"))
		}
		for j, a := range r.Addrs {
			p, err := parsePrefix(a)
			if err != nil {
				ps = append(ps, cfg.Problemf(config.Path(rp, "addrs", j), "%q is not an IP address or CIDR prefix", a))
				continue
			}
			nr.prefixes = append(nr.prefixes, p)
		}
		f.rules = append(f.rules, nr)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return f, nil
}

// parsePrefix reads an address (a one-address prefix) or a CIDR prefix.
// Host bits are masked off, so "10.1.2.3/8" means 10.0.0.0/8 as in
// net.ParseCIDR. IPv4-mapped IPv6 forms are unmapped so that they match
// IPv4 clients.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// New returns the shared filter: it keeps no per-request state.
func (f *filter) New() any { return f }

// Phases is BeforeRoute, as in MOSN: denied requests cost no routing.
func (f *filter) Phases() []stream.Phase { return []stream.Phase{stream.BeforeRoute} }

// OnReceive answers 403 to a denied client.
func (f *filter) OnReceive(_ context.Context, cb stream.ReceiverCallbacks, _ stream.Phase) stream.Status {
	if f.allowed(f.clientIP(cb)) {
		return stream.Continue
	}
	cb.Reply(DeniedStatus, nil, DeniedBody)
	return stream.Stop
}

// allowed applies the rules to ip; an invalid ip matches no rule.
func (f *filter) allowed(ip netip.Addr) bool {
	if ip.IsValid() {
		for i := range f.rules {
			r := &f.rules[i]
			for _, p := range r.prefixes {
				if p.Contains(ip) {
					return r.allow
				}
			}
		}
	}
	return f.dfltYes
}

// clientIP is the first address in the configured header, else the peer
// address. The zero Addr means it could not be read.
func (f *filter) clientIP(cb stream.ReceiverCallbacks) netip.Addr {
	if f.header != "" {
		if v, ok := cb.RequestHeaders().Get(f.header); ok {
			if first, _, _ := strings.Cut(v, ","); strings.TrimSpace(first) != "" {
				return parseHost(strings.TrimSpace(first))
			}
		}
	}
	switch a := cb.RemoteAddr().(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	default:
		return parseHost(a.String())
	}
}

// parseHost reads "1.2.3.4", "1.2.3.4:80", "::1" or "[::1]:80".
func parseHost(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	// A bracketed IPv6 address without a port.
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}
