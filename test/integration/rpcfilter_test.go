package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/internal/testutil"
)

// TestRPCStreamFilters: listener stream filters run on bolt requests. A
// fault abort answers with bolt's error status, a fault delay holds only
// its own request (the connection's other requests are answered
// meanwhile), and other requests pass.
func TestRPCStreamFilters(t *testing.T) {
	rpc := testutil.NewBoltServer(t, "A", 0)
	dir := t.TempDir()
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	cfg := fmt.Sprintf(`{
  "servers": [{"default_log_path": "stderr", "listeners": [{"name": "rpc", "address": "127.0.0.1:%d", "bind_port": true,
    "access_logs": [{"log_path": "%s/access.log", "log_format": "%%request_header_service%% %%response_flag%% %%upstream_transport_failure_reason%%"}],
    "stream_filters": [
      {"type": "fault", "config": {"abort": {"status": 503, "percentage": 100}, "headers": [{"name": "x-fault", "value": "abort"}]}},
      {"type": "fault", "config": {"delay": {"fixed_delay": "700ms", "percentage": 100}, "headers": [{"name": "x-fault", "value": "delay"}]}}
    ],
    "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "bolt", "router_config_name": "rpc"}}]}]}],
    "routers": [{"router_config_name": "rpc", "virtual_hosts": [{"name": "rpc", "domains": ["*"], "routers": [
      {"match": {"headers": [{"name": "service", "value": "com.foo.A:1.0"}]}, "route": {"cluster_name": "rpc"}}]}]}]}],
  "cluster_manager": {"clusters": [{"name": "rpc", "hosts": [{"address": %q}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}
}`, port, dir, rpc.Addr(), admin)
	p := startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	p.waitListening(fmt.Sprintf("127.0.0.1:%d", port))
	c := testutil.DialBolt(t, fmt.Sprintf("127.0.0.1:%d", port))
	hdr := func(fault string) [][2]string {
		h := [][2]string{{"service", "com.foo.A:1.0"}}
		if fault != "" {
			h = append(h, [2]string{"x-fault", fault})
		}
		return h
	}

	f, err := c.Call(hdr("abort"), "x", false, 5*time.Second)
	if err != nil || f.Status != bolt.StatusServerThreadpoolBusy {
		t.Fatalf("fault abort 503: status %d, %v (want SERVER_THREADPOOL_BUSY)", f.Status, err)
	}
	before := rpc.Requests()

	// The delayed request and a plain one on the same connection: the
	// plain one is answered while the other waits.
	type res struct {
		f   bolt.Frame
		err error
		at  time.Time
	}
	delayed := make(chan res, 1)
	start := time.Now()
	go func() {
		f, err := c.Call(hdr("delay"), "slow", false, 5*time.Second)
		delayed <- res{f, err, time.Now()}
	}()
	time.Sleep(50 * time.Millisecond) // the delayed request goes first
	f, err = c.Call(hdr(""), "fast", false, 5*time.Second)
	fastAt := time.Now()
	if err != nil || f.Status != bolt.StatusSuccess || string(f.Content) != "A:fast" {
		t.Fatalf("plain request: status %d %q, %v", f.Status, f.Content, err)
	}
	d := <-delayed
	if d.err != nil || d.f.Status != bolt.StatusSuccess || string(d.f.Content) != "A:slow" {
		t.Fatalf("delayed request: status %d %q, %v", d.f.Status, d.f.Content, d.err)
	}
	if d.at.Sub(start) < 700*time.Millisecond {
		t.Errorf("delayed request answered after %s, want at least the 700ms delay", d.at.Sub(start))
	}
	if !fastAt.Before(d.at) {
		t.Errorf("the plain request waited for the delayed one on the same connection")
	}
	if got := rpc.Requests() - before; got != 2 {
		t.Errorf("upstream got %d requests, want 2 (the aborted one never reaches it)", got)
	}
	p.signal(syscallTERM)
	p.wait(15 * time.Second)
	log := readFile(t, dir+"/access.log")
	if !strings.Contains(log, "com.foo.A:1.0 true FI") || !strings.Contains(log, "com.foo.A:1.0 true DI") {
		t.Errorf("access log lacks the fault flags:\n%s", log)
	}
}
