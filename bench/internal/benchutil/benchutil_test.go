package benchutil

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSubcommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, _ := FreePorts(1)
	tests := []struct {
		args    []string
		handled bool
		code    int
		ports   int
	}{
		{[]string{"wait", "-addr", ln.Addr().String()}, true, 0, 0},
		{[]string{"wait", "-addr", "127.0.0.1:" + strconv.Itoa(closed[0]), "-timeout", "100ms"}, true, 1, 0},
		{[]string{"wait"}, true, 2, 0},
		{[]string{"freeport", "-n", "3"}, true, 0, 3},
		{[]string{"freeport", "-n", "0"}, true, 2, 0},
		{[]string{"client"}, false, 0, 0},
		{nil, false, 0, 0},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		handled, code := Subcommand("prog", tc.args, &out, &errb, "usage\n")
		if handled != tc.handled || code != tc.code {
			t.Errorf("%v: handled %v code %d, want %v %d (%s)", tc.args, handled, code, tc.handled, tc.code, errb.String())
			continue
		}
		if tc.ports > 0 {
			f := strings.Fields(out.String())
			seen := map[string]bool{}
			for _, p := range f {
				seen[p] = true
			}
			if len(f) != tc.ports || len(seen) != tc.ports {
				t.Errorf("%v: ports %q", tc.args, out.String())
			}
		}
	}
}

func TestWaitReadyLate(t *testing.T) {
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	ready := make(chan net.Listener, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			ready <- nil
			return
		}
		ready <- ln
	}()
	if err := WaitReady(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ln := <-ready; ln != nil {
		ln.Close()
	}
}
