// Package tcpproxy is the tcp_proxy network filter: it picks an upstream
// cluster for each downstream connection (by source/destination CIDR
// routes or a default cluster), connects to a host chosen by the cluster's
// load balancer, and pipes bytes both ways with half-close and an idle
// timeout.
package tcpproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/metrics"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
)

// Name is the network filter type in configs.
const Name = "tcp_proxy"

func init() {
	network.Filters.Register(Name, New)
}

// Config is the tcp_proxy filter config (MOSN's StreamProxy).
type Config struct {
	StatPrefix string `json:"stat_prefix,omitempty"`
	// Cluster receives connections that match no route.
	Cluster string `json:"cluster,omitempty"`
	// IdleTimeout closes a connection with no bytes either way for this
	// long. Default: the listener's connection_idle_timeout, else none.
	IdleTimeout *config.Duration `json:"idle_timeout,omitempty"`
	// MaxConnectAttempts is how many hosts are tried before giving up.
	// Default 1.
	MaxConnectAttempts uint32  `json:"max_connect_attempts,omitempty"`
	Routes             []Route `json:"routes,omitempty"`
}

// Route sends connections whose addresses match to Cluster. Empty lists
// match anything; ports are "80" or ranges "8000-8080".
type Route struct {
	Cluster          string      `json:"cluster,omitempty"`
	SourceAddrs      []CidrRange `json:"source_addrs,omitempty"`
	DestinationAddrs []CidrRange `json:"destination_addrs,omitempty"`
	SourcePort       string      `json:"source_port,omitempty"`
	DestinationPort  string      `json:"destination_port,omitempty"`
}

// CidrRange is MOSN's {"address": "10.0.0.0", "length": 8}.
type CidrRange struct {
	Address string `json:"address,omitempty"`
	Length  uint32 `json:"length,omitempty"`
}

type route struct {
	cluster  string
	src, dst []netip.Prefix
	srcPorts portRange
	dstPorts portRange
}

type portRange struct{ lo, hi uint16 } // zero value matches every port

func (r portRange) match(p uint16) bool {
	return r.hi == 0 || (p >= r.lo && p <= r.hi)
}

// Proxy is a built tcp_proxy filter; it is the chain's network.Handler.
type Proxy struct {
	cfg         Config
	routes      []route
	idle        time.Duration
	attempts    int
	clusters    *upstream.Manager
	log         *log.Logger
	accessLogs  []*accesslog.Logger
	listenerCfg *config.Listener

	conns                 *metrics.Counter
	activeG               *metrics.Gauge
	bytesRead, bytesWrite *metrics.Counter
	connFail              *metrics.Counter
}

// New builds a tcp_proxy from its JSON config; errors name the JSON path.
func New(bc *network.BuildContext, raw json.RawMessage) (any, error) {
	var cfg Config
	warnings, err := bc.Config.DecodeRaw(bc.Path, raw, &cfg)
	for _, w := range warnings {
		if bc.Warn != nil {
			bc.Warn(w)
		}
	}
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:         cfg,
		idle:        cfg.IdleTimeout.D(),
		attempts:    int(cfg.MaxConnectAttempts),
		clusters:    bc.Clusters,
		log:         bc.Log,
		accessLogs:  bc.AccessLogs,
		listenerCfg: bc.Listener,
	}
	if p.attempts == 0 {
		p.attempts = 1
	}
	if bc.Metrics != nil && bc.Listener != nil {
		set := bc.Metrics.Set("downstream", "listener", bc.Listener.Name)
		p.conns = set.Counter("connection_total")
		p.activeG = set.Gauge("connection_active")
		p.bytesRead = set.Counter("bytes_read_total")
		p.bytesWrite = set.Counter("bytes_write_total")
		p.connFail = set.Counter("connection_con_fail")
	}
	var problems config.Problems
	bad := func(path, format string, args ...any) {
		problems = append(problems, bc.Config.Problemf(path, format, args...))
	}
	if cfg.Cluster == "" && len(cfg.Routes) == 0 {
		bad(bc.Path, "tcp_proxy needs a cluster or routes")
	}
	checkCluster(bc, config.Path(bc.Path, "cluster"), cfg.Cluster, bad)
	for i, r := range cfg.Routes {
		rp := config.Path(bc.Path, "routes", i)
		if r.Cluster == "" {
			bad(rp, "a route needs a cluster")
		}
		checkCluster(bc, config.Path(rp, "cluster"), r.Cluster, bad)
		rt := route{
			cluster: r.Cluster,
			src:     prefixes(r.SourceAddrs, config.Path(rp, "source_addrs"), bad),
			dst:     prefixes(r.DestinationAddrs, config.Path(rp, "destination_addrs"), bad),
		}
		if rt.srcPorts, err = parsePorts(r.SourcePort); err != nil {
			bad(config.Path(rp, "source_port"), "%v", err)
		}
		if rt.dstPorts, err = parsePorts(r.DestinationPort); err != nil {
			bad(config.Path(rp, "destination_port"), "%v", err)
		}
		p.routes = append(p.routes, rt)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return p, nil
}

func checkCluster(bc *network.BuildContext, path, name string, bad func(string, string, ...any)) {
	if name != "" && bc.Config != nil && bc.Config.ClusterByName(name) == nil {
		bad(path, "unknown cluster %q (not in cluster_manager.clusters)", name)
	}
}

func prefixes(rs []CidrRange, path string, bad func(string, string, ...any)) []netip.Prefix {
	var out []netip.Prefix
	for i, r := range rs {
		addr, err := netip.ParseAddr(r.Address)
		if err != nil {
			bad(config.Path(path, i, "address"), "invalid IP %q", r.Address)
			continue
		}
		if int(r.Length) > addr.BitLen() {
			bad(config.Path(path, i, "length"), "%d is longer than the address (%d bits)", r.Length, addr.BitLen())
			continue
		}
		pf, _ := addr.Prefix(int(r.Length))
		out = append(out, pf)
	}
	return out
}

func parsePorts(s string) (portRange, error) {
	if s == "" {
		return portRange{}, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	if err != nil || a == 0 {
		return portRange{}, fmt.Errorf("invalid port %q", s)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 16); err != nil || b < a {
			return portRange{}, fmt.Errorf("invalid port range %q", s)
		}
	}
	return portRange{uint16(a), uint16(b)}, nil
}

func matchAny(ps []netip.Prefix, a netip.Addr) bool {
	if len(ps) == 0 {
		return true
	}
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clusterFor returns the cluster for a connection from src to dst.
func (p *Proxy) clusterFor(src, dst netip.AddrPort) string {
	for i := range p.routes {
		r := &p.routes[i]
		if matchAny(r.src, src.Addr()) && matchAny(r.dst, dst.Addr()) &&
			r.srcPorts.match(src.Port()) && r.dstPorts.match(dst.Port()) {
			return r.cluster
		}
	}
	return p.cfg.Cluster
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// ServeConn proxies one downstream connection and closes it.
func (p *Proxy) ServeConn(c *network.Conn) {
	p.conns.Inc()
	p.activeG.Add(1)
	defer p.activeG.Add(-1)
	info := accesslog.Info{
		StartTime:               c.Start,
		Protocol:                "TCP",
		ConnectionID:            c.ID,
		ListenerName:            c.Listener,
		DownstreamLocalAddress:  c.LocalAddr().String(),
		DownstreamRemoteAddress: c.RemoteAddr().String(),
	}
	defer p.logAccess(&info, c.Start)

	dst := addrPort(c.LocalAddr())
	if c.OriginalDst != "" {
		if ap, err := netip.ParseAddrPort(c.OriginalDst); err == nil {
			dst = ap
		}
	}
	name := p.clusterFor(addrPort(c.RemoteAddr()), dst)
	info.UpstreamCluster = name
	cl := p.clusters.Get(name)
	if cl == nil {
		p.log.Warnf("[tcpproxy] connection %d: cluster %q not found, closing", c.ID, name)
		info.ResponseFlags |= accesslog.NoRouteFound
		c.Close()
		return
	}
	lbctx := upstream.LBContext{OriginalDst: c.OriginalDst}
	if lbctx.OriginalDst == "" && cl.Config().LbType == "LB_ORIGINAL_DST" {
		lbctx.OriginalDst = dst.String()
	}
	up, host, err := p.connect(cl, &lbctx, c)
	if err != nil {
		if host == nil {
			info.ResponseFlags |= accesslog.NoHealthyUpstream
		} else {
			info.ResponseFlags |= accesslog.UpstreamConnectionFailure
			info.UpstreamHost = host.Address()
		}
		p.connFail.Inc()
		p.log.Warnf("[tcpproxy] connection %d from %s: %v", c.ID, c.RemoteAddr(), err)
		c.Close()
		return
	}
	defer host.ConnEnd()
	info.UpstreamHost = host.Address()
	info.UpstreamLocalAddress = up.LocalAddr().String()

	idle := p.idle
	if idle == 0 {
		idle = c.IdleTimeout
	}
	res := network.Pipe(c.Conn, up, idle)
	info.BytesReceived = uint64(res.Sent)
	info.BytesSent = uint64(res.Received)
	p.bytesRead.Add(res.Sent)
	p.bytesWrite.Add(res.Received)
	if res.Idle() {
		p.log.Debugf("[tcpproxy] connection %d closed after %s idle", c.ID, idle)
	}
}

// connect tries up to max_connect_attempts hosts. The chosen host counts
// the connection as active from the moment it is picked, so that a burst
// of connections spreads over LB_LEAST_CONNECTION hosts before any
// connect completes. On success the caller owns the host's ConnEnd.
func (p *Proxy) connect(cl *upstream.Cluster, lbctx *upstream.LBContext, c *network.Conn) (net.Conn, *upstream.Host, error) {
	var last *upstream.Host
	var lastErr error
	for i := 0; i < p.attempts; i++ {
		lbctx.Exclude = last
		h := cl.Pick(lbctx)
		if h == nil {
			if last != nil {
				return nil, last, lastErr
			}
			return nil, nil, fmt.Errorf("cluster %q has no healthy host", cl.Name())
		}
		h.ConnStart()
		up, err := cl.Dial(context.Background(), h)
		if err == nil {
			cl.ReportResult(h, true)
			return up, h, nil
		}
		h.ConnEnd()
		last, lastErr = h, err
	}
	return nil, last, lastErr
}

func (p *Proxy) logAccess(info *accesslog.Info, start time.Time) {
	if len(p.accessLogs) == 0 {
		return
	}
	info.Duration = time.Since(start)
	for _, l := range p.accessLogs {
		l.Log(info)
	}
}

var _ network.Handler = (*Proxy)(nil)
