// Command httpup is the upstream server of bench/http.sh, the whole-proxy
// HTTP benchmark (HTTP/1.1, and h2c with -impl h2c), and its small helpers.
//
// Usage:
//
//	httpup serve    -addr 127.0.0.1:P [-impl epoll|goroutines|std|h2c]
//	httpup check    -addr A [-host H] [-h2c]
//	httpup stats    -addr A
//	httpup wait     -addr A [-timeout 10s]
//	httpup freeport [-n 1]
//
// The server answers GET, HEAD and POST (its body discarded) of /small (12 bytes), /4k (4096 bytes)
// and /stats ("conns=N requests=M": connections accepted and requests
// answered so far, /stats itself not counted), 404 for other paths and 405
// for other methods. -impl chooses how: "epoll" (the default on Linux) and
// "goroutines" (the default elsewhere) parse requests themselves (see
// rawServer) from one epoll loop or from a goroutine per connection; "std"
// serves the same paths with net/http, and "h2c" with net/http speaking
// both HTTP/1.1 and HTTP/2 over cleartext with prior knowledge on one port.
//
// check fetches /small and /4k from A (the upstream or a proxy in front of
// it) over one keep-alive connection and exits 1 unless both bodies are
// exact; with -h2c it speaks only HTTP/2 with prior knowledge (the h2load
// targets), so a target that does not speak h2c fails too. stats
// prints the /stats line of the upstream at A (over HTTP/1.1).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"mosn.dev/proxy/bench/internal/benchutil"
)

const usage = `usage:
  httpup serve    -addr 127.0.0.1:P [-impl epoll|goroutines|std|h2c]   upstream server
  httpup check    -addr A [-host H] [-h2c]   verify /small and /4k through A
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
	if ok, code := benchutil.Subcommand("httpup", args, stdout, stderr, usage); ok {
		return code
	}
	fs := flag.NewFlagSet("httpup "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "address to listen on (serve) or connect to, `host:port`")
	switch args[0] {
	case "serve":
		impl := fs.String("impl", defaultImpl(), "server `kind`: epoll (Linux), goroutines, std (net/http) or h2c (net/http, HTTP/1.1 and h2c)")
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		switch *impl {
		case "epoll", "goroutines", "std", "h2c":
		default:
			fmt.Fprintf(stderr, "httpup serve: unknown -impl %q\n", *impl)
			return 2
		}
		return cmdServe(*addr, *impl, stderr)
	case "check":
		host := fs.String("host", "", "Host header `value` [the address]")
		h2c := fs.Bool("h2c", false, "speak HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1")
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		if err := check(*addr, *host, *h2c); err != nil {
			fmt.Fprintf(stderr, "httpup check %s: %v\n", *addr, err)
			return 1
		}
		return 0
	case "stats":
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		body, err := get(newClient(false), *addr, "", "/stats")
		if err != nil {
			fmt.Fprintf(stderr, "httpup stats: %v\n", err)
			return 1
		}
		fmt.Fprint(stdout, string(body))
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
	case "std", "h2c":
		err = serveStd(ln, impl == "h2c")
	case "goroutines":
		err = (&rawServer{}).serveGoroutines(ln)
	default:
		err = (&rawServer{}).serveEpoll(ln.(*net.TCPListener), nil)
	}
	fmt.Fprintf(stderr, "httpup serve: %v\n", err)
	return 1
}

// newClient returns the client of check and stats: HTTP/1.1, or with h2c
// HTTP/2 with prior knowledge only (no upgrade, no fallback to HTTP/1.1).
func newClient(h2c bool) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		// One connection, kept alive: the second request of check then also
		// tests that the proxy keeps a client connection usable.
		Transport: tr,
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

// check fetches /small, /4k and /small again from addr and fails unless
// every body is exact. With h2c the client speaks only h2c, so a target
// that answers only HTTP/1.1 fails as well.
func check(addr, host string, h2c bool) error {
	c := newClient(h2c)
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
