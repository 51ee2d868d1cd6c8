package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/internal/testutil"
)

// outlierEnv is a mosn with one HTTP/1 listener in front of cluster "c".
type outlierEnv struct {
	t          *testing.T
	base, prom string
	logPath    string
	client     *http.Client
}

func startOutlier(t *testing.T, outlier string, hosts ...string) *outlierEnv {
	t.Helper()
	dir := t.TempDir()
	port, admin, prom := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	var hs []string
	for _, h := range hosts {
		hs = append(hs, fmt.Sprintf(`{"address": %q}`, h))
	}
	cfg := fmt.Sprintf(`{
  "servers": [{"default_log_path": %q, "listeners": [{"name": "web", "address": "127.0.0.1:%d", "bind_port": true,
    "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "cluster": "c"}}]}]}]}],
  "cluster_manager": {"clusters": [{"name": "c", "lb_type": "LB_ROUNDROBIN", "outlier_detection": %s,
    "hosts": [%s]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}},
  "metrics": {"sinks": [{"type": "prometheus", "config": {"port": %d}}]}
}`, filepath.Join(dir, "mosn.log"), port, outlier, strings.Join(hs, ", "), admin, prom)
	startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin), fmt.Sprintf("127.0.0.1:%d", prom))
	return &outlierEnv{
		t:       t,
		base:    fmt.Sprintf("http://127.0.0.1:%d/", port),
		prom:    fmt.Sprintf("http://127.0.0.1:%d/metrics", prom),
		logPath: filepath.Join(dir, "mosn.log"),
		client:  &http.Client{Timeout: 10 * time.Second},
	}
}

// get returns the status and body of one request through the proxy.
func (e *outlierEnv) get() (int, string) {
	e.t.Helper()
	resp, err := e.client.Get(e.base)
	if err != nil {
		e.t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *outlierEnv) log() string { return readFile(e.t, e.logPath) }

// waitFor polls cond until it holds or a deadline passes.
func (e *outlierEnv) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; log:\n%s", what, e.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric returns the value of one series of the prometheus scrape, or -1.
func (e *outlierEnv) metric(series string) int {
	e.t.Helper()
	_, body := httpGet(e.t, e.prom)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestOutlierEjectionAndReturn: of three hosts, one answers 503; after
// consecutive_errors of them it is ejected (logged, counted), no request
// reaches it while it is out, it comes back when its ejection ends, and,
// fixed, it serves again.
func TestOutlierEjectionAndReturn(t *testing.T) {
	named := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) }))
		t.Cleanup(s.Close)
		return s
	}
	good1, good2 := named("good1"), named("good2")
	var broken atomic.Bool
	var badHits atomic.Int64
	broken.Store(true)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badHits.Add(1)
		if broken.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "bad")
			return
		}
		fmt.Fprint(w, "fixed")
	}))
	t.Cleanup(bad.Close)
	addr := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	badAddr := addr(bad)
	e := startOutlier(t, `{"consecutive_errors": 3, "base_ejection_time": "2s", "max_ejection_time": "20s", "max_ejection_percent": 50}`,
		addr(good1), badAddr, addr(good2))

	ejectedLine := regexp.MustCompile(`\[WARN\] \[upstream\] \[outlier\] cluster c host ` + regexp.QuoteMeta(badAddr) +
		` ejected for (\d+)s \(3 consecutive errors\)`)
	returnedLine := "[INFO] [upstream] [outlier] cluster c host " + badAddr + " returned after "
	ejections := func() int { return len(ejectedLine.FindAllString(e.log(), -1)) }
	returns := func() int { return strings.Count(e.log(), returnedLine) }

	// The bad host's 503s reach the client until it is ejected.
	e.waitFor("the 503 host to be ejected", func() bool {
		e.get()
		return ejections() > 0
	})
	if m := ejectedLine.FindStringSubmatch(e.log()); m[1] != "2" {
		t.Errorf("first ejection for %ss, want 2s", m[1])
	}
	if got := e.metric(`mosn_upstream_outlier_ejected_total{cluster="c"}`); got < 1 {
		t.Errorf("mosn_upstream_outlier_ejected_total = %d, want at least 1", got)
	}

	// While it is out, every request succeeds on the other two. The return
	// is logged before the host is picked again, so a batch that ends
	// with no new return line never had the host to pick; a batch that
	// the ejection outlasted is tried again at the next ejection, which
	// the still-broken host soon earns, for twice as long.
	clean := false
	deadline := time.Now().Add(30 * time.Second)
	for !clean && time.Now().Before(deadline) {
		ej, ret := ejections(), returns()
		if ret >= ej {
			// Between ejections: wait for the next one.
			e.get()
			continue
		}
		hits := badHits.Load()
		var bodies []string
		var codes []int
		for i := 0; i < 10; i++ {
			code, body := e.get()
			codes = append(codes, code)
			bodies = append(bodies, body)
		}
		// Read before the log: the gauge drops only after the return line.
		gauge := e.metric(`mosn_upstream_host_ejected{cluster="c"}`)
		if returns() != ret {
			continue
		}
		clean = true
		if gauge != 1 {
			t.Errorf("mosn_upstream_host_ejected = %d during an ejection, want 1", gauge)
		}
		if got := badHits.Load(); got != hits {
			t.Fatalf("the ejected host got %d requests", got-hits)
		}
		for i := range codes {
			if codes[i] != 200 || (bodies[i] != "good1" && bodies[i] != "good2") {
				t.Fatalf("request %d while the host is ejected: %d %q", i, codes[i], bodies[i])
			}
		}
	}
	if !clean {
		t.Fatalf("no batch of 10 requests fitted in an ejection; log:\n%s", e.log())
	}

	// Fixed, the host returns when its ejection ends and serves again.
	broken.Store(false)
	ret := returns()
	e.waitFor("the host to return", func() bool { return returns() > ret })
	e.waitFor("requests to reach the fixed host", func() bool {
		_, body := e.get()
		return body == "fixed"
	})
	for i := 0; i < 9; i++ {
		if code, body := e.get(); code != 200 {
			t.Fatalf("request %d after the return: %d %q", i, code, body)
		}
	}
	e.waitFor("the ejected-hosts gauge to drop to 0", func() bool {
		return e.metric(`mosn_upstream_host_ejected{cluster="c"}`) == 0
	})
}

// TestOutlierConnectFailures: a host that refuses connections is ejected
// after consecutive_errors failed connects; the requests are retried on
// the other host meanwhile, so the client sees no error.
func TestOutlierConnectFailures(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "good") }))
	t.Cleanup(good.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	e := startOutlier(t, `{"consecutive_errors": 2, "base_ejection_time": "1m"}`, dead, strings.TrimPrefix(good.URL, "http://"))
	e.waitFor("the dead host to be ejected", func() bool {
		if code, body := e.get(); code != 200 || body != "good" {
			t.Fatalf("request through a cluster with a dead host: %d %q", code, body)
		}
		return strings.Contains(e.log(), "[upstream] [outlier] cluster c host "+dead+" ejected for 1m0s (2 consecutive errors)")
	})
	if got := e.metric(`mosn_upstream_host_ejected{cluster="c"}`); got != 1 {
		t.Errorf("mosn_upstream_host_ejected = %d, want 1", got)
	}
}

// failingBolt is a bolt server that answers every request with
// SERVER_EXCEPTION and counts them.
func failingBolt(t *testing.T, requests *atomic.Int64) *testutil.Server {
	return testutil.NewServer(t, func(c net.Conn) {
		var buf []byte
		tmp := make([]byte, 16<<10)
		for {
			n, err := c.Read(tmp)
			buf = append(buf, tmp[:n]...)
			for {
				f, m, perr := bolt.Parse(buf)
				if perr != nil {
					break
				}
				if f.IsHeartbeat() {
					c.Write(bolt.AppendHeartbeatAck(nil, f.Proto, f.RequestID))
				} else if f.IsRequest() {
					requests.Add(1)
					c.Write(bolt.AppendResponse(nil, bolt.Response{
						Proto: f.Proto, Ver1: f.Ver1, CmdCode: bolt.CmdResponse, Ver2: f.Ver2,
						RequestID: f.RequestID, Codec: f.Codec, Status: bolt.StatusServerException,
						Class: bolt.ClassResponse, Content: []byte("boom"),
					}))
				}
				buf = buf[m:]
			}
			if err != nil {
				return
			}
		}
	})
}

// TestOutlierBoltErrorStatus: a bolt host answering SERVER_EXCEPTION is
// ejected after consecutive_errors answers, and every call then succeeds
// on the other host.
func TestOutlierBoltErrorStatus(t *testing.T) {
	good := testutil.NewBoltServer(t, "A", 0)
	var badRequests atomic.Int64
	bad := failingBolt(t, &badRequests)
	dir := t.TempDir()
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	cfg := fmt.Sprintf(`{
  "servers": [{"default_log_path": %q, "listeners": [{"name": "rpc", "address": "127.0.0.1:%d", "bind_port": true,
    "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "bolt", "cluster": "c"}}]}]}]}],
  "cluster_manager": {"clusters": [{"name": "c", "outlier_detection": {"consecutive_errors": 3, "base_ejection_time": "1m"},
    "hosts": [{"address": %q}, {"address": %q}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}
}`, filepath.Join(dir, "mosn.log"), port, good.Addr(), bad.Addr(), admin)
	startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	client := testutil.DialBolt(t, fmt.Sprintf("127.0.0.1:%d", port))
	line := "[WARN] [upstream] [outlier] cluster c host " + bad.Addr() + " ejected for 1m0s (3 consecutive errors)"
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(readFile(t, filepath.Join(dir, "mosn.log")), line) {
		if time.Now().After(deadline) {
			t.Fatalf("the failing host was not ejected; log:\n%s", readFile(t, filepath.Join(dir, "mosn.log")))
		}
		if _, err := client.Call(nil, "x", false, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	before := badRequests.Load()
	for i := 0; i < 10; i++ {
		f, err := client.Call(nil, fmt.Sprint(i), false, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != bolt.StatusSuccess || string(f.Content) != fmt.Sprintf("A:%d", i) {
			t.Fatalf("call %d with the failing host ejected: status %d content %q", i, f.Status, f.Content)
		}
	}
	if got := badRequests.Load(); got != before {
		t.Fatalf("the ejected host got %d requests", got-before)
	}
}
