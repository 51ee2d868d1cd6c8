package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/internal/testutil"
)

// idleConfig: an HTTP/1 and a bolt listener with a long idle timeout, an
// HTTP/1 listener with a short one, and a Prometheus sink to read the
// goroutine count from.
const idleConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "graceful_timeout": "15s",
    "listeners": [
      {"name": "h1", "address": "127.0.0.1:${H1}", "bind_port": true, "connection_idle_timeout": "60s",
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "upstream_protocol": "Http1", "router_config_name": "web"}}]}]},
      {"name": "short", "address": "127.0.0.1:${SHORT}", "bind_port": true, "connection_idle_timeout": "2s",
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "upstream_protocol": "Http1", "router_config_name": "web"}}]}]},
      {"name": "bolt", "address": "127.0.0.1:${BOLT}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "bolt", "router_config_name": "rpc"}}]}]}
    ],
    "routers": [
      {"router_config_name": "web", "virtual_hosts": [{"name": "web", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "web"}}]}]},
      {"router_config_name": "rpc", "virtual_hosts": [{"name": "rpc", "domains": ["*"], "routers": [{"match": {"headers": [{"name": "service", "value": "com.foo.A:1.0"}]}, "route": {"cluster_name": "rpc"}}]}]}
    ]
  }],
  "cluster_manager": {"clusters": [
    {"name": "web", "hosts": [{"address": "${WEB}"}]},
    {"name": "rpc", "hosts": [{"address": "${RPC}"}]}
  ]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}},
  "metrics": {"sinks": [{"type": "prometheus", "config": {"port": ${PROM}}}]}
}`

// h1Idle is a raw keep-alive HTTP/1 client connection.
type h1Idle struct {
	c net.Conn
	r *bufio.Reader
}

func (h *h1Idle) get(path string) error {
	h.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(h.c, "GET %s HTTP/1.1\r\nHost: idle\r\n\r\n", path); err != nil {
		return err
	}
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(b) != "ok:"+path || resp.Close {
		return fmt.Errorf("status %d body %q close %v", resp.StatusCode, b, resp.Close)
	}
	return nil
}

func goroutines(t *testing.T, prom string) int {
	t.Helper()
	_, body := httpGet(t, prom)
	m := regexp.MustCompile(`(?m)^go_goroutines (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no go_goroutines in:\n%.500s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestIdleConnectionsParked: idle HTTP/1 keep-alive and bolt connections
// are parked without goroutines, answer again when used, are closed by
// the idle timeout, and move to a new process in a smooth upgrade.
func TestIdleConnectionsParked(t *testing.T) {
	web := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok:"+r.URL.Path)
	}))
	rpc := testutil.NewBoltServer(t, "A", 0)
	dir := t.TempDir()
	vars := map[string]string{"DIR": dir, "WEB": web, "RPC": rpc.Addr()}
	for _, k := range []string{"H1", "SHORT", "BOLT", "ADMIN", "PROM"} {
		vars[k] = strconv.Itoa(testutil.FreePort(t))
	}
	cfgPath := filepath.Join(dir, "mosn_config.json")
	if err := os.WriteFile(cfgPath, []byte(expand(idleConfig, vars)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	e := &upgradeEnv{t: t, dir: dir, cfgPath: cfgPath, vars: vars, out: out}
	cmd, exited, _ := e.start(cfgPath)
	gen := &generation{pid: cmd.Process.Pid, exited: exited}
	t.Cleanup(func() {
		for _, c := range e.started {
			c.Process.Signal(os.Interrupt)
		}
		for _, c := range e.started {
			c.Process.Wait()
		}
		if t.Failed() {
			t.Logf("mosn output:\n%s", e.log())
		}
	})
	h1Addr, boltAddr := "127.0.0.1:"+vars["H1"], "127.0.0.1:"+vars["BOLT"]
	prom := "http://127.0.0.1:" + vars["PROM"] + "/metrics"
	for _, a := range []string{h1Addr, boltAddr, "127.0.0.1:" + vars["SHORT"], "127.0.0.1:" + vars["PROM"]} {
		waitDial(t, a, e)
	}
	base := goroutines(t, prom)

	const n = 100
	h1s := make([]*h1Idle, n)
	bolts := make([]*testutil.BoltClient, n)
	for i := range h1s {
		c, err := net.Dial("tcp", h1Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		h1s[i] = &h1Idle{c: c, r: bufio.NewReader(c)}
		if err := h1s[i].get(fmt.Sprintf("/first/%d", i)); err != nil {
			t.Fatalf("h1 %d: %v", i, err)
		}
		bolts[i] = testutil.DialBolt(t, boltAddr)
		callBolt(t, bolts[i], fmt.Sprintf("first-%d", i))
	}
	// While the 2n connections are quiet they are parked: the process
	// has about as many goroutines as before they were opened.
	deadline := time.Now().Add(20 * time.Second)
	for g := goroutines(t, prom); g > base+n/4; g = goroutines(t, prom) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines with %d idle connections (%d before them): not parked", g, 2*n, base)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Heartbeats on parked bolt connections are answered (from the
	// parked state: no goroutine comes back for them).
	for round := 0; round < 3; round++ {
		for i := range bolts {
			f, err := bolts[i].Call(nil, "", true, 5*time.Second)
			if err != nil || f.CmdCode != bolt.CmdHeartbeat || f.Status != bolt.StatusSuccess {
				t.Fatalf("heartbeat %d on parked connection %d: cmd %d status %d, %v", round, i, f.CmdCode, f.Status, err)
			}
		}
	}
	if g := goroutines(t, prom); g > base+n/4 {
		t.Errorf("%d goroutines after heartbeats (%d before the connections): heartbeats unparked them", g, base)
	}
	// Every parked connection answers again.
	for i := range h1s {
		if err := h1s[i].get(fmt.Sprintf("/again/%d", i)); err != nil {
			t.Fatalf("h1 %d after parking: %v", i, err)
		}
		callBolt(t, bolts[i], fmt.Sprintf("again-%d", i))
	}

	// The idle timeout closes a parked connection (no timer of its own:
	// the poller's wheel).
	sc, err := net.Dial("tcp", "127.0.0.1:"+vars["SHORT"])
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	short := &h1Idle{c: sc, r: bufio.NewReader(sc)}
	if err := short.get("/short"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sc.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := sc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("short idle timeout: read %v, want EOF", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("closed after %s with a 2s idle timeout", d)
	}

	// Let them park again, then upgrade: parked connections are woken,
	// passed to the new process, and keep answering.
	deadline = time.Now().Add(20 * time.Second)
	for g := goroutines(t, prom); g > base+n/4; g = goroutines(t, prom) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines: not parked again", g)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, exited2, _ := e.start(cfgPath)
	next := e.takeover(gen, "upgrade with parked connections")
	next.exited = exited2
	for i := range h1s {
		if err := h1s[i].get(fmt.Sprintf("/after/%d", i)); err != nil {
			t.Fatalf("h1 %d after the upgrade: %v", i, err)
		}
		callBolt(t, bolts[i], fmt.Sprintf("after-%d", i))
	}
	_, body := httpGet(t, "http://127.0.0.1:"+vars["ADMIN"]+"/api/v1/stats?key=upgrade")
	if !strings.Contains(body, fmt.Sprintf(`"connections_adopted_total": %d`, 2*n)) {
		t.Errorf("the new process did not adopt the %d connections: %s", 2*n, body)
	}

	// A graceful stop does not wait for parked connections: they are
	// woken and closed between requests (graceful_timeout is 15 s).
	deadline = time.Now().Add(20 * time.Second)
	for g := goroutines(t, prom); g > base+n/4; g = goroutines(t, prom) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines: not parked in the new process", g)
		}
		time.Sleep(100 * time.Millisecond)
	}
	start = time.Now()
	if err := syscall.Kill(next.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-next.exited:
	case <-time.After(12 * time.Second):
		t.Fatalf("graceful stop with parked connections still running after 12 s")
	}
	t.Logf("graceful stop with %d parked connections took %s", 2*n, time.Since(start).Round(time.Millisecond))
	for i := range h1s {
		h1s[i].c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := h1s[i].r.ReadByte(); err != io.EOF {
			t.Fatalf("h1 %d after the stop: %v, want EOF", i, err)
		}
	}
}

func callBolt(t *testing.T, c *testutil.BoltClient, msg string) {
	t.Helper()
	f, err := c.Call([][2]string{{"service", "com.foo.A:1.0"}}, msg, false, 5*time.Second)
	if err != nil {
		t.Fatalf("bolt %s: %v", msg, err)
	}
	if f.Status != bolt.StatusSuccess || string(f.Content) != "A:"+msg {
		t.Fatalf("bolt %s: status %d content %q", msg, f.Status, f.Content)
	}
}
