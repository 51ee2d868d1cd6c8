package router

import (
	"fmt"
	"strings"
	"testing"
)

func vhostJSON(name string, domains ...string) string {
	return fmt.Sprintf(`{"name": %q, "domains": ["%s"], "routers": [%s]}`,
		name, strings.Join(domains, `", "`), direct(`{"prefix": "/"}`, name))
}

func TestDomainSelection(t *testing.T) {
	vhosts := []string{
		vhostJSON("exact", "www.example.com"),
		vhostJSON("exact-port", "www.example.com:8080"),
		vhostJSON("suffix", "*.example.com"),
		vhostJSON("suffix-long", "*.api.example.com"),
		vhostJSON("suffix-port", "*.example.com:9090"),
		vhostJSON("suffix-nodot", "*-dev.test"),
		vhostJSON("prefix", "www.*"),
		vhostJSON("prefix-long", "www.example.*"),
		vhostJSON("prefix-nodot", "img*"),
		vhostJSON("default", "*"),
		vhostJSON("port-default", "*:7070"),
		vhostJSON("ipv6", "[::1]:8080"),
		vhostJSON("any-port", "foo.test:*"),
		vhostJSON("mixed-case", "MiXeD.Example.ORG"),
		vhostJSON("multi", "a.test", "b.test"),
	}
	tab := mustBuild(t, `{"router_config_name": "r", "virtual_hosts": [`+strings.Join(vhosts, ",")+`]}`)
	tests := []struct{ host, want string }{
		{"www.example.com", "exact"},
		{"WWW.Example.COM", "exact"},
		{"www.example.com:80", "exact"}, // a domain without port matches any port
		{"www.example.com:8080", "exact-port"},
		{"WWW.EXAMPLE.COM:8080", "exact-port"},
		{"a.example.com", "suffix"},
		{"A.Example.Com", "suffix"},
		{"a.example.com:443", "suffix"},
		{"a.api.example.com", "suffix-long"}, // longest suffix wins
		{"a.example.com:9090", "suffix-port"},
		// A wildcard for the request's port beats a longer one for any
		// port, as MOSN orders them.
		{"a.api.example.com:9090", "suffix-port"},
		{"example.com", "default"}, // the star matches at least one byte
		{".example.com", "default"},
		{"x-dev.test", "suffix-nodot"},
		{"-dev.test", "default"},
		{"www.other.org", "prefix"},
		{"www.example.org", "prefix-long"}, // longest prefix wins
		{"www.example.org:1", "prefix-long"},
		{"www.", "default"},
		{"imgserver", "prefix-nodot"},
		{"www.example.com.cn", "prefix-long"},
		{"x.www.example.com", "suffix"}, // suffix beats prefix
		{"other.org:7070", "port-default"},
		{"other.org:7071", "default"},
		{"other.org", "default"},
		{"", "default"},
		{"[::1]:8080", "ipv6"},
		{"[::1]", "default"},
		{"::1", "default"},
		{"foo.test:1234", "any-port"},
		{"foo.test", "any-port"},
		{"mixed.example.org", "mixed-case"},
		{"a.test", "multi"},
		{"b.test:99", "multi"},
		{"c.test", "default"},
		{"weird:host:name", "default"},
		{"host:", "default"},
	}
	for _, tt := range tests {
		got := body(tab.Match(httpReq(tt.host, "/")))
		if got != tt.want {
			t.Errorf("host %q: got vhost %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestDomainNoDefault(t *testing.T) {
	tab := mustBuild(t, `{"virtual_hosts": [`+vhostJSON("a", "a.test")+`, `+vhostJSON("w", "*.w.test")+`]}`)
	for _, host := range []string{"", "b.test", "w.test", "a.test.evil"} {
		if r := tab.Match(httpReq(host, "/")); r != nil {
			t.Errorf("host %q: got %q, want no route", host, body(r))
		}
	}
	if got := body(tab.Match(httpReq("A.test:1", "/"))); got != "a" {
		t.Errorf("got %q, want a", got)
	}
}

func TestDomainOnlyDefault(t *testing.T) {
	tab := mustBuild(t, `{"virtual_hosts": [`+vhostJSON("d", "*")+`]}`)
	if !tab.onlyDefault {
		t.Fatal("a table whose only domain is * should skip host lookup")
	}
	for _, host := range []string{"", "anything", "x:1", "[::"} {
		if got := body(tab.Match(httpReq(host, "/"))); got != "d" {
			t.Errorf("host %q: got %q", host, got)
		}
	}
	// "*:*" is MOSN's other spelling of the default.
	tab = mustBuild(t, `{"virtual_hosts": [`+vhostJSON("d", "*:*")+`]}`)
	if got := body(tab.Match(httpReq("x:1", "/"))); got != "d" {
		t.Errorf("*:*: got %q", got)
	}
}

func TestEmptyTable(t *testing.T) {
	tab := mustBuild(t, `{"router_config_name": "empty"}`)
	if r := tab.Match(httpReq("a", "/")); r != nil {
		t.Errorf("empty table matched %q", r.Name())
	}
	if tab.Name() != "empty" {
		t.Errorf("Name = %q", tab.Name())
	}
}
