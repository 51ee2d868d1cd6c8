package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/internal/testutil"
)

// upgradeConfig serves HTTP/1, HTTP/2 (h2c) and bolt on three listeners,
// with admin, so that one upgrade covers every protocol at once.
const upgradeConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "graceful_timeout": "15s",
    "listeners": [
      {"name": "h1", "address": "127.0.0.1:${H1}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "upstream_protocol": "Http1", "router_config_name": "web"}}]}]}
      ,{"name": "h2", "address": "127.0.0.1:${H2}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http1", "router_config_name": "web"}}]}]}
      ,{"name": "bolt", "address": "127.0.0.1:${BOLT}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "bolt", "router_config_name": "rpc"}}]}]}
      ${EXTRA}
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
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

// generation is one mosn process of an upgrade chain. Processes started
// by SIGHUP are children of the previous process, so only the pid is
// known; exit is observed through /proc.
type generation struct {
	pid    int
	exited chan struct{} // only for processes this test started
}

func (g *generation) gone() bool {
	if g.exited != nil {
		select {
		case <-g.exited:
			return true
		default:
			return false
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.pid))
	if err != nil {
		return true
	}
	// An orphan whose new parent does not reap it stays a zombie.
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// upgradeEnv runs mosn generations in one directory with their output in
// one log file (a file, not a pipe: a SIGHUP child inherits it and would
// keep a pipe open after its parent exits).
type upgradeEnv struct {
	t       *testing.T
	dir     string
	cfgPath string
	vars    map[string]string
	out     *os.File
	mu      sync.Mutex
	started []*exec.Cmd
}

func (e *upgradeEnv) start(cfgPath string) (*exec.Cmd, chan struct{}, *int) {
	e.t.Helper()
	cmd := exec.Command(mosnBin, "start", "-c", cfgPath)
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = e.out, e.out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.started = append(e.started, cmd)
	e.mu.Unlock()
	exited := make(chan struct{})
	code := new(int)
	go func() {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			*code = ee.ExitCode()
		}
		close(exited)
	}()
	return cmd, exited, code
}

func (e *upgradeEnv) pidFile() int {
	b, err := os.ReadFile(filepath.Join(e.dir, "mosn.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func (e *upgradeEnv) log() string {
	b, _ := os.ReadFile(e.out.Name())
	m, _ := os.ReadFile(filepath.Join(e.dir, "mosn.log"))
	return string(b) + "\n--- mosn.log ---\n" + string(m)
}

// takeover waits until a process other than old owns the pid file and
// old has exited, and returns the new generation.
func (e *upgradeEnv) takeover(old *generation, what string) *generation {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if pid := e.pidFile(); pid != 0 && pid != old.pid && old.gone() {
			return &generation{pid: pid}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("%s: no takeover from pid %d (pid file: %d, old gone: %v)\n%s", what, old.pid, e.pidFile(), old.gone(), e.log())
	return nil
}

// loadStats counts what the clients saw.
type loadStats struct {
	mu     sync.Mutex
	ok     map[string]int
	errs   []string
	dials  map[string]*atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
	paused atomic.Bool
}

func (l *loadStats) record(kind string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if len(l.errs) < 20 {
			l.errs = append(l.errs, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), kind, err))
		} else {
			l.errs = append(l.errs[:20], "...")
		}
		return
	}
	l.ok[kind]++
}

// run calls do every interval until stop (open loop: a slow call delays
// only its own client).
func (l *loadStats) run(kind string, interval time.Duration, do func(i int) error) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			l.record(kind, do(i))
		}
	}()
}

// countingTransport is an HTTP client transport whose dials are counted:
// a keep-alive client that never reconnects saw no connection close.
func countingTransport(n *atomic.Int64, h2c bool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		MaxConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			n.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	return tr
}

func postEcho(c *http.Client, url, body string) error {
	// POST with a body is not retried by net/http once written: a
	// request lost by the proxy shows up as an error here.
	resp, err := c.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(b) != "echo:"+body {
		return fmt.Errorf("status %d body %q", resp.StatusCode, b)
	}
	return nil
}

// TestSmoothUpgradeUnderLoad upgrades a proxy ten times in a row (by
// starting a new process and by SIGHUP, alternately) while HTTP/1
// keep-alive, HTTP/2 and bolt clients send requests at a fixed rate; no
// request may fail and the HTTP/1 and bolt clients must never have to
// reconnect (their idle connections move to the new process). Then a
// bad config and an upgrade that cannot bind a port leave the running
// process serving and upgradable, and a last upgrade succeeds.
func TestSmoothUpgradeUnderLoad(t *testing.T) {
	web := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(append([]byte("echo:"), b...))
	}))
	rpc := testutil.NewBoltServer(t, "A", 2*time.Millisecond)
	dir := t.TempDir()
	vars := map[string]string{
		"DIR": dir, "WEB": web, "RPC": rpc.Addr(), "EXTRA": "",
		"H1":    strconv.Itoa(testutil.FreePort(t)),
		"H2":    strconv.Itoa(testutil.FreePort(t)),
		"BOLT":  strconv.Itoa(testutil.FreePort(t)),
		"ADMIN": strconv.Itoa(testutil.FreePort(t)),
	}
	cfgPath := filepath.Join(dir, "mosn_config.json")
	if err := os.WriteFile(cfgPath, []byte(expand(upgradeConfig, vars)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	e := &upgradeEnv{t: t, dir: dir, cfgPath: cfgPath, vars: vars, out: out}
	var current *generation
	t.Cleanup(func() {
		if current != nil {
			syscall.Kill(current.pid, syscall.SIGINT)
		}
		e.mu.Lock()
		for _, c := range e.started {
			c.Process.Signal(syscall.SIGINT)
		}
		e.mu.Unlock()
		deadline := time.Now().Add(10 * time.Second)
		for current != nil && !current.gone() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if t.Failed() {
			t.Logf("mosn output:\n%s", e.log())
		}
		out.Close()
	})

	_, exited, _ := e.start(cfgPath)
	h1Addr, h2Addr, boltAddr := "127.0.0.1:"+vars["H1"], "127.0.0.1:"+vars["H2"], "127.0.0.1:"+vars["BOLT"]
	admin := "http://127.0.0.1:" + vars["ADMIN"]
	for _, a := range []string{h1Addr, h2Addr, boltAddr} {
		waitDial(t, a, e)
	}
	for e.pidFile() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	current = &generation{pid: e.pidFile(), exited: exited}

	l := &loadStats{ok: map[string]int{}, dials: map[string]*atomic.Int64{}, stop: make(chan struct{})}
	const every = 20 * time.Millisecond // 50 requests/s per client
	for i := 0; i < 4; i++ {
		n := new(atomic.Int64)
		l.dials[fmt.Sprintf("http1-%d", i)] = n
		c := &http.Client{Timeout: 10 * time.Second, Transport: countingTransport(n, false)}
		l.run("http1", every, func(j int) error { return postEcho(c, "http://"+h1Addr+"/e", fmt.Sprintf("h1-%d-%d", i, j)) })
	}
	for i := 0; i < 2; i++ {
		n := new(atomic.Int64)
		l.dials[fmt.Sprintf("h2-%d", i)] = n
		c := &http.Client{Timeout: 10 * time.Second, Transport: countingTransport(n, true)}
		l.run("http2", every, func(j int) error { return postEcho(c, "http://"+h2Addr+"/e", fmt.Sprintf("h2-%d-%d", i, j)) })
	}
	for i := 0; i < 4; i++ {
		bc := testutil.DialBolt(t, boltAddr)
		l.run("bolt", every, func(j int) error {
			msg := fmt.Sprintf("b-%d-%d", i, j)
			f, err := bc.Call([][2]string{{"service", "com.foo.A:1.0"}}, msg, false, 5*time.Second)
			if err != nil {
				return err
			}
			if f.Status != bolt.StatusSuccess || string(f.Content) != "A:"+msg {
				return fmt.Errorf("status %d content %q", f.Status, f.Content)
			}
			return nil
		})
	}
	stopLoad := func() {
		select {
		case <-l.stop:
		default:
			close(l.stop)
		}
		l.wg.Wait()
	}
	defer stopLoad()
	time.Sleep(300 * time.Millisecond) // let every client connect and send

	for i := 1; i <= 10; i++ {
		what := fmt.Sprintf("upgrade %d", i)
		if i%2 == 0 {
			what += " (SIGHUP)"
			if err := syscall.Kill(current.pid, syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			current = e.takeover(current, what)
		} else {
			_, exited, _ := e.start(cfgPath)
			next := e.takeover(current, what)
			next.exited = exited
			current = next
		}
		if code, body := httpGet(t, admin+"/api/v1/states"); code != 200 || body != fmt.Sprintf("pid=%d&state=6", current.pid) {
			t.Fatalf("%s: states %d %q", what, code, body)
		}
	}

	// A bad config: the new process exits before touching the old one.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"servers": [{"listeners": [{"name": "x", "address": "nope"}]}]}`), 0o644)
	_, exited, code := e.start(bad)
	<-exited
	if *code != 1 {
		t.Errorf("bad config: exit code %d, want 1", *code)
	}
	// A port the new process cannot use: it has received the sockets
	// and fails while starting; it exits 2 and the old one serves on.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	vars["EXTRA"] = `,{"name": "extra", "address": "` + taken.Addr().String() + `", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "tcp_proxy", "config": {"cluster": "web"}}]}]}`
	conflict := filepath.Join(dir, "conflict.json")
	os.WriteFile(conflict, []byte(expand(upgradeConfig, vars)), 0o644)
	_, exited, code = e.start(conflict)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the failing upgrade did not exit\n%s", e.log())
	}
	if *code != 2 {
		t.Errorf("failed takeover: exit code %d, want 2", *code)
	}
	if pid := e.pidFile(); pid != current.pid || current.gone() {
		t.Fatalf("after a failed upgrade: pid file %d, running %d (gone %v)", pid, current.pid, current.gone())
	}
	if _, err := os.Stat(filepath.Join(dir, "reconfig.sock")); err != nil {
		t.Fatalf("reconfig.sock lost after a failed upgrade: %v", err)
	}
	waitState(t, admin, current.pid, 6)

	// The next upgrade still works.
	_, exited, _ = e.start(cfgPath)
	next := e.takeover(current, "upgrade after the failure")
	next.exited = exited
	current = next
	time.Sleep(200 * time.Millisecond)
	stopLoad()

	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) > 0 {
		t.Errorf("%d+ client errors during the upgrades:\n%s", len(l.errs), strings.Join(l.errs, "\n"))
	}
	t.Logf("requests answered: %v", l.ok)
	for _, kind := range []string{"http1", "http2", "bolt"} {
		if l.ok[kind] < 100 {
			t.Errorf("%s: only %d requests answered", kind, l.ok[kind])
		}
	}
	for name, n := range l.dials {
		if strings.HasPrefix(name, "http1") && n.Load() != 1 {
			t.Errorf("%s connected %d times: its keep-alive connection was closed by an upgrade", name, n.Load())
		}
	}
	// Upgrade counters carry over from process to process.
	code2, body := httpGet(t, admin+"/api/v1/stats?key=upgrade")
	var st map[string]any
	json.Unmarshal([]byte(body), &st)
	if code2 != 200 || fmt.Sprint(st["done_total"]) != "11" || fmt.Sprint(st["failed_total"]) != "1" {
		t.Errorf("upgrade stats: %d %s", code2, body)
	}
	if n, _ := st["connections_transferred_total"].(float64); n != 0 {
		// The newest process has transferred nothing itself.
		t.Errorf("the newest process reports %v transferred connections", n)
	}
	logs := e.log()
	for _, want := range []string{"[server] [reconfigure] reconfigureHandler start", "[network] [transfer] [server] TransferServer start", "failed to start application at stage"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func waitDial(t *testing.T, addr string, e *upgradeEnv) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s\n%s", addr, e.log())
}

func waitState(t *testing.T, admin string, pid, state int) {
	t.Helper()
	want := fmt.Sprintf("pid=%d&state=%d", pid, state)
	deadline := time.Now().Add(10 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		_, body = httpGet(t, admin+"/api/v1/states")
		if body == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("states %q, want %q", body, want)
}

// httpServer serves h on a loopback port and returns its address.
func httpServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestSmoothUpgradeMosnload upgrades a dubbo listener and a bolt (v2)
// listener three times each while mosnload drives them at a fixed rate
// over a few connections: every request must succeed, none may time out,
// and mosnload must never have to reconnect.
func TestSmoothUpgradeMosnload(t *testing.T) {
	for _, tc := range []struct{ proto, down string }{{"dubbo", "dubbo"}, {"sofarpc", "bolt"}} {
		t.Run(tc.down, func(t *testing.T) {
			up := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			srv := exec.Command(mosnloadBin, "serve", "-p", tc.proto, "--delay-random=0-2ms", up)
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() })
			dir := t.TempDir()
			port, admin := testutil.FreePort(t), testutil.FreePort(t)
			cfgPath := filepath.Join(dir, "mosn_config.json")
			cfg := expand(loadConfig, map[string]string{"DIR": dir, "PORT": fmt.Sprint(port), "ADMIN": fmt.Sprint(admin), "DOWN": tc.down, "UP": up})
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := os.Create(filepath.Join(dir, "stdout.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			e := &upgradeEnv{t: t, dir: dir, cfgPath: cfgPath, out: out}
			t.Cleanup(func() {
				for _, c := range e.started {
					c.Process.Signal(syscall.SIGINT)
				}
				for _, c := range e.started {
					c.Process.Wait()
				}
				if t.Failed() {
					t.Logf("mosn output:\n%s", e.log())
				}
			})
			cmd, exited, _ := e.start(cfgPath)
			gen := &generation{pid: cmd.Process.Pid, exited: exited}
			waitDial(t, fmt.Sprintf("127.0.0.1:%d", port), e)
			waitDial(t, up, e)

			load := exec.Command(mosnloadBin, "-D", "8", "--qps", "400", "-c", "4", "-p", tc.proto, "--timeout", "5s",
				fmt.Sprintf("%s://127.0.0.1:%d", tc.proto, port))
			var loadOut strings.Builder
			load.Stdout, load.Stderr = &loadOut, &loadOut
			if err := load.Start(); err != nil {
				t.Fatal(err)
			}
			loadDone := make(chan error, 1)
			go func() { loadDone <- load.Wait() }()
			time.Sleep(time.Second) // let mosnload connect and run
			for i := 0; i < 3; i++ {
				_, exited, _ := e.start(cfgPath)
				next := e.takeover(gen, fmt.Sprintf("%s upgrade %d", tc.down, i+1))
				next.exited = exited
				gen = next
				// mosnload's connections moved: none was closed.
				_, body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/stats?key=upgrade", admin))
				if !strings.Contains(body, `"connections_adopted_total": 4`) {
					t.Fatalf("upgrade %d: the new process did not adopt mosnload's 4 connections: %s", i+1, body)
				}
			}
			select {
			case err := <-loadDone:
				if err != nil {
					t.Fatalf("mosnload: %v\n%s", err, loadOut.String())
				}
			case <-time.After(60 * time.Second):
				load.Process.Kill()
				t.Fatalf("mosnload did not finish:\n%s", loadOut.String())
			}
			r := resultFields(t, loadOut.String())
			if r["failed"] != "0" || r["errored"] != "0" || r["timeout"] != "0" || r["connect_errors"] != "0" || r["succeeded"] != r["total"] {
				t.Fatalf("requests lost during the upgrades: %v\n%s", r, loadOut.String())
			}
			t.Logf("%s: %s requests over 3 upgrades, p99 %s us", tc.down, r["succeeded"], r["p99_us"])
		})
	}
}
