package listener

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/network"
)

func newTestListener(name, addr, netw, mode string) *Listener {
	cfg := &config.Listener{Name: name, Address: addr, Network: netw, UseOriginalDst: mode}
	return New(cfg, &Chain{Handler: network.Handler(nil)}, log.Nop())
}

func TestRegistryLookup(t *testing.T) {
	ls := []*Listener{
		newTestListener("exact4", "10.0.0.1:80", "", ""),
		newTestListener("any4-80", "0.0.0.0:80", "", ""),
		newTestListener("exact6", "[::1]:80", "", ""),
		newTestListener("any6-443", "[::]:443", "", ""),
		newTestListener("dual-8080", ":8080", "", ""),
		newTestListener("any4-90", "0.0.0.0:90", "", ""),
		newTestListener("any6-90", "[::]:90", "", ""),
		newTestListener("dup-exact4", "10.0.0.1:80", "", ""),
		newTestListener("mapped", "[::ffff:10.0.0.9]:70", "", ""),
		newTestListener("name", "localhost:82", "", ""),
		newTestListener("unix", "/tmp/x.sock", "unix", ""),
		newTestListener("udp", "0.0.0.0:53", "udp", ""),
		newTestListener("tcp", "10.0.0.3:53", "tcp", ""),
	}
	r := NewRegistry(ls)
	for _, tc := range []struct {
		dst, want string
	}{
		{"10.0.0.1:80", "exact4"},
		{"10.0.0.2:80", "any4-80"},
		{"[::ffff:10.0.0.1]:80", "exact4"},
		{"[::1]:80", "exact6"},
		{"[2001:db8::1]:80", "any4-80"},
		{"10.0.0.1:443", "any6-443"},
		{"[2001:db8::1]:443", "any6-443"},
		{"10.0.0.1:8080", "dual-8080"},
		{"[2001:db8::1]:8080", "dual-8080"},
		{"10.0.0.1:90", "any4-90"},
		{"[2001:db8::1]:90", "any6-90"},
		{"10.0.0.9:70", "mapped"},
		{"127.0.0.1:82", ""},
		{"10.0.0.1:53", ""},
		{"10.0.0.3:53", "tcp"},
		{"10.0.0.1:9", ""},
		{"[fe80::1%eth0]:80", "any4-80"},
		{"not-an-address", ""},
		{"", ""},
	} {
		got := ""
		if l := r.Lookup(tc.dst); l != nil {
			got = l.Name()
		}
		if got != tc.want {
			t.Errorf("Lookup(%q) = %q, want %q", tc.dst, got, tc.want)
		}
	}
	r.Set(ls[:1])
	if l := r.Lookup("10.0.0.2:80"); l != nil {
		t.Errorf("after Set: Lookup(10.0.0.2:80) = %s, want nil", l.Name())
	}
	if l := (&Registry{}).Lookup("10.0.0.1:80"); l != nil {
		t.Errorf("empty registry: Lookup = %s, want nil", l.Name())
	}
}

func FuzzRegistryLookup(f *testing.F) {
	for _, s := range []string{"10.0.0.1:80", "[::1]:80", "[::ffff:1.2.3.4]:8080", ":80", "[fe80::1%lo]:1", "1.2.3.4", ""} {
		f.Add(s)
	}
	r := NewRegistry([]*Listener{
		newTestListener("a", "10.0.0.1:80", "", ""),
		newTestListener("b", "0.0.0.0:8080", "", ""),
		newTestListener("c", "[::]:1", "", ""),
	})
	f.Fuzz(func(t *testing.T, dst string) {
		// Registering the fuzzed string as an address must not panic
		// either.
		NewRegistry([]*Listener{newTestListener("x", dst, "", "")}).Lookup(dst)
		if l := r.Lookup(dst); l != nil && !strings.Contains(dst, ":") {
			t.Fatalf("Lookup(%q) = %s for a string without a port", dst, l.Name())
		}
	})
}

// served is what a recording handler saw.
type served struct {
	by          string // the chain's listener
	listener    string // Conn.Listener
	originalDst string
}

// recorder is a Handler that reports each connection and then holds it
// open until the client closes it.
type recorder struct {
	name string
	ch   chan served
}

func (r *recorder) ServeConn(c *network.Conn) {
	r.ch <- served{by: r.name, listener: c.Listener, originalDst: c.OriginalDst}
	io.Copy(io.Discard, c)
	c.Close()
}

// TestHandoff runs accepting listeners on loopback and checks which
// listener serves a connection and what it knows of its destination.
// A tproxy listener's original destination is its socket's local address,
// so a plain loopback socket (given with Use, without IP_TRANSPARENT, which
// needs privileges) exercises the whole path.
func TestHandoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode string
		// target says where the other listener is configured: "exact"
		// (the accepting socket's address), "any" (0.0.0.0 with its port)
		// or "none" (elsewhere).
		target    string
		noHandoff bool
		stopped   bool // the target stops before the connection comes
		wantBy    string
		wantDst   string // "addr": the accepting socket's address
	}{
		{name: "tproxy exact", mode: "tproxy", target: "exact", wantBy: "target", wantDst: "addr"},
		{name: "tproxy wildcard", mode: "tproxy", target: "any", wantBy: "target", wantDst: "addr"},
		{name: "tproxy no match", mode: "tproxy", target: "none", wantBy: "accept", wantDst: "addr"},
		{name: "tproxy no lookup", mode: "tproxy", target: "exact", noHandoff: true, wantBy: "accept", wantDst: "addr"},
		{name: "plain listener ignores lookup", mode: "", target: "exact", wantBy: "accept", wantDst: ""},
		{name: "target stopping", mode: "tproxy", target: "exact", stopped: true, wantBy: ""},
		// Without a REDIRECT rule SO_ORIGINAL_DST either fails (no
		// conntrack entry) or returns the socket's own address; either
		// way the connection stays, as no other listener matches.
		{name: "redirect not redirected", mode: "redirect", target: "none", wantBy: "accept", wantDst: "any"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			_, port, _ := net.SplitHostPort(addr)
			targetAddr := map[string]string{"exact": addr, "any": "0.0.0.0:" + port, "none": "127.0.0.2:" + port}[tc.target]

			ch := make(chan served, 2)
			// The accepting listener's configured address must differ from
			// the socket's, or it would itself be the exact match.
			acc := New(&config.Listener{Name: "accept", Address: "127.0.0.1:1", BindPort: true, UseOriginalDst: tc.mode},
				&Chain{Handler: &recorder{name: "accept", ch: ch}}, log.Nop())
			tgt := New(&config.Listener{Name: "target", Address: targetAddr},
				&Chain{Handler: &recorder{name: "target", ch: ch}}, log.Nop())
			reg := NewRegistry([]*Listener{acc, tgt})
			if !tc.noHandoff {
				acc.SetHandoff(reg.Lookup)
			}
			if tc.stopped {
				tgt.StopAccepting(nil)
			}
			acc.Use(ln)
			done := make(chan error, 1)
			go func() { done <- acc.Serve() }()
			t.Cleanup(func() {
				acc.Close()
				tgt.Close()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
			})

			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.wantBy == "" {
				// The connection must be closed without being served.
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := c.Read(make([]byte, 1)); err == nil {
					t.Fatalf("read %d bytes from a connection that should be closed", n)
				} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("connection to a stopping target was left open")
				}
				select {
				case s := <-ch:
					t.Fatalf("served by %s, want closed", s.by)
				default:
				}
				return
			}
			var s served
			select {
			case s = <-ch:
			case <-time.After(10 * time.Second):
				t.Fatal("connection not served")
			}
			if s.by != tc.wantBy || s.listener != tc.wantBy {
				t.Errorf("served by chain of %q with Conn.Listener %q, want %q", s.by, s.listener, tc.wantBy)
			}
			switch tc.wantDst {
			case "addr":
				if s.originalDst != addr {
					t.Errorf("OriginalDst = %q, want %q", s.originalDst, addr)
				}
			case "any":
				if s.originalDst != "" && s.originalDst != addr {
					t.Errorf("OriginalDst = %q, want empty or %q", s.originalDst, addr)
				}
			default:
				if s.originalDst != tc.wantDst {
					t.Errorf("OriginalDst = %q, want %q", s.originalDst, tc.wantDst)
				}
			}
			// The serving listener tracks the connection, for drain.
			by, other := acc, tgt
			if tc.wantBy == "target" {
				by, other = tgt, acc
			}
			if n := by.ActiveConns(); n != 1 {
				t.Errorf("%s tracks %d connections, want 1", by.Name(), n)
			}
			if n := other.ActiveConns(); n != 0 {
				t.Errorf("%s tracks %d connections, want 0", other.Name(), n)
			}
			wantIn := uint64(0)
			if tc.wantBy == "target" {
				wantIn = 1
			}
			if n := tgt.HandedIn(); n != wantIn {
				t.Errorf("target HandedIn = %d, want %d", n, wantIn)
			}
			if n := acc.Accepted(); n != 1 {
				t.Errorf("accept Accepted = %d, want 1", n)
			}
			by.StopAccepting(nil)
			c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := by.Drain(ctx); err != nil {
				t.Errorf("%s did not drain after the client closed: %v", by.Name(), err)
			}
		})
	}
}

func BenchmarkRegistryLookup(b *testing.B) {
	var ls []*Listener
	for i := range 100 {
		ls = append(ls, newTestListener("l", net.JoinHostPort("10.0.0.1", strconv.Itoa(8000+i)), "", ""))
	}
	ls = append(ls, newTestListener("any", "0.0.0.0:9000", "", ""))
	r := NewRegistry(ls)
	b.ReportAllocs()
	for b.Loop() {
		if r.Lookup("10.0.0.1:8050") == nil || r.Lookup("10.0.0.2:9000") == nil {
			b.Fatal("no match")
		}
	}
}
