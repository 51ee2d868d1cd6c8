package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

// TestFallbackForUnknownProtocol: an Auto proxy filter with
// fallback_for_unknown_protocol hands connections in a protocol it does
// not know to the tcp_proxy filter after it, and still serves HTTP/1 and
// bolt itself.
func TestFallbackForUnknownProtocol(t *testing.T) {
	web := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "web:"+r.URL.Path)
	}))
	echo := testutil.NewServer(t, testutil.Echo)
	rpc := testutil.NewBoltServer(t, "A", 0)
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	cfg := fmt.Sprintf(`{
  "servers": [{"default_log_path": "stderr", "listeners": [{"name": "auto", "address": "127.0.0.1:%d", "bind_port": true,
    "filter_chains": [{"filters": [
      {"type": "proxy", "config": {"downstream_protocol": "Auto", "router_config_name": "r", "fallback_for_unknown_protocol": true}},
      {"type": "tcp_proxy", "config": {"cluster": "raw"}}
    ]}]}],
    "routers": [{"router_config_name": "r", "virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [
      {"match": {"headers": [{"name": "service", "value": "com.foo.A:1.0"}]}, "route": {"cluster_name": "rpc"}},
      {"match": {"prefix": "/"}, "route": {"cluster_name": "web"}}]}]}]}],
  "cluster_manager": {"clusters": [
    {"name": "web", "hosts": [{"address": %q}]},
    {"name": "rpc", "hosts": [{"address": %q}]},
    {"name": "raw", "hosts": [{"address": %q}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}
}`, port, web, rpc.Addr(), echo.Addr(), admin)
	startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	// Not HTTP, bolt, dubbo or HTTP/2: a TLS ClientHello's first bytes,
	// and a lower-case text protocol.
	for _, msg := range []string{"\x16\x03\x01\x00\x05hello", "ping pong\n"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Errorf("fallback echo of %q: got %q, %v", msg, got, err)
		}
		c.Close()
	}
	if code, body := httpGet(t, "http://"+addr+"/x"); code != 200 || body != "web:/x" {
		t.Errorf("HTTP/1 on the fallback listener: %d %q", code, body)
	}
	callBolt(t, testutil.DialBolt(t, addr), "auto")
}
