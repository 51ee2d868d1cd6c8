package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

func TestVersion(t *testing.T) {
	code, out := runMosn(t, "version")
	if code != 0 || !strings.HasPrefix(out, "mosn version ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// TestSeedConfigsValidate: the seeds' configs validate with `mosn
// validate`.
func TestSeedConfigsValidate(t *testing.T) {
	for _, tc := range []struct {
		file string
		code int
		want string
	}{
		{"seed000_tproxy.json", 0, "ok"},
		{"seed001_leastconn.json", 0, "ok"},
		{"seed002_moe.json", 0, "ok"},
		{"seed003_http_example.json", 0, "ok"},
		{"seed001_healthcheck.json", 0, "ok"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, out := runMosn(t, "validate", "-c", filepath.Join("..", "..", "config", "testdata", tc.file))
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}

// TestBadConfigs: each bad config makes both validate and start exit
// non-zero with the JSON path of the bad field, and start listens on
// nothing.
func TestBadConfigs(t *testing.T) {
	port := testutil.FreePort(t)
	good := func(listener, cluster string) string {
		return fmt.Sprintf(`{"servers": [{"default_log_path": "stderr", "listeners": [%s]}],
  "cluster_manager": {"clusters": [%s]}}`, listener, cluster)
	}
	lis := func(name, addr, clusterRef string) string {
		return fmt.Sprintf(`{"name": %q, "address": %q, "bind_port": true,
  "filter_chains": [{"filters": [{"type": "tcp_proxy", "config": {"cluster": %q}}]}]}`, name, addr, clusterRef)
	}
	okListener := lis("a", fmt.Sprintf("127.0.0.1:%d", port), "c")
	okCluster := `{"name": "c", "type": "SIMPLE", "lb_type": "LB_RANDOM", "hosts": [{"address": "127.0.0.1:1"}]}`
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{"syntax", `{"servers": [}`, "mosn_config.json:1:"},
		{"wrong type", `{"servers": [{"listeners": [{"name": "a", "bind_port": "yes"}]}]}`, "servers[0].listeners[0].bind_port"},
		{"unknown lb_type", good(okListener, `{"name": "c", "lb_type": "LB_FANCY", "hosts": [{"address": "127.0.0.1:1"}]}`), "cluster_manager.clusters[0].lb_type"},
		{"duplicate listener", good(okListener+","+lis("a", "127.0.0.1:1", "c"), okCluster), "servers[0].listeners[1]"},
		{"missing cluster", good(lis("a", fmt.Sprintf("127.0.0.1:%d", port), "nope"), okCluster), `servers[0].listeners[0].filter_chains[0].filters[0].config.cluster (`},
		{"bad address", good(lis("a", "127.0.0.1:99999", "c"), okCluster), "servers[0].listeners[0].address"},
		{"bad host address", good(okListener, `{"name": "c", "hosts": [{"address": "nohost"}]}`), "cluster_manager.clusters[0].hosts[0].address"},
		{"bad duration", good(okListener, `{"name": "c", "connect_timeout": "soon", "hosts": [{"address": "127.0.0.1:1"}]}`), "cluster_manager.clusters[0].connect_timeout"},
		{"unknown filter", good(strings.Replace(okListener, "tcp_proxy", "tcp_proxyy", 1), okCluster), "servers[0].listeners[0].filter_chains[0].filters[0].type"},
		{"bad filter config", good(strings.Replace(okListener, `"cluster": "c"`, `"cluster": "c", "max_connect_attempts": -1`, 1), okCluster), "servers[0].listeners[0].filter_chains[0].filters[0].config.max_connect_attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.cfg)
			code, out := runMosn(t, "validate", "-c", path)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("validate: exit %d, want 1 with %q:\n%s", code, tc.want, out)
			}
			code, out = runMosn(t, "start", "-c", path)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("start: exit %d, want 1 with %q:\n%s", code, tc.want, out)
			}
		})
	}
}

// TestPortInUse: a listener port held by another socket stops start with
// a clear message and a non-zero exit, and nothing is left listening.
func TestPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	admin := testutil.FreePort(t)
	cfg := fmt.Sprintf(`{"servers": [{"default_log_path": "stderr", "listeners": [{"name": "a", "address": %q, "bind_port": true,
  "filter_chains": [{"filters": [{"type": "tcp_proxy", "config": {"cluster": "c"}}]}]}]}],
  "cluster_manager": {"clusters": [{"name": "c", "hosts": [{"address": "127.0.0.1:1"}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}}`, busy.Addr().String(), admin)
	path := writeConfig(t, cfg)
	// The pid file of an instance already running survives the failed
	// start, which wrote its own before it tried to listen.
	pidFile := filepath.Join(filepath.Dir(path), "mosn.pid")
	if err := os.WriteFile(pidFile, []byte("4242"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runMosn(t, "start", "-c", path)
	if code == 0 || !strings.Contains(out, "already in use") {
		t.Fatalf("exit %d, want non-zero with 'already in use':\n%s", code, out)
	}
	if b, err := os.ReadFile(pidFile); err != nil || string(b) != "4242" {
		t.Errorf("pid file after a failed start: %q, %v; want the previous \"4242\"", b, err)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", admin), time.Second); err == nil {
		c.Close()
		t.Fatal("the admin port is listening after a failed start")
	}
}

// TestStopCommand: mosn stop finds the process through its pid file.
func TestStopCommand(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	port := testutil.FreePort(t)
	cfg := fmt.Sprintf(`{"servers": [{"default_log_path": "stderr", "graceful_timeout": "5s", "listeners": [{"name": "a",
  "address": "127.0.0.1:%d", "bind_port": true,
  "filter_chains": [{"filters": [{"type": "tcp_proxy", "config": {"cluster": "c"}}]}]}]}],
  "cluster_manager": {"clusters": [{"name": "c", "hosts": [{"address": %q}]}]}}`, port, echo.Addr())
	path := writeConfig(t, cfg)
	p := startMosn(t, path, fmt.Sprintf("127.0.0.1:%d", port))
	pidFile := filepath.Join(filepath.Dir(path), "mosn.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(p.cmd.Process.Pid) {
		t.Fatalf("pid file %s: %q, %v", pidFile, b, err)
	}
	code, out := runMosn(t, "stop", "-c", path)
	if code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("stop: exit %d:\n%s", code, out)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("mosn exit code %d", code)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file still there after stop: %v", err)
	}
}

// TestLogReopen: after the log file is moved away, SIGUSR1 makes mosn
// write to a new file at the configured path.
func TestLogReopen(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	_, admin, p := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{echo.Addr()}})
	// Find the error log from the admin API.
	_, body := httpGet(t, "http://"+admin+"/api/v1/get_loglevel")
	var path string
	for _, f := range strings.Split(body, "\"") {
		if strings.HasSuffix(f, "mosn.log") {
			path = f
		}
	}
	if path == "" {
		t.Fatalf("no mosn.log in %s", body)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGUSR1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), "SIGUSR1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new log at %s after SIGUSR1 (%v)", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	old, _ := os.ReadFile(path + ".1")
	if !strings.Contains(string(old), "state changed to 6") {
		t.Errorf("rotated log lacks the start-up lines: %q", old)
	}
}

// TestDemo: "mosn start" without -c serves the built-in demo on its fixed
// ports (127.0.0.1:2045 -> built-in upstream on 2046, admin on 34901).
func TestDemo(t *testing.T) {
	for _, port := range []int{2045, 2046, 34901} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Skipf("the demo's port %d is taken on this machine (%v); the demo cannot run here", port, err)
		}
		ln.Close()
	}
	dir := t.TempDir()
	p := &proc{t: t, dir: dir, out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(mosnBin, "start")
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGINT)
		<-p.exited
	})
	p.waitListening("127.0.0.1:34901")
	if code, body := httpGet(t, "http://127.0.0.1:2045/hi"); code != 200 || !strings.Contains(body, "demo upstream (GET /hi)") {
		t.Fatalf("demo through the proxy: %d %q", code, body)
	}
	// mosn stop finds the demo through mosn.pid in the working directory.
	cmd := exec.Command(mosnBin, "stop")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosn stop: %v\n%s", err, out)
	}
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
