package router

import (
	"encoding/json"
	"strings"
	"testing"

	"mosn.dev/proxy/config"
)

// testReq is a Request. HTTP requests (rpc false) look headers up
// case-insensitively; the keys of headers must then be lower case. RPC
// requests look them up as is.
type testReq struct {
	host, path, query, method string
	headers                   map[string]string
	rpc                       bool
	scheme                    string
	vars                      map[string]string
}

func (r *testReq) Host() string   { return r.host }
func (r *testReq) Path() string   { return r.path }
func (r *testReq) Query() string  { return r.query }
func (r *testReq) Method() string { return r.method }
func (r *testReq) Header(name string) (string, bool) {
	if !r.rpc {
		name = lowerASCII(name)
	}
	v, ok := r.headers[name]
	return v, ok
}

// schemeReq adds a Scheme method.
type schemeReq struct{ testReq }

func (r *schemeReq) Scheme() string { return r.scheme }

// varReq adds MOSN variables.
type varReq struct{ testReq }

func (r *varReq) Variable(name string) (string, bool) {
	v, ok := r.vars[name]
	return v, ok
}

func httpReq(host, path string, kv ...string) *testReq {
	r := &testReq{host: host, path: path, method: "GET", headers: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.headers[strings.ToLower(kv[i])] = kv[i+1]
	}
	return r
}

func rpcReq(kv ...string) *testReq {
	r := &testReq{rpc: true, headers: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.headers[kv[i]] = kv[i+1]
	}
	return r
}

// parseRouter decodes a router config written as JSON.
func parseRouter(t testing.TB, js string) *config.Router {
	t.Helper()
	var rc config.Router
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rc); err != nil {
		t.Fatalf("bad test router JSON: %v\n%s", err, js)
	}
	return &rc
}

func mustBuild(t testing.TB, js string) *Table {
	t.Helper()
	tab, err := Build(parseRouter(t, js), "servers[0].routers[0]")
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return tab
}

// linearMatch is the reference: the selected virtual host's routes tried
// one by one in config order, without the exact-path index.
func linearMatch(t *Table, req Request) *Route {
	v := t.selectVHost(req)
	if v == nil {
		return nil
	}
	path := req.Path()
	for _, r := range v.routes {
		if r.m.match(req, path) {
			return r
		}
	}
	return nil
}

func routeName(r *Route) string {
	if r == nil {
		return "<nil>"
	}
	return r.Name()
}

// body is the direct_response body of the matched route, which the tests
// use as a route label.
func body(r *Route) string {
	if r == nil {
		return "<nil>"
	}
	if _, b, ok := r.DirectResponse(); ok {
		return b
	}
	return "<not direct>"
}

// direct renders a route that answers with body as JSON.
func direct(match, body string) string {
	return `{"match": ` + match + `, "direct_response": {"status": 200, "body": "` + body + `"}}`
}

func cluster(match, name string) string {
	return `{"match": ` + match + `, "route": {"cluster_name": "` + name + `"}}`
}
