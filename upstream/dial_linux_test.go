package upstream_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

// fullListener returns the address of a loopback socket listening with a
// backlog of 0 whose accept queue is full, so that Linux drops further SYNs
// and a connect to it can only time out.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// Fill the accept queue: connect until a connect times out.
	for i := 0; ; i++ {
		if i == 16 {
			t.Fatal("accept queue never filled: cannot provoke a connect timeout")
		}
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

func TestDialConnectTimeout(t *testing.T) {
	addr := fullListener(t)
	c := mustCluster(t, &config.Cluster{Name: "slow", ConnectTimeout: dur(150 * time.Millisecond), Hosts: hostCfgs(addr)})
	h := c.Hosts().Host(addr)
	_, err := c.Dial(context.Background(), h)
	if err == nil {
		t.Fatal("dial to a full accept queue succeeded")
	}
	want := `upstream cluster "slow": connect to host ` + addr + ": timed out after 150ms (connect_timeout)"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	var de *upstream.DialError
	if !errors.As(err, &de) || !de.Timeout() || de.ConnectTimeout != 150*time.Millisecond {
		t.Errorf("error %#v", err)
	}
	if h.ConnectFailures() != 1 {
		t.Errorf("connect failures %d, want 1", h.ConnectFailures())
	}
}

func TestDialMark(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SO_MARK needs CAP_NET_ADMIN: run the tests as root to check it")
	}
	ln := listen(t)
	for _, mark := range []uint32{0, 68} {
		c := mustCluster(t, &config.Cluster{Name: "m", Mark: mark, Hosts: hostCfgs(ln.Addr().String())})
		conn, err := c.Dial(context.Background(), c.Pick(nil))
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("root without CAP_NET_ADMIN cannot set SO_MARK: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		rc, err := conn.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var gerr error
		if err := rc.Control(func(fd uintptr) {
			got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK)
		}); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if gerr != nil {
			t.Fatal(gerr)
		}
		if uint32(got) != mark {
			t.Errorf("SO_MARK = %d, want %d", got, mark)
		}
	}
}

func TestDialMarkErrorNamesHost(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("as root SO_MARK succeeds; this checks the error an unprivileged user gets")
	}
	ln := listen(t)
	c := mustCluster(t, &config.Cluster{Name: "m", Mark: 1, Hosts: hostCfgs(ln.Addr().String())})
	_, err := c.Dial(context.Background(), c.Pick(nil))
	if err == nil {
		t.Skip("SO_MARK allowed without root (CAP_NET_ADMIN granted)")
	}
	if !strings.Contains(err.Error(), "SO_MARK") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("error %q does not name SO_MARK and the host", err)
	}
}
