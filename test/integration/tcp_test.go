package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

// tcpConfig is a tcp_proxy listener in front of one cluster, with an
// access log and the admin API.
const tcpConfig = `{
  "servers": [{
    "default_log_path": "${LOG}",
    "default_log_level": "INFO",
    "graceful_timeout": "${GRACE}",
    "listeners": [{
      "name": "tcp",
      "address": "127.0.0.1:${PORT}",
      "bind_port": true,
      "access_logs": [{"log_path": "${ACCESS}", "log_format": "%downstream_remote_address% %upstream_host% %bytes_received% %bytes_sent% %response_flag%"}],
      "filter_chains": [{"filters": [
        {"type": "tcp_proxy", "config": {"cluster": "up", "idle_timeout": "${IDLE}", "max_connect_attempts": 3}},
      ]}]
    }]
  }],
  "cluster_manager": {"clusters": [{
    "Name": "up",
    "type": "SIMPLE",
    "lb_type": "${LB}",
    "connect_timeout": "2s",
    "hosts": [${HOSTS}]
  }]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

type tcpSetup struct {
	lb     string
	hosts  []string // "addr" or "addr/weight"
	idle   string
	grace  string
	access string
}

// startTCP starts mosn with tcpConfig and returns the proxy address, the
// admin address and the process.
func startTCP(t *testing.T, s tcpSetup) (string, string, *proc) {
	t.Helper()
	var hosts []string
	for _, h := range s.hosts {
		addr, w, ok := strings.Cut(h, "/")
		if ok {
			hosts = append(hosts, fmt.Sprintf(`{"address": %q, "weight": %s}`, addr, w))
		} else {
			hosts = append(hosts, fmt.Sprintf(`{"address": %q}`, addr))
		}
	}
	if s.idle == "" {
		s.idle = "0s"
	}
	if s.grace == "" {
		s.grace = "10s"
	}
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	dir := t.TempDir()
	if s.access == "" {
		s.access = filepath.Join(dir, "access.log")
	}
	cfg := expand(tcpConfig, map[string]string{
		"LOG":    filepath.Join(dir, "mosn.log"),
		"ACCESS": s.access,
		"PORT":   fmt.Sprint(port),
		"ADMIN":  fmt.Sprint(admin),
		"LB":     s.lb,
		"HOSTS":  strings.Join(hosts, ", "),
		"IDLE":   s.idle,
		"GRACE":  s.grace,
	})
	proxy := fmt.Sprintf("127.0.0.1:%d", port)
	adminAddr := fmt.Sprintf("127.0.0.1:%d", admin)
	// Readiness is probed on the admin port only: a probe connection to
	// the proxy port would take a load-balancer pick.
	p := startMosn(t, writeConfig(t, cfg), adminAddr)
	return proxy, adminAddr, p
}

// countUpstreams makes n connections through the proxy, at most conc at
// a time, each reading the upstream's address, and counts the answers.
func countUpstreams(t *testing.T, proxy string, n, conc int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var failures []string
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := net.DialTimeout("tcp", proxy, 5*time.Second)
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			b, err := io.ReadAll(c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || len(b) == 0 {
				failures = append(failures, fmt.Sprintf("read %q: %v", b, err))
				return
			}
			counts[string(b)]++
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d connections failed, first: %s", len(failures), n, failures[0])
	}
	return counts
}

// TestLeastConnection is seed 001's scenario: three upstreams, one holding
// each connection for 2 s; the slow one must get clearly the fewest.
func TestLeastConnection(t *testing.T) {
	var servers [3]*testutil.Server
	for i := range servers {
		delay := time.Duration(0)
		if i == 0 {
			delay = 2 * time.Second
		}
		servers[i] = testutil.NewServer(t, testutil.SayAddr(delay))
	}
	proxy, _, _ := startTCP(t, tcpSetup{lb: "LB_LEAST_CONNECTION", hosts: []string{servers[0].Addr(), servers[1].Addr(), servers[2].Addr()}})
	counts := countUpstreams(t, proxy, 1000, 100)
	t.Logf("connections per upstream: slow %s=%d, %s=%d, %s=%d", servers[0].Addr(), counts[servers[0].Addr()],
		servers[1].Addr(), counts[servers[1].Addr()], servers[2].Addr(), counts[servers[2].Addr()])
	slowN := counts[servers[0].Addr()]
	for _, s := range servers[1:] {
		if n := counts[s.Addr()]; slowN*3 > n {
			t.Errorf("slow host got %d connections, fast host %s only %d: want the slow one clearly fewest (< 1/3)", slowN, s.Addr(), n)
		}
	}
	if total := slowN + counts[servers[1].Addr()] + counts[servers[2].Addr()]; total != 1000 {
		t.Errorf("answers from known upstreams = %d, want 1000 (%v)", total, counts)
	}
}

func TestRoundRobinAndWeighted(t *testing.T) {
	for _, tc := range []struct {
		lb      string
		weights []int
	}{
		{"LB_ROUNDROBIN", []int{1, 1, 1}},
		{"LB_WEIGHTED_ROUNDROBIN", []int{1, 2, 3}},
	} {
		t.Run(tc.lb, func(t *testing.T) {
			var hosts []string
			var addrs []string
			for _, w := range tc.weights {
				srv := testutil.NewServer(t, testutil.SayAddr(0))
				addr := srv.Addr()
				addrs = append(addrs, addr)
				hosts = append(hosts, fmt.Sprintf("%s/%d", addr, w))
			}
			proxy, _, _ := startTCP(t, tcpSetup{lb: tc.lb, hosts: hosts})
			const per = 50
			total := 0
			for _, w := range tc.weights {
				total += w * per
			}
			counts := countUpstreams(t, proxy, total, 8)
			for i, w := range tc.weights {
				if got := counts[addrs[i]]; got != w*per {
					t.Errorf("host %d (weight %d) got %d connections, want exactly %d (all: %v)", i, w, got, w*per, counts)
				}
			}
		})
	}
}

// TestBulkAndHalfClose sends 32 MiB through the proxy, half-closes, and
// expects the echo of every byte back before the upstream closes.
func TestBulkAndHalfClose(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	proxy, _, _ := startTCP(t, tcpSetup{lb: "LB_RANDOM", hosts: []string{echo.Addr()}})
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 32<<20)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		t.Fatalf("read after %d bytes: %v", n, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if n != int64(len(payload)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("echoed %d bytes (want %d), checksum match %v", n, len(payload), bytes.Equal(h.Sum(nil), want[:]))
	}
}

// TestHalfCloseRequestResponse: the client sends a request and shuts its
// write side; the upstream answers only after seeing EOF.
func TestHalfCloseRequestResponse(t *testing.T) {
	srv := testutil.NewServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "got %d bytes: %s", len(b), b)
	})
	proxy, _, _ := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{srv.Addr()}})
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "got 5 bytes: hello" {
		t.Fatalf("answer %q, %v", b, err)
	}
}

func TestIdleTimeout(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	proxy, _, _ := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{echo.Addr()}, idle: "400ms"})

	// A connection that keeps talking outlives the idle timeout.
	busy, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	buf := make([]byte, 4)
	for i := 0; i < 12; i++ {
		busy.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := busy.Write([]byte("ping")); err != nil {
			t.Fatalf("busy write %d: %v", i, err)
		}
		if _, err := io.ReadFull(busy, buf); err != nil {
			t.Fatalf("busy connection cut after %d round trips: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A quiet one is closed by the proxy.
	quiet, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	start := time.Now()
	quiet.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := quiet.Read(buf)
	if err != io.EOF {
		t.Fatalf("quiet connection: read %d, %v; want EOF from the idle timeout", n, err)
	}
	t.Logf("quiet connection closed after %s", time.Since(start).Round(time.Millisecond))
}

// TestGracefulStop: SIGTERM stops accepting at once but lets an open
// connection finish its transfer, then the process exits 0.
func TestGracefulStop(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	proxy, _, p := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{echo.Addr()}, grace: "20s"})
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGTERM)
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", proxy, time.Second)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("proxy still accepts connections 10s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The open connection still works, for several round trips.
	for i := 0; i < 5; i++ {
		msg := []byte(fmt.Sprintf("after%d", i))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("write after SIGTERM: %v", err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip %d after SIGTERM: %q, %v", i, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-p.exited:
		t.Fatal("mosn exited while a connection was still open")
	default:
	}
	c.Close()
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after graceful stop", code)
	}
}

// TestGracefulTimeout: a connection that never ends is cut after
// graceful_timeout and the process exits.
func TestGracefulTimeout(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	proxy, _, p := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{echo.Addr()}, grace: "1s"})
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after the process exited")
	}
}

func TestSIGINTStopsAtOnce(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	proxy, _, p := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{echo.Addr()}, grace: "60s"})
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	p.signal(syscall.SIGINT)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestAccessLog(t *testing.T) {
	srv := testutil.NewServer(t, func(c net.Conn) {
		io.ReadFull(c, make([]byte, 3))
		c.Write([]byte("hello"))
	})
	access := filepath.Join(t.TempDir(), "access.log")
	proxy, _, p := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{srv.Addr()}, access: access})
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("abc"))
	io.ReadAll(c)
	local := c.LocalAddr().String()
	c.Close()
	p.signal(syscall.SIGTERM) // flushes the access log on exit
	p.wait(15 * time.Second)
	b, err := os.ReadFile(access)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s %s 3 5 false", local, srv.Addr())
	if !strings.Contains(string(b), want) {
		t.Fatalf("access log %q does not contain %q", b, want)
	}
}

// TestConnectFailure: a dead host is skipped thanks to
// max_connect_attempts; with only dead hosts the client is closed and the
// access log says UpstreamConnectionFailure ("UF").
func TestConnectFailure(t *testing.T) {
	dead := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	live := testutil.NewServer(t, testutil.SayAddr(0))
	addr := live.Addr()
	proxy, _, _ := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{dead, live.Addr()}})
	counts := countUpstreams(t, proxy, 20, 1)
	if counts[addr] != 20 {
		t.Fatalf("with one dead host and 3 attempts every connection should reach the live one: %v", counts)
	}
}
