package router

import (
	"errors"
	"strings"
	"testing"

	"mosn.dev/proxy/config"
)

func TestBuildErrors(t *testing.T) {
	const vh = "servers[0].routers[0].virtual_hosts[0]"
	const rt = vh + ".routers[0]"
	tests := []struct {
		name     string
		router   string
		path     string // the problem's full path
		msg      string // a part of its message
		problems int
	}{
		{"bad regex", table(cluster(`{"regex": "/a("}`, "c")), rt + ".match.regex", "invalid regex: error parsing regexp: missing closing )", 1},
		{"bad header regex", table(cluster(`{"prefix": "/", "headers": [{"name": "x", "value": "[", "regex": true}]}`, "c")), rt + ".match.headers[0].value", "invalid regex", 1},
		{"header without name", table(cluster(`{"headers": [{"value": "v"}]}`, "c")), rt + ".match.headers[0].name", "a header name is required", 1},
		{"two path criteria", table(cluster(`{"prefix": "/", "path": "/a"}`, "c")), rt + ".match", "set at most one of prefix, path and regex", 1},
		{"only variables", table(`{"match": {"variables": [{"name": "x", "value": "y"}]}, "route": {"cluster_name": "c"}}`), rt + ".match", "variables or dsl_expressions", 1},
		{"no action", table(`{"match": {"prefix": "/"}}`), rt, "set exactly one of route, direct_response and redirect (got 0)", 1},
		{"two actions", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c"}, "direct_response": {"status": 200}}`), rt, "(got 2)", 1},
		{"no cluster", table(`{"match": {"prefix": "/"}, "route": {"timeout": "1s"}}`), rt + ".route", "set exactly one of cluster_name, cluster_header, cluster_variable and weighted_clusters (got 0)", 1},
		{"two clusters", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "a", "cluster_header": "x"}}`), rt + ".route", "(got 2)", 1},
		{"zero weight", table(`{"match": {"prefix": "/"}, "route": {"weighted_clusters": [{"cluster": {"name": "a", "weight": 1}}, {"cluster": {"name": "b"}}]}}`), rt + ".route.weighted_clusters[1].cluster.weight", "weight must be greater than 0", 1},
		{"all weights zero", table(`{"match": {"prefix": "/"}, "route": {"weighted_clusters": [{"cluster": {"name": "a"}}, {"cluster": {"name": "b"}}]}}`), rt + ".route.weighted_clusters[0].cluster.weight", "weight must be greater than 0", 2},
		{"weighted without name", table(`{"match": {"prefix": "/"}, "route": {"weighted_clusters": [{"cluster": {"weight": 1}}]}}`), rt + ".route.weighted_clusters[0].cluster.name", "a cluster name is required", 1},
		{"bad retry status", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "retry_policy": {"status_codes": [503, 42]}}}`), rt + ".route.retry_policy.status_codes[1]", "out of range", 1},
		{"hash policy with two kinds", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "hash_policy": [{"header": {"key": "x"}, "source_ip": {}}]}}`), rt + ".route.hash_policy[0]", "set exactly one of header, cookie and source_ip", 1},
		{"hash policy empty", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "hash_policy": [{}]}}`), rt + ".route.hash_policy[0]", "set exactly one", 1},
		{"cookie without name", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "hash_policy": [{"cookie": {}}]}}`), rt + ".route.hash_policy[0].cookie.name", "a cookie name is required", 1},
		{"bad rewrite regex", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "regex_rewrite": {"pattern": {"regex": "*"}, "substitution": ""}}}`), rt + ".route.regex_rewrite.pattern.regex", "invalid regex", 1},
		{"empty rewrite regex", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "regex_rewrite": {"substitution": "/"}}}`), rt + ".route.regex_rewrite.pattern.regex", "a regex is required", 1},
		{"prefix_rewrite on a regex route", table(`{"match": {"regex": "/a"}, "route": {"cluster_name": "c", "prefix_rewrite": "/b"}}`), rt + ".route.prefix_rewrite", "needs a prefix or path match", 1},
		{"header add without key", table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "request_headers_to_add": [{"header": {"value": "v"}}]}}`), rt + ".route.request_headers_to_add[0].header.key", "a header key is required", 1},
		{"vhost header add without key", `{"virtual_hosts": [{"domains": ["*"], "response_headers_to_add": [{}]}]}`, vh + ".response_headers_to_add[0].header.key", "a header key is required", 1},
		{"router header add without key", `{"request_headers_to_add": [{"header": {"key": ""}}]}`, "servers[0].routers[0].request_headers_to_add[0].header.key", "a header key is required", 1},
		{"direct status", table(`{"match": {"prefix": "/"}, "direct_response": {"status": 700}}`), rt + ".direct_response.status", "out of range", 1},
		{"redirect code", table(`{"match": {"prefix": "/"}, "redirect": {"response_code": 200}}`), rt + ".redirect.response_code", "is not a redirect", 1},
		{"redirect scheme", table(`{"match": {"prefix": "/"}, "redirect": {"scheme_redirect": "ht tp"}}`), rt + ".redirect.scheme_redirect", "invalid scheme", 1},
		{"redirect path", table(`{"match": {"prefix": "/"}, "redirect": {"path_redirect": "new"}}`), rt + ".redirect.path_redirect", "must start with '/'", 1},
		{"redirect host", table(`{"match": {"prefix": "/"}, "redirect": {"host_redirect": "a/b"}}`), rt + ".redirect.host_redirect", "invalid host_redirect", 1},
		{"empty domain", `{"virtual_hosts": [{"domains": ["a", ""]}]}`, vh + ".domains[1]", "empty domain", 1},
		{"wildcard in the middle", `{"virtual_hosts": [{"domains": ["a.*.com"]}]}`, vh + ".domains[0]", "a wildcard must be the first or the last character", 1},
		{"two wildcards", `{"virtual_hosts": [{"domains": ["*.a.*"]}]}`, vh + ".domains[0]", "a wildcard must be", 1},
		{"bad port", `{"virtual_hosts": [{"domains": ["a.com:http"]}]}`, vh + ".domains[0]", "invalid port", 1},
		{"port zero", `{"virtual_hosts": [{"domains": ["a.com:0"]}]}`, vh + ".domains[0]", "invalid port", 1},
		{"no host", `{"virtual_hosts": [{"domains": [":80"]}]}`, vh + ".domains[0]", "has no host", 1},
		{"duplicate domain", `{"virtual_hosts": [{"domains": ["A.com"]}, {"domains": ["a.COM"]}]}`, "servers[0].routers[0].virtual_hosts[1].domains[0]", `duplicate domain "a.com" (first at ` + vh + `.domains[0])`, 1},
		{"duplicate default", `{"virtual_hosts": [{"domains": ["*"]}, {"domains": ["*:*"]}]}`, "servers[0].routers[0].virtual_hosts[1].domains[0]", "duplicate domain", 1},
		{"duplicate wildcard with port", `{"virtual_hosts": [{"domains": ["*.a:1"]}, {"domains": ["*.a:1"]}]}`, "servers[0].routers[0].virtual_hosts[1].domains[0]", "duplicate domain", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Build(parseRouter(t, tt.router), "servers[0].routers[0]")
			if err == nil {
				t.Fatalf("Build succeeded, want a problem at %s", tt.path)
			}
			if tab != nil {
				t.Error("Build returned a table with an error")
			}
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, want config.Problems", err)
			}
			if len(ps) != tt.problems {
				t.Errorf("got %d problems, want %d: %v", len(ps), tt.problems, err)
			}
			if ps[0].Path != tt.path || !strings.Contains(ps[0].Msg, tt.msg) {
				t.Errorf("got %q, want path %q and a message containing %q", ps[0].String(), tt.path, tt.msg)
			}
		})
	}
}

// Negative durations cannot come from JSON (config rejects them) but can
// from code.
func TestBuildNegativeDurations(t *testing.T) {
	rc := parseRouter(t, table(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "retry_policy": {}}}`))
	neg := config.Duration(-1)
	a := rc.VirtualHosts[0].Routers[0].Route
	a.Timeout, a.RetryPolicy.RetryTimeout = &neg, &neg
	_, err := Build(rc, "r")
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 2 ||
		ps[0].Path != "r.virtual_hosts[0].routers[0].route.timeout" ||
		ps[1].Path != "r.virtual_hosts[0].routers[0].route.retry_policy.retry_timeout" {
		t.Errorf("got %v", err)
	}
}

func TestBuildAccepts(t *testing.T) {
	// Duplicates inside one virtual host and the same name in different
	// kinds or ports are fine.
	for _, js := range []string{
		`{"virtual_hosts": [{"domains": ["a.com", "a.com"]}]}`,
		`{"virtual_hosts": [{"domains": ["a.com"]}, {"domains": ["a.com:80"]}, {"domains": ["*a.com"]}, {"domains": ["a.com*"]}, {"domains": ["*:80"]}]}`,
		`{"virtual_hosts": [{"domains": ["[::1]:80", "[::1]", "::1"]}]}`,
		table(`{"match": {"prefix": "/"}, "redirect": {}}`),
		table(`{"match": {"path": "/a"}, "route": {"cluster_name": "c", "prefix_rewrite": "/b"}}`),
	} {
		if _, err := Build(parseRouter(t, js), "r"); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
}

const fullConfig = `{
  "servers": [{
    "routers": [
      {
        "router_config_name": "http_router",
        "request_headers_to_add": [{"header": {"key": "x-gateway", "value": "%hostname%"}}],
        "virtual_hosts": [
          {
            "name": "api",
            "domains": ["api.example.com", "*.api.example.com", "api.example.com:8080"],
            "routers": [
              {
                "match": {"prefix": "/v1/", "case_sensitive": false, "headers": [{"name": "x-canary", "value": "^(1|true)$", "regex": true}]},
                "route": {
                  "weighted_clusters": [
                    {"cluster": {"name": "api_v1", "weight": 90}},
                    {"cluster": {"name": "api_v2", "weight": 10, "metadata_match": {"filter_metadata": {"mosn.lb": {"version": "v2"}}}}},
                  ],
                  "timeout": "3s",
                  "retry_policy": {"retry_on": true, "retry_timeout": "1s", "num_retries": 2, "status_codes": [502, 503]},
                  "prefix_rewrite": "/",
                },
              },
              {"match": {"path": "/healthz"}, "direct_response": {"status": 200, "body": "ok"}},
              {"match": {"regex": "^/old/(.*)$"}, "redirect": {"response_code": 308, "path_redirect": "/new", "scheme_redirect": "https"}},
            ],
          },
          {
            "name": "default",
            "domains": ["*"],
            "routers": [
              {"match": {"prefix": "/"}, "route": {"cluster_header": "x-cluster", "auto_host_rewrite": true}},
            ],
          },
        ],
      },
      {
        "router_config_name": "rpc_router",
        "virtual_hosts": [{"domains": ["*"], "routers": [
          {"match": {"headers": [{"name": "service", "value": "com.example.Echo:1.0"}]}, "route": {"cluster_name": "echo"}},
          {"match": {"headers": [{"name": "service", "value": ".*"}]}, "route": {"cluster_name": "rest"}},
        ]}],
      },
    ],
  }],
}`

func TestBuildAll(t *testing.T) {
	cfg, _, err := config.Parse([]byte(fullConfig), "full.json")
	if err != nil {
		t.Fatal(err)
	}
	set, err := BuildAll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 || set.Get("nope") != nil {
		t.Fatalf("Len %d", set.Len())
	}
	http := set.Get("http_router")
	r := http.Match(httpReq("x.api.example.com", "/V1/users", "x-canary", "true"))
	if r == nil || r.Cluster(nil, 95) != "api_v2" || r.Cluster(nil, 5) != "api_v1" {
		t.Fatalf("canary route: %v", routeName(r))
	}
	if p, _ := r.RewritePath(httpReq("", "/V1/users")); p != "/users" {
		t.Errorf("rewrite: %q", p)
	}
	if r := http.Match(httpReq("api.example.com:8080", "/old/x")); r == nil {
		t.Error("redirect route not matched")
	} else if code, loc, _ := r.Redirect(httpReq("api.example.com:8080", "/old/x")); code != 308 || loc != "https://api.example.com:8080/new" {
		t.Errorf("redirect: %d %q", code, loc)
	}
	if r := http.Match(httpReq("other", "/v1/x")); r == nil || r.Cluster(httpReq("", "", "x-cluster", "picked"), 0) != "picked" {
		t.Errorf("default vhost: %v", routeName(r))
	}
	rpc := set.Get("rpc_router")
	if r := rpc.Match(rpcReq("service", "com.example.Echo:1.0")); r == nil || r.Cluster(nil, 0) != "echo" {
		t.Errorf("rpc: %v", routeName(r))
	}
	if r := rpc.Match(rpcReq("service", "com.example.Other:1.0")); r == nil || r.Cluster(nil, 0) != "rest" {
		t.Errorf("rpc fallback: %v", routeName(r))
	}

	// Problems from BuildAll carry file positions.
	bad := strings.Replace(fullConfig, `"regex": "^/old/(.*)$"`, `"regex": "^/old/(.*$"`, 1)
	bad = strings.Replace(bad, `"rpc_router"`, `"http_router"`, 1)
	cfg, _, err = config.Parse([]byte(bad), "full.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = BuildAll(cfg)
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if ps[0].Path != "servers[0].routers[0].virtual_hosts[0].routers[2].match.regex" || ps[0].File != "full.json" || ps[0].Line == 0 {
		t.Errorf("regex problem: %+v", ps[0])
	}
	if ps[1].Path != "servers[0].routers[1].router_config_name" || !strings.Contains(ps[1].Msg, "duplicate router_config_name") {
		t.Errorf("duplicate name problem: %+v", ps[1])
	}

	// No server, no tables.
	set, err = BuildAll(&config.Config{})
	if err != nil || set.Len() != 0 || set.Get("x") != nil {
		t.Errorf("empty config: %v %d", err, set.Len())
	}
	var nilSet *Set
	if nilSet.Get("x") != nil || nilSet.Len() != 0 {
		t.Error("nil Set")
	}
}
