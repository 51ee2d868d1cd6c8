package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

// TestCircuitBreakerOverflow: with max_requests 2 and a slow upstream, a
// burst of 10 requests gets exactly 2 through and 8 immediate 503s with
// the overflow flag in the access log.
func TestCircuitBreakerOverflow(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
  "servers": [{"default_log_path": "stderr", "listeners": [{"name": "web", "address": "127.0.0.1:%d", "bind_port": true,
    "access_logs": [{"log_path": "%s/access.log", "log_format": "%%response_code%% %%upstream_transport_failure_reason%%"}],
    "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "cluster": "c"}}]}]}]}],
  "cluster_manager": {"clusters": [{"name": "c", "circuit_breakers": [{"max_requests": 2}], "hosts": [{"address": %q}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}
}`, port, dir, strings.TrimPrefix(up.URL, "http://"), admin)
	p := startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	base := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: 30 * time.Second}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	var overflowSeen sync.WaitGroup
	overflowSeen.Add(8)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(base)
			if err != nil {
				t.Error(err)
				overflowSeen.Done()
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
			if resp.StatusCode == 503 {
				overflowSeen.Done()
			}
		}()
	}
	// The 8 refused requests are answered while the 2 admitted ones are
	// still held by the upstream.
	overflowSeen.Wait()
	close(release)
	wg.Wait()
	if codes[200] != 2 || codes[503] != 8 {
		t.Fatalf("status counts %v, want 2 x 200 and 8 x 503", codes)
	}
	p.signal(syscallTERM)
	p.wait(15 * time.Second)
	if n := strings.Count(readFile(t, dir+"/access.log"), "503 UO"); n != 8 {
		t.Fatalf("access log has %d overflow lines, want 8:\n%s", n, readFile(t, dir+"/access.log"))
	}
}
