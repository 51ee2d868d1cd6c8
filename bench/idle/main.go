// Command idle is the client of bench/idle/run.sh, the idle-connection
// benchmark: it opens many connections through a proxy, makes one request
// on each and then holds them idle, so that the script can read what they
// cost the proxy (RSS, CPU), and on a signal checks and times a random
// sample of them.
//
// Usage:
//
//	idle client   -kind http1|h2c|bolt -addr A -n N [-src IP] [-c 64] [-path /small]
//	              [-host H] [-heartbeat 0] [-probe 500] [-timeout 10s] [-seed 1] [-latfile P]
//	idle wait     -addr A[,A...] [-timeout 10s]
//	idle freeport [-n 1]
//
// client prints one line when every connection is open:
//
//	OPEN kind=http1 src=127.0.0.10 conns=5000 failed=0 start_unix_ns=... end_unix_ns=...
//	     seconds=0.81 conn_per_s=6172.8 p50_us=... p99_us=... max_us=...
//
// (seconds: from the first dial to the last first answer; p50/p99/max: one
// connection's dial plus first request and answer). It then holds the
// connections with no goroutine per connection and reads nothing from
// them. On SIGUSR1 it peeks every connection without blocking (alive: open
// and quiet; pending: bytes waiting; closed: EOF or error), then times one
// request on -probe random live connections, one at a time, and prints
//
//	PROBE kind=http1 conns=5000 alive=5000 pending=0 closed=0 probed=500 ok=500 failed=0
//	      p50_us=... p90_us=... p99_us=... max_us=... heartbeats_ok=0 heartbeats_failed=0
//
// With -latfile P every latency is also written, in microseconds one a
// line, to P.open (after the OPEN line) and P.probe (appended by each
// probe), so that a script can merge the processes' distributions.
// On SIGUSR2 (what run.sh sends), SIGINT or SIGTERM it closes every
// connection, prints "DONE ... signal=NAME" and exits; the name tells a
// stop by the script from a stray signal.
//
// The kinds: http1 sends "GET path HTTP/1.1" with Host and reads a
// Content-Length answer (2xx, no Connection: close); h2c sends the HTTP/2
// preface and SETTINGS (push off), then a GET on a new stream per request,
// answers SETTINGS and PING and returns connection flow-control credit;
// bolt sends sofaload's echo request (bolt v1, 1426 bytes, codec/bolt's
// EchoRequest) and, with -heartbeat T, a bolt heartbeat on every
// connection every T, spread evenly over T. With -src the connections are
// bound to that source address with IP_BIND_ADDRESS_NO_PORT (Linux), so
// each source address brings its own ephemeral port range.
//
// wait returns once every address accepts a TCP connection; freeport
// prints free loopback TCP ports.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mosn.dev/proxy/bench/internal/benchutil"
)

const usage = `usage:
  idle client   -kind http1|h2c|bolt -addr A -n N [-src IP] [-c 64] [-path /small] [-host H]
                [-heartbeat 0] [-probe 500] [-timeout 10s] [-seed 1] [-latfile PREFIX]
                   open N connections, one request each, hold them idle;
                   SIGUSR1: check all and time -probe of them; SIGUSR2/SIGINT/SIGTERM: close
  idle wait     -addr A[,A...] [-timeout 10s]   wait until every address accepts
  idle freeport [-n 1]                           print free loopback ports
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if ok, code := benchutil.Subcommand("idle", args, stdout, stderr, usage); ok {
		return code
	}
	fs := flag.NewFlagSet("idle "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "client":
		var cfg clientConfig
		fs.StringVar(&cfg.kind, "kind", "", "connection `kind`: http1, h2c or bolt")
		fs.StringVar(&cfg.addr, "addr", "", "proxy (or server) `host:port`")
		fs.IntVar(&cfg.n, "n", 1000, "`connections` to open and hold")
		fs.StringVar(&cfg.src, "src", "", "source `IP` to bind (default: the kernel's choice)")
		fs.IntVar(&cfg.conc, "c", 64, "connections opened at once")
		fs.StringVar(&cfg.path, "path", "/small", "HTTP request `path`")
		fs.StringVar(&cfg.host, "host", "", "HTTP Host / :authority (default: -addr)")
		fs.DurationVar(&cfg.heartbeat, "heartbeat", 0, "bolt heartbeat `period` per connection (0: none)")
		fs.IntVar(&cfg.probe, "probe", 500, "connections timed per probe (0: all)")
		fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "limit of each dial, request and heartbeat")
		fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the probe's random choice")
		fs.StringVar(&cfg.latFile, "latfile", "", "write latencies (us, one a line) to `PREFIX`.open and PREFIX.probe")
		if fs.Parse(args[1:]) != nil || cfg.kind == "" || cfg.addr == "" || cfg.n < 1 || cfg.conc < 1 || fs.NArg() > 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		probe := make(chan os.Signal, 1)
		stop := make(chan os.Signal, 1)
		signal.Notify(probe, syscall.SIGUSR1)
		signal.Notify(stop, syscall.SIGUSR2, syscall.SIGINT, syscall.SIGTERM)
		return runClient(cfg, stdout, stderr, probe, stop)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "idle: unknown command %q\n%s", args[0], usage)
	return 2
}
