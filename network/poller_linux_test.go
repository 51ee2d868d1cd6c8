//go:build linux

package network

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func rawConn(t *testing.T, c net.Conn) syscall.RawConn {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func waitReason(t *testing.T, ch <-chan WakeReason) WakeReason {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("not resumed")
		return 0
	}
}

func TestPollerResumes(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	tests := []struct {
		name string
		idle time.Duration
		act  func(client net.Conn, pk *Parked)
		want WakeReason
	}{
		{"readable", 0, func(c net.Conn, _ *Parked) { c.Write([]byte("x")) }, Readable},
		{"peer closed", 0, func(c net.Conn, _ *Parked) { c.Close() }, Readable},
		{"woken", 0, func(_ net.Conn, pk *Parked) { p.Wake(pk) }, Woken},
		{"idle timeout", time.Second, func(net.Conn, *Parked) {}, IdleTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tcpPair(t)
			ch := make(chan WakeReason, 2)
			pk, err := p.Park(rawConn(t, server), tc.idle, func(r WakeReason) { ch <- r })
			if err != nil {
				t.Fatal(err)
			}
			if p.Len() != 1 {
				t.Fatalf("Len %d", p.Len())
			}
			tc.act(client, pk)
			if got := waitReason(t, ch); got != tc.want {
				t.Fatalf("resumed with %d, want %d", got, tc.want)
			}
			// Exactly once: a later wake or cancel finds nothing.
			p.Wake(pk)
			if p.Cancel(pk) {
				t.Fatal("cancelled after resuming")
			}
			select {
			case r := <-ch:
				t.Fatalf("resumed twice (%d)", r)
			case <-time.After(20 * time.Millisecond):
			}
			if p.Len() != 0 {
				t.Fatalf("Len %d after resume", p.Len())
			}
		})
	}
}

// Bytes already queued when a connection parks wake it at once.
func TestPollerQueuedData(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client, server := tcpPair(t)
	client.Write([]byte("early"))
	time.Sleep(10 * time.Millisecond)
	ch := make(chan WakeReason, 1)
	if _, err := p.Park(rawConn(t, server), 0, func(r WakeReason) { ch <- r }); err != nil {
		t.Fatal(err)
	}
	if r := waitReason(t, ch); r != Readable {
		t.Fatalf("got %d", r)
	}
	// The runtime's own poller still works on the socket afterwards.
	buf := make([]byte, 5)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := server.Read(buf); err != nil || string(buf[:n]) != "early" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
}

func TestPollerCancelAndClose(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	_, s1 := tcpPair(t)
	_, s2 := tcpPair(t)
	called := make(chan WakeReason, 2)
	pk1, err := p.Park(rawConn(t, s1), 0, func(r WakeReason) { called <- r })
	if err != nil {
		t.Fatal(err)
	}
	if !p.Cancel(pk1) {
		t.Fatal("Cancel of a parked connection")
	}
	if _, err := p.Park(rawConn(t, s2), time.Hour, func(r WakeReason) { called <- r }); err != nil {
		t.Fatal(err)
	}
	// Close resumes what is still parked so its owner can close it.
	p.Close()
	if r := waitReason(t, called); r != Woken {
		t.Fatalf("close resumed with %d", r)
	}
	select {
	case <-called:
		t.Fatal("a cancelled connection was resumed")
	case <-time.After(20 * time.Millisecond):
	}
	if _, err := p.Park(rawConn(t, s1), 0, func(WakeReason) {}); err != ErrPollerClosed {
		t.Fatalf("Park after Close: %v", err)
	}
}

// Conn.Park, attached and detached: readable data and a drain resume
// it with a working socket; Close while parked withdraws it without
// resuming and runs the close hook.
func TestConnPark(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, detach := range []bool{false, true} {
		t.Run(map[bool]string{false: "attached", true: "detached"}[detach], func(t *testing.T) {
			client, s := tcpPair(t)
			c := &Conn{Conn: s, Poller: p}
			ch := make(chan WakeReason, 1)
			if !c.Park(0, detach, func(r WakeReason) { ch <- r }) {
				t.Fatal("Park failed")
			}
			if !c.Detached() {
				t.Fatal("not detached after Park")
			}
			client.Write([]byte("ping"))
			if r := waitReason(t, ch); r != Readable {
				t.Fatalf("resumed with %d", r)
			}
			// The socket works after resuming, both ways.
			buf := make([]byte, 4)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ping" {
				t.Fatalf("read %q %v", buf[:n], err)
			}
			if _, err := c.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := client.Read(buf); err != nil || string(buf[:n]) != "pong" {
				t.Fatalf("client read %q %v", buf[:n], err)
			}

			// Parked again, a drain wakes it.
			if !c.Park(0, detach, func(r WakeReason) { ch <- r }) {
				t.Fatal("second Park failed")
			}
			c.SetDraining()
			if r := waitReason(t, ch); r != Woken {
				t.Fatalf("drain resumed with %d", r)
			}
			if c.Park(0, detach, func(WakeReason) {}) {
				t.Fatal("a draining connection parked")
			}
			c.Close()

			// Closed while parked: the peer sees the close, no resume.
			client2, s2 := tcpPair(t)
			closed := make(chan struct{})
			c2 := &Conn{Conn: s2, Poller: p}
			c2.SetOnClose(func() { close(closed) })
			if !c2.Park(0, detach, func(r WakeReason) { ch <- r }) {
				t.Fatal("Park failed")
			}
			c2.Close()
			<-closed
			if p.Len() != 0 {
				t.Fatalf("Len %d after closing a parked connection", p.Len())
			}
			client2.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := client2.Read(buf); err == nil {
				t.Fatalf("peer read %q after close", buf[:n])
			}
			select {
			case r := <-ch:
				t.Fatalf("closed connection resumed (%d)", r)
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
}

// BenchmarkParkResume is the cost a connection pays to park and be
// resumed once (two epoll_ctl calls, a goroutine).
func BenchmarkParkResume(b *testing.B) {
	p, err := NewPoller()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	client, _ := net.Dial("tcp", ln.Addr().String())
	defer client.Close()
	server, _ := ln.Accept()
	defer server.Close()
	rc, _ := server.(syscall.Conn).SyscallConn()
	ch := make(chan WakeReason, 1)
	one := []byte{1}
	buf := make([]byte, 1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.Park(rc, 0, func(r WakeReason) { ch <- r }); err != nil {
			b.Fatal(err)
		}
		client.Write(one)
		<-ch
		server.Read(buf)
	}
}

// BenchmarkBlockedRead is the same wake-up through the runtime's poller
// (a goroutine blocked in Read), for comparison with BenchmarkParkResume.
func BenchmarkBlockedRead(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	client, _ := net.Dial("tcp", ln.Addr().String())
	defer client.Close()
	server, _ := ln.Accept()
	defer server.Close()
	ch := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := server.Read(buf); err != nil {
				close(ch)
				return
			}
			ch <- struct{}{}
		}
	}()
	one := []byte{1}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		client.Write(one)
		<-ch
	}
}

// A detached parked connection tries its fast read first: what it
// handles never resumes the connection, which parks again.
func TestConnParkFastRead(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client, s := tcpPair(t)
	c := &Conn{Conn: s, Poller: p}
	defer c.Close()
	var kept []byte
	fastCalls := make(chan string, 4)
	c.SetFastRead(func(fd int) bool {
		var b [64]byte
		n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT)
		if err != nil || n <= 0 {
			return false
		}
		fastCalls <- string(b[:n])
		if string(b[:n]) == "hb" {
			unix.SendmsgN(fd, []byte("ok"), nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
			return true
		}
		kept = append(kept, b[:n]...)
		return false
	})
	ch := make(chan WakeReason, 1)
	if !c.Park(0, true, func(r WakeReason) { ch <- r }) {
		t.Fatal("Park failed")
	}
	buf := make([]byte, 2)
	for i := 0; i < 3; i++ {
		client.Write([]byte("hb"))
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "ok" {
			t.Fatalf("heartbeat %d: %q %v", i, buf, err)
		}
		if got := <-fastCalls; got != "hb" {
			t.Fatalf("fast read got %q", got)
		}
	}
	select {
	case r := <-ch:
		t.Fatalf("resumed (%d) by a heartbeat", r)
	case <-time.After(20 * time.Millisecond):
	}
	// Parked again after each one.
	deadline := time.Now().Add(5 * time.Second)
	for p.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Len %d after heartbeats", p.Len())
		}
		time.Sleep(time.Millisecond)
	}
	client.Write([]byte("req"))
	if r := waitReason(t, ch); r != Readable {
		t.Fatalf("resumed with %d", r)
	}
	if string(kept) != "req" {
		t.Fatalf("fast read kept %q", kept)
	}
	// The rebuilt connection works.
	if _, err := c.Write([]byte("done")); err != nil {
		t.Fatal(err)
	}
}
