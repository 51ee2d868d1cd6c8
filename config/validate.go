package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// LBTypes are the accepted cluster lb_type names ("" means LB_ROUNDROBIN).
var LBTypes = []string{
	"LB_RANDOM",
	"LB_ROUNDROBIN",
	"LB_WEIGHTED_ROUNDROBIN",
	"LB_LEAST_CONNECTION",
	"LB_LEAST_REQUEST",
	"LB_ORIGINAL_DST",
	"LB_MAGLEV",
	"LB_RINGHASH",
	"LB_REQUEST_ROUNDROBIN",
	"LB_PEAK_EWMA",
}

// ClusterTypes are the supported cluster types ("" means SIMPLE). STATIC,
// EDS and DYNAMIC are MOSN aliases of SIMPLE.
var ClusterTypes = []string{"SIMPLE", "STATIC", "EDS", "DYNAMIC", "ORIGINAL_DST"}

// LogLevels are the accepted log level names, matched case-insensitively.
var LogLevels = []string{"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"}

// HealthCheckProtocols are the accepted health_check protocols ("" means
// tcp).
var HealthCheckProtocols = []string{"tcp", "Http1", "http1", "bolt", "dubbo"}

// validator collects semantic problems with their paths.
type validator struct {
	cfg   *Config
	probs Problems
}

func (v *validator) errorf(path string, format string, args ...any) {
	v.probs = append(v.probs, v.cfg.Problemf(path, format, args...))
}

// Validate checks the settings that the JSON types cannot express and
// returns every problem found, each with its JSON path (and position when
// the config came from Parse). An empty result means the config is
// usable. Filter configs (the "config" of filters) are checked by their
// factories, not here.
func (c *Config) Validate() Problems {
	v := &validator{cfg: c}
	if len(c.Servers) > 1 {
		v.errorf(Path("servers", 1), "MOSN supports at most one server, got %d", len(c.Servers))
	}
	for i := range c.Servers {
		v.server(Path("servers", i), &c.Servers[i])
	}
	v.clusterManager("cluster_manager", &c.ClusterManager)
	if c.Admin != nil {
		sa := c.Admin.Address.SocketAddress
		p := Path("admin", "address", "socket_address")
		if sa.PortValue > 65535 {
			v.errorf(Path(p, "port_value"), "port %d out of range (1..65535)", sa.PortValue)
		}
		if sa.Address != "" && !validHost(sa.Address, true) {
			v.errorf(Path(p, "address"), "invalid address %q: want an IP address or host name", sa.Address)
		}
	}
	if c.Pprof != nil {
		if c.Pprof.PortValue > 65535 {
			v.errorf(Path("pprof", "port_value"), "port %d out of range (1..65535)", c.Pprof.PortValue)
		}
		if c.Pprof.Endpoint != "" && !validHost(c.Pprof.Endpoint, true) {
			v.errorf(Path("pprof", "endpoint"), "invalid address %q: want an IP address or host name", c.Pprof.Endpoint)
		}
	}
	if c.Metrics != nil {
		v.filters(Path("metrics", "sinks"), c.Metrics.Sinks)
	}
	if c.Tracing != nil && c.Tracing.Enable && c.Tracing.Driver == "" {
		v.errorf(Path("tracing", "driver"), "a driver is required when tracing is enabled")
	}
	return v.probs
}

func (v *validator) server(path string, s *Server) {
	v.logLevel(Path(path, "default_log_level"), s.DefaultLogLevel)
	names := make(map[string]int)
	for i := range s.Listeners {
		l := &s.Listeners[i]
		lp := Path(path, "listeners", i)
		if l.Name == "" {
			v.errorf(Path(lp, "name"), "a listener name is required")
		} else if first, dup := names[l.Name]; dup {
			v.errorf(Path(lp, "name"), "duplicate listener name %q (first at %s)", l.Name, Path(path, "listeners", first))
		} else {
			names[l.Name] = i
		}
		v.listener(lp, l)
	}
	routers := make(map[string]int)
	for i := range s.Routers {
		r := &s.Routers[i]
		rp := Path(path, "routers", i)
		if r.RouterConfigName == "" {
			v.errorf(Path(rp, "router_config_name"), "a router_config_name is required")
		} else if first, dup := routers[r.RouterConfigName]; dup {
			v.errorf(Path(rp, "router_config_name"), "duplicate router_config_name %q (first at %s)", r.RouterConfigName, Path(path, "routers", first))
		} else {
			routers[r.RouterConfigName] = i
		}
		v.router(rp, r)
	}
}

func (v *validator) logLevel(path, level string) {
	if level == "" {
		return
	}
	for _, l := range LogLevels {
		if strings.EqualFold(l, level) {
			return
		}
	}
	v.errorf(path, "unknown log level %q (want one of %s)", level, strings.Join(LogLevels, ", "))
}

func (v *validator) listener(path string, l *Listener) {
	switch l.Type {
	case "", "ingress", "egress":
	default:
		v.errorf(Path(path, "type"), "unknown listener type %q (want ingress or egress)", l.Type)
	}
	network := strings.ToLower(l.Network)
	switch network {
	case "", "tcp":
	case "udp", "unix":
		v.errorf(Path(path, "network"), "network %q is not supported yet (only tcp)", l.Network)
	default:
		v.errorf(Path(path, "network"), "unknown network %q (want tcp, udp or unix)", l.Network)
	}
	switch {
	case l.Address == "":
		v.errorf(Path(path, "address"), "an address is required")
	case network == "unix":
		// A socket path; any non-empty string will do.
	default:
		if err := checkHostPort(l.Address, false); err != nil {
			v.errorf(Path(path, "address"), "%v", err)
		}
	}
	switch l.UseOriginalDst {
	case "", "redirect", "tproxy":
	default:
		v.errorf(Path(path, "use_original_dst"), "unknown use_original_dst %q (want redirect or tproxy)", l.UseOriginalDst)
	}
	v.logLevel(Path(path, "log_level"), l.LogLevel)
	for i, al := range l.AccessLogs {
		if al.Path == "" {
			v.errorf(Path(path, "access_logs", i, "log_path"), "a log_path is required (a file, stdout or stderr)")
		}
	}
	v.filters(Path(path, "listener_filters"), l.ListenerFilters)
	for i := range l.FilterChains {
		fc := &l.FilterChains[i]
		fp := Path(path, "filter_chains", i)
		v.tls(Path(fp, "tls_context"), fc.TLSContext)
		for j := range fc.TLSContextSet {
			v.tls(Path(fp, "tls_context_set", j), &fc.TLSContextSet[j])
		}
		v.filters(Path(fp, "filters"), fc.Filters)
	}
	v.filters(Path(path, "stream_filters"), l.StreamFilters)
	if l.DefaultReadBufferSize < 0 {
		v.errorf(Path(path, "default_read_buffer_size"), "must not be negative")
	}
}

func (v *validator) filters(path string, fs []Filter) {
	for i, f := range fs {
		if f.Type == "" {
			v.errorf(Path(path, i, "type"), "a filter type is required")
		}
	}
}

func (v *validator) tls(path string, t *TLSConfig) {
	if t != nil && t.Status {
		v.errorf(Path(path, "status"), "TLS is not supported yet")
	}
}

func (v *validator) router(path string, r *Router) {
	defaultHost := -1
	for i := range r.VirtualHosts {
		vh := &r.VirtualHosts[i]
		vp := Path(path, "virtual_hosts", i)
		for j, d := range vh.Domains {
			if d == "" {
				v.errorf(Path(vp, "domains", j), "empty domain")
			}
			if d == "*" {
				if defaultHost >= 0 && defaultHost != i {
					v.errorf(Path(vp, "domains", j), `duplicate default virtual host "*" (first at %s)`, Path(path, "virtual_hosts", defaultHost))
				} else {
					defaultHost = i
				}
			}
		}
		for j := range vh.Routers {
			v.route(Path(vp, "routers", j), &vh.Routers[j])
		}
		v.headers(vp, vh.RequestHeadersToAdd, vh.ResponseHeadersToAdd)
	}
	v.headers(path, r.RequestHeadersToAdd, r.ResponseHeadersToAdd)
}

func (v *validator) headers(path string, req, resp []HeaderValueOption) {
	check := func(name string, hs []HeaderValueOption) {
		for i, h := range hs {
			if h.Header == nil || h.Header.Key == "" {
				v.errorf(Path(path, name, i, "header", "key"), "a header key is required")
			}
		}
	}
	check("request_headers_to_add", req)
	check("response_headers_to_add", resp)
}

func (v *validator) regex(path, expr string) {
	if _, err := regexp.Compile(expr); err != nil {
		v.errorf(path, "invalid regular expression: %v", err)
	}
}

func (v *validator) route(path string, r *Route) {
	m := &r.Match
	mp := Path(path, "match")
	set := 0
	for _, s := range []string{m.Prefix, m.Path, m.Regex} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		v.errorf(mp, "set at most one of prefix, path and regex")
	}
	if m.Regex != "" {
		v.regex(Path(mp, "regex"), m.Regex)
	}
	for i, h := range m.Headers {
		hp := Path(mp, "headers", i)
		if h.Name == "" {
			v.errorf(Path(hp, "name"), "a header name is required")
		}
		if h.Regex {
			v.regex(Path(hp, "value"), h.Value)
		}
	}

	actions := 0
	if r.Route != nil {
		actions++
	}
	if r.DirectResponse != nil {
		actions++
	}
	if r.Redirect != nil {
		actions++
	}
	if actions != 1 {
		v.errorf(path, "set exactly one of route, direct_response and redirect (got %d)", actions)
	}
	if a := r.Route; a != nil {
		v.routeAction(Path(path, "route"), a)
	}
	if dr := r.DirectResponse; dr != nil && (dr.StatusCode < 100 || dr.StatusCode > 599) {
		v.errorf(Path(path, "direct_response", "status"), "status %d out of range (100..599)", dr.StatusCode)
	}
	if rd := r.Redirect; rd != nil {
		switch rd.ResponseCode {
		case 0, 301, 302, 303, 307, 308:
		default:
			v.errorf(Path(path, "redirect", "response_code"), "response_code %d is not a redirect (want 301, 302, 303, 307 or 308)", rd.ResponseCode)
		}
	}
}

func (v *validator) routeAction(path string, a *RouteAction) {
	if a.ClusterName == "" && a.ClusterHeader == "" && a.ClusterVariable == "" && len(a.WeightedClusters) == 0 {
		v.errorf(path, "set one of cluster_name, cluster_header, cluster_variable and weighted_clusters")
	}
	for i, wc := range a.WeightedClusters {
		cp := Path(path, "weighted_clusters", i, "cluster")
		if wc.Cluster.Name == "" {
			v.errorf(Path(cp, "name"), "a cluster name is required")
		}
		if wc.Cluster.Weight == 0 {
			v.errorf(Path(cp, "weight"), "weight must be greater than 0")
		}
	}
	for i, hp := range a.HashPolicy {
		pp := Path(path, "hash_policy", i)
		n := 0
		if hp.Header != nil {
			n++
			if hp.Header.Key == "" {
				v.errorf(Path(pp, "header", "key"), "a header key is required")
			}
		}
		if hp.Cookie != nil {
			n++
			if hp.Cookie.Name == "" {
				v.errorf(Path(pp, "cookie", "name"), "a cookie name is required")
			}
		}
		if hp.SourceIP != nil {
			n++
		}
		if n != 1 {
			v.errorf(pp, "set exactly one of header, cookie and source_ip")
		}
	}
	if rr := a.RegexRewrite; rr != nil {
		v.regex(Path(path, "regex_rewrite", "pattern", "regex"), rr.Pattern.Regex)
	}
	v.headers(path, a.RequestHeadersToAdd, a.ResponseHeadersToAdd)
}

func (v *validator) clusterManager(path string, cm *ClusterManager) {
	v.tls(Path(path, "tls_context"), cm.TLSContext)
	names := make(map[string]int)
	for i := range cm.Clusters {
		c := &cm.Clusters[i]
		cp := Path(path, "clusters", i)
		if c.Name == "" {
			v.errorf(Path(cp, "name"), "a cluster name is required")
		} else if first, dup := names[c.Name]; dup {
			v.errorf(Path(cp, "name"), "duplicate cluster name %q (first at %s)", c.Name, Path(path, "clusters", first))
		} else {
			names[c.Name] = i
		}
		v.cluster(cp, c)
	}
}

func (v *validator) cluster(path string, c *Cluster) {
	switch {
	case c.Type == "" || contains(ClusterTypes, c.Type):
	case c.Type == "STRICT_DNS":
		v.errorf(Path(path, "type"), "cluster type STRICT_DNS is not supported yet")
	default:
		v.errorf(Path(path, "type"), "unknown cluster type %q (want one of %s)", c.Type, strings.Join(ClusterTypes, ", "))
	}
	if c.LbType != "" && !contains(LBTypes, c.LbType) {
		v.errorf(Path(path, "lb_type"), "unknown lb_type %q (want one of %s)", c.LbType, strings.Join(LBTypes, ", "))
	}
	// Hosts are optional for every type: a SIMPLE cluster may get them
	// later (xDS, admin), and LB_ORIGINAL_DST never uses them (MOSN
	// before v1.3.0 wrongly required one).
	for i := range c.Hosts {
		h := &c.Hosts[i]
		hp := Path(path, "hosts", i)
		if h.Address == "" {
			v.errorf(Path(hp, "address"), "an address is required")
		} else if err := checkHostPort(h.Address, true); err != nil {
			v.errorf(Path(hp, "address"), "%v", err)
		}
		if h.Weight > MaxHostWeight {
			v.errorf(Path(hp, "weight"), "weight %d out of range (1..%d; 0 means 1)", h.Weight, MaxHostWeight)
		}
	}
	if hc := c.HealthCheck; hc != nil {
		hp := Path(path, "health_check")
		if hc.Protocol != "" && !contains(HealthCheckProtocols, hc.Protocol) {
			v.errorf(Path(hp, "protocol"), "unknown health check protocol %q (want one of %s)", hc.Protocol, strings.Join(HealthCheckProtocols, ", "))
		}
	}
	if od := c.OutlierDetection; od != nil {
		op := Path(path, "outlier_detection")
		if od.MaxEjectionPercent > 100 {
			v.errorf(Path(op, "max_ejection_percent"), "%d out of range (1..100; 0 means %d)", od.MaxEjectionPercent, DefaultMaxEjectionPercent)
		}
		if b, m := od.BaseEjectionTime.D(), od.MaxEjectionTime.D(); b > 0 && m > 0 && m < b {
			v.errorf(Path(op, "max_ejection_time"), "%v is shorter than base_ejection_time %v", m, b)
		}
	}
	if sc := c.LbSubsetConfig; sc != nil {
		if sc.FallBackPolicy > 2 {
			v.errorf(Path(path, "lb_subset_config", "fall_back_policy"), "unknown fall_back_policy %d (want 0 none, 1 any or 2 default subset)", sc.FallBackPolicy)
		}
		for i, sel := range sc.SubsetSelectors {
			if len(sel) == 0 {
				v.errorf(Path(path, "lb_subset_config", "subset_selectors", i), "empty subset selector")
			}
		}
	}
	if lc := c.LbConfig; lc != nil && lc.ActiveRequestBias < 0 {
		v.errorf(Path(path, "lbconfig", "active_request_bias"), "must not be negative")
	}
	v.tls(Path(path, "tls_context"), c.TLSContext)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkHostPort checks a host:port address. The host may be empty (all
// interfaces), an IPv4 or bracketed IPv6 address, "localhost", or, with
// allowName, any DNS name.
func checkHostPort(addr string, allowName bool) error {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: %v", addr, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("invalid address %q: port %q is not a number in 0..65535", addr, port)
	}
	if allowName && n == 0 {
		return fmt.Errorf("invalid address %q: port 0", addr)
	}
	if host == "" {
		if allowName {
			return fmt.Errorf("invalid address %q: the host is missing", addr)
		}
		return nil
	}
	if !validHost(host, allowName) {
		if allowName {
			return fmt.Errorf("invalid address %q: %q is not an IP address or host name", addr, host)
		}
		return fmt.Errorf("invalid address %q: %q is not an IP address", addr, host)
	}
	return nil
}

// splitHostPort is net.SplitHostPort with messages that say what to write.
func splitHostPort(addr string) (host, port string, err error) {
	if strings.HasPrefix(addr, "[") {
		end := strings.IndexByte(addr, ']')
		if end < 0 {
			return "", "", fmt.Errorf("missing ']' after the IPv6 address")
		}
		host, rest := addr[1:end], addr[end+1:]
		if !strings.HasPrefix(rest, ":") || len(rest) == 1 {
			return "", "", fmt.Errorf("want [ipv6]:port")
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", "", fmt.Errorf("%q is not an IPv6 address", host)
		}
		return host, rest[1:], nil
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || i == len(addr)-1 {
		return "", "", fmt.Errorf("want host:port")
	}
	host, port = addr[:i], addr[i+1:]
	if strings.Contains(host, ":") {
		return "", "", fmt.Errorf("IPv6 addresses need brackets: [addr]:port")
	}
	return host, port, nil
}

// validHost accepts an IP address (IPv6 without brackets), "localhost", or,
// with allowName, a DNS name.
func validHost(host string, allowName bool) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "localhost" {
		return true
	}
	return allowName && validDNSName(host)
}

func validDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
