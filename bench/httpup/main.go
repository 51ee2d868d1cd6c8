// Command httpup is the upstream HTTP/1.1 server of bench/http.sh, the
// whole-proxy HTTP/1 benchmark, and its small helpers.
//
// Usage:
//
//	httpup serve    -addr 127.0.0.1:P [-impl epoll|goroutines|std]
//	httpup check    -addr A [-host H]
//	httpup stats    -addr A
//	httpup wait     -addr A [-timeout 10s]
//	httpup freeport [-n 1]
//
// The server answers GET and HEAD of /small (12 bytes), /4k (4096 bytes)
// and /stats ("conns=N requests=M": connections accepted and requests
// answered so far, /stats itself not counted), 404 for other paths and 405
// for other methods. -impl chooses how: "epoll" (the default on Linux) and
// "goroutines" (the default elsewhere) parse requests themselves (see
// rawServer) from one epoll loop or from a goroutine per connection; "std"
// serves the same paths with net/http.
//
// check fetches /small and /4k from A (the upstream or a proxy in front of
// it) over one keep-alive connection and exits 1 unless both bodies are
// exact. stats prints the /stats line of the upstream at A.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usage = `usage:
  httpup serve    -addr 127.0.0.1:P [-impl epoll|goroutines|std]   upstream server
  httpup check    -addr A [-host H]          verify /small and /4k through A
  httpup stats    -addr A                    print the upstream's counters
  httpup wait     -addr A [-timeout 10s]     wait until A accepts connections
  httpup freeport [-n 1]                     print free loopback ports
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("httpup "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "address to listen on (serve) or connect to, `host:port`")
	switch args[0] {
	case "serve":
		impl := fs.String("impl", defaultImpl(), "server `kind`: epoll (Linux), goroutines or std (net/http)")
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		switch *impl {
		case "epoll", "goroutines", "std":
		default:
			fmt.Fprintf(stderr, "httpup serve: unknown -impl %q\n", *impl)
			return 2
		}
		return cmdServe(*addr, *impl, stderr)
	case "check":
		host := fs.String("host", "", "Host header `value` [the address]")
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		if err := check(*addr, *host); err != nil {
			fmt.Fprintf(stderr, "httpup check %s: %v\n", *addr, err)
			return 1
		}
		return 0
	case "stats":
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		body, err := get(newClient(), *addr, "", "/stats")
		if err != nil {
			fmt.Fprintf(stderr, "httpup stats: %v\n", err)
			return 1
		}
		fmt.Fprint(stdout, string(body))
		return 0
	case "wait":
		timeout := fs.Duration("timeout", 10*time.Second, "give up after this `duration`")
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		if err := waitReady(*addr, *timeout); err != nil {
			fmt.Fprintf(stderr, "httpup wait: %v\n", err)
			return 1
		}
		return 0
	case "freeport":
		n := fs.Int("n", 1, "how many `ports`")
		if fs.Parse(args[1:]) != nil || *n < 1 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		ports, err := freePorts(*n)
		if err != nil {
			fmt.Fprintf(stderr, "httpup freeport: %v\n", err)
			return 1
		}
		s := make([]string, len(ports))
		for i, p := range ports {
			s[i] = strconv.Itoa(p)
		}
		fmt.Fprintln(stdout, strings.Join(s, " "))
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "httpup: unknown command %q\n%s", args[0], usage)
	return 2
}

func defaultImpl() string {
	if runtime.GOOS == "linux" {
		return "epoll"
	}
	return "goroutines"
}

func cmdServe(addr, impl string, stderr io.Writer) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "httpup serve: %v\n", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		// Open connections are not drained: the benchmark is over.
		os.Exit(0)
	}()
	switch impl {
	case "std":
		err = serveStd(ln)
	case "goroutines":
		err = (&rawServer{}).serveGoroutines(ln)
	default:
		err = (&rawServer{}).serveEpoll(ln.(*net.TCPListener), nil)
	}
	fmt.Fprintf(stderr, "httpup serve: %v\n", err)
	return 1
}

func newClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		// One connection, kept alive: the second request of check then also
		// tests that the proxy keeps a client connection usable.
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
	}
}

// get fetches path from addr and returns the body of a 200 answer.
func get(c *http.Client, addr, host, path string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the body: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %s", path, resp.Status)
	}
	return body, nil
}

func check(addr, host string) error {
	c := newClient()
	defer c.CloseIdleConnections()
	for _, t := range []struct {
		path string
		want []byte
	}{{"/small", smallBody}, {"/4k", largeBody}, {"/small", smallBody}} {
		body, err := get(c, addr, host, t.path)
		if err != nil {
			return err
		}
		if !bytes.Equal(body, t.want) {
			return fmt.Errorf("GET %s: got %d bytes %.40q..., want %d bytes %.40q...", t.path, len(body), body, len(t.want), t.want)
		}
	}
	return nil
}

func waitReady(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting after %s: %w", addr, timeout, err)
		}
		// Nothing to wait on for a port that is not open yet: poll.
		time.Sleep(50 * time.Millisecond)
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		a, ok := ln.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("listener address is not TCP")
		}
		ports = append(ports, a.Port)
	}
	return ports, nil
}
