package router

import (
	"fmt"
	"strings"
	"testing"
)

// bigTable has 1,000 virtual hosts with exact domains; the first and the
// last hold 5,000 exact-path routes each.
func bigTable(b testing.TB) *Table {
	var vhosts []string
	for i := range 1000 {
		var routes []string
		if i == 0 || i == 999 {
			for j := range 5000 {
				routes = append(routes, cluster(fmt.Sprintf(`{"path": "/svc/r%d"}`, j), fmt.Sprintf("c%d", j)))
			}
		} else {
			routes = append(routes, cluster(`{"prefix": "/"}`, "other"))
		}
		vhosts = append(vhosts, fmt.Sprintf(`{"name": "v%d", "domains": ["host%d.example.com"], "routers": [%s]}`, i, i, strings.Join(routes, ",")))
	}
	return mustBuild(b, `{"virtual_hosts": [`+strings.Join(vhosts, ",")+`]}`)
}

// smallTable is a typical HTTP table: ten routes of mixed kinds.
func smallTable(b testing.TB) *Table {
	return mustBuild(b, `{"virtual_hosts": [{"domains": ["api.example.com", "*.example.com"], "routers": [
		`+cluster(`{"path": "/healthz"}`, "health")+`,
		`+cluster(`{"prefix": "/static/"}`, "static")+`,
		`+cluster(`{"prefix": "/api/v2/", "headers": [{"name": "x-canary", "value": "1"}]}`, "canary")+`,
		`+cluster(`{"prefix": "/api/v2/"}`, "v2")+`,
		`+cluster(`{"prefix": "/api/v1/"}`, "v1")+`,
		`+cluster(`{"path": "/login", "case_sensitive": false}`, "login")+`,
		`+cluster(`{"prefix": "/admin", "headers": [{"name": ":method", "value": "GET"}]}`, "admin")+`,
		`+cluster(`{"regex": "/user/[0-9]+"}`, "user")+`,
		`+cluster(`{"prefix": "/ws", "headers": [{"name": "upgrade", "value": "websocket"}]}`, "ws")+`,
		`+cluster(`{"prefix": "/"}`, "default")+`
	]}, {"domains": ["*"], "routers": [`+cluster(`{"prefix": "/"}`, "fallback")+`]}]}`)
}

func rpcTable(b testing.TB) *Table {
	var routes []string
	for i := range 10 {
		routes = append(routes, cluster(fmt.Sprintf(`{"headers": [{"name": "service", "value": "com.example.Service%d:1.0"}]}`, i), fmt.Sprint(i)))
	}
	return mustBuild(b, table(routes...))
}

func BenchmarkMatch(b *testing.B) {
	big, small, rpc := bigTable(b), smallTable(b), rpcTable(b)
	cases := []struct {
		name string
		tab  *Table
		req  Request
		want string
	}{
		{"5000paths-1000domains/first", big, httpReq("host0.example.com", "/svc/r0"), "c0"},
		{"5000paths-1000domains/last", big, httpReq("host999.example.com:8080", "/svc/r4999"), "c4999"},
		{"5000paths-1000domains/miss", big, httpReq("host999.example.com", "/svc/none"), ""},
		{"10routes/first", small, httpReq("api.example.com", "/healthz"), "health"},
		{"10routes/last", small, httpReq("www.example.com", "/index.html", "upgrade", "h2c"), "default"},
		{"10routes/regex", small, httpReq("api.example.com", "/user/12345"), "user"},
		{"rpc10/last", rpc, rpcReq("service", "com.example.Service9:1.0"), "9"},
	}
	for _, c := range cases {
		r := c.tab.Match(c.req)
		if got := clusterOf(r, c.req); got != c.want {
			b.Fatalf("%s: matched %q, want %q", c.name, got, c.want)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.tab.Match(c.req)
			}
		})
	}
}

func clusterOf(r *Route, req Request) string {
	if r == nil {
		return ""
	}
	return r.Cluster(req, 0)
}

func BenchmarkRouteActions(b *testing.B) {
	r := oneRoute(b, `{"match": {"prefix": "/api/"}, "route": {
		"weighted_clusters": [{"cluster": {"name": "a", "weight": 90}}, {"cluster": {"name": "b", "weight": 10}}],
		"prefix_rewrite": "/", "hash_policy": [{"cookie": {"name": "sid"}}]}}`)
	req := httpReq("h", "/api/users", "cookie", "a=1; sid=abc")
	b.Run("Cluster", func(b *testing.B) {
		b.ReportAllocs()
		var n uint64
		for b.Loop() {
			r.Cluster(req, n)
			n++
		}
	})
	b.Run("HashKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.HashKey(req, "10.0.0.1")
		}
	})
	b.Run("RewritePath", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.RewritePath(req)
		}
	})
}
