package integration

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

// TestHealthCheck: an upstream that goes down is taken out of the load
// balancer within the thresholds while requests keep succeeding on the
// healthy host, and comes back when it listens again; the event log has
// seed 001's line format.
func TestHealthCheck(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "good") }))
	t.Cleanup(good.Close)
	flakyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flakyAddr := flakyLn.Addr().String()
	serveFlaky := func(ln net.Listener) *http.Server {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "flaky") })}
		go srv.Serve(ln)
		return srv
	}
	flaky := serveFlaky(flakyLn)
	dir := t.TempDir()
	events := filepath.Join(dir, "hc.log")
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	cfg := fmt.Sprintf(`{
  "servers": [{"default_log_path": %q, "listeners": [{"name": "h", "address": "127.0.0.1:%d", "bind_port": true,
    "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "cluster": "c"}}]}]}]}],
  "cluster_manager": {"clusters": [{"name": "c", "lb_type": "LB_ROUNDROBIN",
    "health_check": {"protocol": "tcp", "interval": "50ms", "timeout": "200ms", "interval_jitter": "1ms",
      "healthy_threshold": 2, "unhealthy_threshold": 2, "event_log_path": %q},
    "hosts": [{"address": %q}, {"address": %q}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}}`,
		filepath.Join(dir, "mosn.log"), port, events, strings.TrimPrefix(good.URL, "http://"), flakyAddr, admin)
	startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	base := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (string, error) {
		resp, err := client.Get(base)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := make([]byte, 16)
		n, _ := resp.Body.Read(b)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("status %d", resp.StatusCode)
		}
		return string(b[:n]), nil
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; event log:\n%s", what, readFile(t, events))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Both hosts serve.
	waitFor("both hosts to answer", func() bool {
		seen := map[string]bool{}
		for i := 0; i < 6; i++ {
			if b, err := get(); err == nil {
				seen[b] = true
			}
		}
		return seen["good"] && seen["flaky"]
	})
	// The flaky host goes down: after it is marked unhealthy every request
	// succeeds on the good one.
	flaky.Close()
	waitFor("the dead host to be marked unhealthy", func() bool {
		return strings.Contains(readFile(t, events), "host:"+flakyAddr+",health_status:0,current_result:0,status_changed:1")
	})
	for i := 0; i < 20; i++ {
		if b, err := get(); err != nil || b != "good" {
			t.Fatalf("request %d with the dead host out: %q, %v", i, b, err)
		}
	}
	// It listens again on the same address and comes back.
	ln, err := net.Listen("tcp", flakyAddr)
	if err != nil {
		t.Fatalf("relisten on %s: %v", flakyAddr, err)
	}
	flaky = serveFlaky(ln)
	t.Cleanup(func() { flaky.Close() })
	waitFor("the host to come back", func() bool {
		return strings.Contains(readFile(t, events), "host:"+flakyAddr+",health_status:1,current_result:1,status_changed:1")
	})
	waitFor("traffic to reach the host again", func() bool {
		for i := 0; i < 6; i++ {
			if b, _ := get(); b == "flaky" {
				return true
			}
		}
		return false
	})
	line := regexp.MustCompile(`^time:\d+,host:127\.0\.0\.1:\d+,health_status:[01],current_result:[01],status_changed:[01]$`)
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, events)), "\n") {
		if !line.MatchString(l) {
			t.Fatalf("event log line %q does not have the seed's format", l)
		}
	}
}
