//go:build linux

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The transparent-proxy tests build their own network: two network
// namespaces joined by a veth pair on 10.200.1.0/24, "srv" (10.200.1.1:
// the proxy, the upstream servers and the iptables rules) and "cli"
// (10.200.1.2: the client). Nothing outside those namespaces is touched,
// and deleting them at cleanup removes the interfaces, rules and routes.
const (
	nsSrvIP = "10.200.1.1"
	nsCliIP = "10.200.1.2"
)

// cmdTimeout bounds every short command (ip, iptables, curl).
const cmdTimeout = 20 * time.Second

// netnsPair is the test's pair of namespaces.
type netnsPair struct {
	srv, cli     string // namespace names
	srvIf, cliIf string // the veth ends
}

// runCmd runs a short command with cmdTimeout and returns its combined
// output.
func runCmd(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", cmdTimeout, err)
	}
	return strings.TrimSpace(string(out)), err
}

// mustRun runs a command and fails the test if it fails.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runCmd(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// orSkip runs a command the machine may refuse (no CAP_NET_ADMIN, no
// xt_TPROXY) and skips the test, naming the command, if it fails.
func orSkip(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := runCmd(name, args...); err != nil {
		t.Skipf("this machine refuses %q: %v: %s", name+" "+strings.Join(args, " "), err, out)
	}
}

// newNetnsPair creates the namespaces and the veth pair between them;
// cleanup deletes both namespaces (and with them everything inside).
// tag tells the pairs of one test run apart.
func newNetnsPair(t *testing.T, tag string) *netnsPair {
	t.Helper()
	pid := os.Getpid()
	p := &netnsPair{
		srv:   fmt.Sprintf("mosnit-%d-%s-srv", pid, tag),
		cli:   fmt.Sprintf("mosnit-%d-%s-cli", pid, tag),
		srvIf: fmt.Sprintf("vs%d%s", pid, tag), // at most 15 bytes
		cliIf: fmt.Sprintf("vc%d%s", pid, tag),
	}
	for _, ns := range []string{p.srv, p.cli} {
		orSkip(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := runCmd("ip", "netns", "del", ns); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	// The veth is created inside srv with its peer moved straight into
	// cli, so no interface ever appears in the caller's namespace.
	mustRun(t, "ip", "-n", p.srv, "link", "add", p.srvIf, "type", "veth", "peer", "name", p.cliIf, "netns", p.cli)
	for _, c := range [][]string{
		{"-n", p.srv, "addr", "add", nsSrvIP + "/24", "dev", p.srvIf},
		{"-n", p.cli, "addr", "add", nsCliIP + "/24", "dev", p.cliIf},
		{"-n", p.srv, "link", "set", p.srvIf, "up"},
		{"-n", p.cli, "link", "set", p.cliIf, "up"},
		{"-n", p.srv, "link", "set", "lo", "up"},
		{"-n", p.cli, "link", "set", "lo", "up"},
	} {
		mustRun(t, "ip", c...)
	}
	return p
}

// nsProc is a long-running process inside a namespace.
type nsProc struct {
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error
}

// startIn starts args in directory dir ("": the test's) inside namespace
// ns with "ip netns exec", which execs the command, so the pid is the
// command's own. Cleanup stops it
// (SIGINT, then SIGKILL after 10 s) and shows its output if the test
// failed; a context kills it anyway after two minutes.
func startIn(t *testing.T, ns, dir, name string, args ...string) *nsProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p := &nsProc{name: name, out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				p.cmd.Process.Kill()
				<-p.exited
			}
		}
		cancel()
		if t.Failed() {
			t.Logf("%s output (%v):\n%s", name, p.err, p.out.String())
		}
	})
	return p
}

// waitUntil polls check until it returns true, or fails the test after
// 20 s naming what it waited for and the last thing check saw.
func waitUntil(t *testing.T, what string, procs []*nsProc, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		for _, p := range procs {
			select {
			case <-p.exited:
				t.Fatalf("%s exited early (%v) while waiting for %s:\n%s", p.name, p.err, what, p.out.String())
			default:
			}
		}
		var ok bool
		if ok, last = check(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

// curlIn fetches url from inside namespace ns.
func curlIn(ns, url string) (string, error) {
	return runCmd("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "10", url)
}

// startUpstream runs an HTTP/1 server in srv that answers bodySize bytes
// ("ok" for 2, "o" repeated otherwise) and waits until it answers.
func startUpstream(t *testing.T, p *netnsPair, addr string, bodySize int) {
	t.Helper()
	proc := startIn(t, p.srv, "", "upstream "+addr, mosnloadBin, "serve", "-p", "http1", fmt.Sprintf("--body-size=%d", bodySize), addr)
	want := bodyOf(bodySize)
	waitUntil(t, "upstream "+addr, []*nsProc{proc}, func() (bool, string) {
		out, err := curlIn(p.srv, "http://"+addr+"/")
		return err == nil && out == want, fmt.Sprintf("%q %v", out, err)
	})
}

// bodyOf is what "mosnload serve --body-size=n" answers.
func bodyOf(n int) string {
	if n == 2 {
		return "ok"
	}
	return strings.Repeat("o", n)
}

// startMosnIn runs the mosn binary in srv with cfg, whose ${DIR} (logs)
// becomes dir, and waits until its admin API (on nsSrvIP:34901, opened
// after every listener) answers. If the test fails, cleanup shows the
// error and access logs.
func startMosnIn(t *testing.T, p *netnsPair, dir, cfg string) *nsProc {
	t.Helper()
	path := writeConfig(t, expand(cfg, map[string]string{"DIR": dir}))
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, name := range []string{"mosn.log", "access.log"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			t.Logf("%s (%v):\n%s", name, err, b)
		}
	})
	proc := startIn(t, p.srv, filepath.Dir(path), "mosn", mosnBin, "start", "-c", path)
	waitUntil(t, "mosn admin API", []*nsProc{proc}, func() (bool, string) {
		out, err := curlIn(p.srv, "http://"+nsSrvIP+":34901/api/v1/states")
		return err == nil, fmt.Sprintf("%q %v", out, err)
	})
	return proc
}

// waitAccessLine waits until the access log at path has a line with the
// given prefix and returns it; the proxy writes it when the connection
// ends, which may be just after the client has its answer.
func waitAccessLine(t *testing.T, path, prefix string, procs []*nsProc) string {
	t.Helper()
	var line string
	waitUntil(t, "access log line "+prefix, procs, func() (bool, string) {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix) {
				line = l
				return true, l
			}
		}
		return false, fmt.Sprintf("%q", b)
	})
	return line
}

// tproxyConfig is the seed's LB_ORIGINAL_DST config (cluster without
// hosts, upstream mark 68) behind a tproxy listener.
const tproxyConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "default_log_level": "DEBUG",
    "listeners": [{
      "name": "proxyListener",
      "address": "0.0.0.0:12345",
      "bind_port": true,
      "use_original_dst": "tproxy",
      "access_logs": [{"log_path": "${DIR}/access.log", "log_format": "%listener_name% %downstream_local_address% %upstream_host%"}],
      "filter_chains": [{"tls_context": {}, "filters": [{"type": "tcp_proxy", "config": {"cluster": "serverCluster"}}]}]
    }]
  }],
  "cluster_manager": {"clusters": [{
    "Name": "serverCluster",
    "type": "SIMPLE",
    "lb_type": "LB_ORIGINAL_DST",
    "max_request_per_conn": 1024,
    "conn_buffer_limit_bytes": 32768,
    "mark": 68
  }]},
  "admin": {"address": {"socket_address": {"address": "10.200.1.1", "port_value": 34901}}}
}`

// redirectConfig has a redirect listener on 12346 whose own chain goes to
// a decoy on 10.200.1.1:8091, and a bind_port false listener configured
// on 10.200.1.1:8091 whose chain goes to 10.200.1.1:9091. Only a recovered
// original destination plus the hand-off reach the 9091 server.
const redirectConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "default_log_level": "DEBUG",
    "listeners": [{
      "name": "virtualInbound",
      "address": "0.0.0.0:12346",
      "bind_port": true,
      "use_original_dst": "redirect",
      "access_logs": [{"log_path": "${DIR}/access.log", "log_format": "%listener_name% %upstream_host%"}],
      "filter_chains": [{"filters": [{"type": "tcp_proxy", "config": {"cluster": "decoy"}}]}]
    }, {
      "name": "inbound_8091",
      "address": "10.200.1.1:8091",
      "bind_port": false,
      "access_logs": [{"log_path": "${DIR}/access.log", "log_format": "%listener_name% %upstream_host%"}],
      "filter_chains": [{"filters": [{"type": "tcp_proxy", "config": {"cluster": "app"}}]}]
    }]
  }],
  "cluster_manager": {"clusters": [
    {"name": "decoy", "type": "SIMPLE", "lb_type": "LB_ROUNDROBIN", "hosts": [{"address": "10.200.1.1:8091"}]},
    {"name": "app", "type": "SIMPLE", "lb_type": "LB_ROUNDROBIN", "hosts": [{"address": "10.200.1.1:9091"}]}
  ]},
  "admin": {"address": {"socket_address": {"address": "10.200.1.1", "port_value": 34901}}}
}`

// TestTransparentProxy runs the real binary as a transparent proxy for a
// client in another network namespace, with the iptables recipes of
// docs/transparent-proxy.md.
func TestTransparentProxy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces and iptables need root (CAP_NET_ADMIN)")
	}

	t.Run("tproxy", func(t *testing.T) {
		p := newNetnsPair(t, "t")
		// The seed's recipe, restricted to traffic arriving on the veth.
		orSkip(t, "ip", "netns", "exec", p.srv, "iptables", "-t", "mangle", "-I", "PREROUTING", "-i", p.srvIf,
			"-p", "tcp", "--dport", "8090", "-j", "TPROXY", "--on-port", "12345", "--tproxy-mark", "1")
		mustRun(t, "ip", "-n", p.srv, "rule", "add", "fwmark", "1", "table", "100")
		mustRun(t, "ip", "-n", p.srv, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")

		startUpstream(t, p, nsSrvIP+":8090", 2)
		dir := t.TempDir()
		mosn := startMosnIn(t, p, dir, tproxyConfig)

		body, err := curlIn(p.cli, "http://"+nsSrvIP+":8090/")
		if err != nil || body != "ok" {
			t.Fatalf("client got %q, %v; want the server's ok", body, err)
		}
		// Without the TPROXY rule the client would reach the server
		// directly and the proxy would log nothing.
		line := waitAccessLine(t, filepath.Join(dir, "access.log"), "proxyListener ", []*nsProc{mosn})
		if want := "proxyListener 10.200.1.1:8090 10.200.1.1:8090"; line != want {
			t.Errorf("access log line %q, want %q (downstream local address, upstream host)", line, want)
		}
	})

	t.Run("redirect", func(t *testing.T) {
		p := newNetnsPair(t, "r")
		orSkip(t, "ip", "netns", "exec", p.srv, "iptables", "-t", "nat", "-I", "PREROUTING", "-i", p.srvIf,
			"-p", "tcp", "--dport", "8091", "-j", "REDIRECT", "--to-ports", "12346")

		startUpstream(t, p, nsSrvIP+":8091", 3) // the decoy: "ooo"
		startUpstream(t, p, nsSrvIP+":9091", 4) // the hand-off's upstream: "oooo"
		dir := t.TempDir()
		mosn := startMosnIn(t, p, dir, redirectConfig)

		body, err := curlIn(p.cli, "http://"+nsSrvIP+":8091/")
		if err != nil {
			t.Fatalf("client: %v: %s", err, body)
		}
		switch body {
		case bodyOf(4):
		case bodyOf(3):
			t.Fatalf("client got the 8091 decoy's answer %q: the connection was not redirected, or not handed to inbound_8091", body)
		default:
			t.Fatalf("client got %q, want the 9091 server's %q", body, bodyOf(4))
		}
		line := waitAccessLine(t, filepath.Join(dir, "access.log"), "inbound_8091 ", []*nsProc{mosn})
		if want := "inbound_8091 10.200.1.1:9091"; line != want {
			t.Errorf("access log line %q, want %q (listener, upstream host)", line, want)
		}
	})
}
