package router

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mosn.dev/proxy/config"
)

// builder compiles one router config and collects its problems.
type builder struct {
	// cfg, when set, gives problems their file positions.
	cfg   *config.Config
	probs config.Problems
}

func (b *builder) errorf(path, format string, args ...any) {
	b.probs = append(b.probs, b.cfg.Problemf(path, format, args...))
}

// Build compiles a router config: regular expressions are compiled,
// domains indexed and route actions checked, once. path is the JSON path
// of cfg (e.g. "servers[0].routers[0]"); the error, when not nil, is a
// config.Problems whose paths lie below it. A config with no virtual
// hosts gives a table that matches nothing.
func Build(cfg *config.Router, path string) (*Table, error) {
	b := &builder{}
	t := b.table(cfg, path)
	if err := b.probs.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// domainSeen records where a domain key was first defined.
type domainSeen struct {
	vh   int
	path string
}

func (b *builder) table(cfg *config.Router, path string) *Table {
	t := &Table{
		name:        cfg.RouterConfigName,
		exact:       make(map[string]*vhost),
		suffix:      make(map[string]*wildIndex),
		prefix:      make(map[string]*wildIndex),
		portDefault: make(map[string]*vhost),
	}
	routerReq := headerLevel(cfg.RequestHeadersToAdd, cfg.RequestHeadersToRemove)
	routerResp := headerLevel(cfg.ResponseHeadersToAdd, cfg.ResponseHeadersToRemove)
	b.checkHeaderAdds(path, "request_headers_to_add", cfg.RequestHeadersToAdd)
	b.checkHeaderAdds(path, "response_headers_to_add", cfg.ResponseHeadersToAdd)

	seen := make(map[string]domainSeen)
	for i := range cfg.VirtualHosts {
		vc := &cfg.VirtualHosts[i]
		vp := config.Path(path, "virtual_hosts", i)
		v := &vhost{name: vc.Name}
		t.vhosts = append(t.vhosts, v)
		for j, d := range vc.Domains {
			b.domain(t, v, i, config.Path(vp, "domains", j), d, seen)
		}
		b.checkHeaderAdds(vp, "request_headers_to_add", vc.RequestHeadersToAdd)
		b.checkHeaderAdds(vp, "response_headers_to_add", vc.ResponseHeadersToAdd)
		lv := levels{
			vhostReq:   headerLevel(vc.RequestHeadersToAdd, vc.RequestHeadersToRemove),
			vhostResp:  headerLevel(vc.ResponseHeadersToAdd, vc.ResponseHeadersToRemove),
			routerReq:  routerReq,
			routerResp: routerResp,
		}
		vname := vc.Name
		if vname == "" {
			vname = config.Path("virtual_hosts", i)
		}
		routes := make([]*Route, 0, len(vc.Routers))
		for j := range vc.Routers {
			rp := config.Path(vp, "routers", j)
			r := b.route(&vc.Routers[j], rp, lv, vc.PerFilterConfig)
			if r != nil {
				r.name = vname + "/" + strconv.Itoa(j)
				r.vhost = vc.Name
				routes = append(routes, r)
			}
		}
		v.routes = routes
		v.steps = steps(routes)
	}
	for _, w := range t.suffix {
		w.sortLens()
	}
	for _, w := range t.prefix {
		w.sortLens()
	}
	t.onlyDefault = t.def != nil && len(t.exact) == 0 && len(t.suffix) == 0 &&
		len(t.prefix) == 0 && len(t.portDefault) == 0
	return t
}

func (w *wildIndex) sortLens() {
	slices.Sort(w.lens)
	slices.Reverse(w.lens)
	w.lens = slices.Compact(w.lens)
}

// runKey classifies a route for indexing (see step): ok is false when it
// cannot join an index; routes with equal keys can share one.
type runKey struct {
	header string
	fold   bool
}

func indexKey(r *Route) (k runKey, value string, ok bool) {
	m := &r.m
	switch {
	case m.kind == matchPath && len(m.headers) == 0:
		return runKey{fold: m.fold}, m.value, true
	case m.kind == matchAny && len(m.headers) == 1:
		h := &m.headers[0]
		if h.src == fromHeader && h.re == nil && !h.anyValue {
			return runKey{header: h.name}, h.value, true
		}
	}
	return runKey{}, "", false
}

// steps groups runs of indexable routes (see step).
func steps(routes []*Route) []step {
	var out []step
	for i := 0; i < len(routes); {
		k, _, ok := indexKey(routes[i])
		if !ok {
			out = append(out, step{route: routes[i]})
			i++
			continue
		}
		j := i + 1
		for j < len(routes) {
			if kj, _, ok := indexKey(routes[j]); !ok || kj != k {
				break
			}
			j++
		}
		minRun := minPathRun
		if k.header != "" {
			minRun = minHeaderRun
		}
		if j-i < minRun {
			for _, r := range routes[i:j] {
				out = append(out, step{route: r})
			}
		} else {
			idx := make(map[string]*Route, j-i)
			for _, r := range routes[i:j] {
				_, v, _ := indexKey(r)
				if _, dup := idx[v]; !dup {
					idx[v] = r
				}
			}
			out = append(out, step{index: idx, header: k.header, fold: k.fold})
		}
		i = j
	}
	return out
}

// domain indexes one domain of virtual host v (index vi).
func (b *builder) domain(t *Table, v *vhost, vi int, path, d string, seen map[string]domainSeen) {
	if d == "" {
		b.errorf(path, "empty domain")
		return
	}
	d = lowerASCII(d)
	host, port := splitHostPort(d)
	if port == "*" {
		port = "" // "host:*" is MOSN's spelling of any port
	} else if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			b.errorf(path, "invalid port in domain %q", d)
			return
		}
	}
	if host == "" {
		b.errorf(path, "domain %q has no host", d)
		return
	}
	var kind, key string
	switch stars := strings.Count(host, "*"); {
	case host == "*":
		kind = "default"
	case stars > 1 || stars == 1 && host[0] != '*' && host[len(host)-1] != '*':
		b.errorf(path, "invalid domain %q: a wildcard must be the first or the last character, once", d)
		return
	case host[0] == '*':
		kind = "suffix"
	case host[len(host)-1] == '*':
		kind = "prefix"
	default:
		kind = "exact"
	}
	key = kind + "\x00" + host + "\x00" + port
	if first, dup := seen[key]; dup {
		if first.vh != vi {
			b.errorf(path, "duplicate domain %q (first at %s)", d, first.path)
		}
		return
	}
	seen[key] = domainSeen{vh: vi, path: path}

	switch kind {
	case "default":
		if port == "" {
			t.def = v
		} else {
			t.portDefault[port] = v
		}
	case "exact":
		if port != "" {
			host += ":" + port
		}
		t.exact[host] = v
	case "suffix":
		addWild(t.suffix, port, host[1:], v)
	case "prefix":
		addWild(t.prefix, port, host[:len(host)-1], v)
	}
}

func addWild(m map[string]*wildIndex, port, fixed string, v *vhost) {
	w := m[port]
	if w == nil {
		w = &wildIndex{m: make(map[string]*vhost)}
		m[port] = w
	}
	w.m[fixed] = v
	w.lens = append(w.lens, len(fixed))
}

// levels are the virtual host's and router's header lists, combined with
// each route's.
type levels struct {
	vhostReq, vhostResp, routerReq, routerResp HeaderOps
}

func headerLevel(adds []config.HeaderValueOption, removes []string) HeaderOps {
	var o HeaderOps
	for i := range adds {
		h := &adds[i]
		if h.Header == nil || h.Header.Key == "" {
			continue // reported by checkHeaderAdds
		}
		o.Add = append(o.Add, HeaderAdd{Name: h.Header.Key, Value: h.Header.Value, Append: h.AppendOrDefault()})
	}
	for _, r := range removes {
		if r != "" {
			o.Remove = append(o.Remove, r)
		}
	}
	return o
}

func (b *builder) checkHeaderAdds(path, field string, adds []config.HeaderValueOption) {
	for i, h := range adds {
		if h.Header == nil || h.Header.Key == "" {
			b.errorf(config.Path(path, field, i, "header", "key"), "a header key is required")
		}
	}
}

// combine concatenates levels, most specific first; nil when all are empty
// so that Empty stays cheap.
func combine(parts ...HeaderOps) HeaderOps {
	var o HeaderOps
	for _, p := range parts {
		o.Add = append(o.Add, p.Add...)
		o.Remove = append(o.Remove, p.Remove...)
	}
	return o
}

// compileFull compiles a Go regular expression that must match a whole
// string, as Envoy's safe_regex does.
func compileFull(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile("^(?:" + expr + ")$")
}

var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9.+-]*$`)

// route compiles one route; nil when it has errors.
func (b *builder) route(rc *config.Route, path string, lv levels, vhostPFC map[string]json.RawMessage) *Route {
	before := len(b.probs)
	r := &Route{configPath: path}
	b.match(&r.m, &rc.Match, config.Path(path, "match"))

	actions := 0
	for _, set := range []bool{rc.Route != nil, rc.DirectResponse != nil, rc.Redirect != nil} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		b.errorf(path, "set exactly one of route, direct_response and redirect (got %d)", actions)
	}
	var routeReq, routeResp HeaderOps
	switch {
	case rc.Route != nil:
		r.kind = actionUpstream
		b.action(r, rc.Route, config.Path(path, "route"))
		routeReq = headerLevel(rc.Route.RequestHeadersToAdd, rc.Route.RequestHeadersToRemove)
		routeResp = headerLevel(rc.Route.ResponseHeadersToAdd, rc.Route.ResponseHeadersToRemove)
	case rc.DirectResponse != nil:
		r.kind = actionDirect
		dr := rc.DirectResponse
		if dr.StatusCode < 100 || dr.StatusCode > 599 {
			b.errorf(config.Path(path, "direct_response", "status"), "status %d out of range (100..599)", dr.StatusCode)
		}
		r.directStatus, r.directBody = dr.StatusCode, dr.Body
	case rc.Redirect != nil:
		r.kind = actionRedirect
		b.redirect(r, rc.Redirect, config.Path(path, "redirect"))
	}
	r.reqOps = combine(routeReq, lv.vhostReq, lv.routerReq)
	r.respOps = combine(routeResp, lv.vhostResp, lv.routerResp)

	if rc.Metadata != nil && len(rc.Metadata.FilterMetadata) > 0 {
		r.metadata = rc.Metadata.FilterMetadata
	}
	if len(vhostPFC) > 0 || len(rc.PerFilterConfig) > 0 {
		r.perFilterConfig = make(map[string]json.RawMessage, len(vhostPFC)+len(rc.PerFilterConfig))
		maps.Copy(r.perFilterConfig, vhostPFC)
		maps.Copy(r.perFilterConfig, rc.PerFilterConfig)
	}
	if len(b.probs) > before {
		return nil
	}
	return r
}

func (b *builder) match(m *matcher, mc *config.RouteMatch, path string) {
	set := 0
	for _, s := range []string{mc.Prefix, mc.Path, mc.Regex} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		b.errorf(path, "set at most one of prefix, path and regex")
	}
	m.fold = !mc.CaseSensitiveOrDefault()
	switch {
	case mc.Prefix != "":
		m.kind, m.value = matchPrefix, mc.Prefix
	case mc.Path != "":
		m.kind, m.value = matchPath, mc.Path
	case mc.Regex != "":
		m.kind = matchRegex
		re, err := compileFull(mc.Regex)
		if err != nil {
			b.errorf(config.Path(path, "regex"), "invalid regex: %v", err)
		}
		m.re = re
	default:
		m.kind = matchAny
		if len(mc.Headers) == 0 && (len(mc.Variables) > 0 || len(mc.DslExpressions) > 0) {
			// Ignoring the unsupported criteria would turn the route into
			// a catch-all.
			b.errorf(path, "a route matched only by variables or dsl_expressions is not supported; add prefix, path, regex or headers")
		}
	}
	if m.fold {
		m.value = lowerASCII(m.value)
	}
	// MOSN's legacy RPC fast match: a lone "service" header with ".*".
	legacy := m.kind == matchAny && len(mc.Headers) == 1 && mc.Headers[0].Name == "service" &&
		mc.Headers[0].Value == ".*" && !mc.Headers[0].Regex
	for i, hc := range mc.Headers {
		hp := config.Path(path, "headers", i)
		if hc.Name == "" {
			b.errorf(config.Path(hp, "name"), "a header name is required")
			continue
		}
		h := headerMatcher{name: hc.Name, value: hc.Value, anyValue: legacy}
		switch lower := lowerASCII(hc.Name); {
		case lower == ":method", lower == "method" && m.kind != matchAny:
			// MOSN matches "method" against the HTTP method in HTTP
			// rules; in RPC rules it is the protocol's own header.
			h.src = fromMethod
		case lower == ":path":
			h.src = fromPath
		case lower == ":authority":
			h.src = fromHost
		}
		if hc.Regex {
			re, err := compileFull(hc.Value)
			if err != nil {
				b.errorf(config.Path(hp, "value"), "invalid regex: %v", err)
				continue
			}
			h.re = re
		}
		m.headers = append(m.headers, h)
	}
}

func (b *builder) action(r *Route, a *config.RouteAction, path string) {
	targets := 0
	for _, set := range []bool{a.ClusterName != "", a.ClusterHeader != "", a.ClusterVariable != "", len(a.WeightedClusters) > 0} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		b.errorf(path, "set exactly one of cluster_name, cluster_header, cluster_variable and weighted_clusters (got %d)", targets)
	}
	r.cluster, r.clusterHeader, r.clusterVariable = a.ClusterName, a.ClusterHeader, a.ClusterVariable
	r.metadataMatch = nonEmpty(a.MetadataMatch.LB())
	for i, wc := range a.WeightedClusters {
		cp := config.Path(path, "weighted_clusters", i, "cluster")
		if wc.Cluster.Name == "" {
			b.errorf(config.Path(cp, "name"), "a cluster name is required")
		}
		if wc.Cluster.Weight == 0 {
			b.errorf(config.Path(cp, "weight"), "weight must be greater than 0")
		}
		r.totalWeight += uint64(wc.Cluster.Weight)
		md := r.metadataMatch
		if own := wc.Cluster.MetadataMatch.LB(); len(own) > 0 {
			md = make(map[string]string, len(md)+len(own))
			maps.Copy(md, r.metadataMatch)
			maps.Copy(md, own)
		}
		r.weighted = append(r.weighted, weightedCluster{name: wc.Cluster.Name, upper: r.totalWeight, metadataMatch: md})
	}
	r.upstreamProtocol = a.UpstreamProtocol
	if r.timeout = a.Timeout.D(); r.timeout < 0 {
		b.errorf(config.Path(path, "timeout"), "timeout must not be negative")
	}
	if rp := a.RetryPolicy; rp != nil {
		r.retry = RetryPolicy{On: rp.RetryOn, NumRetries: rp.NumRetries, PerTryTimeout: rp.RetryTimeout.D(), StatusCodes: rp.StatusCodes}
		if r.retry.PerTryTimeout < 0 {
			b.errorf(config.Path(path, "retry_policy", "retry_timeout"), "retry_timeout must not be negative")
		}
		for i, c := range rp.StatusCodes {
			if c < 100 || c > 599 {
				b.errorf(config.Path(path, "retry_policy", "status_codes", i), "status %d out of range (100..599)", c)
			}
		}
	}
	for i, hp := range a.HashPolicy {
		pp := config.Path(path, "hash_policy", i)
		n := 0
		if hp.Header != nil {
			n++
			if hp.Header.Key == "" {
				b.errorf(config.Path(pp, "header", "key"), "a header key is required")
			}
			r.hash = append(r.hash, hashPolicy{kind: hashHeader, name: hp.Header.Key})
		}
		if hp.Cookie != nil {
			n++
			if hp.Cookie.Name == "" {
				b.errorf(config.Path(pp, "cookie", "name"), "a cookie name is required")
			}
			r.hash = append(r.hash, hashPolicy{kind: hashCookie, name: hp.Cookie.Name})
		}
		if hp.SourceIP != nil {
			n++
			r.hash = append(r.hash, hashPolicy{kind: hashSourceIP})
		}
		if n != 1 {
			b.errorf(pp, "set exactly one of header, cookie and source_ip")
		}
	}
	if a.PrefixRewrite != "" {
		if r.m.kind != matchPrefix && r.m.kind != matchPath {
			b.errorf(config.Path(path, "prefix_rewrite"), "prefix_rewrite needs a prefix or path match")
		}
		r.prefixRewrite, r.hasPrefixRewrite = a.PrefixRewrite, true
	}
	if rr := a.RegexRewrite; rr != nil {
		if rr.Pattern.Regex == "" {
			b.errorf(config.Path(path, "regex_rewrite", "pattern", "regex"), "a regex is required")
		} else if re, err := regexp.Compile(rr.Pattern.Regex); err != nil {
			b.errorf(config.Path(path, "regex_rewrite", "pattern", "regex"), "invalid regex: %v", err)
		} else if !r.hasPrefixRewrite {
			// MOSN applies prefix_rewrite when both are set.
			r.regexRewrite, r.regexSubst = re, envoySubstitution(rr.Substitution)
		}
	}
	r.hostRewrite, r.autoHostRewrite, r.autoHostRewriteHeader = a.HostRewrite, a.AutoHostRewrite, a.AutoHostRewriteHeader
	b.checkHeaderAdds(path, "request_headers_to_add", a.RequestHeadersToAdd)
	b.checkHeaderAdds(path, "response_headers_to_add", a.ResponseHeadersToAdd)
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// envoySubstitution turns Envoy's "\N" group references into Go's "${N}"
// and "\\" into "\"; "$" references pass through, so both styles work.
func envoySubstitution(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch n := s[i+1]; {
			case n >= '0' && n <= '9':
				out.WriteString("${" + string(n) + "}")
				i++
				continue
			case n == '\\':
				out.WriteByte('\\')
				i++
				continue
			}
		}
		out.WriteByte(c)
	}
	return out.String()
}

func (b *builder) redirect(r *Route, rd *config.Redirect, path string) {
	switch rd.ResponseCode {
	case 0:
		r.redirectCode = 301
	case 301, 302, 303, 307, 308:
		r.redirectCode = rd.ResponseCode
	default:
		b.errorf(config.Path(path, "response_code"), "response_code %d is not a redirect (want 301, 302, 303, 307 or 308)", rd.ResponseCode)
	}
	if s := rd.SchemeRedirect; s != "" {
		r.redirectScheme = lowerASCII(s)
		if !schemeRE.MatchString(r.redirectScheme) {
			b.errorf(config.Path(path, "scheme_redirect"), "invalid scheme %q", s)
		}
	}
	if p := rd.PathRedirect; p != "" && p[0] != '/' {
		b.errorf(config.Path(path, "path_redirect"), "path_redirect %q must start with '/'", p)
	}
	if h := rd.HostRedirect; strings.ContainsAny(h, "/?# ") {
		b.errorf(config.Path(path, "host_redirect"), "invalid host_redirect %q", h)
	}
	r.redirectPath, r.redirectHost = rd.PathRedirect, rd.HostRedirect
}
