package config

import "encoding/json"

// Router is one entry of a server's "routers": a named route table that the
// proxy network filter selects through its router_config_name.
type Router struct {
	RouterConfigName string `json:"router_config_name,omitempty"`
	// RouterConfigs is MOSN's directory of one JSON file per virtual host.
	RouterConfigs string        `json:"router_configs,omitempty" mosn:"unimplemented"`
	VirtualHosts  []VirtualHost `json:"virtual_hosts,omitempty"`
	// The header lists apply to every route of the table, after the
	// virtual host's and the route's own lists.
	RequestHeadersToAdd     []HeaderValueOption `json:"request_headers_to_add,omitempty"`
	RequestHeadersToRemove  []string            `json:"request_headers_to_remove,omitempty"`
	ResponseHeadersToAdd    []HeaderValueOption `json:"response_headers_to_add,omitempty"`
	ResponseHeadersToRemove []string            `json:"response_headers_to_remove,omitempty"`
}

// VirtualHost groups the routes served for a set of domains.
type VirtualHost struct {
	Name string `json:"name,omitempty"`
	// Domains are matched against the request host: exact names,
	// "*.suffix" and "prefix.*" wildcards, "host:port", and "*" for the
	// default virtual host (at most one per router).
	Domains []string `json:"domains,omitempty"`
	// Routers are tried in order; the first match wins.
	Routers                 []Route             `json:"routers,omitempty"`
	RequireTLS              string              `json:"require_tls,omitempty" mosn:"unimplemented"`
	RequestHeadersToAdd     []HeaderValueOption `json:"request_headers_to_add,omitempty"`
	RequestHeadersToRemove  []string            `json:"request_headers_to_remove,omitempty"`
	ResponseHeadersToAdd    []HeaderValueOption `json:"response_headers_to_add,omitempty"`
	ResponseHeadersToRemove []string            `json:"response_headers_to_remove,omitempty"`
	// PerFilterConfig is keyed by stream filter type; each value replaces
	// that filter's config for requests routed through this virtual host.
	PerFilterConfig map[string]json.RawMessage `json:"per_filter_config,omitempty"`
}

// HeaderValueOption is one header to add.
type HeaderValueOption struct {
	Header *HeaderValue `json:"header,omitempty"`
	// Append adds the value to existing ones when true (the default) and
	// replaces them when false.
	Append *bool `json:"append,omitempty"`
}

// HeaderValue is a header name and value; the value may hold MOSN
// %variable% references.
type HeaderValue struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
}

// Route is one routing rule: a match and exactly one of Route,
// DirectResponse or Redirect.
type Route struct {
	Match          RouteMatch      `json:"match,omitzero"`
	Route          *RouteAction    `json:"route,omitempty"`
	DirectResponse *DirectResponse `json:"direct_response,omitempty"`
	Redirect       *Redirect       `json:"redirect,omitempty"`
	// Metadata is attached to the route for stream filters to read.
	Metadata *Metadata `json:"metadata,omitempty"`
	// PerFilterConfig is keyed by stream filter type, as in VirtualHost,
	// and takes precedence over the virtual host's entry.
	PerFilterConfig       map[string]json.RawMessage `json:"per_filter_config,omitempty"`
	RequestMirrorPolicies json.RawMessage            `json:"request_mirror_policies,omitempty" mosn:"unimplemented"`
}

// RouteMatch selects requests. Prefix, Path and Regex are alternatives
// (at most one is set; with none, only the headers are matched).
type RouteMatch struct {
	// Prefix matches the start of the request path.
	Prefix string `json:"prefix,omitempty"`
	// Path matches the whole request path.
	Path string `json:"path,omitempty"`
	// Regex (Go RE2 syntax) must match the whole request path.
	Regex string `json:"regex,omitempty"`
	// CaseSensitive applies to Prefix and Path. Default true.
	CaseSensitive *bool `json:"case_sensitive,omitempty"`
	// Headers must all match.
	Headers        []HeaderMatcher `json:"headers,omitempty"`
	Variables      json.RawMessage `json:"variables,omitempty" mosn:"unimplemented"`
	DslExpressions json.RawMessage `json:"dsl_expressions,omitempty" mosn:"unimplemented"`
}

// HeaderMatcher matches one request header by exact value or, with Regex,
// by a Go regular expression that must match the whole value.
type HeaderMatcher struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
	Regex bool   `json:"regex,omitempty"`
}

// RouteAction sends the request upstream.
type RouteAction struct {
	// ClusterName is the target cluster. ClusterHeader names a request
	// header holding the cluster name, ClusterVariable a MOSN variable;
	// WeightedClusters splits traffic. One of the four is required.
	ClusterName      string            `json:"cluster_name,omitempty"`
	ClusterHeader    string            `json:"cluster_header,omitempty"`
	ClusterVariable  string            `json:"cluster_variable,omitempty"`
	UpstreamProtocol string            `json:"upstream_protocol,omitempty"`
	WeightedClusters []WeightedCluster `json:"weighted_clusters,omitempty"`
	// HashPolicy feeds the hash-based balancers (LB_MAGLEV, LB_RINGHASH).
	HashPolicy []HashPolicy `json:"hash_policy,omitempty"`
	// MetadataMatch selects a host subset (lb_subset_config).
	MetadataMatch *Metadata `json:"metadata_match,omitempty"`
	// Timeout bounds the whole request. Default 60s (the proxy's global
	// default); the x-mosn-global-timeout header can override it.
	Timeout     *Duration    `json:"timeout,omitempty"`
	RetryPolicy *RetryPolicy `json:"retry_policy,omitempty"`
	// PrefixRewrite replaces the matched prefix (or the whole matched path).
	PrefixRewrite string        `json:"prefix_rewrite,omitempty"`
	RegexRewrite  *RegexRewrite `json:"regex_rewrite,omitempty"`
	// HostRewrite replaces the Host header; AutoHostRewrite uses the chosen
	// upstream host's hostname; AutoHostRewriteHeader takes it from a header.
	HostRewrite             string              `json:"host_rewrite,omitempty"`
	AutoHostRewrite         bool                `json:"auto_host_rewrite,omitempty"`
	AutoHostRewriteHeader   string              `json:"auto_host_rewrite_header,omitempty"`
	RequestHeadersToAdd     []HeaderValueOption `json:"request_headers_to_add,omitempty"`
	RequestHeadersToRemove  []string            `json:"request_headers_to_remove,omitempty"`
	ResponseHeadersToAdd    []HeaderValueOption `json:"response_headers_to_add,omitempty"`
	ResponseHeadersToRemove []string            `json:"response_headers_to_remove,omitempty"`
}

// WeightedCluster is one entry of weighted_clusters.
type WeightedCluster struct {
	Cluster ClusterWeight `json:"cluster,omitzero"`
}

// ClusterWeight is a cluster and its share of the traffic: its weight
// divided by the sum of the route's weights.
type ClusterWeight struct {
	Name          string    `json:"name,omitempty"`
	Weight        uint32    `json:"weight,omitempty"`
	MetadataMatch *Metadata `json:"metadata_match,omitempty"`
}

// HashPolicy picks the hash key: exactly one of Header, Cookie or SourceIP.
type HashPolicy struct {
	Header   *HeaderHashPolicy   `json:"header,omitempty"`
	Cookie   *CookieHashPolicy   `json:"cookie,omitempty"`
	SourceIP *SourceIPHashPolicy `json:"source_ip,omitempty"`
}

// HeaderHashPolicy hashes the value of a request header.
type HeaderHashPolicy struct {
	Key string `json:"key,omitempty"`
}

// CookieHashPolicy hashes a cookie value.
type CookieHashPolicy struct {
	Name string    `json:"name,omitempty"`
	Path string    `json:"path,omitempty"`
	TTL  *Duration `json:"ttl,omitempty"`
}

// SourceIPHashPolicy hashes the downstream address; it has no options and
// is written as {}.
type SourceIPHashPolicy struct{}

// RetryPolicy retries failed upstream requests.
type RetryPolicy struct {
	// RetryOn enables retries (on connection failures and StatusCodes).
	RetryOn bool `json:"retry_on,omitempty"`
	// RetryTimeout bounds each try; nil means the route timeout.
	RetryTimeout *Duration `json:"retry_timeout,omitempty"`
	NumRetries   uint32    `json:"num_retries,omitempty"`
	// StatusCodes are upstream response codes that are retried.
	StatusCodes []uint32 `json:"status_codes,omitempty"`
}

// RegexRewrite rewrites the path by replacing every match of Pattern.Regex
// with Substitution (Go regexp.ReplaceAllString syntax).
type RegexRewrite struct {
	Pattern      RegexPattern `json:"pattern,omitzero"`
	Substitution string       `json:"substitution,omitempty"`
}

// RegexPattern is Envoy's {"regex": "..."} wrapper.
type RegexPattern struct {
	Regex string `json:"regex,omitempty"`
}

// DirectResponse answers without going upstream.
type DirectResponse struct {
	StatusCode int    `json:"status,omitempty"`
	Body       string `json:"body,omitempty"`
}

// Redirect answers with a redirect; unset parts keep the request's own.
type Redirect struct {
	// ResponseCode is 301 (the default), 302, 303, 307 or 308.
	ResponseCode   int    `json:"response_code,omitempty"`
	PathRedirect   string `json:"path_redirect,omitempty"`
	HostRedirect   string `json:"host_redirect,omitempty"`
	SchemeRedirect string `json:"scheme_redirect,omitempty"`
}
