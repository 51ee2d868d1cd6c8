package network

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// proxied returns client and server ends joined by Pipe, and the pipe's
// result channel.
func proxied(t *testing.T, idle time.Duration) (client, server net.Conn, done chan PipeResult) {
	client, down := tcpPair(t)
	up, server := tcpPair(t)
	done = make(chan PipeResult, 1)
	go func() { done <- Pipe(down, up, idle) }()
	return client, server, done
}

func TestPipeHalfClose(t *testing.T) {
	client, server, done := proxied(t, 0)
	if _, err := client.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	client.(*net.TCPConn).CloseWrite()
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "request" {
		t.Fatalf("server read %q, %v", got, err)
	}
	// The other direction still flows after the client's half-close.
	server.Write([]byte("response"))
	server.(*net.TCPConn).CloseWrite()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err = io.ReadAll(client)
	if err != nil || string(got) != "response" {
		t.Fatalf("client read %q, %v", got, err)
	}
	res := <-done
	if res.Sent != 7 || res.Received != 8 || res.DownErr != nil || res.UpErr != nil {
		t.Fatalf("result %+v", res)
	}
}

func TestPipeLarge(t *testing.T) {
	client, server, done := proxied(t, 0)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	go func() {
		client.Write(payload)
		client.(*net.TCPConn).CloseWrite()
	}()
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	server.Close()
	res := <-done
	if res.Sent != int64(len(payload)) {
		t.Fatalf("Sent = %d, want %d", res.Sent, len(payload))
	}
}

func TestPipeResetClosesBoth(t *testing.T) {
	client, server, done := proxied(t, 0)
	server.(*net.TCPConn).SetLinger(0)
	server.Close() // RST towards the proxy
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Fatal("client connection survived the upstream reset")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("pipe did not end")
	}
}

func TestPipeIdle(t *testing.T) {
	client, server, done := proxied(t, 150*time.Millisecond)
	// Traffic in one direction only keeps the whole pipe alive.
	go func() {
		for i := 0; i < 8; i++ {
			server.Write([]byte("x"))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1)
	for i := 0; i < 8; i++ {
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatalf("read %d while the upstream talks: %v", i, err)
		}
	}
	res := <-done
	if !res.Idle() {
		t.Fatalf("pipe ended without the idle timeout: %+v", res)
	}
	if _, err := client.Read(buf); err != io.EOF {
		t.Fatalf("client after idle close: %v, want EOF", err)
	}
}

// TestPipeQuietHoldsNoBuffer: a pipe with nothing to copy takes no buffer
// from the pool.
func TestPipeQuietHoldsNoBuffer(t *testing.T) {
	client, down := tcpPair(t)
	_ = client
	var w = NewReadWaiter(down)
	errc := make(chan error, 1)
	down.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	go func() { errc <- w() }()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the waiter returned with nothing to read")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter ignored the read deadline")
	}
	down.SetReadDeadline(time.Time{})
	client.Write([]byte("y"))
	if err := w(); err != nil {
		t.Fatalf("wait with data queued: %v", err)
	}
	// The byte is still there for the real read.
	b := make([]byte, 1)
	if _, err := down.Read(b); err != nil || b[0] != 'y' {
		t.Fatalf("read after wait: %q, %v", b, err)
	}
}

func BenchmarkPipe(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	accept := func() net.Conn { c, _ := ln.Accept(); return c }
	dial := func() net.Conn { c, _ := net.Dial("tcp", ln.Addr().String()); return c }
	client := dial()
	down := accept()
	up := dial()
	server := accept()
	go Pipe(down, up, 0)
	go io.Copy(io.Discard, server)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		client.Write(buf)
	}
	client.Close()
	server.Close()
}
