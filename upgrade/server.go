package upgrade

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"mosn.dev/proxy/log"
)

// Handler is what the running process gives the upgrade server.
type Handler interface {
	// Sockets returns the listening sockets to hand to a new process.
	// The files are the caller's to close after sending; the server does.
	Sockets() ([]Socket, error)
	// Begin is called when a new process has asked to take over.
	Begin()
	// Failed is called when a handover did not complete; the process
	// keeps serving and stays upgradable.
	Failed(err error)
	// HandedOver is called once the new process serves every socket and
	// owns reconfig.sock and conn.sock; the process must stop accepting
	// and drain, passing idle connections on with Transfer.
	HandedOver()
	// Adopt serves a connection an older process passed over conn.sock
	// (its descriptor f, which Adopt owns), on the listener named.
	Adopt(listener, originalDst string, f *os.File) error
	// Counters returns the upgrades done and failed so far.
	Counters() (done, failed int64)
}

// Server is the upgrade side of a running process: it answers new
// processes on reconfig.sock and adopts connections on conn.sock.
type Server struct {
	dir string
	h   Handler
	log *log.Logger

	mu       sync.Mutex
	reconfig *boundSock
	conn     *boundSock
	closed   bool
	wg       sync.WaitGroup
}

// Listen binds reconfig.sock and conn.sock in dir, replacing stale files
// a dead process may have left. Serve starts answering on them.
func Listen(dir string, h Handler, lg *log.Logger) (*Server, error) {
	s := &Server{dir: dir, h: h, log: lg}
	var err error
	if s.conn, err = bindUnix(filepath.Join(dir, ConnSock)); err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	if s.reconfig, err = bindUnix(filepath.Join(dir, ReconfigSock)); err != nil {
		s.conn.close()
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	return s, nil
}

// Serve answers on both sockets in the background.
func (s *Server) Serve() {
	s.mu.Lock()
	rc, cc := s.reconfig, s.conn
	s.mu.Unlock()
	s.log.Infof("[network] [transfer] [server] TransferServer start")
	s.wg.Add(2)
	go s.serveReconfig(rc)
	go s.serveConn(cc)
}

// Close stops both sockets. A socket file is removed only if it is still
// the one this process bound: after a handover it belongs to the new
// process and is left alone.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	rc, cc := s.reconfig, s.conn
	s.mu.Unlock()
	if rc != nil {
		rc.close()
	}
	if cc != nil {
		cc.close()
		s.log.Infof("[network] [transfer] [server] TransferServer listener %s closed", cc.path)
	}
	s.wg.Wait()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// serveReconfig handles one new process at a time until a handover
// succeeds or the server is closed.
func (s *Server) serveReconfig(b *boundSock) {
	defer s.wg.Done()
	s.log.Infof("[server] [reconfigure] reconfigureHandler start")
	for {
		c, err := b.ln.AcceptUnix()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Errorf("[server] [reconfigure] accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.log.Infof("[server] [reconfigure] a new process connected, handing over")
		s.h.Begin()
		err = s.handover(c, b)
		c.Close()
		if err == nil {
			s.log.Infof("[server] [reconfigure] handover done: the new process serves every listener")
			s.h.HandedOver()
			return
		}
		s.log.Errorf("[server] [reconfigure] handover failed, still serving: %v", err)
		s.h.Failed(err)
		if s.isClosed() {
			return
		}
		s.mu.Lock()
		cur := s.reconfig
		s.mu.Unlock()
		if cur == nil {
			nb, berr := s.rebind()
			if berr != nil {
				s.log.Errorf("[server] [reconfigure] cannot listen on %s again, this process can no longer be upgraded: %v", b.path, berr)
				return
			}
			b = nb
		}
	}
}

func (s *Server) rebind() (*boundSock, error) {
	nb, err := bindUnix(filepath.Join(s.dir, ReconfigSock))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nb.close()
		return nil, net.ErrClosed
	}
	s.reconfig = nb
	s.mu.Unlock()
	return nb, nil
}

// handover runs the old process's side of the handshake on c.
func (s *Server) handover(c *net.UnixConn, b *boundSock) error {
	if err := writeByte(c, byteHello); err != nil {
		return fmt.Errorf("greeting the new process: %w", err)
	}
	lc, err := dialRetry(filepath.Join(s.dir, ListenSock), offerTimeout)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", ListenSock, err)
	}
	defer lc.Close()

	socks, err := s.h.Sockets()
	defer func() {
		for _, sk := range socks {
			sk.File.Close()
		}
	}()
	if err != nil {
		return err
	}
	if len(socks) > maxSockets {
		return fmt.Errorf("%d listening sockets, at most %d can be handed over", len(socks), maxSockets)
	}
	fds := make([]int, len(socks))
	for i, sk := range socks {
		fds[i] = int(sk.File.Fd())
	}
	done, failed := s.h.Counters()
	o := offer{Pid: os.Getpid(), Sockets: socks, Done: done, Failed: failed}
	lc.SetWriteDeadline(time.Now().Add(ackTimeout))
	if err := writeFrame(lc, marshal(o), fds); err != nil {
		return fmt.Errorf("sending %d sockets: %w", len(socks), err)
	}
	lc.SetWriteDeadline(time.Time{})
	s.log.Infof("[server] [reconfigure] sent %d listening sockets to the new process", len(socks))

	if err := readByte(lc, readyTimeout, byteReady); err != nil {
		return fmt.Errorf("the new process did not start: %w", err)
	}
	// Give reconfig.sock up (the file stays: the new process replaces
	// it) before acknowledging, so that it can bind the path.
	s.mu.Lock()
	s.reconfig = nil
	s.mu.Unlock()
	b.closeKeep()
	if err := writeByte(lc, byteAck); err != nil {
		return fmt.Errorf("acknowledging: %w", err)
	}
	if err := readByte(lc, ackTimeout, byteBound); err != nil {
		return fmt.Errorf("the new process did not take %s over: %w", ReconfigSock, err)
	}
	return nil
}

func dialRetry(path string, total time.Duration) (*net.UnixConn, error) {
	deadline := time.Now().Add(total)
	for {
		c, err := net.DialTimeout("unix", path, dialTimeout)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// transferHeader describes a connection passed over conn.sock.
type transferHeader struct {
	Listener    string `json:"listener"`
	OriginalDst string `json:"original_dst,omitempty"`
}

// serveConn adopts connections passed over conn.sock.
func (s *Server) serveConn(b *boundSock) {
	defer s.wg.Done()
	defer s.log.Infof("[network] [transfer] [server] TransferServer exit")
	for {
		c, err := b.ln.AcceptUnix()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Errorf("[network] [transfer] [server] accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go s.adopt(c)
	}
}

func (s *Server) adopt(c *net.UnixConn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(ackTimeout))
	payload, files, err := readFrame(c, 1)
	if err == nil && len(files) != 1 {
		err = fmt.Errorf("%d descriptors with a connection", len(files))
	}
	var h transferHeader
	if err == nil {
		err = jsonUnmarshal(payload, &h)
	}
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		s.log.Warnf("[network] [transfer] [server] bad transfer: %v", err)
		writeByte(c, 1)
		return
	}
	if err := s.h.Adopt(h.Listener, h.OriginalDst, files[0]); err != nil {
		s.log.Warnf("[network] [transfer] [server] connection for listener %q not adopted: %v", h.Listener, err)
		writeByte(c, 1)
		return
	}
	writeByte(c, 0)
}

// Transfer passes the descriptor of an idle connection to the process
// that owns dir/conn.sock, to be served by its listener of the same name.
// On success the socket lives on in that process: the caller closes its
// own descriptor (which sends nothing to the peer) and must not write to
// the connection again.
func Transfer(dir, listener, originalDst string, c syscall.Conn) error {
	uc, err := net.DialTimeout("unix", filepath.Join(dir, ConnSock), dialTimeout)
	if err != nil {
		return err
	}
	defer uc.Close()
	u := uc.(*net.UnixConn)
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	hdr := marshal(transferHeader{Listener: listener, OriginalDst: originalDst})
	u.SetWriteDeadline(time.Now().Add(ackTimeout))
	var werr error
	if err := rc.Control(func(fd uintptr) { werr = writeFrame(u, hdr, []int{int(fd)}) }); err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	var ack [1]byte
	u.SetReadDeadline(time.Now().Add(ackTimeout))
	if _, err := u.Read(ack[:]); err != nil {
		return fmt.Errorf("no answer from the new process: %w", err)
	}
	if ack[0] != 0 {
		return errors.New("the new process refused the connection")
	}
	return nil
}
