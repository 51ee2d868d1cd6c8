package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/codec/dubbo"
)

// prober runs one check of one address. ctx carries the check's deadline
// and is cancelled when the Checker stops. A nil error is a success.
type prober interface {
	probe(ctx context.Context, addr string) error
}

// maxReply bounds what a heartbeat check reads while waiting for its reply:
// an ack is a bare header, so a larger frame means a confused peer.
const maxReply = 64 << 10

// newProber builds the prober for s; timeouts come from the context of each
// check, so the dialer has none of its own.
func newProber(s *settings) prober {
	switch s.protocol {
	case ProtocolHTTP1:
		return newHTTPProber(s.http)
	case ProtocolBolt:
		return &boltProber{}
	case ProtocolDubbo:
		return &dubboProber{}
	}
	return tcpProber{}
}

// tcpProber succeeds when a TCP connection can be opened; it is closed at
// once, without sending anything.
type tcpProber struct{}

func (tcpProber) probe(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// httpProber sends one HTTP/1.1 request per check on a fresh connection and
// succeeds when the status is one of the configured codes. Redirects are
// not followed: a 3xx is judged like any other status.
type httpProber struct {
	s      *httpSettings
	client *http.Client
}

func newHTTPProber(s *httpSettings) *httpProber {
	var d net.Dialer
	tr := &http.Transport{
		// Proxy stays nil: a health check must reach the host itself,
		// whatever HTTP_PROXY says.
		DialContext: d.DialContext,
		// A fresh connection per check also tests that the host accepts
		// connections, and keeps no idle socket per host between rounds.
		DisableKeepAlives:  true,
		DisableCompression: true,
		// An empty non-nil map keeps the transport on HTTP/1.1 for https.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if s.scheme == "https" && s.domain != "" {
		tr.TLSClientConfig = &tls.Config{ServerName: hostOnly(s.domain)}
	}
	return &httpProber{
		s: s,
		client: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

func (p *httpProber) probe(ctx context.Context, addr string) error {
	if p.s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.s.timeout)
		defer cancel()
	}
	hostport := addr
	if p.s.port > 0 {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return err
		}
		hostport = net.JoinHostPort(host, strconv.Itoa(p.s.port))
	}
	u := p.s.target
	u.Scheme, u.Host = p.s.scheme, hostport
	req, err := http.NewRequestWithContext(ctx, p.s.method, u.String(), nil)
	if err != nil {
		return err
	}
	if p.s.domain != "" {
		req.Host = p.s.domain
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	// Some servers log a reset when the body is not read; a little is
	// enough, the connection is not reused anyway.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	if !p.s.accepts(resp.StatusCode) {
		return fmt.Errorf("%s %s answered status %d, want %s", p.s.method, u.String(), resp.StatusCode, p.s.codesString())
	}
	return nil
}

func (p *httpProber) close() { p.client.CloseIdleConnections() }

// hostOnly strips a port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// boltProber sends a bolt v1 heartbeat on a fresh connection and succeeds
// on a heartbeat ack with the same request id and status SUCCESS.
type boltProber struct {
	ids atomic.Uint32
}

func (p *boltProber) probe(ctx context.Context, addr string) error {
	id := p.ids.Add(1)
	f, err := exchange(ctx, addr, bolt.AppendHeartbeat(nil, bolt.ProtoV1, id), func(b []byte) (bolt.Frame, error) {
		f, _, err := bolt.ParseLimit(b, maxReply)
		if errors.Is(err, bolt.ErrNeedMore) {
			err = errNeedMore
		}
		return f, err
	})
	if err != nil {
		return err
	}
	switch {
	case f.Type != bolt.TypeResponse || f.CmdCode != bolt.CmdHeartbeat:
		return fmt.Errorf("bolt heartbeat answered by a %s with cmdcode %d, want a heartbeat ack", f.Type, f.CmdCode)
	case f.RequestID != id:
		return fmt.Errorf("bolt heartbeat %d answered with request id %d", id, f.RequestID)
	case f.Status != bolt.StatusSuccess:
		return fmt.Errorf("bolt heartbeat answered with status %d (%s)", f.Status, bolt.StatusName(f.Status))
	}
	return nil
}

// dubboProber sends a dubbo heartbeat event on a fresh connection and
// succeeds on a response with the same id and status OK (20).
type dubboProber struct {
	ids atomic.Uint64
}

func (p *dubboProber) probe(ctx context.Context, addr string) error {
	id := p.ids.Add(1)
	f, err := exchange(ctx, addr, dubbo.AppendHeartbeat(nil, id), func(b []byte) (dubbo.Frame, error) {
		f, _, err := dubbo.ParseLimit(b, maxReply)
		if errors.Is(err, dubbo.ErrNeedMore) {
			err = errNeedMore
		}
		return f, err
	})
	if err != nil {
		return err
	}
	switch {
	case f.IsRequest:
		return errors.New("dubbo heartbeat answered by a request, want a response")
	case f.ID != id:
		return fmt.Errorf("dubbo heartbeat %d answered with id %d", id, f.ID)
	case f.Status != dubbo.StatusOK:
		return fmt.Errorf("dubbo heartbeat answered with status %d (%s)", f.Status, dubbo.StatusName(f.Status))
	}
	return nil
}

// errNeedMore is what the parse functions given to exchange return while
// the reply is incomplete.
var errNeedMore = errors.New("need more data")

// exchange dials addr, writes req and reads until parse finds the first
// frame of the reply. The context's deadline and cancellation apply to the
// dial and to every read and write.
func exchange[F any](ctx context.Context, addr string, req []byte, parse func([]byte) (F, error)) (F, error) {
	var zero F
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return zero, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Cancellation has no deadline; unblock the I/O by hand.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(req); err != nil {
		return zero, err
	}
	buf := make([]byte, 0, 256)
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxReply {
				return zero, fmt.Errorf("no complete reply in %d bytes", len(buf))
			}
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, rerr := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			f, perr := parse(buf)
			if perr == nil {
				return f, nil
			}
			if !errors.Is(perr, errNeedMore) {
				return zero, perr
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return zero, fmt.Errorf("connection closed after %d bytes of reply", len(buf))
			}
			return zero, rerr
		}
	}
}
