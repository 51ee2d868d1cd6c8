package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

// filtersConfig is an Auto (HTTP/1 and h2c) listener whose stream_filters
// chain uses the four built-in filters, in front of a subset cluster of
// two hosts tagged version v1 and v2.
const filtersConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "listeners": [{
      "name": "filters", "address": "127.0.0.1:${PORT}", "bind_port": true,
      "access_logs": [{"log_path": "${DIR}/access.log", "log_format": "%request_header_x-test% %response_code% %upstream_transport_failure_reason%"}],
      "stream_filters": [
        {"type": "ip_access", "config": {"default_action": "deny", "header": "x-forwarded-for",
          "ips": [{"action": "deny", "addrs": ["10.0.0.0/8"]}, {"action": "allow", "addrs": ["127.0.0.1", "192.168.0.0/16"]}]}},
        {"type": "payload_limit", "config": {"max_entity_size": 1024, "http_status": 413}},
        {"type": "fault", "config": {"abort": {"status": 503, "percentage": 100},
          "upstream_cluster": "web", "headers": [{"name": "x-fault", "value": "abort"}]}},
        {"type": "fault", "config": {"delay": {"fixed_delay": "200ms", "percentage": 100},
          "headers": [{"name": "x-fault", "value": "delay"}]}},
        {"type": "header_to_metadata", "config": {"request_rules": [{"header": "x-version",
          "on_header_present": {"metadata_namespace": "mosn.lb", "key": "version", "type": "STRING"}, "remove": true}]}}
      ],
      "filter_chains": [{"filters": [{"type": "proxy", "config": {
        "downstream_protocol": "Auto", "upstream_protocol": "Http1", "router_config_name": "r"}}]}]
    }],
    "routers": [{"router_config_name": "r", "virtual_hosts": [{"name": "all", "domains": ["*"], "routers": [
      {"match": {"prefix": "/"}, "route": {"cluster_name": "web"}}
    ]}]}]
  }],
  "cluster_manager": {"clusters": [{
    "name": "web", "lb_type": "LB_ROUNDROBIN",
    "lb_subset_config": {"fall_back_policy": 1, "subset_selectors": [["version"]]},
    "hosts": [
      {"address": "${V1}", "metadata": {"filter_metadata": {"mosn.lb": {"version": "v1"}}}},
      {"address": "${V2}", "metadata": {"filter_metadata": {"mosn.lb": {"version": "v2"}}}}
    ]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

// versionServer answers "<name> body=<n>" and reports the x-version
// header it saw, so tests can tell which host served a request and that
// the header was removed.
func versionServer(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Saw-Version", r.Header.Get("X-Version"))
		fmt.Fprintf(w, "%s body=%d", name, n)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

type filterResult struct {
	status  int
	body    string
	sawVer  string
	elapsed time.Duration
}

func doFiltered(t *testing.T, c *http.Client, method, url string, body string, headers map[string]string) filterResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s %v: %v", method, url, headers, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return filterResult{resp.StatusCode, string(b), resp.Header.Get("X-Saw-Version"), time.Since(start)}
}

func TestStreamFilters(t *testing.T) {
	v1, v2 := versionServer(t, "v1"), versionServer(t, "v2")
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	dir := t.TempDir()
	cfg := expand(filtersConfig, map[string]string{
		"DIR": dir, "PORT": fmt.Sprint(port), "ADMIN": fmt.Sprint(admin), "V1": v1, "V2": v2,
	})
	p := startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin), fmt.Sprintf("127.0.0.1:%d", port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	h1, h2 := h1Client(), h2cClient()

	t.Run("ip_access", func(t *testing.T) {
		for _, tc := range []struct {
			xff    string
			status int
			body   string
		}{
			{"10.1.2.3", 403, "forbidden"},
			{"10.1.2.3, 127.0.0.1", 403, "forbidden"},
			{"127.0.0.1", 200, ""},
			{"192.168.4.5", 200, ""},
			{"", 200, ""},        // the peer, 127.0.0.1
			{"8.8.8.8", 403, ""}, // default_action deny
		} {
			h := map[string]string{"x-test": "ip"}
			if tc.xff != "" {
				h["X-Forwarded-For"] = tc.xff
			}
			r := doFiltered(t, h1, "GET", base+"/ip", "", h)
			if r.status != tc.status || tc.body != "" && r.body != tc.body {
				t.Errorf("x-forwarded-for %q: %d %q, want %d %q", tc.xff, r.status, r.body, tc.status, tc.body)
			}
		}
	})

	t.Run("payload_limit", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			client *http.Client
			size   int
			status int
			body   string
		}{
			{"h1 2KiB", h1, 2048, 413, ""},
			{"h1 1KiB passes", h1, 1024, 200, "body=1024"},
			{"h1 small", h1, 100, 200, "body=100"},
			{"h2c 2KiB", h2, 2048, 413, ""},
			{"h2c small", h2, 100, 200, "body=100"},
		} {
			r := doFiltered(t, tc.client, "POST", base+"/upload", strings.Repeat("x", tc.size), map[string]string{"x-test": "payload-" + fmt.Sprint(tc.size)})
			if r.status != tc.status || !strings.Contains(r.body, tc.body) {
				t.Errorf("%s: %d %q, want %d and a body with %q", tc.name, r.status, r.body, tc.status, tc.body)
			}
		}
	})

	t.Run("fault abort", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			client *http.Client
			fault  string
			status int
		}{
			{"h1 match", h1, "abort", 503},
			{"h2c match", h2, "abort", 503},
			{"h1 other value", h1, "nope", 200},
			{"h1 no header", h1, "", 200},
		} {
			h := map[string]string{"x-test": "abort-" + tc.fault}
			if tc.fault != "" {
				h["x-fault"] = tc.fault
			}
			r := doFiltered(t, tc.client, "GET", base+"/f", "", h)
			if r.status != tc.status {
				t.Errorf("%s: status %d %q, want %d", tc.name, r.status, r.body, tc.status)
			}
			if tc.status == 503 && r.body != "fault filter abort" {
				t.Errorf("%s: body %q, want %q", tc.name, r.body, "fault filter abort")
			}
		}
	})

	// Only a lower bound is asserted; that the delay applies only on a
	// match is read from the access log's DI flag below.
	t.Run("fault delay", func(t *testing.T) {
		r := doFiltered(t, h1, "GET", base+"/d", "", map[string]string{"x-fault": "delay", "x-test": "delayed"})
		if r.status != 200 {
			t.Fatalf("delayed request: %d %q", r.status, r.body)
		}
		if r.elapsed < 200*time.Millisecond {
			t.Errorf("delayed request took %v, want >= 200ms", r.elapsed)
		}
		if r := doFiltered(t, h1, "GET", base+"/d", "", map[string]string{"x-test": "undelayed"}); r.status != 200 {
			t.Fatalf("plain request: %d %q", r.status, r.body)
		}
	})

	t.Run("header_to_metadata subsets", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			client  *http.Client
			version string
		}{
			{"h1 v2", h1, "v2"},
			{"h1 v1", h1, "v1"},
			{"h2c v2", h2, "v2"},
		} {
			for i := range 10 {
				r := doFiltered(t, tc.client, "GET", base+"/v", "", map[string]string{"x-version": tc.version, "x-test": "subset"})
				if r.status != 200 || !strings.HasPrefix(r.body, tc.version+" ") {
					t.Fatalf("%s request %d: %d %q, want it served by %s (subset balancing by the filter's metadata)", tc.name, i, r.status, r.body, tc.version)
				}
				if r.sawVer != "" {
					t.Fatalf("%s: the upstream saw x-version %q; remove should have deleted it", tc.name, r.sawVer)
				}
			}
		}
		// Without the header the fallback (any host) serves both.
		seen := map[string]bool{}
		for range 10 {
			r := doFiltered(t, h1, "GET", base+"/v", "", map[string]string{"x-test": "subset-none"})
			if r.status != 200 {
				t.Fatalf("no x-version: %d %q", r.status, r.body)
			}
			seen[strings.Fields(r.body)[0]] = true
		}
		if !seen["v1"] || !seen["v2"] {
			t.Errorf("without x-version the fallback served only %v, want both hosts", seen)
		}
	})

	t.Run("access log flags", func(t *testing.T) {
		p.signal(syscallTERM)
		p.wait(15 * time.Second)
		log := readFile(t, filepath.Join(dir, "access.log"))
		for _, want := range []string{
			"delayed 200 DI\n",
			"undelayed 200 -\n",
			"abort-abort 503 FI\n",
			"abort-nope 200 -\n",
			"payload-2048 413 RETL\n",
			"payload-100 200 -\n",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("access log lacks %q:\n%s", want, log)
			}
		}
	})
}
