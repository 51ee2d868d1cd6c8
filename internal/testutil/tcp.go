// Package testutil has real upstream servers on loopback port 0 and small
// helpers shared by unit and integration tests.
package testutil

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Server is a TCP server on 127.0.0.1:0 that runs handle on each
// connection and closes it afterwards. It stops at test cleanup.
type Server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// NewServer starts a server; handle owns nothing: the server closes the
// connection when handle returns.
func NewServer(t testing.TB, handle func(net.Conn)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &Server{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					c.Close()
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
				}()
				handle(c)
			}()
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, closes open connections and waits for handlers.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Echo copies everything back until the peer half-closes, then closes.
func Echo(c net.Conn) {
	io.Copy(c, c)
}

// SayAddr writes the server's own address and closes, after an optional
// delay: the upstream of MOSN's least-connection demo (seed 001 server.go).
func SayAddr(delay time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		if delay > 0 {
			time.Sleep(delay)
		}
		c.Write([]byte(c.LocalAddr().String()))
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
