package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// httpTransport is one HTTP client connection: an http.Transport of its
// own, limited to one connection, so that -c counts connections as in
// h2load. HTTP/1.1 sends one request at a time on it (keep-alive, no
// pipelining); h2c multiplexes up to the server's stream limit and queues
// the rest, as h2load does.
type httpTransport struct {
	cl  *client
	o   *options
	url string
	tr  *http.Transport

	mu  sync.Mutex
	pre net.Conn // dialled by connect, handed to the first dial
}

func newHTTPTransport(cl *client, o *options, h2 bool) *httpTransport {
	t := &httpTransport{cl: cl, o: o, url: "http://" + o.host + o.path}
	p := new(http.Protocols)
	if h2 {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	t.tr = &http.Transport{
		DialContext:         t.dial,
		Protocols:           p,
		DisableCompression:  true,
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		HTTP2:               &http.HTTP2Config{StrictMaxConcurrentRequests: true},
	}
	return t
}

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// dialNew opens a TCP connection to the target, whatever address the
// request URL names, and records the connect time.
func (t *httpTransport) dialNew(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: t.o.timeout}
	t0 := time.Now()
	nc, err := d.DialContext(ctx, "tcp", t.o.addr)
	if err != nil {
		return nil, err
	}
	t.cl.recordConnect(time.Since(t0))
	return &countConn{Conn: nc, n: &t.cl.rxTotal}, nil
}

func (t *httpTransport) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	t.mu.Lock()
	pre := t.pre
	t.pre = nil
	t.mu.Unlock()
	if pre != nil {
		return pre, nil
	}
	return t.dialNew(ctx)
}

func (t *httpTransport) connect() error {
	nc, err := t.dialNew(context.Background())
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.pre = nc
	t.mu.Unlock()
	return nil
}

func (t *httpTransport) send(c *call, _ bool) {
	go t.do(c)
}

// do runs one exchange; the deadline is the scheduled time plus the
// timeout, so time spent queued for the connection counts.
func (t *httpTransport) do(c *call) {
	ctx, cancel := context.WithDeadline(context.Background(), c.sched.Add(t.o.timeout))
	defer cancel()
	method := http.MethodGet
	var body io.Reader
	if t.o.body != nil {
		method = http.MethodPost
		body = bytes.NewReader(t.o.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.url, body)
	if err != nil {
		t.cl.finish(c, outErrored, 0)
		return
	}
	resp, err := t.tr.RoundTrip(req)
	if err != nil {
		t.cl.finish(c, failOutcome(ctx), 0)
		return
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t.cl.rxData.Add(n)
	t.cl.rxHeadersRaw.Add(headerFieldBytes(resp))
	if err != nil {
		t.cl.finish(c, failOutcome(ctx), 0)
		return
	}
	t.cl.finish(c, outResponse, resp.StatusCode)
}

// failOutcome tells a timeout from another failure.
func failOutcome(ctx context.Context) outcome {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return outTimeout
	}
	return outErrored
}

// headerFieldBytes is the size of the response header fields as h2load
// counts it before compression: names plus values, ":status" included.
func headerFieldBytes(resp *http.Response) int64 {
	n := int64(len(":status") + 3)
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

// expire does nothing: each request carries its own deadline.
func (t *httpTransport) expire(time.Time) {}

func (t *httpTransport) close() {
	t.mu.Lock()
	pre := t.pre
	t.pre = nil
	t.mu.Unlock()
	if pre != nil {
		pre.Close()
	}
	t.tr.CloseIdleConnections()
}

// printHTTPStatus prints h2load's status line.
func printHTTPStatus(w io.Writer, counts []int64) {
	var class [6]int64
	for code, n := range counts {
		if c := code / 100; c >= 2 && c <= 5 {
			class[c] += n
		}
	}
	fmt.Fprintf(w, "status codes: %d 2xx, %d 3xx, %d 4xx, %d 5xx\n", class[2], class[3], class[4], class[5])
}

func httpSpec(o *options) *protoSpec {
	h2 := o.proto == protoH2C
	label := "http/1.1"
	if h2 {
		label = "h2c"
	}
	return &protoSpec{
		label:        label,
		newTransport: func(cl *client) transport { return newHTTPTransport(cl, o, h2) },
		// h2load counts 2xx and 3xx answers as succeeded.
		success:     func(s int) bool { return s >= 200 && s < 400 },
		printStatus: printHTTPStatus,
	}
}

// newHTTPServer returns the HTTP/1.1 and h2c server of serve mode.
func newHTTPServer(s *server) *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	code := http.StatusOK
	if s.status.forced {
		code = s.status.code
	}
	length := strconv.Itoa(len(s.body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.ProtoMajor == 2 {
			s.h2.Add(1)
		}
		io.Copy(io.Discard, r.Body)
		if d := s.pickDelay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", length)
		w.WriteHeader(code)
		w.Write(s.body)
	})
	return &http.Server{
		Handler:           h,
		Protocols:         p,
		ReadHeaderTimeout: 10 * time.Second,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 1000},
	}
}
