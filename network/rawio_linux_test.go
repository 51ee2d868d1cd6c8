//go:build linux

package network

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRawIONotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if NewRawIO(a) != nil {
		t.Fatal("raw I/O for a net.Pipe")
	}
}

// TestRawIOStream: 32 MiB each way at once, far more than the socket
// buffers hold, so writes are partial and wait for the poller.
func TestRawIOStream(t *testing.T) {
	c, s := tcpPair(t)
	rc, rs := NewRawIO(c), NewRawIO(s)
	if rc == nil || rs == nil {
		t.Fatal("no raw I/O for a TCP connection")
	}
	const size = 32 << 20
	data := make([]byte, size)
	rand.Read(data)
	type result struct {
		got []byte
		err error
	}
	recv := func(r *RawIO) <-chan result {
		ch := make(chan result, 1)
		go func() {
			var buf bytes.Buffer
			p := make([]byte, 64<<10)
			for buf.Len() < size {
				n, err := r.Read(p)
				buf.Write(p[:n])
				if err != nil {
					ch <- result{buf.Bytes(), err}
					return
				}
			}
			ch <- result{buf.Bytes(), nil}
		}()
		return ch
	}
	toServer, toClient := recv(rs), recv(rc)
	werr := make(chan error, 2)
	for _, w := range []*RawIO{rc, rs} {
		go func() {
			n, err := w.Write(data)
			if err == nil && n != size {
				err = io.ErrShortWrite
			}
			werr <- err
		}()
	}
	for range 2 {
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []<-chan result{toServer, toClient} {
		r := <-ch
		if r.err != nil || !bytes.Equal(r.got, data) {
			t.Fatalf("received %d bytes (%v), want the %d sent", len(r.got), r.err, size)
		}
	}
}

func TestRawIOEOFAndDeadline(t *testing.T) {
	c, s := tcpPair(t)
	r := NewRawIO(s)
	// A read deadline fails a read with nothing to read.
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	s.SetReadDeadline(time.Time{})
	// Bytes, then EOF after the peer closes.
	c.Write([]byte("hi"))
	c.Close()
	buf := make([]byte, 8)
	n, err := r.Read(buf)
	if n != 2 || err != nil || string(buf[:2]) != "hi" {
		t.Fatalf("read %d %q %v", n, buf[:n], err)
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the peer closed: %d %v, want EOF", n, err)
	}
	// Writing to a connection the peer closed fails (EPIPE or reset),
	// sooner or later.
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		_, werr = r.Write(make([]byte, 64<<10))
	}
	if werr == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	// A closed connection fails at once.
	s.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed connection: %v", err)
	}
}

// TestConnUsesRawIO: Conn's Read and Write go through raw I/O for a TCP
// socket, and follow the socket when it is replaced.
func TestConnUsesRawIO(t *testing.T) {
	c1, s1 := tcpPair(t)
	conn := &Conn{Conn: s1}
	c1.Write([]byte("one"))
	buf := make([]byte, 8)
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "one" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	first := conn.RawIO()
	if first == nil {
		t.Fatal("no raw I/O for a TCP socket")
	}
	c2, s2 := tcpPair(t)
	conn.Conn = s2
	if _, err := conn.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	if n, err := c2.Read(buf); err != nil || string(buf[:n]) != "two" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if conn.RawIO() == first {
		t.Fatal("raw I/O kept for a replaced socket")
	}
}

// TestParkDropsRawIO: a parked connection keeps no raw I/O state (it
// would keep the detached socket's runtime structures alive); the first
// read after the wake-up builds it again.
func TestParkDropsRawIO(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client, server := tcpPair(t)
	conn := &Conn{Conn: server, Poller: p}
	client.Write([]byte("a"))
	buf := make([]byte, 8)
	if _, err := conn.Read(buf); err != nil {
		t.Fatal(err)
	}
	if conn.rio.Load() == nil {
		t.Fatal("no raw I/O after a read")
	}
	woken := make(chan WakeReason, 1)
	if !conn.Park(0, true, func(r WakeReason) { woken <- r }) {
		t.Fatal("Park failed")
	}
	if conn.rio.Load() != nil {
		t.Fatal("a parked connection kept its raw I/O")
	}
	client.Write([]byte("b"))
	if r := <-woken; r != Readable {
		t.Fatalf("woken with %v, want Readable", r)
	}
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "b" {
		t.Fatalf("read after the wake-up: %q %v", buf[:n], err)
	}
	conn.Close()
}

// TestRawIOTry: TryRead and TryWrite never wait, and say EAGAIN, end of
// stream and a closed socket apart.
func TestRawIOTry(t *testing.T) {
	c, s := tcpPair(t)
	rc, rs := NewRawIO(c), NewRawIO(s)
	b := make([]byte, 64)
	if n, errno := rc.TryRead(b); n != 0 || errno != syscall.EAGAIN {
		t.Fatalf("read with nothing queued: %d, %v", n, errno)
	}
	// Deadlines are for waiting reads and writes: an expired one left
	// on the socket does not stop a TryRead or TryWrite.
	c.SetDeadline(time.Now().Add(-time.Second))
	s.SetDeadline(time.Now().Add(-time.Second))
	if n, errno := rs.TryWrite([]byte("hello")); n != 5 || errno != 0 {
		t.Fatalf("write: %d, %v", n, errno)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, errno := rc.TryRead(b)
		if errno == syscall.EAGAIN && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if n != 5 || errno != 0 || string(b[:n]) != "hello" {
			t.Fatalf("read: %d %q, %v", n, b[:n], errno)
		}
		break
	}
	if _, err := c.Read(b); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("waiting read past the deadline: %v", err)
	}
	c.SetDeadline(time.Time{})
	s.SetDeadline(time.Time{})
	// The peer's end of stream, then our own close.
	s.Close()
	for {
		n, errno := rc.TryRead(b)
		if errno == syscall.EAGAIN && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if n != 0 || errno != 0 {
			t.Fatalf("read at the end of the stream: %d, %v", n, errno)
		}
		break
	}
	c.Close()
	if _, errno := rc.TryRead(b); errno != syscall.EBADF {
		t.Fatalf("read after Close: %v", errno)
	}
	if _, errno := rc.TryWrite(b); errno != syscall.EBADF {
		t.Fatalf("write after Close: %v", errno)
	}
	// A peer that never reads: writes stop with EAGAIN, not a wait.
	w, _ := tcpPair(t)
	rw := NewRawIO(w)
	big := make([]byte, 1<<20)
	full := false
	for i := 0; i < 256 && !full; i++ {
		_, errno := rw.TryWrite(big)
		switch errno {
		case syscall.EAGAIN:
			full = true
		case 0:
		default:
			t.Fatalf("write: %v", errno)
		}
	}
	if !full {
		t.Fatal("256 MiB written to a peer that reads nothing")
	}
}

// BenchmarkRawIOTry: one TryWrite and one TryRead of 128 bytes over
// loopback TCP, the event loop's per-request pair.
func BenchmarkRawIOTry(b *testing.B) {
	c, s := tcpPair(b)
	rc, rs := NewRawIO(c), NewRawIO(s)
	msg := make([]byte, 128)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if n, errno := rs.TryWrite(msg); n != len(msg) || errno != 0 {
			b.Fatalf("write: %d, %v", n, errno)
		}
		for got := 0; got < len(msg); {
			n, errno := rc.TryRead(buf)
			if errno != 0 && errno != syscall.EAGAIN {
				b.Fatalf("read: %v", errno)
			}
			got += n
		}
	}
}
