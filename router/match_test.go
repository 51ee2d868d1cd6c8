package router

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func table(routes ...string) string {
	return `{"virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [` + strings.Join(routes, ",") + `]}]}`
}

func indexSteps(tab *Table) int {
	n := 0
	for _, v := range tab.vhosts {
		for _, s := range v.steps {
			if s.index != nil {
				n++
			}
		}
	}
	return n
}

// orderTable mixes prefix routes, runs of exact paths long enough to be
// indexed, and header routes.
func orderTable(t testing.TB) *Table {
	var rs []string
	rs = append(rs, direct(`{"prefix": "/api"}`, "api-prefix"))
	for i := range 10 {
		rs = append(rs, direct(fmt.Sprintf(`{"path": "/p%d"}`, i), fmt.Sprintf("p%d", i)))
	}
	// Shadowed by the prefix route above although exact.
	rs[5] = direct(`{"path": "/api/x"}`, "api-exact")
	// A duplicate inside the run: the first one wins.
	rs = append(rs, direct(`{"path": "/p3"}`, "p3-dup"))
	rs = append(rs, direct(`{"path": "/z", "headers": [{"name": "x-z", "value": "1"}]}`, "z-header"))
	for i := range 9 {
		rs = append(rs, direct(fmt.Sprintf(`{"path": "/q%d"}`, i), fmt.Sprintf("q%d", i)))
	}
	rs[len(rs)-1] = direct(`{"path": "/z"}`, "z-plain")
	rs = append(rs, direct(`{"prefix": "/q"}`, "q-prefix"))
	// Case-insensitive run.
	for i := range 8 {
		rs = append(rs, direct(fmt.Sprintf(`{"path": "/CI%d", "case_sensitive": false}`, i), fmt.Sprintf("ci%d", i)))
	}
	rs = append(rs, direct(`{"regex": "/r/[0-9]+"}`, "regex"))
	rs = append(rs, direct(`{"prefix": "/"}`, "fallback"))
	return mustBuild(t, table(rs...))
}

func TestRouteOrder(t *testing.T) {
	tab := orderTable(t)
	if n := indexSteps(tab); n != 3 {
		t.Fatalf("want 3 indexed runs (p, q, ci), got %d", n)
	}
	tests := []struct {
		path string
		hdr  []string
		want string
	}{
		{"/api/x", nil, "api-prefix"}, // earlier prefix beats a later exact path
		{"/api", nil, "api-prefix"},
		{"/p0", nil, "p0"},
		{"/p9", nil, "p9"},
		{"/p3", nil, "p3"},
		{"/p10", nil, "fallback"},
		{"/P1", nil, "fallback"}, // case-sensitive by default
		{"/z", []string{"x-z", "1"}, "z-header"},
		{"/z", []string{"x-z", "2"}, "z-plain"},
		{"/z", nil, "z-plain"},
		{"/q0", nil, "q0"},
		{"/q7", nil, "q7"},
		{"/q8", nil, "q-prefix"}, // replaced by /z in the run
		{"/qq", nil, "q-prefix"},
		{"/ci3", nil, "ci3"},
		{"/CI3", nil, "ci3"},
		{"/Ci7", nil, "ci7"},
		{"/ci8", nil, "fallback"},
		{"/r/123", nil, "regex"},
		{"/r/123/x", nil, "fallback"}, // a regex matches the whole path
		{"/r/", nil, "fallback"},
		{"/", nil, "fallback"},
		{"", nil, "<nil>"},
	}
	for _, tt := range tests {
		req := httpReq("h", tt.path, tt.hdr...)
		got := tab.Match(req)
		if body(got) != tt.want {
			t.Errorf("path %q %v: got %q, want %q", tt.path, tt.hdr, body(got), tt.want)
		}
		if ref := linearMatch(tab, req); ref != got {
			t.Errorf("path %q: index gives %q, linear order gives %q", tt.path, body(got), body(ref))
		}
	}
}

// TestIndexAgreesWithLinearOrder checks the index against trying every
// route in order, on random tables and paths.
func TestIndexAgreesWithLinearOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/a", "/b", "/c", "/A", "/ab", "/a/b", "/", "/b/", "/C", "/abc"}
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	// route makes one route of kind k; kinds 0 to 2 are indexable.
	route := func(k int, fold bool, header string) string {
		p := pick(paths...)
		cs := ""
		if fold {
			cs = `, "case_sensitive": false`
		}
		switch k {
		case 0, 1:
			return fmt.Sprintf(`{"path": %q%s}`, p, cs)
		case 2:
			return fmt.Sprintf(`{"headers": [{"name": %q, "value": %q}]}`, header, pick("1", "2", "3", ""))
		case 3:
			return fmt.Sprintf(`{"prefix": %q%s}`, p, cs)
		case 4:
			return fmt.Sprintf(`{"path": %q, "headers": [{"name": "x", "value": "1"}]}`, p)
		case 5:
			return fmt.Sprintf(`{"headers": [{"name": %q, "value": %q}, {"name": "y", "value": "1"}]}`, header, pick("1", "2"))
		case 6:
			return fmt.Sprintf(`{"headers": [{"name": %q, "value": "[12]", "regex": true}]}`, header)
		}
		return fmt.Sprintf(`{"regex": %q}`, p+".*")
	}
	var pathRuns, headerRuns int
	for iter := range 300 {
		var rs []string
		for n := 5 + rng.IntN(40); len(rs) < n; {
			k := rng.IntN(8)
			fold := rng.IntN(4) == 0
			header := pick("service", "x")
			run := 1
			if k <= 2 {
				run = 1 + rng.IntN(12) // long runs get indexed
			}
			for range run {
				rs = append(rs, direct(route(k, fold, header), fmt.Sprint(len(rs))))
			}
		}
		tab := mustBuild(t, table(rs...))
		for _, s := range tab.vhosts[0].steps {
			switch {
			case s.index != nil && s.header != "":
				headerRuns++
			case s.index != nil:
				pathRuns++
			}
		}
		for _, p := range paths {
			for _, hdr := range [][]string{nil, {"x", "1"}, {"x", "2", "y", "1"}, {"service", "3"}, {"service", ""}, {"service", "1", "x", "3"}} {
				req := httpReq("h", p, hdr...)
				if got, ref := tab.Match(req), linearMatch(tab, req); got != ref {
					t.Fatalf("iteration %d, path %q, headers %v: index %q, linear %q\nroutes: %s", iter, p, hdr, body(got), body(ref), strings.Join(rs, "\n"))
				}
			}
		}
	}
	if pathRuns < 50 || headerRuns < 50 {
		t.Errorf("the random tables had too few indexed runs: %d path, %d header", pathRuns, headerRuns)
	}
}

func TestPathCriteria(t *testing.T) {
	tab := mustBuild(t, table(
		direct(`{"prefix": "/Pre/", "case_sensitive": false}`, "prefix-fold"),
		direct(`{"prefix": "/pre"}`, "prefix"),
		direct(`{"path": "/Exact", "case_sensitive": false}`, "path-fold"),
		direct(`{"path": "/exact2"}`, "path"),
		direct(`{"regex": "/re/(a|b)"}`, "regex"),
		direct(`{"regex": "^/anch$"}`, "regex-anchored"),
		direct(`{"regex": ".*\\.png"}`, "regex-png"),
	))
	tests := []struct{ path, want string }{
		{"/pre/x", "prefix-fold"},
		{"/PRE/x", "prefix-fold"},
		{"/pRe/", "prefix-fold"},
		{"/prefix", "prefix"},
		{"/PREfix", "<nil>"},
		{"/exact", "path-fold"},
		{"/EXACT", "path-fold"},
		{"/exact/", "<nil>"},
		{"/exact2", "path"},
		{"/Exact2", "<nil>"},
		{"/re/a", "regex"},
		{"/re/ab", "<nil>"},
		{"/x/re/a", "<nil>"},
		{"/anch", "regex-anchored"},
		{"/img/a.png", "regex-png"},
		{"/img/a.png.txt", "<nil>"},
	}
	for _, tt := range tests {
		if got := body(tab.Match(httpReq("h", tt.path))); got != tt.want {
			t.Errorf("path %q: got %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestHeaderMatchers(t *testing.T) {
	tab := mustBuild(t, table(
		direct(`{"prefix": "/", "headers": [{"name": "X-Env", "value": "prod"}, {"name": "x-ver", "value": "v[0-9]", "regex": true}]}`, "both"),
		direct(`{"prefix": "/", "headers": [{"name": "x-env", "value": "prod"}]}`, "env"),
		direct(`{"prefix": "/", "headers": [{"name": "x-empty", "value": ""}]}`, "empty"),
		direct(`{"prefix": "/m", "headers": [{"name": "method", "value": "POST"}]}`, "method"),
		direct(`{"prefix": "/m", "headers": [{"name": ":method", "value": "PUT"}]}`, "pseudo-method"),
		direct(`{"prefix": "/m", "headers": [{"name": ":authority", "value": "h.test", "regex": false}]}`, "authority"),
		direct(`{"prefix": "/", "headers": [{"name": ":path", "value": "/p.*", "regex": true}]}`, "pseudo-path"),
	))
	tests := []struct {
		name   string
		req    *testReq
		method string
		want   string
	}{
		{"all headers match", httpReq("h", "/", "x-env", "prod", "x-ver", "v1"), "", "both"},
		{"header names are case-insensitive for HTTP", httpReq("h", "/", "X-ENV", "prod", "X-Ver", "v2"), "", "both"},
		{"regex must match the whole value", httpReq("h", "/", "x-env", "prod", "x-ver", "v12"), "", "env"},
		{"one header missing", httpReq("h", "/", "x-env", "prod"), "", "env"},
		{"exact value is case-sensitive", httpReq("h", "/", "x-env", "Prod"), "", "<nil>"},
		{"missing header never matches, even an empty value", httpReq("h", "/"), "", "<nil>"},
		{"present empty header matches an empty value", httpReq("h", "/", "x-empty", ""), "", "empty"},
		{"method from the request line", httpReq("h", "/m"), "POST", "method"},
		{"a method header is not the method in an HTTP rule", httpReq("h", "/m", "method", "POST"), "GET", "<nil>"},
		{":method", httpReq("h", "/m"), "PUT", "pseudo-method"},
		{":authority", httpReq("h.test", "/m"), "GET", "authority"},
		{":path", httpReq("h", "/pq"), "GET", "pseudo-path"},
	}
	for _, tt := range tests {
		if tt.method != "" {
			tt.req.method = tt.method
		}
		if got := body(tab.Match(tt.req)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHeaderRunIndex(t *testing.T) {
	var rs []string
	for i := range 6 {
		rs = append(rs, cluster(fmt.Sprintf(`{"headers": [{"name": "service", "value": "s%d"}]}`, i), fmt.Sprintf("c%d", i)))
	}
	rs = append(rs, cluster(`{"headers": [{"name": "service", "value": "s2"}]}`, "dup"))
	rs = append(rs, cluster(`{"headers": [{"name": "other", "value": "s2"}]}`, "other"))
	rs = append(rs, cluster(`{"headers": [{"name": "service", "value": ".*"}]}`, "any"))
	tab := mustBuild(t, table(rs...))
	if n := indexSteps(tab); n != 1 {
		t.Fatalf("want 1 indexed run, got %d", n)
	}
	for _, tt := range []struct {
		req  *testReq
		want string
	}{
		{rpcReq("service", "s0"), "c0"},
		{rpcReq("service", "s2"), "c2"},
		{rpcReq("service", "s5"), "c5"},
		{rpcReq("service", "s6"), "any"},
		{rpcReq("other", "s2"), "other"},
		{rpcReq("other", "s2", "service", "s1"), "c1"},
		{rpcReq(), "<nil>"},
	} {
		r := tab.Match(tt.req)
		if got := clusterOf(r, tt.req); got != tt.want && !(r == nil && tt.want == "<nil>") {
			t.Errorf("%v: got %q, want %q", tt.req.headers, got, tt.want)
		}
		if ref := linearMatch(tab, tt.req); ref != r {
			t.Errorf("%v: index and linear order differ", tt.req.headers)
		}
	}
}

func TestRPCRule(t *testing.T) {
	tab := mustBuild(t, table(
		cluster(`{"headers": [{"name": "service", "value": "com.foo.Bar:1.0"}]}`, "A"),
		cluster(`{"headers": [{"name": "service", "value": "com\\.foo\\..*", "regex": true}, {"name": "method", "value": "echo"}]}`, "echo"),
		cluster(`{"headers": [{"name": "service", "value": ".*"}]}`, "B"),
	))
	tests := []struct {
		name string
		req  *testReq
		want string
	}{
		{"exact service", rpcReq("service", "com.foo.Bar:1.0"), "A"},
		{"method is an RPC header in RPC rules", rpcReq("service", "com.foo.Baz:1.0", "method", "echo"), "echo"},
		{"legacy .* matches any service", rpcReq("service", "com.other.X:2.0"), "B"},
		{"legacy .* needs a non-empty service", rpcReq("service", ""), "<nil>"},
		{"no service header", rpcReq("x", "y"), "<nil>"},
		{"RPC header names are case-sensitive", rpcReq("Service", "com.foo.Bar:1.0"), "<nil>"},
		{"HTTP request matched by headers alone", httpReq("any", "/any/path", "service", "com.foo.Bar:1.0"), "A"},
	}
	for _, tt := range tests {
		r := tab.Match(tt.req)
		got := "<nil>"
		if r != nil {
			got = r.Cluster(tt.req, 0)
		}
		if got != tt.want {
			t.Errorf("%s: got cluster %q, want %q", tt.name, got, tt.want)
		}
	}
	// A regex ".*" is a real regex: it matches an empty service too.
	tab = mustBuild(t, table(cluster(`{"headers": [{"name": "service", "value": ".*", "regex": true}]}`, "R")))
	if r := tab.Match(rpcReq("service", "")); r == nil {
		t.Error("regex .* should match an empty service")
	}
	// A route with an empty match matches every request, as in MOSN.
	tab = mustBuild(t, table(cluster(`{}`, "all")))
	if r := tab.Match(rpcReq()); r == nil || r.Cluster(nil, 0) != "all" {
		t.Error("an empty match should match every request")
	}
}

func TestNameAndPath(t *testing.T) {
	tab := mustBuild(t, `{"virtual_hosts": [
		{"name": "web", "domains": ["web.test"], "routers": [`+cluster(`{"prefix": "/a"}`, "a")+`, `+cluster(`{"prefix": "/"}`, "b")+`]},
		{"domains": ["*"], "routers": [`+cluster(`{"prefix": "/"}`, "c")+`]}]}`)
	r := tab.Match(httpReq("web.test", "/x"))
	if r.Name() != "web/1" || r.VirtualHost() != "web" || r.ConfigPath() != "servers[0].routers[0].virtual_hosts[0].routers[1]" {
		t.Errorf("got name %q vhost %q path %q", r.Name(), r.VirtualHost(), r.ConfigPath())
	}
	r = tab.Match(httpReq("other", "/x"))
	if r.Name() != "virtual_hosts[1]/0" || r.VirtualHost() != "" {
		t.Errorf("unnamed vhost: got name %q vhost %q", r.Name(), r.VirtualHost())
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	small, rpc, order := smallTable(t), rpcTable(t), orderTable(t)
	for _, c := range []struct {
		tab *Table
		req Request
	}{
		{small, httpReq("www.example.com:8080", "/index.html", "upgrade", "h2c")},
		{small, httpReq("api.example.com", "/user/12")},
		{rpc, rpcReq("service", "com.example.Service9:1.0")},
		{order, httpReq("h", "/q7")},
		{order, httpReq("h", "/ci3")},
	} {
		if n := testing.AllocsPerRun(100, func() { c.tab.Match(c.req) }); n != 0 {
			t.Errorf("Match(%q %q) allocates %v times", c.req.Host(), c.req.Path(), n)
		}
	}
}
