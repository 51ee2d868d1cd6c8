// Package proxy is the `proxy` network filter: the L7 proxy. It decodes
// requests from the downstream connection, routes them with the listener's
// router (or the filter's default cluster), picks a host with the
// cluster's load balancer, forwards the request over a pooled upstream
// connection and streams the response back, writing an access-log entry
// per request.
//
// This build speaks HTTP/1.1 on both sides; HTTP/2 and the RPC protocols
// are reported as not supported yet when configured.
package proxy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/codec/http1"
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/internal/workers"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/router"
	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/upstream"
	"mosn.dev/proxy/upstream/circuit"
)

// Name is the network filter type in configs.
const Name = "proxy"

func init() { network.Filters.Register(Name, New) }

// Config is the proxy filter config (MOSN's Proxy).
type Config struct {
	Name string `json:"name,omitempty"`
	// DownstreamProtocol is "Http1" (also "HTTP1", "http1"), a comma list,
	// or "Auto". Default Http1.
	DownstreamProtocol string `json:"downstream_protocol,omitempty"`
	// UpstreamProtocol defaults to the downstream protocol ("Auto" too).
	UpstreamProtocol string `json:"upstream_protocol,omitempty"`
	// RouterConfigName names a server "routers" entry.
	RouterConfigName string `json:"router_config_name,omitempty"`
	// Cluster sends every request to one cluster when no router is named
	// (seed 001 writes it this way).
	Cluster                    string                     `json:"cluster,omitempty"`
	RouterHandlerName          string                     `json:"router_handler_name,omitempty"`
	ValidateClusters           bool                       `json:"validate_clusters,omitempty"`
	FallbackForUnknownProtocol bool                       `json:"fallback_for_unknown_protocol,omitempty"`
	ExtendConfig               map[string]json.RawMessage `json:"extend_config,omitempty"`
	ConcurrencyNum             int                        `json:"concurrency_num,omitempty"`
}

// HTTP1Options is extend_config.Http1.
type HTTP1Options struct {
	// MaxHeaderSize bounds a request head in bytes. Default 8 KiB.
	MaxHeaderSize int `json:"max_header_size,omitempty"`
	// MaxRequestBodySize bounds a request body in bytes; 0 means no limit.
	MaxRequestBodySize int64 `json:"max_request_body_size,omitempty"`
}

// DefaultTimeout is the route timeout when a route sets none (MOSN's 60s).
const DefaultTimeout = 60 * time.Second

// Proxy is a built proxy filter, shared by every connection of a listener.
type Proxy struct {
	cfg Config
	// fallback serves connections whose first bytes match no configured
	// protocol, with fallback_for_unknown_protocol (the chain's next
	// filter, tcp_proxy); nil closes them.
	fallback   network.Handler
	routes     *router.Table
	clusters   *upstream.Manager
	log        *log.Logger
	accessLogs []*accesslog.Logger
	// logLookup: an access log prints variables resolved through
	// Info.Lookup (request and response headers and the like).
	logLookup bool
	limits    http1.Limits
	maxBody   int64
	pools     *pools
	// Downstream protocols served: HTTP/1, HTTP/2 (h2c prior knowledge),
	// or both told apart by the HTTP/2 preface (Auto).
	h1, h2 bool
	http2  *h2
	// h1ToH2 sends HTTP/1 requests to h2c upstreams through http2's
	// transport (upstream_protocol Http2 with an HTTP/1 downstream).
	h1ToH2 bool
	// h1Loops: HTTP/1 connections are served by event loops (see eventLoop;
	// Linux, no stream filters, an HTTP/1 upstream). loops are started on
	// first use, one per processor.
	h1Loops     bool
	loopMu      sync.Mutex
	loops       []*eventLoop
	loopsBroken bool
	// RPC protocols served, and the shared upstream connections.
	boltOn, dubboOn bool
	mux             *muxPool
	// filters are the listener's stream_filters (HTTP and RPC requests).
	filters  *stream.ChainFactory
	stats    *stats
	breakers *circuit.Set
	// workers run HTTP/2 streams on goroutines kept between streams.
	workers workers.Pool
	// gate decides when reads yield first (yield.go).
	gate yieldGate
}

func normProto(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "http1", "http/1.1", "http1.1":
		return "Http1"
	case "http2", "h2", "h2c":
		return "Http2"
	case "bolt", "boltv2", "sofarpc":
		return "bolt"
	case "dubbo":
		return "dubbo"
	case "auto", "":
		return "Auto"
	}
	return p
}

// New builds the proxy filter from its JSON config.
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
	var problems config.Problems
	bad := func(path, format string, args ...any) {
		problems = append(problems, bc.Config.Problemf(path, format, args...))
	}
	p := &Proxy{cfg: cfg, clusters: bc.Clusters, log: bc.Log, accessLogs: bc.AccessLogs}
	for _, l := range p.accessLogs {
		p.logLookup = p.logLookup || l.Format().UsesLookup()
	}
	if p.log == nil {
		p.log = log.Nop()
	}
	for _, part := range strings.Split(cfg.DownstreamProtocol, ",") {
		if part == "" && cfg.DownstreamProtocol != "" {
			continue
		}
		switch normProto(part) {
		case "Http1":
			p.h1 = true
		case "Http2":
			p.h2 = true
		case "Auto":
			p.h1, p.h2, p.boltOn, p.dubboOn = true, true, true, true
		case "bolt":
			p.boltOn = true
		case "dubbo":
			p.dubboOn = true
		default:
			bad(config.Path(bc.Path, "downstream_protocol"), "protocol %q is not supported by this build yet (supported: Http1, Http2, bolt, dubbo, Auto)", strings.TrimSpace(part))
		}
	}
	upH2 := false
	switch up := normProto(cfg.UpstreamProtocol); up {
	case "Auto":
		// Each downstream protocol is forwarded as itself.
		upH2 = true
	case "Http1":
	case "Http2":
		upH2 = true
		// HTTP/1 requests are converted and sent as h2c streams.
		p.h1ToH2 = p.h1
	case "bolt", "dubbo":
		// RPC frames are forwarded as themselves.
		if p.h1 || p.h2 {
			bad(config.Path(bc.Path, "upstream_protocol"), "conversion between HTTP and %s is not supported", cfg.UpstreamProtocol)
		}
	default:
		bad(config.Path(bc.Path, "upstream_protocol"), "protocol %q is not supported by this build yet (supported: Http1, Http2)", cfg.UpstreamProtocol)
	}
	var opts HTTP1Options
	for k, v := range cfg.ExtendConfig {
		if normProto(k) != "Http1" {
			continue
		}
		w, err := bc.Config.DecodeRaw(config.Path(bc.Path, "extend_config", k), v, &opts)
		for _, x := range w {
			if bc.Warn != nil {
				bc.Warn(x)
			}
		}
		if err != nil {
			var ps config.Problems
			if ok := asProblems(err, &ps); ok {
				problems = append(problems, ps...)
			} else {
				bad(config.Path(bc.Path, "extend_config", k), "%v", err)
			}
		}
	}
	if opts.MaxHeaderSize < 0 {
		bad(config.Path(bc.Path, "extend_config", "Http1", "max_header_size"), "must not be negative")
	}
	p.limits = http1.Limits{MaxHeaderBytes: opts.MaxHeaderSize}
	p.maxBody = opts.MaxRequestBodySize

	switch {
	case cfg.RouterConfigName != "":
		rc := bc.Config.RouterByName(cfg.RouterConfigName)
		if rc == nil {
			bad(config.Path(bc.Path, "router_config_name"), "unknown router %q (not in servers[0].routers)", cfg.RouterConfigName)
			break
		}
		t, err := router.Build(rc, routerPath(bc.Config, cfg.RouterConfigName))
		if err != nil {
			var ps config.Problems
			if asProblems(err, &ps) {
				problems = append(problems, ps...)
			} else {
				bad(config.Path(bc.Path, "router_config_name"), "%v", err)
			}
		}
		p.routes = t
	case cfg.Cluster != "":
		if bc.Config.ClusterByName(cfg.Cluster) == nil {
			bad(config.Path(bc.Path, "cluster"), "unknown cluster %q (not in cluster_manager.clusters)", cfg.Cluster)
		}
	default:
		bad(bc.Path, "the proxy needs router_config_name or cluster")
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if bc.Listener != nil {
		lp, _, _ := strings.Cut(bc.Path, ".filter_chains")
		f, err := stream.Build(bc.Config, config.Path(lp, "stream_filters"), bc.Listener.StreamFilters)
		if err != nil {
			return nil, err
		}
		p.filters = f
	}
	lname := ""
	if bc.Listener != nil {
		lname = bc.Listener.Name
	}
	p.stats = newStats(bc.Metrics, lname)
	p.breakers = bc.Breakers
	if p.breakers == nil {
		p.breakers = &circuit.Set{}
	}
	p.pools = newPools(&p.gate)
	p.h1Loops = eventLoopsOn && p.h1 && !p.h1ToH2 && p.filters.Empty() && os.Getenv("MOSN_HTTP1_EVENT_LOOP") != "off"
	if p.h2 || p.h1ToH2 {
		p.http2 = newH2(p, upH2)
		p.http2.loops = eventLoopsOn && p.h2 && !upH2 && p.filters.Empty() && os.Getenv("MOSN_HTTP2_EVENT_LOOP") != "off"
	}
	if p.boltOn || p.dubboOn {
		p.mux = newMuxPool()
	}
	return p, nil
}

func routerPath(cfg *config.Config, name string) string {
	if srv := cfg.Server(); srv != nil {
		for i := range srv.Routers {
			if srv.Routers[i].RouterConfigName == name {
				return config.Path("servers", 0, "routers", i)
			}
		}
	}
	return "routers"
}

func asProblems(err error, ps *config.Problems) bool {
	p, ok := err.(config.Problems)
	if ok {
		*ps = p
	}
	return ok
}

// ServeConn serves one downstream connection.
// When several protocols are configured (Auto or a list), the first
// bytes pick one: 0x01/0x02 bolt, 0xdabb dubbo, the HTTP/2 preface, else
// HTTP/1.
func (p *Proxy) ServeConn(c *network.Conn) {
	n := 0
	for _, on := range []bool{p.h1, p.h2, p.boltOn, p.dubboOn} {
		if on {
			n++
		}
	}
	if n > 1 {
		if t := c.IdleTimeout; t > 0 {
			c.SetReadDeadline(time.Now().Add(t))
		}
		first, err := network.Peek(c.Conn, 8)
		if err == nil && p.h2 && len(first) > 0 && first[0] == http2Preface[0] {
			var isH2 bool
			isH2, err = network.PeekPrefix(c.Conn, http2Preface)
			if isH2 {
				c.SetReadDeadline(time.Time{})
				p.http2.serve(c)
				return
			}
		}
		c.SetReadDeadline(time.Time{})
		if err != nil || len(first) == 0 {
			c.Close()
			return
		}
		switch {
		case p.boltOn && (first[0] == 0x01 || first[0] == 0x02):
			p.serveRPC(c, boltCodec{})
		case p.dubboOn && first[0] == 0xda:
			p.serveRPC(c, dubboCodec{})
		case p.h1 && (p.fallback == nil || looksHTTP1(first)):
			newH1Server(p, c).serve()
		case p.fallback != nil:
			p.fallback.ServeConn(c)
		default:
			c.Close()
		}
		return
	}
	switch {
	case p.h2:
		p.http2.serve(c)
	case p.boltOn:
		p.serveRPC(c, boltCodec{})
	case p.dubboOn:
		p.serveRPC(c, dubboCodec{})
	default:
		newH1Server(p, c).serve()
	}
}

// looksHTTP1 reports whether a connection's first bytes can start an
// HTTP/1 request line: a method token of upper-case letters, then a
// space (or only letters so far).
func looksHTTP1(b []byte) bool {
	for i, ch := range b {
		switch {
		case ch >= 'A' && ch <= 'Z':
		case ch == ' ' && i > 0:
			return true
		default:
			return false
		}
	}
	return len(b) > 0
}

// FallbackForUnknownProtocol reports whether the filter hands unknown
// protocols to the next filter of its chain.
func (p *Proxy) FallbackForUnknownProtocol() bool { return p.cfg.FallbackForUnknownProtocol }

// SetFallback sets the handler for connections no configured protocol
// claims (the chain's next filter).
func (p *Proxy) SetFallback(h network.Handler) { p.fallback = h }

func (p *Proxy) String() string { return fmt.Sprintf("proxy(%s)", p.cfg.RouterConfigName) }

var _ network.Handler = (*Proxy)(nil)
