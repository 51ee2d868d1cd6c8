// Command tcpload is the upstream server and load generator of
// bench/tcp.sh, the whole-proxy benchmark of L4 (tcp_proxy) proxying.
//
// Usage:
//
//	tcpload serve    -addr 127.0.0.1:P
//	tcpload bulk     -addr A -conns C -bytes N -dir up|down|both
//	tcpload connrate -addr A -c C -d 10s -size 64
//	tcpload rr       -addr A -c C -d 10s -size 64
//	tcpload wait     -addr A [-timeout 10s]
//	tcpload freeport [-n 1]
//
// Every load mode ends its output with one machine-readable line,
// "RESULT key=value ...", and exits 1 when any connection or request
// failed (each failure is also printed, up to ten of them). On Linux the
// line ends with runq_s, the seconds the load generator spent runnable but
// waiting for a CPU, which shows how much a shared machine starved it.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mosn.dev/proxy/bench/internal/benchutil"
)

const usage = `usage:
  tcpload serve    -addr 127.0.0.1:P                       upstream server
  tcpload bulk     -addr A -conns C -bytes N -dir up|down|both
  tcpload connrate -addr A -c C -d 10s -size 64             short connections
  tcpload rr       -addr A -c C -d 10s -size 64             keep-alive ping-pong
  tcpload wait     -addr A [-timeout 10s]                   wait until A accepts
  tcpload freeport [-n 1]                                   print free ports
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if ok, code := benchutil.Subcommand("tcpload", args, stdout, stderr, usage); ok {
		return code
	}
	fs := flag.NewFlagSet("tcpload "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "address to listen on (serve) or connect to `host:port`")
	switch args[0] {
	case "serve":
		if fs.Parse(args[1:]) != nil || *addr == "" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return cmdServe(*addr, stderr)
	case "bulk":
		conns := fs.Int("conns", 1, "number of parallel `connections`")
		size := fs.String("bytes", "1G", "payload per connection and direction (suffixes K, M, G are powers of 1024)")
		dir := fs.String("dir", "down", "direction: up (client to server), down, or both at once")
		if fs.Parse(args[1:]) != nil || *addr == "" || *conns < 1 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		n, err := parseBytes(*size)
		if err != nil {
			fmt.Fprintf(stderr, "tcpload bulk: -bytes: %v\n", err)
			return 2
		}
		rq := startRunq()
		r, err := runBulk(*addr, *conns, n, *dir)
		if err != nil {
			fmt.Fprintf(stderr, "tcpload bulk: %v\n", err)
			return 2
		}
		return report(stdout, stderr, formatBulk(r)+rq.field(), r.Failures, r.Errors)
	case "connrate", "rr":
		c := fs.Int("c", 32, "number of `workers` (connrate) or keep-alive connections (rr)")
		d := fs.Duration("d", 10*time.Second, "run `duration`")
		size := fs.Int("size", 64, "request and answer size in `bytes`")
		if fs.Parse(args[1:]) != nil || *addr == "" || *c < 1 || *d <= 0 || *size < 1 || *size > maxMessage {
			fmt.Fprint(stderr, usage)
			return 2
		}
		var r latResult
		rq := startRunq()
		if args[0] == "connrate" {
			r = runConnRate(*addr, *c, *d, *size)
		} else {
			var err error
			if r, err = runRR(*addr, *c, *d, *size); err != nil {
				fmt.Fprintf(stderr, "tcpload rr: connecting: %v\n", err)
				fmt.Fprintf(stdout, "RESULT mode=rr workers=%d size=%d ops=0 failures=%d\n", *c, *size, *c)
				return 1
			}
		}
		return report(stdout, stderr, formatLat(r)+rq.field(), r.Failures, r.Errors)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tcpload: unknown mode %q\n%s", args[0], usage)
	return 2
}

func cmdServe(addr string, stderr io.Writer) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "tcpload serve: %v\n", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		ln.Close()
		// Connections still open are not waited for: the benchmark is over.
		os.Exit(0)
	}()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	if err := serve(ln, logf); err != nil {
		fmt.Fprintf(stderr, "tcpload serve: %v\n", err)
		return 1
	}
	return 0
}

// report prints the failures and the RESULT line; the exit code is 1 when
// anything failed.
func report(stdout, stderr io.Writer, result string, nfail int64, errs []string) int {
	for _, e := range errs {
		fmt.Fprintf(stderr, "FAILURE %s\n", e)
	}
	if nfail > int64(len(errs)) {
		fmt.Fprintf(stderr, "FAILURE ... and %d more\n", nfail-int64(len(errs)))
	}
	fmt.Fprintln(stdout, result)
	if nfail > 0 {
		return 1
	}
	return 0
}

func formatBulk(r bulkResult) string {
	sec := r.Elapsed.Seconds()
	mbps := float64(r.Bytes) / sec / 1e6
	return fmt.Sprintf("bulk: %d conns, dir=%s, %d bytes moved in %.3f s: %.1f MB/s (%.2f Gbit/s)\n"+
		"RESULT mode=bulk conns=%d dir=%s bytes_per_conn=%d bytes=%d seconds=%.4f mb_per_s=%.1f gbit_per_s=%.3f failures=%d",
		r.Conns, r.Dir, r.Bytes, sec, mbps, mbps*8/1e3,
		r.Conns, r.Dir, r.PerConn, r.Bytes, sec, mbps, mbps*8/1e3, r.Failures)
}

func formatLat(r latResult) string {
	sec := r.Elapsed.Seconds()
	rate := float64(r.Ops) / sec
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) }
	p50, p99, mx := r.Lat.quantile(0.50), r.Lat.quantile(0.99), r.Lat.quantile(1)
	unit := "requests"
	if r.Mode == "connrate" {
		unit = "connections"
	}
	return fmt.Sprintf("%s: %d workers, %d-byte messages, %d %s in %.3f s: %.0f/s, latency p50 %s us, p99 %s us, max %s us, %d failures\n"+
		"RESULT mode=%s workers=%d size=%d ops=%d seconds=%.4f ops_per_s=%.1f p50_us=%s p99_us=%s max_us=%s failures=%d",
		r.Mode, r.Workers, r.Size, r.Ops, unit, sec, rate, us(p50), us(p99), us(mx), r.Failures,
		r.Mode, r.Workers, r.Size, r.Ops, sec, rate, us(p50), us(p99), us(mx), r.Failures)
}

// parseBytes parses "1048576", "512K", "64M" or "2G" (powers of 1024).
func parseBytes(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > (1<<50)/mult {
		return 0, fmt.Errorf("%d * %d bytes is over 1 PiB", n, mult)
	}
	return n * mult, nil
}
