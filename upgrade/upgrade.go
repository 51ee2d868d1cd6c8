// Package upgrade implements the smooth (hot) upgrade between two proxy
// processes over unix sockets in uds_dir, the way MOSN's orchestrators
// expect it:
//
//   - the running process listens on reconfig.sock;
//   - a new process dials reconfig.sock and reads one byte; then it listens
//     on listen.sock, and the old process sends every listening socket
//     (SCM_RIGHTS) with a JSON header naming them;
//   - the new process starts serving on them and writes "ready"; the old
//     one gives up reconfig.sock and acknowledges; the new one binds
//     reconfig.sock and conn.sock and writes "bound";
//   - the old process stops accepting and drains. Connections that are
//     idle at a request boundary (HTTP/1 keep-alive, bolt, dubbo) are
//     passed one by one over conn.sock with their descriptor, so their
//     clients never see a close; the rest finish where they are.
//
// Unlike MOSN, no step removes a socket file that another process owns:
// a path is unlinked only if it is still the very file this process bound,
// so a failed new process leaves the old one fully upgradable and an
// exiting old process never removes its successor's reconfig.sock.
package upgrade

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Socket file names inside uds_dir (MOSN's names).
const (
	ReconfigSock = "reconfig.sock"
	ListenSock   = "listen.sock"
	ConnSock     = "conn.sock"
)

// Timeouts of the handshake. They are generous because the new process
// may be slow to build a large config; none of them is on a request path.
const (
	// dialTimeout bounds connecting to a unix socket of the other process.
	dialTimeout = time.Second
	// helloTimeout bounds waiting for the old process's first byte.
	helloTimeout = 3 * time.Second
	// offerTimeout bounds waiting for the old process to send sockets.
	offerTimeout = 10 * time.Second
	// readyTimeout bounds how long the old process waits for the new one
	// to start serving.
	readyTimeout = 60 * time.Second
	// ackTimeout bounds each of the last two handshake steps.
	ackTimeout = 10 * time.Second
)

// maxSockets bounds the descriptors sent in one handshake (MOSN: 100).
const maxSockets = 256

// Handshake bytes.
const (
	byteHello = 0
	byteReady = 1
	byteAck   = 2
	byteBound = 3
)

// Socket is one listening socket handed from the old process to the new.
type Socket struct {
	// Name says what the socket serves: "listener:<name>", "admin",
	// "pprof" or "metrics:<i>".
	Name string `json:"name"`
	// Addr is the address it is bound to, as the kernel reports it.
	Addr string `json:"addr"`
	// File is the descriptor (nil in the JSON header).
	File *os.File `json:"-"`
}

// offer is the header sent with the descriptors.
type offer struct {
	Pid     int      `json:"pid"`
	Sockets []Socket `json:"sockets"`
	// Done and Failed are the upgrade counters of the old process, so
	// that they keep counting across generations.
	Done   int64 `json:"upgrades_done"`
	Failed int64 `json:"upgrades_failed"`
}

// boundSock is a unix listening socket this process bound, with the
// identity of the file it created so that it unlinks only its own file.
type boundSock struct {
	ln   *net.UnixListener
	path string
	fi   os.FileInfo
}

// bindUnix listens on path, replacing whatever file is there (a stale
// socket of a dead process, or the socket of the process being replaced,
// which has stopped using it).
func bindUnix(path string) (*boundSock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The file is removed by close() below only if it is still ours.
	ln.SetUnlinkOnClose(false)
	fi, err := os.Stat(path)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &boundSock{ln: ln, path: path, fi: fi}, nil
}

// close closes the socket and removes its file if no other process has
// replaced it meanwhile.
func (b *boundSock) close() {
	b.ln.Close()
	if fi, err := os.Stat(b.path); err == nil && os.SameFile(fi, b.fi) {
		os.Remove(b.path)
	}
}

// closeKeep closes the socket and leaves its file: the successor binds
// the same path.
func (b *boundSock) closeKeep() { b.ln.Close() }

// writeFrame writes a length-prefixed payload with optional descriptors.
func writeFrame(c *net.UnixConn, payload []byte, fds []int) error {
	b := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	copy(b[4:], payload)
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	n, oobn, err := c.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return err
	}
	if n != len(b) || oobn != len(oob) {
		return io.ErrShortWrite
	}
	return nil
}

// maxFrame bounds a header's size (bytes).
const maxFrame = 1 << 20

// readFrame reads one frame written by writeFrame and the descriptors
// that came with its first bytes. Descriptors are returned as files even
// when the frame is bad, so that the caller can close them.
func readFrame(c *net.UnixConn, maxFDs int) ([]byte, []*os.File, error) {
	head := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(4*maxFDs))
	n, oobn, flags, _, err := c.ReadMsgUnix(head, oob)
	var files []*os.File
	if oobn > 0 {
		files = parseRights(oob[:oobn])
	}
	if err != nil {
		return nil, files, err
	}
	if flags&syscall.MSG_CTRUNC != 0 {
		return nil, files, errors.New("too many descriptors")
	}
	if n < 4 {
		if _, err := io.ReadFull(c, head[n:4]); err != nil {
			return nil, files, err
		}
		n = 4
	}
	size := binary.BigEndian.Uint32(head)
	if size > maxFrame {
		return nil, files, fmt.Errorf("frame of %d bytes", size)
	}
	payload := make([]byte, size)
	got := copy(payload, head[4:n])
	if _, err := io.ReadFull(c, payload[got:]); err != nil {
		return nil, files, err
	}
	return payload, files, nil
}

func parseRights(oob []byte) []*os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "inherited"))
		}
	}
	return files
}

// readByte reads one handshake byte within d and checks it is want.
func readByte(c net.Conn, d time.Duration, want byte) error {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if b[0] != want {
		return fmt.Errorf("unexpected handshake byte %d (want %d)", b[0], want)
	}
	return nil
}

func writeByte(c net.Conn, b byte) error {
	c.SetWriteDeadline(time.Now().Add(ackTimeout))
	defer c.SetWriteDeadline(time.Time{})
	_, err := c.Write([]byte{b})
	return err
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are marshalled
	}
	return b
}
