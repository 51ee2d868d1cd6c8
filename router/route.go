package router

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Route is one compiled routing rule. It is read-only after Build; the maps
// and slices its methods return are shared and must not be modified.
type Route struct {
	name       string
	configPath string
	vhost      string

	m matcher

	// Exactly one of the action groups is in use: upstream (cluster*,
	// weighted), direct or redirect.
	kind actionKind

	cluster         string
	clusterHeader   string
	clusterVariable string
	weighted        []weightedCluster
	totalWeight     uint64
	metadataMatch   map[string]string

	upstreamProtocol string
	timeout          time.Duration
	retry            RetryPolicy
	hash             []hashPolicy

	prefixRewrite    string
	hasPrefixRewrite bool
	regexRewrite     *regexp.Regexp
	regexSubst       string

	hostRewrite           string
	autoHostRewrite       bool
	autoHostRewriteHeader string

	reqOps, respOps HeaderOps

	directStatus int
	directBody   string

	redirectCode   int
	redirectPath   string
	redirectHost   string
	redirectScheme string

	metadata        map[string]map[string]string
	perFilterConfig map[string]json.RawMessage
}

type actionKind uint8

const (
	actionUpstream actionKind = iota
	actionDirect
	actionRedirect
)

type weightedCluster struct {
	name string
	// upper is the exclusive end of this cluster's share in [0, total).
	upper         uint64
	metadataMatch map[string]string
}

type hashKind uint8

const (
	hashHeader hashKind = iota
	hashCookie
	hashSourceIP
)

type hashPolicy struct {
	kind hashKind
	name string
}

// RetryPolicy is a route's retry_policy.
//
// MOSN's semantics, which the proxy should follow: a request is retried
// on an upstream connection failure even without a policy; with On it is
// also retried on a per-try timeout, on an upstream connection reset, and
// on a response whose status RetryStatus accepts. See MaxRetries for the
// count.
type RetryPolicy struct {
	// On is retry_on.
	On bool
	// NumRetries is num_retries as configured (0 when unset).
	NumRetries uint32
	// PerTryTimeout is retry_timeout; 0 means the route timeout bounds
	// every try.
	PerTryTimeout time.Duration
	// StatusCodes are the upstream statuses (HTTP, or the protocol's
	// status mapped to HTTP) that are retried; empty means every status
	// from 500 up.
	StatusCodes []uint32
}

// MaxRetries is how many retries MOSN allows: NumRetries, but never fewer
// than 3 (MOSN starts every request with 3 retries and only raises the
// budget from num_retries).
func (p RetryPolicy) MaxRetries() uint32 {
	return max(p.NumRetries, 3)
}

// RetryStatus reports whether an upstream response with this status is
// retried: only when On, and then when the status is in StatusCodes or,
// with no StatusCodes, when it is 500 or more.
func (p RetryPolicy) RetryStatus(status int) bool {
	if !p.On || status < 0 {
		return false
	}
	if len(p.StatusCodes) == 0 {
		return status >= 500
	}
	return slices.Contains(p.StatusCodes, uint32(status))
}

// Name identifies the route in logs and in the route_name access-log
// variable: "<virtual host name>/<index>", where an unnamed virtual host
// is called "virtual_hosts[<i>]" (the config has no route names).
func (r *Route) Name() string { return r.name }

// ConfigPath is the route's JSON path in the config, e.g.
// "servers[0].routers[0].virtual_hosts[1].routers[3]".
func (r *Route) ConfigPath() string { return r.configPath }

// VirtualHost is the name of the route's virtual host ("" when unnamed).
func (r *Route) VirtualHost() string { return r.vhost }

// IsUpstream reports whether the route sends requests upstream (it has a
// "route" action rather than direct_response or redirect).
func (r *Route) IsUpstream() bool { return r.kind == actionUpstream }

// Cluster returns the upstream cluster for req: cluster_name; or the value
// of the cluster_header request header ("" when absent); or, with
// cluster_variable, the variable resolved through req's VariableGetter
// ("" without one); or a weighted_clusters entry picked by rnd: entry i
// is chosen when rnd mod total weight falls in its share, in config
// order, so a uniformly random rnd splits traffic by weight and a given
// rnd always picks the same cluster. It returns "" for direct_response and
// redirect routes.
func (r *Route) Cluster(req Request, rnd uint64) string {
	switch {
	case r.kind != actionUpstream:
		return ""
	case r.cluster != "":
		return r.cluster
	case r.weighted != nil:
		x := rnd % r.totalWeight
		for i := range r.weighted {
			if x < r.weighted[i].upper {
				return r.weighted[i].name
			}
		}
		return r.weighted[len(r.weighted)-1].name
	case r.clusterHeader != "":
		v, _ := req.Header(r.clusterHeader)
		return v
	case r.clusterVariable != "":
		if vg, ok := req.(VariableGetter); ok {
			v, _ := vg.Variable(r.clusterVariable)
			return v
		}
	}
	return ""
}

// ClusterVariable is the route's cluster_variable ("" when unset), for
// callers that resolve MOSN variables themselves.
func (r *Route) ClusterVariable() string { return r.clusterVariable }

// MetadataMatch is the subset-balancing criteria ("mosn.lb" metadata) for
// requests sent to cluster: the route's metadata_match, with the keys of
// the weighted_clusters entry named cluster (when there is one) taking
// precedence. It is nil when there are none.
func (r *Route) MetadataMatch(cluster string) map[string]string {
	for i := range r.weighted {
		if r.weighted[i].name == cluster {
			return r.weighted[i].metadataMatch
		}
	}
	return r.metadataMatch
}

// UpstreamProtocol is the route's upstream_protocol ("" when unset).
func (r *Route) UpstreamProtocol() string { return r.upstreamProtocol }

// Timeout is the route timeout for the whole request; 0 means none was
// configured and the caller applies its default (60s in MOSN).
func (r *Route) Timeout() time.Duration { return r.timeout }

// Retry is the route's retry policy; the zero value when none is set.
func (r *Route) Retry() RetryPolicy { return r.retry }

// HashKey is the key for hash-based balancers (LB_MAGLEV, LB_RINGHASH):
// the FNV-1a 64 hash of the first hash_policy entry that yields a value,
// trying them in order: a request header, a cookie from the Cookie header,
// or the source IP (srcIP, with any port dropped). With no hash_policy the
// source IP is used, as in MOSN. ok is false when no entry yields a value.
func (r *Route) HashKey(req Request, srcIP string) (key uint64, ok bool) {
	if len(r.hash) == 0 {
		return sourceIPKey(srcIP)
	}
	for _, p := range r.hash {
		switch p.kind {
		case hashHeader:
			if v, found := req.Header(p.name); found {
				return fnv1a(v), true
			}
		case hashCookie:
			if h, found := req.Header("cookie"); found {
				if v, found := cookieValue(h, p.name); found {
					return fnv1a(v), true
				}
			}
		case hashSourceIP:
			if k, found := sourceIPKey(srcIP); found {
				return k, true
			}
		}
	}
	return 0, false
}

func sourceIPKey(srcIP string) (uint64, bool) {
	if srcIP == "" {
		return 0, false
	}
	host, _ := splitHostPort(srcIP)
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return fnv1a(host), true
}

// DirectResponse returns the direct_response status and body; ok is false
// for other routes.
func (r *Route) DirectResponse() (status int, body string, ok bool) {
	if r.kind != actionDirect {
		return 0, "", false
	}
	return r.directStatus, r.directBody, true
}

// Redirect returns the redirect status (301 by default) and the Location
// for req: the request URL with scheme_redirect, host_redirect and
// path_redirect replacing its parts. The query is kept unless
// path_redirect has its own ('?'). When the scheme changes, a port that
// is the old scheme's default (80 for http, 443 for https) is dropped.
// ok is false for other routes.
func (r *Route) Redirect(req Request) (status int, location string, ok bool) {
	if r.kind != actionRedirect {
		return 0, "", false
	}
	current := requestScheme(req)
	scheme := current
	if r.redirectScheme != "" {
		scheme = r.redirectScheme
	}
	host := req.Host()
	if r.redirectHost != "" {
		host = r.redirectHost
	}
	if scheme != current {
		if h, port := splitHostPort(host); (current == "http" && port == "80") || (current == "https" && port == "443") {
			host = h
		}
	}
	path, query := req.Path(), req.Query()
	if r.redirectPath != "" {
		path = r.redirectPath
		if strings.IndexByte(path, '?') >= 0 {
			query = ""
		}
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(path) + 1 + len(query))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(path)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return r.redirectCode, b.String(), true
}

func requestScheme(req Request) string {
	if s, ok := req.(Schemer); ok {
		if v := s.Scheme(); v != "" {
			return lowerASCII(v)
		}
	}
	if v, ok := req.Header("x-forwarded-proto"); ok && v != "" {
		// A chain of proxies appends: the first entry is the client's.
		if i := strings.IndexByte(v, ','); i >= 0 {
			v = v[:i]
		}
		return lowerASCII(strings.TrimSpace(v))
	}
	return "http"
}

// RewritePath returns the upstream path for req and whether it differs
// from req.Path(). prefix_rewrite replaces the matched prefix of a prefix
// route, or the whole path of a path route; otherwise regex_rewrite
// replaces every match of its pattern (Go regexp.ReplaceAllString; "\1"
// is accepted for "${1}" as in Envoy). prefix_rewrite wins when both are
// set, as in MOSN. The query string is not part of the path; the caller
// keeps it.
func (r *Route) RewritePath(req Request) (newPath string, changed bool) {
	path := req.Path()
	if r.hasPrefixRewrite {
		n, ok := r.m.matchedLen(path)
		if !ok {
			return path, false
		}
		np := r.prefixRewrite + path[n:]
		return np, np != path
	}
	if r.regexRewrite != nil {
		np := r.regexRewrite.ReplaceAllString(path, r.regexSubst)
		return np, np != path
	}
	return path, false
}

// HostRewrite returns the Host to send upstream and whether it changes:
// host_rewrite; else the value of the auto_host_rewrite_header request
// header when present and not empty; else, with auto_host_rewrite,
// upstreamHost (the chosen host's name, which the caller provides; MOSN
// only does this for STRICT_DNS clusters). ok is false when the Host is
// kept.
func (r *Route) HostRewrite(req Request, upstreamHost string) (host string, ok bool) {
	switch {
	case r.hostRewrite != "":
		return r.hostRewrite, true
	case r.autoHostRewriteHeader != "":
		if v, found := req.Header(r.autoHostRewriteHeader); found && v != "" {
			return v, true
		}
	case r.autoHostRewrite && upstreamHost != "":
		return upstreamHost, true
	}
	return "", false
}

// RequestHeaderOps are the request header mutations: the route's, then the
// virtual host's, then the router's (removals of all three levels first,
// then additions in that order, so that with append false the router's
// value wins, as in Envoy and MOSN).
func (r *Route) RequestHeaderOps() HeaderOps { return r.reqOps }

// ResponseHeaderOps are the response header mutations, combined in the
// same order as RequestHeaderOps.
func (r *Route) ResponseHeaderOps() HeaderOps { return r.respOps }

// Metadata is the route's metadata (filter_metadata namespaces), for
// stream filters; nil when unset.
func (r *Route) Metadata() map[string]map[string]string { return r.metadata }

// PerFilterConfig returns the per_filter_config entry for a stream filter
// type: the route's, else its virtual host's; nil when neither has one.
func (r *Route) PerFilterConfig(filterType string) json.RawMessage {
	return r.perFilterConfig[filterType]
}
