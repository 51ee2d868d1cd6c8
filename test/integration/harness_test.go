// Package integration runs the real mosn binary as a subprocess with real
// configs against real clients and upstream servers on loopback.
package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var mosnBin, mosnloadBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mosn-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mosnBin = filepath.Join(dir, "mosn")
	build := exec.Command("go", "build", "-race", "-o", mosnBin, "mosn.dev/proxy/cmd/mosn")
	if os.Getenv("MOSN_IT_NORACE") != "" {
		build = exec.Command("go", "build", "-o", mosnBin, "mosn.dev/proxy/cmd/mosn")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mosn:", err)
		os.Exit(1)
	}
	mosnloadBin = filepath.Join(dir, "mosnload")
	build = exec.Command("go", "build", "-o", mosnloadBin, "mosn.dev/proxy/cmd/mosnload")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mosnload:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running mosn.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string
	out    *syncBuffer
	exited chan struct{}
	err    error
	// ready are the addresses startMosn waited for (the first is the
	// admin API's where a test has one).
	ready []string
}

// writeConfig writes cfg to a fresh directory and returns its path.
func writeConfig(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mosn_config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runMosn runs the binary to completion with args and returns its exit
// code and combined output.
func runMosn(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(mosnBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatalf("run mosn %v: %v", args, err)
	}
	return 0, out.String()
}

// startMosn starts "mosn start -c <cfg>" and waits until every address in
// ready accepts connections. The process is stopped at cleanup.
func startMosn(t *testing.T, cfgPath string, ready ...string) *proc {
	t.Helper()
	p := &proc{t: t, dir: filepath.Dir(cfgPath), out: &syncBuffer{}, exited: make(chan struct{}), ready: ready}
	p.cmd = exec.Command(mosnBin, "start", "-c", cfgPath)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
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
		// The binary is race-built unless MOSN_IT_NORACE is set: a race
		// it found while the test ran fails the test.
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			t.Errorf("the proxy reported a data race")
		}
		if t.Failed() {
			t.Logf("mosn output:\n%s", p.out.String())
		}
	})
	for _, addr := range ready {
		p.waitListening(addr)
	}
	return p
}

func (p *proc) waitListening(addr string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			p.t.Fatalf("mosn exited early (%v):\n%s", p.err, p.out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("mosn did not listen on %s:\n%s", addr, p.out.String())
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("mosn still running after %s:\n%s", timeout, p.out.String())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

func (p *proc) signal(s os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatal(err)
	}
}

// httpGet returns the status and body of a GET.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// httpPost returns the status and body of a POST.
func httpPost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expand replaces ${NAME} in a config template.
func expand(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "${"+k+"}", v)
	}
	return tmpl
}

var syscallTERM = syscall.SIGTERM

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitLog waits (10 s at most) until the file at path contains want: log
// lines may be written a moment after the answer went out.
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lacks %q:\n%s", path, want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
