package tcpproxy

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
)

func build(t *testing.T, raw string) (*Proxy, error) {
	t.Helper()
	cfg := &config.Config{ClusterManager: config.ClusterManager{Clusters: []config.Cluster{{Name: "a"}, {Name: "b"}, {Name: "c"}}}}
	bc := &network.BuildContext{Config: cfg, Path: "f.config", Clusters: upstream.NewManager()}
	p, err := New(bc, json.RawMessage(raw))
	if err != nil {
		return nil, err
	}
	return p.(*Proxy), nil
}

func TestRoutes(t *testing.T) {
	p, err := build(t, `{"cluster": "a", "routes": [
	  {"cluster": "b", "source_addrs": [{"address": "10.0.0.0", "length": 8}]},
	  {"cluster": "c", "destination_addrs": [{"address": "192.168.1.10", "length": 32}], "destination_port": "8000-8080"},
	  {"cluster": "b", "source_port": "5555"}
	]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src, dst, want string
	}{
		{"10.1.2.3:40000", "127.0.0.1:80", "b"},
		{"11.1.2.3:40000", "192.168.1.10:8080", "c"},
		{"11.1.2.3:40000", "192.168.1.10:8081", "a"},
		{"11.1.2.3:40000", "192.168.1.11:8000", "a"},
		{"11.1.2.3:5555", "1.1.1.1:1", "b"},
		{"[::ffff:10.0.0.1]:1", "1.1.1.1:1", "b"},
		{"[2001:db8::1]:1", "1.1.1.1:1", "a"},
	} {
		got := p.clusterFor(netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst))
		if got != tc.want {
			t.Errorf("%s -> %s: cluster %q, want %q", tc.src, tc.dst, got, tc.want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
	}{
		{`{}`, "f.config: tcp_proxy needs a cluster or routes"},
		{`{"cluster": "zz"}`, `f.config.cluster: unknown cluster "zz"`},
		{`{"routes": [{"cluster": "zz"}]}`, `f.config.routes[0].cluster: unknown cluster "zz"`},
		{`{"routes": [{}]}`, `f.config.routes[0]: a route needs a cluster`},
		{`{"cluster": "a", "routes": [{"cluster": "b", "source_addrs": [{"address": "10.0.0", "length": 8}]}]}`, `f.config.routes[0].source_addrs[0].address: invalid IP`},
		{`{"cluster": "a", "routes": [{"cluster": "b", "source_addrs": [{"address": "10.0.0.0", "length": 33}]}]}`, `f.config.routes[0].source_addrs[0].length`},
		{`{"cluster": "a", "routes": [{"cluster": "b", "destination_port": "90-80"}]}`, `f.config.routes[0].destination_port: invalid port range`},
		{`{"cluster": "a", "idle_timeout": "x"}`, `f.config.idle_timeout`},
		{`{"cluster": "a", "max_connect_attempts": -2}`, `f.config.max_connect_attempts`},
	} {
		_, err := build(t, tc.raw)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.raw, err, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	p, err := build(t, `{"cluster": "a"}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.attempts != 1 || p.idle != 0 {
		t.Fatalf("attempts %d idle %v, want 1 and 0", p.attempts, p.idle)
	}
}
