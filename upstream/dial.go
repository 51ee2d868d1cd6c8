package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Dial opens a TCP connection to h, a host of this cluster (or one Pick
// returned). The connect is bounded by the cluster's connect_timeout
// (default 10s) as well as by ctx, and the socket gets SO_MARK before the
// connect when the cluster's mark is non-zero (Linux only; elsewhere the
// mark is ignored).
//
// ctx must not be nil. Dial does not count the connection as active: the
// caller calls h.ConnStart, best right after Pick so that a burst of new
// connections spreads over LB_LEAST_CONNECTION hosts before any connect
// completes, and h.ConnEnd when the attempt fails or the connection closes.
// A failed attempt is counted with h.ConnectFailed and, unless ctx ended it,
// reported to outlier detection as an error (ReportResult); the error is a
// *DialError naming the cluster, the host and the cause. A successful
// connect is not reported: for request protocols only the answer says
// whether the host works.
func (c *Cluster) Dial(ctx context.Context, h *Host) (net.Conn, error) {
	if h == nil {
		return nil, &DialError{Cluster: c.name, Err: errors.New("no host")}
	}
	conn, err := c.dialer.DialContext(ctx, "tcp", h.address)
	if err != nil {
		h.ConnectFailed()
		if ctx.Err() == nil {
			c.ReportResult(h, false)
		}
		de := &DialError{Cluster: c.name, Host: h.address, Err: err}
		var ne net.Error
		if ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
			de.ConnectTimeout = c.connectTimeout
		}
		return nil, de
	}
	return conn, nil
}

// DialError is a failed upstream connect.
type DialError struct {
	Cluster string
	// Host is the address dialed; empty when there was no host.
	Host string
	// ConnectTimeout is the cluster's connect_timeout when that is what
	// ended the attempt, else zero.
	ConnectTimeout time.Duration
	// Err is the error from the dialer.
	Err error
}

// Error says which cluster and host failed and why, without repeating the
// address the way net.OpError does.
func (e *DialError) Error() string {
	if e.Host == "" {
		return fmt.Sprintf("upstream cluster %q: %v", e.Cluster, e.Err)
	}
	if e.ConnectTimeout > 0 {
		return fmt.Sprintf("upstream cluster %q: connect to host %s: timed out after %v (connect_timeout)",
			e.Cluster, e.Host, e.ConnectTimeout)
	}
	return fmt.Sprintf("upstream cluster %q: connect to host %s: %v", e.Cluster, e.Host, dialCause(e.Err))
}

// Unwrap returns the dialer's error, so errors.Is(err, syscall.ECONNREFUSED)
// and context errors can be tested.
func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the connect timed out (connect_timeout or the
// caller's deadline).
func (e *DialError) Timeout() bool {
	var ne net.Error
	return e.ConnectTimeout > 0 || (errors.As(e.Err, &ne) && ne.Timeout())
}

// dialCause strips the net.OpError and os.SyscallError wrappers, whose text
// repeats the operation and address.
func dialCause(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) && se.Err != nil && se.Syscall == "connect" {
		err = se.Err
	}
	return err
}
