package upgrade

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/log"
)

// side is a process's part of the handshake: one listening TCP socket
// and a record of what the upgrade server asked of it.
type side struct {
	t  *testing.T
	ln *net.TCPListener

	mu        sync.Mutex
	began     int
	failed    []error
	handed    chan struct{}
	adopted   chan net.Conn
	done, bad int64
}

func newSide(t *testing.T, ln *net.TCPListener) *side {
	return &side{t: t, ln: ln, handed: make(chan struct{}, 1), adopted: make(chan net.Conn, 4)}
}

func (s *side) Sockets() ([]Socket, error) {
	f, err := s.ln.File()
	if err != nil {
		return nil, err
	}
	return []Socket{{Name: "listener:l1", Addr: s.ln.Addr().String(), File: f}}, nil
}
func (s *side) Begin() { s.mu.Lock(); s.began++; s.mu.Unlock() }
func (s *side) Failed(err error) {
	s.mu.Lock()
	s.failed = append(s.failed, err)
	s.mu.Unlock()
}
func (s *side) HandedOver() { s.handed <- struct{}{} }
func (s *side) Adopt(listener, dst string, f *os.File) error {
	defer f.Close()
	if listener != "l1" {
		return errors.New("unknown listener")
	}
	c, err := net.FileConn(f)
	if err != nil {
		return err
	}
	s.adopted <- c
	return nil
}
func (s *side) Counters() (int64, int64) { return s.done, s.bad }

func (s *side) failures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.failed)
}

func listenTCP(t *testing.T) *net.TCPListener {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func startOld(t *testing.T, dir string) (*side, *Server) {
	old := newSide(t, listenTCP(t))
	old.done, old.bad = 3, 1
	srv, err := Listen(dir, old, log.Nop())
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	t.Cleanup(srv.Close)
	return old, srv
}

func TestHandoverAndTransfer(t *testing.T) {
	dir := t.TempDir()
	old, oldSrv := startOld(t, dir)
	oldAddr := old.ln.Addr().String()

	h, err := Inherit(dir, log.Nop())
	if err != nil {
		t.Fatalf("Inherit: %v", err)
	}
	if h.OldPid != os.Getpid() || h.Done != 3 || h.Failed != 1 {
		t.Errorf("offer: pid %d done %d failed %d", h.OldPid, h.Done, h.Failed)
	}
	if f := h.Take("listener:l1", "127.0.0.1:1"); f != nil {
		t.Fatal("took a socket at another port")
	}
	f := h.Take("listener:l1", oldAddr)
	if f == nil {
		t.Fatal("no inherited socket for the listener's address")
	}
	if h.Take("listener:l1", oldAddr) != nil {
		t.Fatal("a socket was taken twice")
	}
	inherited, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer inherited.Close()
	if inherited.Addr().String() != oldAddr {
		t.Fatalf("inherited %s, want %s", inherited.Addr(), oldAddr)
	}

	// The old process closes its descriptor: the socket stays open in the
	// new one, and a client connecting meanwhile is accepted there.
	reconfigBefore, _ := os.Stat(filepath.Join(dir, ReconfigSock))
	newSideH := newSide(t, inherited.(*net.TCPListener))
	newSrv, err := h.Ready(newSideH)
	if err != nil {
		t.Fatalf("Ready: %v", err)
	}
	newSrv.Serve()
	defer newSrv.Close()
	select {
	case <-old.handed:
	case <-time.After(10 * time.Second):
		t.Fatal("the old side was not told it handed over")
	}
	old.ln.Close()
	client, err := net.Dial("tcp", oldAddr)
	if err != nil {
		t.Fatalf("dial after handover: %v", err)
	}
	defer client.Close()
	served, err := inherited.Accept()
	if err != nil {
		t.Fatal(err)
	}

	reconfigAfter, err := os.Stat(filepath.Join(dir, ReconfigSock))
	if err != nil || os.SameFile(reconfigBefore, reconfigAfter) {
		t.Fatalf("the new process did not bind its own reconfig.sock: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ListenSock)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("listen.sock left behind: %v", err)
	}

	// The old process passes the served connection on; the client keeps
	// talking to the same socket, now served by the new side.
	if err := Transfer(dir, "l1", "", served.(syscall.Conn)); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	served.Close() // the old process's descriptor: the client sees nothing
	var adopted net.Conn
	select {
	case adopted = <-newSideH.adopted:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not adopted")
	}
	defer adopted.Close()
	if _, err := client.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(adopted).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("adopted side read %q, %v", line, err)
	}
	if _, err := adopted.Write([]byte("pong\n")); err != nil {
		t.Fatal(err)
	}
	line, err = bufio.NewReader(client).ReadString('\n')
	if err != nil || line != "pong\n" {
		t.Fatalf("client read %q, %v", line, err)
	}

	// A transfer for a listener the new side does not have is refused.
	c2, err := net.Dial("tcp", oldAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	s2, err := inherited.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := Transfer(dir, "nope", "", s2.(syscall.Conn)); err == nil {
		t.Error("a transfer to an unknown listener was accepted")
	}

	// The old process exits: the new one's sockets stay.
	oldSrv.Close()
	for _, name := range []string{ReconfigSock, ConnSock} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s removed by the exiting old process: %v", name, err)
		}
	}
	// And the new one is upgradable in turn.
	h2, err := Inherit(dir, log.Nop())
	if err != nil {
		t.Fatalf("second upgrade: %v", err)
	}
	h2.Abort()
	if newSideH.began != 1 {
		t.Errorf("second upgrade began %d times", newSideH.began)
	}
}

func TestNoOldProcess(t *testing.T) {
	dir := t.TempDir()
	if _, err := Inherit(dir, log.Nop()); !errors.Is(err, ErrNoOldProcess) {
		t.Fatalf("empty dir: %v", err)
	}
	// A stale socket file of a dead process.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, ReconfigSock), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Inherit(dir, log.Nop()); !errors.Is(err, ErrNoOldProcess) {
		t.Fatalf("stale socket: %v", err)
	}
	// A fresh start replaces the stale file.
	s := newSide(t, listenTCP(t))
	srv, err := Listen(dir, s, log.Nop())
	if err != nil {
		t.Fatalf("Listen over a stale file: %v", err)
	}
	srv.Close()
	if _, err := os.Stat(filepath.Join(dir, ReconfigSock)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("own reconfig.sock not removed on close: %v", err)
	}
}

// An old process that accepts but never answers (seed 001's hack mosn)
// fails the new one, and its reconfig.sock stays for a later upgrade.
func TestSilentOldProcess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ReconfigSock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	if _, err := Inherit(dir, log.Nop()); err == nil || errors.Is(err, ErrNoOldProcess) {
		t.Fatalf("Inherit from a silent process: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("reconfig.sock of the running process removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ListenSock)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("listen.sock left behind: %v", err)
	}
}

// A new process that aborts leaves the old one serving and upgradable.
func TestAbortKeepsOldServing(t *testing.T) {
	dir := t.TempDir()
	old, _ := startOld(t, dir)
	for i := 0; i < 3; i++ {
		h, err := Inherit(dir, log.Nop())
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		h.Abort()
		deadline := time.Now().Add(10 * time.Second)
		for old.failures() != i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("attempt %d: old side saw %d failures", i, old.failures())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	select {
	case <-old.handed:
		t.Fatal("handed over after aborts")
	default:
	}
	if old.began != 3 {
		t.Errorf("began %d times, want 3", old.began)
	}
}

func TestSameAddr(t *testing.T) {
	tests := []struct {
		want, got string
		ok        bool
	}{
		{"127.0.0.1:80", "127.0.0.1:80", true},
		{"127.0.0.1:80", "127.0.0.1:81", false},
		{"0.0.0.0:80", "[::]:80", true},
		{":80", "[::]:80", true},
		{"[::]:80", "0.0.0.0:80", true},
		{"127.0.0.1:80", "[::]:80", false},
		{"[::1]:80", "[::1]:80", true},
	}
	for _, tc := range tests {
		w, err := net.ResolveTCPAddr("tcp", tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameAddr(w, tc.got); got != tc.ok {
			t.Errorf("sameAddr(%s, %s) = %v", tc.want, tc.got, got)
		}
	}
}

// FuzzReadFrame feeds arbitrary bytes to the handshake reader: it must
// return an error or a payload, never panic or hang.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Skip(err)
		}
		w := os.NewFile(uintptr(fds[0]), "w")
		r := os.NewFile(uintptr(fds[1]), "r")
		defer w.Close()
		rc, err := net.FileConn(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		go func() { w.Write(b); w.Close() }()
		rc.SetReadDeadline(time.Now().Add(2 * time.Second))
		payload, files, err := readFrame(rc.(*net.UnixConn), 4)
		for _, f := range files {
			f.Close()
		}
		if err == nil {
			var o offer
			jsonUnmarshal(payload, &o)
		}
	})
}
