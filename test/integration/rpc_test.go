package integration

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/internal/testutil"
)

// rpcConfig is a bolt listener that routes by the "service" header: the
// RPC rule of MOSN (a route with only headers).
const rpcConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "listeners": [{
      "name": "rpc", "address": "127.0.0.1:${PORT}", "bind_port": true,
      "access_logs": [{"log_path": "${DIR}/access.log", "log_format": "%protocol% %request_header_service% %response_code% %upstream_cluster%"}],
      "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "${DOWN}", "router_config_name": "rpc"}}]}]
    }],
    "routers": [{"router_config_name": "rpc", "virtual_hosts": [{"name": "rpc", "domains": ["*"], "routers": [
      {"match": {"headers": [{"name": "service", "value": "com.foo.A:1.0"}]}, "route": {"cluster_name": "a"}},
      {"match": {"headers": [{"name": "service", "value": "com.foo.B:1.0"}]}, "route": {"cluster_name": "b"}},
      {"match": {"headers": [{"name": "service", "value": "com.foo.Dead:1.0"}]}, "route": {"cluster_name": "dead"}},
      {"match": {"headers": [{"name": "service", "value": "com.foo.V2:1.0"}]}, "route": {"cluster_name": "sub",
        "metadata_match": {"filter_metadata": {"mosn.lb": {"version": "v2"}}}}},
      {"match": {"headers": [{"name": "service", "value": "com.foo.V9:1.0"}]}, "route": {"cluster_name": "sub",
        "metadata_match": {"filter_metadata": {"mosn.lb": {"version": "v9"}}}}},
      {"match": {"prefix": "/"}, "route": {"cluster_name": "web"}}
    ]}]}]
  }],
  "cluster_manager": {"clusters": [
    {"name": "a", "hosts": [{"address": "${A}"}]},
    {"name": "b", "hosts": [{"address": "${B}"}]},
    {"name": "dead", "connect_timeout": "1s", "hosts": [{"address": "${DEAD}"}]},
    {"name": "sub", "lb_type": "LB_ROUNDROBIN",
     "lb_subset_config": {"fall_back_policy": 1, "subset_selectors": [["version"]]},
     "hosts": [{"address": "${A}", "metadata": {"filter_metadata": {"mosn.lb": {"version": "v1"}}}},
               {"address": "${B}", "metadata": {"filter_metadata": {"mosn.lb": {"version": "v2"}}}}]},
    {"name": "web", "hosts": [{"address": "${WEB}"}]}
  ]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

type rpcSetup struct {
	proxy  string
	dir    string
	a, b   *testutil.BoltServer
	webURL string
	p      *proc
}

func startRPC(t *testing.T, down string, delay time.Duration, web string) *rpcSetup {
	t.Helper()
	s := &rpcSetup{
		a: testutil.NewBoltServer(t, "A", delay),
		b: testutil.NewBoltServer(t, "B", delay),
	}
	if web == "" {
		web = "127.0.0.1:1"
	}
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	s.dir = t.TempDir()
	cfg := expand(rpcConfig, map[string]string{
		"DIR": s.dir, "PORT": fmt.Sprint(port), "ADMIN": fmt.Sprint(admin), "DOWN": down,
		"A": s.a.Addr(), "B": s.b.Addr(), "DEAD": fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), "WEB": web,
	})
	s.p = startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	s.proxy = fmt.Sprintf("127.0.0.1:%d", port)
	return s
}

func service(name string) [][2]string { return [][2]string{{"service", name}} }

// TestBoltRouting: requests are routed by service to different clusters,
// many concurrent requests over one client connection come back to the
// right callers although the upstreams answer out of order.
func TestBoltRouting(t *testing.T) {
	s := startRPC(t, "bolt", 5*time.Millisecond, "")
	c := testutil.DialBolt(t, s.proxy)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc, want := "com.foo.A:1.0", "A"
			if i%2 == 1 {
				svc, want = "com.foo.B:1.0", "B"
			}
			msg := fmt.Sprintf("req-%d", i)
			f, err := c.Call(service(svc), msg, false, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			if f.Status != bolt.StatusSuccess || string(f.Content) != want+":"+msg {
				errs <- fmt.Errorf("request %d: status %d content %q, want %s:%s", i, f.Status, f.Content, want, msg)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s.a.Requests() != 200 || s.b.Requests() != 200 {
		t.Fatalf("upstream A got %d, B got %d, want 200 each", s.a.Requests(), s.b.Requests())
	}
	// Every request is in the access log with its service and status.
	s.p.signal(syscallTERM)
	s.p.wait(15 * time.Second)
	log := readFile(t, s.dir+"/access.log")
	if n := strings.Count(log, "bolt com.foo.A:1.0 0 a\n"); n != 200 {
		t.Errorf("access log has %d lines for service A (%d lines in all), want 200:\n%.300s", n, strings.Count(log, "\n"), log)
	}
}

func TestBoltLocalReplies(t *testing.T) {
	s := startRPC(t, "bolt", 0, "")
	c := testutil.DialBolt(t, s.proxy)
	// Heartbeats are answered by the proxy and never reach an upstream.
	f, err := c.Call(nil, "", true, 5*time.Second)
	if err != nil || !f.IsHeartbeat() || f.Type != bolt.TypeResponse {
		t.Fatalf("heartbeat: %+v, %v", f, err)
	}
	if s.a.Heartbeats()+s.b.Heartbeats() != 0 {
		t.Fatal("a downstream heartbeat reached an upstream")
	}
	for _, tc := range []struct {
		svc    string
		status uint16
	}{
		{"com.foo.Unknown:1.0", bolt.StatusNoProcessor}, // no route
		{"com.foo.Dead:1.0", bolt.StatusNoProcessor},    // connect refused
	} {
		f, err := c.Call(service(tc.svc), "x", false, 5*time.Second)
		if err != nil || f.Status != tc.status {
			t.Errorf("%s: status %d (%s), %v; want %s", tc.svc, f.Status, bolt.StatusName(f.Status), err, bolt.StatusName(tc.status))
		}
	}
	// The connection still works after the local replies.
	if f, err := c.Call(service("com.foo.A:1.0"), "ok", false, 5*time.Second); err != nil || string(f.Content) != "A:ok" {
		t.Fatalf("after local replies: %q, %v", f.Content, err)
	}
}

// TestBoltTimeout: the frame's timeout bounds the wait; the caller gets
// TIMEOUT and its connection keeps working.
func TestBoltTimeout(t *testing.T) {
	s := startRPC(t, "bolt", 0, "")
	s.a.SetSilent(true)
	c := testutil.DialBolt(t, s.proxy)
	f, err := c.Call(service("com.foo.A:1.0"), "x", false, 300*time.Millisecond)
	if err != nil || f.Status != bolt.StatusTimeout {
		t.Fatalf("status %d (%s), %v; want TIMEOUT", f.Status, bolt.StatusName(f.Status), err)
	}
	if f, err := c.Call(service("com.foo.B:1.0"), "y", false, 5*time.Second); err != nil || string(f.Content) != "B:y" {
		t.Fatalf("after a timeout: %q, %v", f.Content, err)
	}
}

// TestBoltUpstreamDies: every request in flight on an upstream connection
// that dies gets an error status; the proxy and the client connection
// stay up.
func TestBoltUpstreamDies(t *testing.T) {
	s := startRPC(t, "bolt", 0, "")
	s.a.SetSilent(true)
	c := testutil.DialBolt(t, s.proxy)
	var wg sync.WaitGroup
	statuses := make(chan uint16, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := c.Call(service("com.foo.A:1.0"), "x", false, 30*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- f.Status
		}()
	}
	for s.a.Requests() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	s.a.Close() // kills the upstream connection with 20 requests in flight
	wg.Wait()
	close(statuses)
	n := 0
	for st := range statuses {
		n++
		if st == bolt.StatusSuccess {
			t.Errorf("a request on the dead connection succeeded")
		}
	}
	if n != 20 {
		t.Fatalf("%d of 20 requests got an answer", n)
	}
	if f, err := c.Call(service("com.foo.B:1.0"), "after", false, 5*time.Second); err != nil || string(f.Content) != "B:after" {
		t.Fatalf("after the upstream died: %q, %v", f.Content, err)
	}
}

// TestAutoAllProtocols: one Auto listener serves bolt, HTTP/1 and HTTP/2
// clients.
func TestAutoAllProtocols(t *testing.T) {
	web := h2Upstream(t, true)
	s := startRPC(t, "Auto", 0, web)
	c := testutil.DialBolt(t, s.proxy)
	if f, err := c.Call(service("com.foo.B:1.0"), "auto", false, 5*time.Second); err != nil || string(f.Content) != "B:auto" {
		t.Fatalf("bolt on Auto: %q, %v", f.Content, err)
	}
	for _, tc := range []struct {
		name string
		get  func(string) (string, error)
	}{
		{"http1", func(u string) (string, error) { return getBody(h1Client(), u) }},
		{"h2c", func(u string) (string, error) { return getBody(h2cClient(), u) }},
	} {
		body, err := tc.get("http://" + s.proxy + "/x")
		if err != nil || !strings.Contains(body, "GET /x") {
			t.Errorf("%s on Auto: %q, %v", tc.name, body, err)
		}
	}
	// A byte no protocol claims is cut without harming the listener.
	raw, err := net.Dial("tcp", s.proxy)
	if err == nil {
		raw.Write([]byte{0x00, 0x01, 0x02})
		raw.Close()
	}
	if f, err := c.Call(service("com.foo.A:1.0"), "still", false, 5*time.Second); err != nil || string(f.Content) != "A:still" {
		t.Fatalf("after garbage on another connection: %q, %v", f.Content, err)
	}
}

// TestBoltSubset: metadata_match picks the v2 subset; a version no host
// has falls back to any host (fall_back_policy 1).
func TestBoltSubset(t *testing.T) {
	s := startRPC(t, "bolt", 0, "")
	c := testutil.DialBolt(t, s.proxy)
	for i := 0; i < 20; i++ {
		f, err := c.Call(service("com.foo.V2:1.0"), "x", false, 5*time.Second)
		if err != nil || string(f.Content) != "B:x" {
			t.Fatalf("v2 subset: %q, %v", f.Content, err)
		}
	}
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		f, err := c.Call(service("com.foo.V9:1.0"), "y", false, 5*time.Second)
		if err != nil || f.Status != bolt.StatusSuccess {
			t.Fatalf("fallback: status %d, %v", f.Status, err)
		}
		seen[string(f.Content)]++
	}
	if seen["A:y"] == 0 || seen["B:y"] == 0 {
		t.Fatalf("fallback to any host should use both hosts: %v", seen)
	}
}

// TestBoltOnewayAndV2: a oneway request reaches the upstream and gets no
// answer; bolt v2 frames share the listener with v1.
func TestBoltOnewayAndV2(t *testing.T) {
	s := startRPC(t, "bolt", 0, "")
	c, err := net.Dial("tcp", s.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	oneway := bolt.AppendRequest(nil, bolt.Request{Proto: bolt.ProtoV1, Oneway: true, CmdCode: bolt.CmdRequest, Ver2: 1,
		RequestID: 7, Codec: 1, Class: bolt.ClassRequest, Headers: service("com.foo.A:1.0"), Content: []byte("fire")})
	v2 := bolt.AppendRequest(nil, bolt.Request{Proto: bolt.ProtoV2, Ver1: 1, CmdCode: bolt.CmdRequest, Ver2: 1,
		RequestID: 8, Codec: 1, Timeout: 5000, Class: bolt.ClassRequest, Headers: service("com.foo.B:1.0"), Content: []byte("two")})
	if _, err := c.Write(append(oneway, v2...)); err != nil {
		t.Fatal(err)
	}
	// The only answer is the v2 request's, with its id.
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if f, _, perr := bolt.Parse(buf); perr == nil {
			if f.Proto != bolt.ProtoV2 || f.RequestID != 8 || string(f.Content) != "B:two" {
				t.Fatalf("answer proto %d id %d content %q, want the v2 request's", f.Proto, f.RequestID, f.Content)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for s.a.Requests() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBoltGracefulStop: SIGTERM while requests are in flight: every
// caller still gets its answer before the connection closes.
func TestBoltGracefulStop(t *testing.T) {
	s := startRPC(t, "bolt", 400*time.Millisecond, "")
	c := testutil.DialBolt(t, s.proxy)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprint(i)
			f, err := c.Call(service("com.foo.A:1.0"), msg, false, 10*time.Second)
			if err == nil && (f.Status != bolt.StatusSuccess || string(f.Content) != "A:"+msg) {
				err = fmt.Errorf("request %d: status %d content %q", i, f.Status, f.Content)
			}
			errs <- err
		}()
	}
	for s.a.Requests() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	s.p.signal(syscallTERM)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if code := s.p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
