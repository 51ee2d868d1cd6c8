package router

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func oneRoute(t testing.TB, route string) *Route {
	t.Helper()
	tab := mustBuild(t, table(route))
	r := tab.vhosts[0].routes[0]
	if r == nil {
		t.Fatal("no route")
	}
	return r
}

func TestWeightedClusters(t *testing.T) {
	r := oneRoute(t, `{"match": {"prefix": "/"}, "route": {
		"metadata_match": {"filter_metadata": {"mosn.lb": {"zone": "a", "version": "v0"}}},
		"weighted_clusters": [
			{"cluster": {"name": "one", "weight": 1}},
			{"cluster": {"name": "two", "weight": 2, "metadata_match": {"filter_metadata": {"mosn.lb": {"version": "v2"}}}}},
			{"cluster": {"name": "seven", "weight": 7}}]}}`)
	counts := map[string]int{}
	const n = 10_000
	for rnd := range uint64(n) {
		counts[r.Cluster(nil, rnd)]++
	}
	want := map[string]int{"one": 1000, "two": 2000, "seven": 7000}
	if !maps.Equal(counts, want) {
		t.Errorf("split over %d consecutive rnd values: got %v, want %v", n, counts, want)
	}
	// rnd is taken modulo the total weight, in config order.
	for _, tt := range []struct {
		rnd  uint64
		want string
	}{{0, "one"}, {1, "two"}, {2, "two"}, {3, "seven"}, {9, "seven"}, {10, "one"}, {1<<64 - 1, "seven"}, {1<<64 - 4, "two"}} {
		if got := r.Cluster(nil, tt.rnd); got != tt.want {
			t.Errorf("rnd %d: got %q, want %q", tt.rnd, got, tt.want)
		}
	}
	if got := r.MetadataMatch("two"); !maps.Equal(got, map[string]string{"zone": "a", "version": "v2"}) {
		t.Errorf("two: metadata %v", got)
	}
	if got := r.MetadataMatch("one"); !maps.Equal(got, map[string]string{"zone": "a", "version": "v0"}) {
		t.Errorf("one: metadata %v", got)
	}
	if got := r.MetadataMatch("unknown"); !maps.Equal(got, map[string]string{"zone": "a", "version": "v0"}) {
		t.Errorf("unknown: metadata %v", got)
	}
}

func TestClusterSources(t *testing.T) {
	named := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_name": "c1", "upstream_protocol": "Http2"}}`)
	if got := named.Cluster(httpReq("h", "/"), 99); got != "c1" {
		t.Errorf("cluster_name: %q", got)
	}
	if named.UpstreamProtocol() != "Http2" || !named.IsUpstream() || named.MetadataMatch("c1") != nil {
		t.Errorf("upstream_protocol %q, IsUpstream %v, metadata %v", named.UpstreamProtocol(), named.IsUpstream(), named.MetadataMatch("c1"))
	}
	hdr := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_header": "X-Cluster"}}`)
	if got := hdr.Cluster(httpReq("h", "/", "x-cluster", "from-header"), 0); got != "from-header" {
		t.Errorf("cluster_header: %q", got)
	}
	if got := hdr.Cluster(httpReq("h", "/"), 0); got != "" {
		t.Errorf("cluster_header missing: %q", got)
	}
	v := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_variable": "x-mosn-cluster"}}`)
	vr := &varReq{testReq: *httpReq("h", "/")}
	vr.vars = map[string]string{"x-mosn-cluster": "from-var"}
	if got := v.Cluster(vr, 0); got != "from-var" {
		t.Errorf("cluster_variable: %q", got)
	}
	if got := v.Cluster(httpReq("h", "/"), 0); got != "" || v.ClusterVariable() != "x-mosn-cluster" {
		t.Errorf("cluster_variable without VariableGetter: %q, ClusterVariable %q", got, v.ClusterVariable())
	}
	d := oneRoute(t, direct(`{"prefix": "/"}`, "x"))
	if got := d.Cluster(httpReq("h", "/"), 0); got != "" || d.IsUpstream() {
		t.Errorf("direct response route: cluster %q, IsUpstream %v", got, d.IsUpstream())
	}
}

func TestPathRewrite(t *testing.T) {
	tests := []struct {
		name, route, path, want string
		changed                 bool
	}{
		{"prefix", `{"match": {"prefix": "/api/"}, "route": {"cluster_name": "c", "prefix_rewrite": "/"}}`, "/api/users", "/users", true},
		{"prefix to longer", `{"match": {"prefix": "/v1"}, "route": {"cluster_name": "c", "prefix_rewrite": "/service/v2"}}`, "/v1/x", "/service/v2/x", true},
		{"prefix, case-insensitive match", `{"match": {"prefix": "/api/", "case_sensitive": false}, "route": {"cluster_name": "c", "prefix_rewrite": "/"}}`, "/API/users", "/users", true},
		{"prefix, path does not match", `{"match": {"prefix": "/api/"}, "route": {"cluster_name": "c", "prefix_rewrite": "/"}}`, "/other", "/other", false},
		{"prefix, same result", `{"match": {"prefix": "/a"}, "route": {"cluster_name": "c", "prefix_rewrite": "/a"}}`, "/a/b", "/a/b", false},
		{"path replaced whole", `{"match": {"path": "/old"}, "route": {"cluster_name": "c", "prefix_rewrite": "/new"}}`, "/old", "/new", true},
		{"regex, Envoy group syntax", `{"match": {"prefix": "/hash"}, "route": {"cluster_name": "c", "regex_rewrite": {"pattern": {"regex": "^/hash/(.*)$"}, "substitution": "/\\1"}}}`, "/hash/x/y", "/x/y", true},
		{"regex, Go group syntax", `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "regex_rewrite": {"pattern": {"regex": "^/(\\w+)/(\\w+)$"}, "substitution": "/$2/$1"}}}`, "/a/b", "/b/a", true},
		{"regex, every match", `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "regex_rewrite": {"pattern": {"regex": "o"}, "substitution": "0"}}}`, "/foo/boo", "/f00/b00", true},
		{"regex, no match", `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "regex_rewrite": {"pattern": {"regex": "zzz"}, "substitution": "y"}}}`, "/a", "/a", false},
		{"regex, escaped backslash", `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "regex_rewrite": {"pattern": {"regex": "x"}, "substitution": "\\\\"}}}`, "/x", "/\\", true},
		{"prefix wins over regex", `{"match": {"prefix": "/p/"}, "route": {"cluster_name": "c", "prefix_rewrite": "/q/", "regex_rewrite": {"pattern": {"regex": ".*"}, "substitution": "/r"}}}`, "/p/1", "/q/1", true},
		{"none", `{"match": {"prefix": "/"}, "route": {"cluster_name": "c"}}`, "/a", "/a", false},
	}
	for _, tt := range tests {
		r := oneRoute(t, tt.route)
		got, changed := r.RewritePath(httpReq("h", tt.path))
		if got != tt.want || changed != tt.changed {
			t.Errorf("%s: got (%q, %v), want (%q, %v)", tt.name, got, changed, tt.want, tt.changed)
		}
	}
}

func TestHostRewrite(t *testing.T) {
	tests := []struct {
		name, action string
		req          *testReq
		upstream     string
		want         string
		ok           bool
	}{
		{"literal", `"host_rewrite": "internal.test"`, httpReq("h", "/"), "10.0.0.1", "internal.test", true},
		{"literal beats header and auto", `"host_rewrite": "lit", "auto_host_rewrite_header": "x-h", "auto_host_rewrite": true`, httpReq("h", "/", "x-h", "hdr"), "up", "lit", true},
		{"header", `"auto_host_rewrite_header": "X-Host"`, httpReq("h", "/", "x-host", "from.header"), "up", "from.header", true},
		{"header missing", `"auto_host_rewrite_header": "x-host"`, httpReq("h", "/"), "up", "", false},
		{"header empty", `"auto_host_rewrite_header": "x-host"`, httpReq("h", "/", "x-host", ""), "up", "", false},
		{"auto", `"auto_host_rewrite": true`, httpReq("h", "/"), "backend-1.svc", "backend-1.svc", true},
		{"auto without upstream host", `"auto_host_rewrite": true`, httpReq("h", "/"), "", "", false},
		{"none", `"timeout": "1s"`, httpReq("h", "/"), "up", "", false},
	}
	for _, tt := range tests {
		r := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", `+tt.action+`}}`)
		got, ok := r.HostRewrite(tt.req, tt.upstream)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: got (%q, %v), want (%q, %v)", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRedirect(t *testing.T) {
	withQuery := func(r *testReq, q string) *testReq { r.query = q; return r }
	https := &schemeReq{testReq: *httpReq("a.test:443", "/p")}
	https.scheme = "HTTPS"
	tests := []struct {
		name, redirect string
		req            Request
		code           int
		location       string
	}{
		{"defaults keep the URL", `{}`, withQuery(httpReq("a.test", "/p"), "x=1"), 301, "http://a.test/p?x=1"},
		{"path", `{"path_redirect": "/new", "response_code": 302}`, withQuery(httpReq("a.test", "/old"), "x=1"), 302, "http://a.test/new?x=1"},
		{"path with its own query", `{"path_redirect": "/new?y=2"}`, withQuery(httpReq("a.test", "/old"), "x=1"), 301, "http://a.test/new?y=2"},
		{"host", `{"host_redirect": "b.test:8443", "response_code": 307}`, httpReq("a.test", "/p"), 307, "http://b.test:8443/p"},
		{"scheme drops the old default port", `{"scheme_redirect": "HTTPS", "response_code": 308}`, httpReq("a.test:80", "/p"), 308, "https://a.test/p"},
		{"scheme keeps another port", `{"scheme_redirect": "https"}`, httpReq("a.test:8080", "/p"), 301, "https://a.test:8080/p"},
		{"same scheme keeps the port", `{"scheme_redirect": "http"}`, httpReq("a.test:80", "/p"), 301, "http://a.test:80/p"},
		{"x-forwarded-proto", `{"scheme_redirect": "http"}`, httpReq("a.test:443", "/p", "x-forwarded-proto", "https, http"), 301, "http://a.test/p"},
		{"Schemer", `{"scheme_redirect": "http", "response_code": 303}`, https, 303, "http://a.test/p"},
		{"all parts", `{"scheme_redirect": "https", "host_redirect": "c.test", "path_redirect": "/c"}`, httpReq("a.test", "/p"), 301, "https://c.test/c"},
	}
	for _, tt := range tests {
		r := oneRoute(t, `{"match": {"prefix": "/"}, "redirect": `+tt.redirect+`}`)
		code, loc, ok := r.Redirect(tt.req)
		if !ok || code != tt.code || loc != tt.location {
			t.Errorf("%s: got (%d, %q, %v), want (%d, %q)", tt.name, code, loc, ok, tt.code, tt.location)
		}
		if _, _, ok := r.DirectResponse(); ok {
			t.Errorf("%s: a redirect is not a direct response", tt.name)
		}
	}
	up := oneRoute(t, cluster(`{"prefix": "/"}`, "c"))
	if _, _, ok := up.Redirect(httpReq("h", "/")); ok {
		t.Error("an upstream route is not a redirect")
	}
}

func TestDirectResponse(t *testing.T) {
	r := oneRoute(t, `{"match": {"path": "/healthz"}, "direct_response": {"status": 503, "body": "down"}}`)
	status, b, ok := r.DirectResponse()
	if !ok || status != 503 || b != "down" {
		t.Errorf("got (%d, %q, %v)", status, b, ok)
	}
	up := oneRoute(t, cluster(`{"prefix": "/"}`, "c"))
	if _, _, ok := up.DirectResponse(); ok {
		t.Error("an upstream route is not a direct response")
	}
}

// recorder is a HeaderSetter keeping a log of the calls.
type recorder struct {
	h   map[string][]string
	log []string
}

func (r *recorder) Get(name string) (string, bool) {
	v := r.h[strings.ToLower(name)]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}
func (r *recorder) Set(name, value string) {
	r.log = append(r.log, "set "+name+"="+value)
	r.h[strings.ToLower(name)] = []string{value}
}
func (r *recorder) Add(name, value string) {
	r.log = append(r.log, "add "+name+"="+value)
	r.h[strings.ToLower(name)] = append(r.h[strings.ToLower(name)], value)
}
func (r *recorder) Del(name string) {
	r.log = append(r.log, "del "+name)
	delete(r.h, strings.ToLower(name))
}

func TestHeaderOps(t *testing.T) {
	tab := mustBuild(t, `{
		"request_headers_to_add": [{"header": {"key": "x-level", "value": "router"}, "append": false}, {"header": {"key": "x-all", "value": "router"}}],
		"request_headers_to_remove": ["x-router-rm"],
		"response_headers_to_add": [{"header": {"key": "x-resp", "value": "router"}}],
		"response_headers_to_remove": ["server"],
		"virtual_hosts": [{"domains": ["*"],
			"request_headers_to_add": [{"header": {"key": "x-level", "value": "vhost"}, "append": false}, {"header": {"key": "x-all", "value": "vhost"}}],
			"request_headers_to_remove": ["x-vhost-rm"],
			"response_headers_to_add": [{"header": {"key": "x-resp", "value": "vhost"}}],
			"routers": [
				{"match": {"prefix": "/r"}, "route": {"cluster_name": "c",
					"request_headers_to_add": [{"header": {"key": "x-level", "value": "route"}, "append": false}, {"header": {"key": "x-all", "value": "%hostname%"}}, {"header": {"key": "x-debug", "value": "re-added"}}],
					"request_headers_to_remove": ["x-debug"],
					"response_headers_to_add": [{"header": {"key": "x-resp", "value": "route"}, "append": false}],
					"response_headers_to_remove": ["x-internal"]}},
				{"match": {"prefix": "/"}, "direct_response": {"status": 200}}]}]}`)
	r := tab.Match(httpReq("h", "/r"))
	rec := &recorder{h: map[string][]string{"x-debug": {"1"}, "x-vhost-rm": {"1"}, "x-router-rm": {"1"}, "x-all": {"client"}, "x-keep": {"1"}}}
	r.RequestHeaderOps().Apply(rec)
	wantLog := []string{
		"del x-debug", "del x-vhost-rm", "del x-router-rm",
		"set x-level=route", "add x-all=%hostname%", "add x-debug=re-added",
		"set x-level=vhost", "add x-all=vhost",
		"set x-level=router", "add x-all=router",
	}
	if !slices.Equal(rec.log, wantLog) {
		t.Errorf("request ops:\n got %q\nwant %q", rec.log, wantLog)
	}
	wantH := map[string][]string{
		"x-level": {"router"}, // the least specific level is applied last
		"x-all":   {"client", "%hostname%", "vhost", "router"},
		"x-debug": {"re-added"},
		"x-keep":  {"1"},
	}
	if !maps.EqualFunc(rec.h, wantH, slices.Equal) {
		t.Errorf("request headers: got %v, want %v", rec.h, wantH)
	}
	resp := r.ResponseHeaderOps()
	if !slices.Equal(resp.Remove, []string{"x-internal", "server"}) ||
		!slices.Equal(resp.Add, []HeaderAdd{{"x-resp", "route", false}, {"x-resp", "vhost", true}, {"x-resp", "router", true}}) {
		t.Errorf("response ops: %+v", resp)
	}
	// A direct response still gets the vhost's and router's lists.
	d := tab.Match(httpReq("h", "/other"))
	if got := d.ResponseHeaderOps(); !slices.Equal(got.Remove, []string{"server"}) || len(got.Add) != 2 {
		t.Errorf("direct response ops: %+v", got)
	}
	if (HeaderOps{}).Empty() != true || d.RequestHeaderOps().Empty() {
		t.Error("Empty is wrong")
	}
}

func TestHashKey(t *testing.T) {
	// FNV-1a 64 reference vectors.
	for _, tt := range []struct {
		in   string
		want uint64
	}{{"", 0xcbf29ce484222325}, {"a", 0xaf63dc4c8601ec8c}, {"foobar", 0x85944171f73967e8}} {
		if got := fnv1a(tt.in); got != tt.want {
			t.Errorf("fnv1a(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
	policies := `"hash_policy": [{"header": {"key": "x-user"}}, {"cookie": {"name": "sid", "path": "/", "ttl": "1h"}}, {"source_ip": {}}]`
	r := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", `+policies+`}}`)
	tests := []struct {
		name  string
		req   *testReq
		src   string
		want  uint64
		found bool
	}{
		{"header first", httpReq("h", "/", "x-user", "alice", "cookie", "sid=s1"), "10.0.0.1", fnv1a("alice"), true},
		{"then cookie", httpReq("h", "/", "cookie", "a=1; sid=s1; b=2"), "10.0.0.1", fnv1a("s1"), true},
		{"quoted cookie", httpReq("h", "/", "cookie", `sid="s2"`), "", fnv1a("s2"), true},
		{"cookie name must match whole", httpReq("h", "/", "cookie", "xsid=s1"), "10.0.0.1", fnv1a("10.0.0.1"), true},
		{"then source IP, port dropped", httpReq("h", "/"), "10.0.0.1:5555", fnv1a("10.0.0.1"), true},
		{"IPv6 source", httpReq("h", "/"), "[2001:db8::1]:80", fnv1a("2001:db8::1"), true},
		{"nothing", httpReq("h", "/"), "", 0, false},
	}
	for _, tt := range tests {
		got, ok := r.HashKey(tt.req, tt.src)
		if got != tt.want || ok != tt.found {
			t.Errorf("%s: got (%#x, %v), want (%#x, %v)", tt.name, got, ok, tt.want, tt.found)
		}
	}
	// Without hash_policy MOSN hashes the source IP.
	plain := oneRoute(t, cluster(`{"prefix": "/"}`, "c"))
	if got, ok := plain.HashKey(httpReq("h", "/"), "192.0.2.1"); !ok || got != fnv1a("192.0.2.1") {
		t.Errorf("default: got (%#x, %v)", got, ok)
	}
	hdrOnly := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "hash_policy": [{"header": {"key": "x-user"}}]}}`)
	if _, ok := hdrOnly.HashKey(httpReq("h", "/"), "192.0.2.1"); ok {
		t.Error("header policy with the header missing gave a key")
	}
}

func TestTimeoutRetryMetadata(t *testing.T) {
	r := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "timeout": "3s",
		"retry_policy": {"retry_on": true, "retry_timeout": "500ms", "num_retries": 5, "status_codes": [502, 503]}},
		"metadata": {"filter_metadata": {"mosn.lb": {"label": "x"}}},
		"per_filter_config": {"fault": {"delay": 1}}}`)
	if r.Timeout() != 3*time.Second {
		t.Errorf("timeout %v", r.Timeout())
	}
	rp := r.Retry()
	if !rp.On || rp.NumRetries != 5 || rp.PerTryTimeout != 500*time.Millisecond || !slices.Equal(rp.StatusCodes, []uint32{502, 503}) || rp.MaxRetries() != 5 {
		t.Errorf("retry %+v", rp)
	}
	for status, want := range map[int]bool{502: true, 503: true, 500: false, 504: false, 200: false} {
		if rp.RetryStatus(status) != want {
			t.Errorf("RetryStatus(%d) = %v", status, !want)
		}
	}
	if got := r.Metadata()["mosn.lb"]["label"]; got != "x" {
		t.Errorf("metadata %v", r.Metadata())
	}
	if got := string(r.PerFilterConfig("fault")); got != `{"delay": 1}` {
		t.Errorf("per_filter_config %q", got)
	}

	plain := oneRoute(t, `{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "retry_policy": {"retry_on": true}}}`)
	rp = plain.Retry()
	if plain.Timeout() != 0 || rp.MaxRetries() != 3 || !rp.RetryStatus(500) || !rp.RetryStatus(599) || rp.RetryStatus(499) {
		t.Errorf("defaults: timeout %v, retry %+v", plain.Timeout(), rp)
	}
	none := oneRoute(t, cluster(`{"prefix": "/"}`, "c"))
	if rp := none.Retry(); rp.On || rp.RetryStatus(503) || rp.MaxRetries() != 3 {
		t.Errorf("no policy: %+v", rp)
	}
}

func TestPerFilterConfigOverride(t *testing.T) {
	tab := mustBuild(t, `{"virtual_hosts": [{"domains": ["*"],
		"per_filter_config": {"a": {"from": "vhost"}, "b": {"from": "vhost"}},
		"routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "c"}, "per_filter_config": {"b": {"from": "route"}}}]}]}`)
	r := tab.Match(httpReq("h", "/"))
	if a, b := string(r.PerFilterConfig("a")), string(r.PerFilterConfig("b")); a != `{"from": "vhost"}` || b != `{"from": "route"}` || r.PerFilterConfig("c") != nil {
		t.Errorf("a %s, b %s", a, b)
	}
}
