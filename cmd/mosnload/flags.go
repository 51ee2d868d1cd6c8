package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Protocol names accepted by -p, after aliases are resolved.
const (
	protoSofaRPC = "sofarpc"
	protoDubbo   = "dubbo"
	protoHTTP1   = "http1"
	protoH2C     = "h2c"
)

// options is the client configuration.
type options struct {
	// duration is the length of the measured run (-D); 0 means -n decides.
	duration time.Duration
	// requests is the number of measured requests (-n) when duration is 0.
	requests int64
	// qps is the total fixed request rate (--qps); 0 means closed loop.
	qps int64
	// clients is the number of connections (-c).
	clients int
	// threads is the number of sender goroutines (-t).
	threads int
	// streams is the number of requests each connection keeps in flight in
	// closed-loop mode (-m).
	streams int
	// proto is one of the proto* constants (-p).
	proto string
	// addr is host:port of the target; path is the HTTP request target.
	addr, path, host string
	// timeout bounds each request, measured from its scheduled send time.
	timeout time.Duration
	// warmup is run before the measured phase and not counted.
	warmup time.Duration
	// body is the HTTP request body (-d); non-nil makes requests POSTs.
	body []byte
	// boltProto is the bolt version of the requests (1 or 2).
	boltProto int
}

// durationValue is a flag.Value for durations written either as Go
// durations ("500ms", "1m") or as plain seconds ("10", "0.5"), as h2load
// accepts them.
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// parseSeconds parses a non-negative duration: a Go duration, or a plain
// number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e9 || math.IsNaN(f) {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want seconds or a Go duration such as 500ms)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// normProto resolves the aliases of a protocol name; "" stays "".
func normProto(p string) (string, error) {
	switch strings.ToLower(p) {
	case "":
		return "", nil
	case "sofarpc", "bolt", "sofa":
		return protoSofaRPC, nil
	case "dubbo":
		return protoDubbo, nil
	case "http1", "http", "h1", "http/1.1":
		return protoHTTP1, nil
	case "h2c", "h2", "http2":
		return protoH2C, nil
	}
	return "", fmt.Errorf("unknown protocol %q (want sofarpc, dubbo, http1 or h2c)", p)
}

// parseTarget splits a target URI ("sofarpc://host:port",
// "http://host:port/path", or a bare "host:port") into address, host,
// request path and protocol. proto is the -p value ("" when not given); the
// scheme decides when it is empty and must agree with it otherwise.
func parseTarget(target, proto string) (addr, host, path, p string, err error) {
	p, err = normProto(proto)
	if err != nil {
		return "", "", "", "", err
	}
	if !strings.Contains(target, "://") {
		if p == "" {
			return "", "", "", "", fmt.Errorf("target %q has no scheme: give -p or a URI such as sofarpc://%s", target, target)
		}
		scheme := "http"
		switch p {
		case protoSofaRPC, protoDubbo:
			scheme = p
		}
		target = scheme + "://" + target
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", "", "", "", fmt.Errorf("target: %w", err)
	}
	var fromScheme string
	switch strings.ToLower(u.Scheme) {
	case "sofarpc", "bolt":
		fromScheme = protoSofaRPC
	case "dubbo":
		fromScheme = protoDubbo
	case "http":
		fromScheme = protoHTTP1
		if p == protoH2C {
			fromScheme = protoH2C
		}
	case "https":
		return "", "", "", "", errors.New("https targets are not supported (TLS is out of scope)")
	default:
		return "", "", "", "", fmt.Errorf("target %q: unknown scheme %q", target, u.Scheme)
	}
	if p == "" {
		p = fromScheme
	} else if p != fromScheme {
		return "", "", "", "", fmt.Errorf("-p %s does not match target scheme %s://", p, u.Scheme)
	}
	if u.Host == "" {
		return "", "", "", "", fmt.Errorf("target %q has no host", target)
	}
	host = u.Host
	addr = u.Host
	if u.Port() == "" {
		port := "80"
		switch p {
		case protoSofaRPC:
			port = "12200"
		case protoDubbo:
			port = "20880"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", "", "", fmt.Errorf("target %q: %w", target, err)
	}
	path = u.RequestURI()
	if path == "" {
		path = "/"
	}
	return addr, host, path, p, nil
}

// parseInterspersed parses args with fs, allowing positional arguments
// between flags (h2load takes flags after the URI too). It returns the
// positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" only after consuming it; everything left is
		// positional then.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

const clientUsage = `Usage: mosnload [options] URI
       mosnload serve [options] ADDR

A load generator for MOSN-style proxies, with the flags and the output of
sofaload / h2load. URI is sofarpc://host:port, dubbo://host:port or
http://host:port/path.

Options:
  -D, --duration=T      measure for T (seconds, or a Go duration such as 500ms);
                        overrides -n
  -n, --requests=N      number of requests to measure (default 1)
  --qps=N               total requests per second, sent at fixed times (open loop);
                        0 sends as fast as responses come back (closed loop)
  -c, --clients=N       number of connections (default 1)
  -t, --threads=N       number of sender goroutines (default 1, at most -c)
  -m, --max-concurrent-streams=N
                        requests in flight per connection in closed-loop mode
                        (default 1)
  -p, --protocol=P      sofarpc, dubbo, http1 or h2c (default: from the URI scheme;
                        http:// means http1)
  -d, --data=N|FILE     POST a body of N bytes, or the content of FILE (http1, h2c)
  --timeout=T           per-request timeout from the scheduled send time (default 5s)
  --warm-up-time=T      run for T before measuring
  --bolt-version=V      bolt protocol version of sofarpc requests, 1 or 2 (default 1)
`

// parseClient parses the client command line.
func parseClient(args []string, stderr io.Writer) (*options, error) {
	o := &options{requests: 1, clients: 1, threads: 1, streams: 1, timeout: 5 * time.Second, boltProto: 1}
	fs := flag.NewFlagSet("mosnload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, clientUsage) }
	var durationSet bool
	dur := durationFlag{d: &o.duration, set: &durationSet}
	for _, n := range []string{"D", "duration"} {
		fs.Var(dur, n, "")
	}
	for _, n := range []string{"n", "requests"} {
		fs.Int64Var(&o.requests, n, o.requests, "")
	}
	fs.Int64Var(&o.qps, "qps", 0, "")
	for _, n := range []string{"c", "clients"} {
		fs.IntVar(&o.clients, n, o.clients, "")
	}
	for _, n := range []string{"t", "threads"} {
		fs.IntVar(&o.threads, n, o.threads, "")
	}
	for _, n := range []string{"m", "max-concurrent-streams"} {
		fs.IntVar(&o.streams, n, o.streams, "")
	}
	for _, n := range []string{"p", "protocol"} {
		fs.StringVar(&o.proto, n, "", "")
	}
	var data string
	for _, n := range []string{"d", "data"} {
		fs.StringVar(&data, n, "", "")
	}
	fs.Var(durationValue{&o.timeout}, "timeout", "")
	fs.Var(durationValue{&o.warmup}, "warm-up-time", "")
	fs.IntVar(&o.boltProto, "bolt-version", o.boltProto, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		fs.Usage()
		return nil, errors.New("want exactly one target URI")
	}
	o.addr, o.host, o.path, o.proto, err = parseTarget(pos[0], o.proto)
	if err != nil {
		return nil, err
	}
	switch {
	case durationSet && o.duration <= 0:
		return nil, errors.New("-D must be positive")
	case !durationSet && o.requests <= 0:
		return nil, errors.New("-n must be positive")
	case o.qps < 0:
		return nil, errors.New("--qps must not be negative")
	case o.clients <= 0:
		return nil, errors.New("-c must be positive")
	case o.threads <= 0:
		return nil, errors.New("-t must be positive")
	case o.streams <= 0:
		return nil, errors.New("-m must be positive")
	case o.timeout <= 0:
		return nil, errors.New("--timeout must be positive")
	case o.boltProto != 1 && o.boltProto != 2:
		return nil, errors.New("--bolt-version must be 1 or 2")
	}
	if o.threads > o.clients {
		fmt.Fprintf(stderr, "-t %d is more than -c %d: using %d threads\n", o.threads, o.clients, o.clients)
		o.threads = o.clients
	}
	if data != "" {
		if o.proto != protoHTTP1 && o.proto != protoH2C {
			return nil, errors.New("-d applies to http1 and h2c only")
		}
		if o.body, err = loadBody(data); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// durationFlag is a durationValue that also records that it was set.
type durationFlag struct {
	d   *time.Duration
	set *bool
}

func (v durationFlag) String() string { return durationValue{v.d}.String() }

func (v durationFlag) Set(s string) error {
	if err := (durationValue{v.d}).Set(s); err != nil {
		return err
	}
	*v.set = true
	return nil
}

// loadBody returns a body of n 'x' bytes when s is a number, else the
// content of the file s.
func loadBody(s string) ([]byte, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64<<20 {
			return nil, fmt.Errorf("-d %d: want 0 to 64 MiB", n)
		}
		return []byte(strings.Repeat("x", n)), nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("-d: %w", err)
	}
	return b, nil
}
