// Command mosnload is a load generator for MOSN-compatible proxies, with the
// flags and the output of sofaload (h2load with a sofarpc session), for the
// protocols sofarpc (bolt), dubbo, HTTP/1.1 and h2c. It also runs the echo
// servers that stand behind the proxy under test.
//
// Usage:
//
//	mosnload [-D T | -n N] [--qps=N] [-c N] [-t N] [-m N] [-p P] URI
//	mosnload serve [-p P] [--delay=T | --delay-random=A-B] [--status=S] ADDR
//
// With --qps the requests are sent at fixed times and latency is measured
// from the time each was due, so a stall of the proxy shows in the latency
// instead of slowing the load down. The report ends with one line
// "RESULT key=value ..." for scripts. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status: 0, 1 when
// the benchmark or server could not run, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		return runServe(ctx, args[1:], stdout, stderr)
	}
	o, err := parseClient(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mosnload: %v\n", err)
		return 2
	}
	if _, err := runClient(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "mosnload: %v\n", err)
		return 1
	}
	return 0
}

// specFor returns the protocol of o.
func specFor(o *options) (*protoSpec, error) {
	switch o.proto {
	case protoSofaRPC:
		return boltSpec(o)
	case protoDubbo:
		return dubboSpec(o), nil
	case protoHTTP1, protoH2C:
		return httpSpec(o), nil
	}
	return nil, fmt.Errorf("unknown protocol %q", o.proto)
}

// runClient runs one benchmark and prints its report.
func runClient(ctx context.Context, o *options, stdout, stderr io.Writer) (*result, error) {
	spec, err := specFor(o)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(stdout, "starting benchmark...")
	r := newRunner(o, spec)
	defer r.close()
	fmt.Fprintf(stdout, "Application protocol: %s\n", spec.label)
	res := r.run(ctx, stderr)
	printReport(stdout, o.proto, spec, res)
	return res, nil
}

// runServe runs an echo server until ctx ends.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseServe(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mosnload serve: %v\n", err)
		return 2
	}
	s, err := newServer(*o)
	if err != nil {
		fmt.Fprintf(stderr, "mosnload serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "mosnload: serving %s on %s\n", o.proto, s.addr())
	done := make(chan error, 1)
	go func() { done <- s.serve() }()
	select {
	case <-ctx.Done():
	case err = <-done:
	}
	s.close()
	fmt.Fprintf(stdout, "mosnload: served %d requests\n", s.requests.Load())
	if err != nil {
		fmt.Fprintf(stderr, "mosnload serve: %v\n", err)
		return 1
	}
	return 0
}
