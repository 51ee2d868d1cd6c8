package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"mosn.dev/proxy/log"
)

// Handover is the new process's side of an upgrade in progress: the
// sockets received from the old process, until Ready or Abort.
type Handover struct {
	dir     string
	log     *log.Logger
	conn    *net.UnixConn
	listen  *boundSock
	sockets []Socket
	taken   []bool
	// OldPid is the old process's pid.
	OldPid int
	// Done and Failed are the old process's upgrade counters.
	Done, Failed int64
}

// ErrNoOldProcess is returned by Inherit when no process answers on
// reconfig.sock: this is a fresh start.
var ErrNoOldProcess = errors.New("no running process to upgrade")

// Inherit looks for a running process through dir/reconfig.sock. If one
// answers, it receives that process's listening sockets and returns the
// handover; the caller starts serving on them and then calls Ready, or
// Abort if it cannot start. With nobody answering (no file, or a stale
// file of a dead process) it returns ErrNoOldProcess. Any other error
// means a process is there but the handover failed: the caller must not
// start, or it would fight the old process for its ports.
func Inherit(dir string, lg *log.Logger) (*Handover, error) {
	rc, err := net.DialTimeout("unix", filepath.Join(dir, ReconfigSock), dialTimeout)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, ErrNoOldProcess
		}
		return nil, fmt.Errorf("connecting to %s: %w", ReconfigSock, err)
	}
	defer rc.Close()
	// Listen on listen.sock before reading the greeting: the old process
	// dials it right after greeting.
	ls, err := bindUnix(filepath.Join(dir, ListenSock))
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", ListenSock, err)
	}
	h := &Handover{dir: dir, log: lg, listen: ls}
	fail := func(err error) (*Handover, error) {
		h.Abort()
		return nil, err
	}
	if err := readByte(rc, helloTimeout, byteHello); err != nil {
		return fail(fmt.Errorf("the process on %s did not answer: %w", filepath.Join(dir, ReconfigSock), err))
	}
	lg.Infof("[server] [reconfigure] the running process answered, receiving its listening sockets")
	ls.ln.SetDeadline(time.Now().Add(offerTimeout))
	c, err := ls.ln.AcceptUnix()
	if err != nil {
		return fail(fmt.Errorf("waiting for the listening sockets on %s: %w", ListenSock, err))
	}
	h.conn = c
	c.SetReadDeadline(time.Now().Add(offerTimeout))
	payload, files, err := readFrame(c, maxSockets)
	c.SetReadDeadline(time.Time{})
	var o offer
	if err == nil {
		err = jsonUnmarshal(payload, &o)
	}
	if err == nil && len(o.Sockets) != len(files) {
		err = fmt.Errorf("%d sockets announced, %d received", len(o.Sockets), len(files))
	}
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		return fail(fmt.Errorf("receiving the listening sockets: %w", err))
	}
	for i := range o.Sockets {
		o.Sockets[i].File = files[i]
	}
	h.sockets = o.Sockets
	h.taken = make([]bool, len(o.Sockets))
	h.OldPid, h.Done, h.Failed = o.Pid, o.Done, o.Failed
	lg.Infof("[server] [reconfigure] received %d listening sockets from process %d", len(files), o.Pid)
	return h, nil
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("bad handshake header: %w", err)
	}
	return nil
}

// Take returns the inherited socket named name whose address matches
// addr (the configured address; a configured port 0 matches by name
// alone), or nil. Each socket is taken at most once; the caller owns it.
func (h *Handover) Take(name, addr string) *os.File {
	if h == nil {
		return nil
	}
	want, _ := net.ResolveTCPAddr("tcp", addr)
	// First the same name at a matching address, then any name: a
	// renamed listener on the same address keeps its socket.
	for pass := 0; pass < 2; pass++ {
		for i, sk := range h.sockets {
			if h.taken[i] || (pass == 0 && sk.Name != name) {
				continue
			}
			if want != nil && want.Port == 0 {
				if sk.Name != name {
					continue
				}
			} else if !sameAddr(want, sk.Addr) {
				continue
			}
			h.taken[i] = true
			return sk.File
		}
	}
	return nil
}

// sameAddr reports whether a socket bound to got serves the configured
// address want. The unspecified addresses of both families are equal:
// Go binds ":port" and "0.0.0.0:port" alike as a dual-stack socket.
func sameAddr(want *net.TCPAddr, got string) bool {
	if want == nil {
		return false
	}
	g, err := net.ResolveTCPAddr("tcp", got)
	if err != nil || g.Port != want.Port {
		return false
	}
	if want.IP == nil || want.IP.IsUnspecified() {
		return g.IP == nil || g.IP.IsUnspecified()
	}
	return want.IP.Equal(g.IP)
}

// closeUntaken closes the inherited sockets nobody took: listeners the
// new config no longer has. The old process closes its copies as it
// stops, and the ports are freed.
func (h *Handover) closeUntaken() {
	for i, sk := range h.sockets {
		if !h.taken[i] {
			h.log.Infof("[server] [reconfigure] %s on %s is not in the new config: closing it", sk.Name, sk.Addr)
			sk.File.Close()
			h.taken[i] = true
		}
	}
}

// Ready tells the old process that the new one serves, waits for it to
// give reconfig.sock up, binds reconfig.sock and conn.sock (the returned
// Server, not yet serving) and confirms. From then on the old process
// drains. Ready closes the sockets that were not taken.
func (h *Handover) Ready(hd Handler) (*Server, error) {
	h.closeUntaken()
	defer h.finish()
	if err := writeByte(h.conn, byteReady); err != nil {
		return nil, fmt.Errorf("telling the old process we serve: %w", err)
	}
	if err := readByte(h.conn, ackTimeout, byteAck); err != nil {
		return nil, fmt.Errorf("the old process did not acknowledge: %w", err)
	}
	srv, err := Listen(h.dir, hd, h.log)
	if err != nil {
		return nil, err
	}
	if err := writeByte(h.conn, byteBound); err != nil {
		srv.Close()
		return nil, fmt.Errorf("confirming to the old process: %w", err)
	}
	return srv, nil
}

// Abort ends a handover that will not complete: the old process sees the
// connection close and keeps serving. Inherited sockets not taken are
// closed; reconfig.sock is not touched.
func (h *Handover) Abort() {
	for i, sk := range h.sockets {
		if !h.taken[i] {
			sk.File.Close()
			h.taken[i] = true
		}
	}
	h.finish()
}

func (h *Handover) finish() {
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
	if h.listen != nil {
		h.listen.close()
		h.listen = nil
	}
}
