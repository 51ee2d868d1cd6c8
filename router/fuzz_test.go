package router

import (
	"strings"
	"testing"

	"mosn.dev/proxy/config"
)

// fuzzTable has every kind of domain, criterion and action.
func fuzzTable(t testing.TB) *Table {
	var vhosts []string
	for _, d := range [][]string{{"a.test", "a.test:8080"}, {"*.w.test", "*.p.test:9"}, {"pre.*", "img*"}, {"[::1]:80"}, {"*:7070"}} {
		vhosts = append(vhosts, vhostJSON(d[0], d...))
	}
	routes := []string{
		`{"match": {"prefix": "/api/", "case_sensitive": false}, "route": {"weighted_clusters": [{"cluster": {"name": "a", "weight": 3}}, {"cluster": {"name": "b", "weight": 1}}], "prefix_rewrite": "/", "hash_policy": [{"cookie": {"name": "sid"}}, {"header": {"key": "x-user"}}, {"source_ip": {}}]}}`,
		`{"match": {"regex": "/re/(\\w+)/(\\d+)"}, "route": {"cluster_header": "x-cluster", "regex_rewrite": {"pattern": {"regex": "(\\w+)"}, "substitution": "<\\1>"}, "auto_host_rewrite_header": "x-host"}}`,
		`{"match": {"path": "/redirect"}, "redirect": {"scheme_redirect": "https", "host_redirect": "r.test"}}`,
		`{"match": {"prefix": "/redir2"}, "redirect": {"path_redirect": "/x?y=1", "response_code": 302}}`,
		`{"match": {"headers": [{"name": "service", "value": ".*"}]}, "route": {"cluster_name": "svc", "auto_host_rewrite": true}}`,
		`{"match": {"prefix": "/m", "headers": [{"name": "method", "value": "POST"}, {"name": "x-v", "value": "v[0-9]+", "regex": true}]}, "route": {"cluster_variable": "v"}}`,
		`{"match": {"path": "/direct"}, "direct_response": {"status": 204}}`,
	}
	for i := range 10 {
		routes = append(routes, cluster(`{"path": "/p`+strings.Repeat("x", i)+`"}`, "p"))
	}
	for i := range 5 {
		routes = append(routes, cluster(`{"headers": [{"name": "x-svc", "value": "s`+strings.Repeat("y", i)+`"}]}`, "s"))
	}
	routes = append(routes, cluster(`{"prefix": "/"}`, "fallback"))
	vhosts = append(vhosts, `{"name": "d", "domains": ["*"], "routers": [`+strings.Join(routes, ",")+`]}`)
	return mustBuild(t, `{"virtual_hosts": [`+strings.Join(vhosts, ",")+`]}`)
}

// FuzzMatch feeds random requests to a fixed table: nothing panics and the
// indexes agree with trying the routes in order.
func FuzzMatch(f *testing.F) {
	tab := fuzzTable(f)
	seeds := [][6]string{
		{"a.test", "/api/x", "GET", "cookie", "sid=1", ""},
		{"A.TEST:8080", "/re/ab/12", "GET", "x-cluster", "c", "q=1"},
		{"x.w.test", "/redirect", "GET", "x-forwarded-proto", "https", "a=b"},
		{"pre.anything:1", "/redir2", "POST", "service", "com.a.B:1.0", ""},
		{"[::1]:80", "/m", "POST", "x-v", "v12", ""},
		{"h:7070", "/pxxx", "GET", "x-svc", "syy", ""},
		{"", "", "", "", "", ""},
		{"[", "/API/", "\x00", "Service", "", "?"},
		{"x.p.test:9", "/p", "GET", "cookie", `sid="q"; a`, ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, host, path, method, hname, hvalue, query string) {
		for _, rpc := range []bool{false, true} {
			req := &testReq{host: host, path: path, method: method, query: query, rpc: rpc, headers: map[string]string{}}
			if hname != "" {
				if rpc {
					req.headers[hname] = hvalue
				} else {
					req.headers[lowerASCII(hname)] = hvalue
				}
			}
			r := tab.Match(req)
			if ref := linearMatch(tab, req); ref != r {
				t.Fatalf("index %q, linear %q", routeName(r), routeName(ref))
			}
			if r == nil {
				continue
			}
			exerciseRoute(r, req)
		}
	})
}

// exerciseRoute calls every action accessor; they must not panic.
func exerciseRoute(r *Route, req Request) {
	c := r.Cluster(req, uint64(len(req.Path()))*2654435761)
	r.MetadataMatch(c)
	r.RewritePath(req)
	r.HostRewrite(req, "up")
	r.Redirect(req)
	r.DirectResponse()
	r.HashKey(req, req.Host())
	r.RequestHeaderOps()
	r.ResponseHeaderOps()
	r.Retry().RetryStatus(len(c))
}

// FuzzBuild builds tables from random regular expressions, domains and
// substitutions: Build reports errors and never panics, and a table it
// returns matches without panicking.
func FuzzBuild(f *testing.F) {
	for _, s := range [][5]string{
		{"/a/[0-9]+", "v[0-9]", "^/hash/(.*)$", "/\\1", "*.example.com"},
		{"(", "[", "*", "$", "a.*.b"},
		{".*", ".*", "(a)(b)", "${2}\\\\\\1", "*:80"},
		{"", "", "", "", ""},
		{"(?i)/API", "\\", "x{1001}", "\\9", "[::1]:0"},
		{"^$", "a|", "(?P<n>x)", "$n", "host:65536"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	f.Fuzz(func(t *testing.T, pathRE, headerRE, rewriteRE, subst, domain string) {
		// RE2 matching costs the regex size times the input length;
		// huge regexes over huge inputs are slow, not wrong.
		if len(pathRE)+len(headerRE)+len(rewriteRE)+len(subst)+len(domain) > 512 {
			return
		}
		tr := true
		rc := &config.Router{VirtualHosts: []config.VirtualHost{{
			Domains: []string{domain, "*"},
			Routers: []config.Route{
				{
					Match: config.RouteMatch{Regex: pathRE, Headers: []config.HeaderMatcher{{Name: "x", Value: headerRE, Regex: true}}},
					Route: &config.RouteAction{ClusterName: "c", RegexRewrite: &config.RegexRewrite{Pattern: config.RegexPattern{Regex: rewriteRE}, Substitution: subst}},
				},
				{
					Match: config.RouteMatch{Prefix: "/", CaseSensitive: &tr},
					Route: &config.RouteAction{ClusterName: "d", RegexRewrite: &config.RegexRewrite{Pattern: config.RegexPattern{Regex: rewriteRE}, Substitution: subst}},
				},
			},
		}}}
		tab, err := Build(rc, "r")
		if err != nil {
			if _, ok := err.(config.Problems); !ok {
				t.Fatalf("error %T is not config.Problems", err)
			}
			if tab != nil {
				t.Fatal("a table with an error")
			}
			return
		}
		for _, req := range []*testReq{
			httpReq(domain, pathRE, "x", headerRE),
			httpReq(strings.ToUpper(domain), subst, "x", subst),
			httpReq("", "/"),
		} {
			if r := tab.Match(req); r != nil {
				exerciseRoute(r, req)
			}
		}
	})
}
