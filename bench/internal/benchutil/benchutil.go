// Package benchutil holds what the benchmark programs share: waiting for
// a port to accept connections and finding free ports, as the "wait" and
// "freeport" subcommands the bench scripts call.
package benchutil

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// WaitReady dials addr every 50 ms until it accepts or timeout passes.
func WaitReady(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting after %s: %w", addr, timeout, err)
		}
		// A port that is not open yet has nothing to wait on: poll.
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePorts returns n distinct loopback ports that were free a moment
// ago (bound at the same time, so that they differ).
func FreePorts(n int) ([]int, error) {
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
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Subcommand runs the shared subcommands of the bench programs:
//
//	PROG wait -addr A[,A...] [-timeout 10s]   wait until every address accepts
//	PROG freeport [-n 1]                       print free loopback ports
//
// It reports whether args[0] was one of them and, if so, the exit code;
// usage is printed on a flag error.
func Subcommand(prog string, args []string, stdout, stderr io.Writer, usage string) (bool, int) {
	if len(args) == 0 {
		return false, 0
	}
	fs := flag.NewFlagSet(prog+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "wait":
		addrs := fs.String("addr", "", "comma-separated `host:port` list")
		timeout := fs.Duration("timeout", 10*time.Second, "give up after this `duration`")
		if fs.Parse(args[1:]) != nil || *addrs == "" {
			fmt.Fprint(stderr, usage)
			return true, 2
		}
		for _, a := range strings.Split(*addrs, ",") {
			if err := WaitReady(a, *timeout); err != nil {
				fmt.Fprintf(stderr, "%s wait: %v\n", prog, err)
				return true, 1
			}
		}
		return true, 0
	case "freeport":
		n := fs.Int("n", 1, "how many `ports`")
		if fs.Parse(args[1:]) != nil || *n < 1 {
			fmt.Fprint(stderr, usage)
			return true, 2
		}
		ports, err := FreePorts(*n)
		if err != nil {
			fmt.Fprintf(stderr, "%s freeport: %v\n", prog, err)
			return true, 1
		}
		s := make([]string, len(ports))
		for i, p := range ports {
			s[i] = strconv.Itoa(p)
		}
		fmt.Fprintln(stdout, strings.Join(s, " "))
		return true, 0
	}
	return false, 0
}
