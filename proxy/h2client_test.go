package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/upstream"
)

// h2ctEnv is an h2c upstream (a real server on 127.0.0.1:0) and our
// client with a cluster pointing at it.
type h2ctEnv struct {
	addr     string
	client   *h2Client
	cl       *upstream.Cluster
	accepted atomic.Int32 // connections the upstream accepted
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startH2cUpstream serves h on an h2c (prior knowledge) net/http server
// allowing maxStreams concurrent streams per connection (0: default).
func startH2cUpstream(t testing.TB, ln net.Listener, h http.Handler, maxStreams int, n *atomic.Int32) *http.Server {
	t.Helper()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p, ErrorLog: nil}
	if maxStreams > 0 {
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
	}
	go srv.Serve(countingListener{ln, n})
	t.Cleanup(func() { srv.Close() })
	return srv
}

func newH2ctEnv(t testing.TB, h http.Handler, maxStreams int) (*h2ctEnv, *http.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &h2ctEnv{addr: ln.Addr().String()}
	srv := startH2cUpstream(t, ln, h, maxStreams, &e.accepted)
	e.setup(t)
	return e, srv
}

// setup builds the cluster and the client for e.addr.
func (e *h2ctEnv) setup(t testing.TB) {
	t.Helper()
	cl, err := upstream.NewCluster(&config.Cluster{Name: "up", Hosts: []config.Host{{Address: e.addr}}})
	if err != nil {
		t.Fatal(err)
	}
	e.cl = cl
	e.client = newH2Client(&Proxy{log: log.New(io.Discard)})
	t.Cleanup(e.client.close)
}

func (e *h2ctEnv) choice(timeout time.Duration) *choice {
	return &choice{cl: e.cl, host: e.cl.Pick(&upstream.LBContext{}), info: &accesslog.Info{}, timeout: timeout}
}

// do sends req and reads the whole answer.
func (e *h2ctEnv) do(req *http.Request, ch *choice) (*http.Response, []byte, error) {
	resp, err := e.client.roundTrip(req, ch)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func newReq(t testing.TB, method, path string, body io.Reader, length int64) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://upstream"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "example.com"
	if body != nil {
		req.ContentLength = length
	}
	return req
}

// pattern returns n deterministic bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>10)
	}
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// h2ctHandler is the upstream of most tests.
func h2ctHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hello":
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-Uri", r.URL.RequestURI())
		w.Header().Set("X-Seen-Custom", r.Header.Get("X-Custom"))
		w.Header().Set("X-Seen-Te", r.Header.Get("Te"))
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	case "/echo":
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Length", fmt.Sprint(r.ContentLength))
		w.Write(b)
	case "/sha":
		h := sha256.New()
		io.Copy(h, r.Body)
		io.WriteString(w, hex.EncodeToString(h.Sum(nil)))
	case "/download":
		w.Write(pattern(8 << 20))
	case "/stream":
		// Echoes each piece as it comes.
		buf := make([]byte, 64<<10)
		f := w.(http.Flusher)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				f.Flush()
			}
			if err != nil {
				return
			}
		}
	case "/trailers":
		w.Header().Set("Trailer", "X-Resp-Trailer")
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
		w.Header().Set("X-Resp-Trailer", "got "+r.Trailer.Get("X-Req-Trailer"))
		w.Header().Set(http.TrailerPrefix+"X-Undeclared", "late")
	case "/nocontent":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func TestH2ClientRequests(t *testing.T) {
	e, _ := newH2ctEnv(t, http.HandlerFunc(h2ctHandler), 0)
	big := pattern(8 << 20)
	cases := []struct {
		name       string
		req        func() *http.Request
		status     int
		body       string
		header     map[string]string
		wantLength int64
	}{
		{name: "GET", req: func() *http.Request {
			r := newReq(t, "GET", "/hello?a=1&b=%20", nil, 0)
			r.Header.Set("X-Custom", "v1")
			r.Header.Set("Connection", "close")
			r.Header.Set("Te", "gzip")
			r.Header.Set("Keep-Alive", "300")
			return r
		}, status: 200, body: "hello", wantLength: 5, header: map[string]string{
			"X-Seen-Host": "example.com", "X-Seen-Uri": "/hello?a=1&b=%20", "X-Seen-Custom": "v1", "X-Seen-Te": ""}},
		{name: "HEAD", req: func() *http.Request { return newReq(t, "HEAD", "/hello", nil, 0) },
			status: 200, body: "", wantLength: 5},
		{name: "POST known length", req: func() *http.Request {
			return newReq(t, "POST", "/echo", strings.NewReader("ping body"), 9)
		}, status: 200, body: "ping body", header: map[string]string{"X-Seen-Length": "9"}},
		{name: "POST unknown length", req: func() *http.Request {
			return newReq(t, "POST", "/echo", strings.NewReader("streamed body"), -1)
		}, status: 200, body: "streamed body", header: map[string]string{"X-Seen-Length": "-1"}},
		{name: "POST no body", req: func() *http.Request { return newReq(t, "POST", "/echo", nil, 0) },
			status: 200, body: "", header: map[string]string{"X-Seen-Length": "0"}},
		{name: "204", req: func() *http.Request { return newReq(t, "GET", "/nocontent", nil, 0) },
			status: 204, body: "", wantLength: 0},
		{name: "404", req: func() *http.Request { return newReq(t, "GET", "/missing", nil, 0) },
			status: 404, body: "404 page not found\n"},
		{name: "8MiB upload known length", req: func() *http.Request {
			return newReq(t, "PUT", "/sha", bytes.NewReader(big), int64(len(big)))
		}, status: 200, body: sum(big)},
		{name: "8MiB upload unknown length", req: func() *http.Request {
			return newReq(t, "PUT", "/sha", bytes.NewReader(big), -1)
		}, status: 200, body: sum(big)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := e.do(tc.req(), e.choice(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if resp.Proto != "HTTP/2.0" || resp.ProtoMajor != 2 || resp.Status != fmt.Sprintf("%d %s", tc.status, http.StatusText(tc.status)) {
				t.Errorf("proto %q %d status %q", resp.Proto, resp.ProtoMajor, resp.Status)
			}
			if tc.wantLength != 0 && resp.ContentLength != tc.wantLength {
				t.Errorf("ContentLength %d, want %d", resp.ContentLength, tc.wantLength)
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	t.Run("8MiB download", func(t *testing.T) {
		resp, body, err := e.do(newReq(t, "GET", "/download", nil, 0), e.choice(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || sum(body) != sum(big) {
			t.Fatalf("status %d, %d bytes, sha256 differs: %v", resp.StatusCode, len(body), sum(body) != sum(big))
		}
	})
	if n := e.accepted.Load(); n != 1 {
		t.Errorf("%d connections for sequential requests, want 1", n)
	}
}

func TestH2ClientStreamingBody(t *testing.T) {
	e, _ := newH2ctEnv(t, http.HandlerFunc(h2ctHandler), 0)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req := newReq(t, "POST", "/stream", pr, -1)
	first, second := []byte("first chunk"), []byte("second chunk")
	go pw.Write(first)
	resp, err := e.client.roundTrip(req, e.choice(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Errorf("ContentLength %d, want -1", resp.ContentLength)
	}
	got := make([]byte, len(first))
	if _, err := io.ReadFull(resp.Body, got); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("first echo %q, %v", got, err)
	}
	// Only now does the second piece go out.
	go func() {
		pw.Write(second)
		pw.Close()
	}()
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(rest, second) {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func TestH2ClientTrailers(t *testing.T) {
	e, _ := newH2ctEnv(t, http.HandlerFunc(h2ctHandler), 0)
	for _, length := range []int64{4, -1} {
		t.Run(fmt.Sprint("length ", length), func(t *testing.T) {
			req := newReq(t, "POST", "/trailers", strings.NewReader("data"), length)
			req.Trailer = http.Header{"X-Req-Trailer": {"tv"}}
			resp, err := e.client.roundTrip(req, e.choice(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if _, ok := resp.Trailer["X-Resp-Trailer"]; !ok {
				t.Fatalf("declared trailer missing before the body: %v", resp.Trailer)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != "data" {
				t.Fatalf("body %q, %v", body, err)
			}
			if got := resp.Trailer.Get("X-Resp-Trailer"); got != "got tv" {
				t.Errorf("X-Resp-Trailer %q (request trailer lost?)", got)
			}
			if got := resp.Trailer.Get("X-Undeclared"); got != "late" {
				t.Errorf("X-Undeclared %q", got)
			}
		})
	}
}

func TestH2ClientConcurrency(t *testing.T) {
	const total, limit = 200, 10
	const hold = 2 * limit
	var mu sync.Mutex
	active := map[string]int{}
	maxActive := map[string]int{}
	started := 0
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		active[r.RemoteAddr]++
		maxActive[r.RemoteAddr] = max(maxActive[r.RemoteAddr], active[r.RemoteAddr])
		if started++; started == hold {
			close(release) // hold streams are open at once: more than one connection
		}
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		active[r.RemoteAddr]--
		mu.Unlock()
		io.WriteString(w, r.URL.Path)
	})
	e, _ := newH2ctEnv(t, h, limit)
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/r%d", i)
			_, body, err := e.do(newReq(t, "GET", path, nil, 0), e.choice(20*time.Second))
			if err == nil && string(body) != path {
				err = fmt.Errorf("body %q for %s", body, path)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(maxActive) < 2 {
		t.Errorf("%d connections used, want more than one", len(maxActive))
	}
	for c, n := range maxActive {
		if n > limit {
			t.Errorf("connection %s carried %d streams at once, limit %d", c, n, limit)
		}
	}
}

func TestH2ClientGoAwayBetweenRequests(t *testing.T) {
	e, srv := newH2ctEnv(t, http.HandlerFunc(h2ctHandler), 0)
	if _, _, err := e.do(newReq(t, "GET", "/hello", nil, 0), e.choice(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil { // GOAWAY, then close
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	startH2cUpstream(t, ln, http.HandlerFunc(h2ctHandler), 0, &e.accepted)
	_, body, err := e.do(newReq(t, "GET", "/hello", nil, 0), e.choice(10*time.Second))
	if err != nil || string(body) != "hello" {
		t.Fatalf("after GOAWAY: %q, %v", body, err)
	}
	if n := e.accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// blockingHandler blocks until the request's context ends, noting that
// it started and that it saw the cancellation.
type blockingHandler struct {
	started, cancelled chan struct{}
}

func (h blockingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	close(h.started)
	<-r.Context().Done()
	close(h.cancelled)
}

func TestH2ClientCancelAndTimeout(t *testing.T) {
	cases := []struct {
		name string
		run  func(e *h2ctEnv, h blockingHandler) (*choice, error)
		want error
	}{
		{name: "request context", want: context.Canceled, run: func(e *h2ctEnv, h blockingHandler) (*choice, error) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-h.started
				cancel()
			}()
			ch := e.choice(time.Minute)
			_, err := e.client.roundTrip(newReq(t, "GET", "/", nil, 0).WithContext(ctx), ch)
			return ch, err
		}},
		{name: "downstream stream", want: context.Canceled, run: func(e *h2ctEnv, h blockingHandler) (*choice, error) {
			ch := e.choice(time.Minute)
			ch.st = &h2Stream{}
			go func() {
				<-h.started
				ch.st.cancel()
			}()
			_, err := e.client.roundTrip(newReq(t, "GET", "/", nil, 0), ch)
			return ch, err
		}},
		{name: "route timeout", want: context.DeadlineExceeded, run: func(e *h2ctEnv, h blockingHandler) (*choice, error) {
			ch := e.choice(100 * time.Millisecond)
			_, err := e.client.roundTrip(newReq(t, "GET", "/", nil, 0), ch)
			return ch, err
		}},
		{name: "route timeout with streaming body", want: context.DeadlineExceeded, run: func(e *h2ctEnv, h blockingHandler) (*choice, error) {
			ch := e.choice(100 * time.Millisecond)
			pr, pw := io.Pipe()
			defer pw.Close()
			_, err := e.client.roundTrip(newReq(t, "POST", "/", pr, -1), ch)
			return ch, err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := blockingHandler{started: make(chan struct{}), cancelled: make(chan struct{})}
			e, _ := newH2ctEnv(t, h, 0)
			ch, err := tc.run(e, h)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			timedOut := ch.info.ResponseFlags&accesslog.UpstreamRequestTimeout != 0
			if timedOut != (tc.want == context.DeadlineExceeded) {
				t.Errorf("UT flag %v", timedOut)
			}
			select {
			case <-h.cancelled: // the reset reached the upstream
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream handler's context was not cancelled")
			}
		})
	}
}

func TestH2ClientBodyReadCancelled(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	e, _ := newH2ctEnv(t, h, 0)
	ch := e.choice(10 * time.Second)
	ch.st = &h2Stream{}
	resp, err := e.client.roundTrip(newReq(t, "GET", "/", nil, 0), ch)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	ch.st.cancel()
	if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	resp.Body.Close()
}

func TestH2ClientServerResetOneStream(t *testing.T) {
	inSlow := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/slow":
			close(inSlow)
			<-release
		}
		io.WriteString(w, "ok")
	})
	e, _ := newH2ctEnv(t, h, 0)
	slow := make(chan error, 1)
	go func() {
		_, body, err := e.do(newReq(t, "GET", "/slow", nil, 0), e.choice(10*time.Second))
		if err == nil && string(body) != "ok" {
			err = fmt.Errorf("body %q", body)
		}
		slow <- err
	}()
	<-inSlow
	_, _, err := e.do(newReq(t, "GET", "/abort", nil, 0), e.choice(10*time.Second))
	var se *h2cStreamError
	if !errors.As(err, &se) || !se.byPeer {
		t.Fatalf("aborted stream: %v, want a reset by the upstream", err)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("the other stream failed: %v", err)
	}
	if _, body, err := e.do(newReq(t, "GET", "/", nil, 0), e.choice(10*time.Second)); err != nil || string(body) != "ok" {
		t.Fatalf("after the reset: %q %v", body, err)
	}
	if n := e.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1: the reset must not end the connection", n)
	}
}

// rawH2Server is a scripted HTTP/2 "server" on a real listener: it reads
// the client's preface, sends SETTINGS, and calls respond for each
// request HEADERS (conn counts connections from 0).
type rawH2Server struct {
	ln      net.Listener
	respond func(conn int, id uint32, w *rawWriter)
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

// rawWriter writes frames (and raw bytes) to the client.
type rawWriter struct {
	c   net.Conn
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

// headers writes a header block of name, value pairs, split into
// CONTINUATION frames of at most 16 KiB.
func (w *rawWriter) headers(id uint32, end bool, kv ...string) {
	w.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	block := w.hb.Bytes()
	first := true
	for {
		n := min(len(block), 16384)
		last := n == len(block)
		if first {
			w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:n], EndStream: end, EndHeaders: last})
		} else {
			w.fr.WriteContinuation(id, last, block[:n])
		}
		first = false
		block = block[n:]
		if last {
			return
		}
	}
}

func startRawH2(t testing.TB, respond func(conn int, id uint32, w *rawWriter)) *rawH2Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawH2Server{ln: ln, respond: respond}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *rawH2Server) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rawH2Server) accept() {
	defer s.wg.Done()
	for i := 0; ; i++ {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(i, c)
	}
}

func (s *rawH2Server) serve(n int, c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	var preface [24]byte
	if _, err := io.ReadFull(c, preface[:]); err != nil {
		return
	}
	w := &rawWriter{c: c, fr: http2.NewFramer(c, c)}
	w.enc = hpack.NewEncoder(&w.hb)
	w.fr.AllowIllegalWrites = true
	w.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	for {
		f, err := w.fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				w.fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			s.respond(n, f.StreamID, w)
		}
	}
}

func (e *h2ctEnv) useRaw(t *testing.T, s *rawH2Server) {
	e.addr = s.ln.Addr().String()
	e.setup(t)
}

func TestH2ClientMalformedResponses(t *testing.T) {
	huge := make([]string, 0, 2*80)
	huge = append(huge, ":status", "200")
	for i := range 80 {
		huge = append(huge, fmt.Sprintf("x-big-%d", i), strings.Repeat("v", 1024))
	}
	cases := []struct {
		name    string
		respond func(conn int, id uint32, w *rawWriter)
		want    string // in the error; "" means success expected
	}{
		{name: "no status", want: "missing :status", respond: func(_ int, id uint32, w *rawWriter) {
			w.headers(id, true, "content-type", "text/plain")
		}},
		{name: "bad status", want: "invalid :status", respond: func(_ int, id uint32, w *rawWriter) {
			w.headers(id, true, ":status", "2x0")
		}},
		{name: "uppercase name", want: "invalid field name", respond: func(_ int, id uint32, w *rawWriter) {
			w.headers(id, true, ":status", "200", "X-Upper", "v")
		}},
		{name: "content-length longer than body", want: "content-length", respond: func(_ int, id uint32, w *rawWriter) {
			w.headers(id, false, ":status", "200", "content-length", "10")
			w.fr.WriteData(id, true, []byte("abc"))
		}},
		{name: "content-length shorter than body", want: "content-length", respond: func(_ int, id uint32, w *rawWriter) {
			w.headers(id, false, ":status", "200", "content-length", "2")
			w.fr.WriteData(id, true, []byte("abc"))
		}},
		{name: "DATA before head", want: "DATA before", respond: func(_ int, id uint32, w *rawWriter) {
			w.fr.WriteData(id, true, []byte("abc"))
		}},
		{name: "huge header list", want: "header list larger", respond: func(_ int, id uint32, w *rawWriter) {
			w.headers(id, true, huge...)
		}},
		{name: "garbage", want: "connection", respond: func(_ int, id uint32, w *rawWriter) {
			w.c.Write([]byte("\x00\x00\x04\x08\x00\x00\x00\x00\x00garbage garbage garbage"))
		}},
		{name: "closed without answer", want: "closed by upstream", respond: func(_ int, id uint32, w *rawWriter) {
			w.c.Close()
		}},
		{name: "refused then served", respond: func(conn int, id uint32, w *rawWriter) {
			if conn == 0 {
				w.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
				return
			}
			w.headers(id, false, ":status", "200")
			w.fr.WriteData(id, true, []byte("second try"))
		}},
		{name: "GOAWAY below the stream then served", respond: func(conn int, id uint32, w *rawWriter) {
			if conn == 0 {
				w.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
				return
			}
			w.headers(id, false, ":status", "200")
			w.fr.WriteData(id, true, []byte("second try"))
		}},
		{name: "1xx skipped", respond: func(conn int, id uint32, w *rawWriter) {
			w.headers(id, false, ":status", "103", "link", "</a>")
			w.headers(id, false, ":status", "200", "content-length", "10")
			w.fr.WriteData(id, true, []byte("second try"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startRawH2(t, tc.respond)
			e := &h2ctEnv{}
			e.useRaw(t, s)
			_, body, err := e.do(newReq(t, "GET", "/", nil, 0), e.choice(5*time.Second))
			if tc.want == "" {
				if err != nil || string(body) != "second try" {
					t.Fatalf("got %q, %v", body, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// waitGoroutines waits (5 s at most) for the goroutine count to fall
// back to base.
func waitGoroutines(tb testing.TB, base int) {
	tb.Helper()
	end := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(end) {
			buf := make([]byte, 1<<20)
			tb.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestH2ClientNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		srv := &http.Server{Handler: http.HandlerFunc(h2ctHandler), Protocols: &p}
		go srv.Serve(ln)
		defer srv.Close()
		cl, err := upstream.NewCluster(&config.Cluster{Name: "up", Hosts: []config.Host{{Address: ln.Addr().String()}}})
		if err != nil {
			t.Fatal(err)
		}
		c := newH2Client(&Proxy{log: log.New(io.Discard)})
		defer c.close()
		ch := func() *choice {
			return &choice{cl: cl, host: cl.Pick(&upstream.LBContext{}), info: &accesslog.Info{}, timeout: 10 * time.Second}
		}
		for _, path := range []string{"/hello", "/download"} {
			resp, err := c.roundTrip(newReq(t, "GET", path, nil, 0), ch())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // before the end: reset
		}
		resp, err := c.roundTrip(newReq(t, "POST", "/stream", strings.NewReader("x"), -1), ch())
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}()
	waitGoroutines(t, base)
}

// FuzzH2ClientResponse feeds arbitrary bytes as the upstream's side of a
// connection, after a valid SETTINGS exchange and the client's request:
// the client must not panic, roundTrip must return, and no goroutine may
// stay behind.
func FuzzH2ClientResponse(f *testing.F) {
	seed := func(build func(w *rawWriter)) []byte {
		var buf bytes.Buffer
		w := &rawWriter{fr: http2.NewFramer(&buf, nil)}
		w.enc = hpack.NewEncoder(&w.hb)
		w.fr.AllowIllegalWrites = true
		build(w)
		return buf.Bytes()
	}
	f.Add(seed(func(w *rawWriter) {
		w.headers(1, false, ":status", "200", "content-length", "2")
		w.fr.WriteData(1, true, []byte("ok"))
	}))
	f.Add(seed(func(w *rawWriter) {
		w.headers(1, false, ":status", "200", "trailer", "grpc-status")
		w.fr.WriteData(1, false, []byte("msg"))
		w.headers(1, true, "grpc-status", "0")
	}))
	f.Add(seed(func(w *rawWriter) { w.fr.WriteRSTStream(1, http2.ErrCodeRefusedStream) }))
	f.Add(seed(func(w *rawWriter) { w.fr.WriteGoAway(0, http2.ErrCodeNo, nil) }))
	f.Add(seed(func(w *rawWriter) {
		w.fr.WritePing(false, [8]byte{1})
		w.fr.WriteWindowUpdate(0, 1<<30)
		w.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
		w.headers(1, true, ":status", "204")
	}))
	f.Add([]byte("\x00\x00\x00\x09\x04\x00\x00\x00\x01"))
	f.Add([]byte{})

	var input atomic.Pointer[[]byte]
	s := startRawH2(f, func(_ int, id uint32, w *rawWriter) {
		w.c.Write(*input.Load())
		w.c.(*net.TCPConn).CloseWrite()
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		base := runtime.NumGoroutine()
		input.Store(&data)
		e := &h2ctEnv{addr: s.ln.Addr().String()}
		cl, err := upstream.NewCluster(&config.Cluster{Name: "up", Hosts: []config.Host{{Address: e.addr}}})
		if err != nil {
			t.Fatal(err)
		}
		e.cl = cl
		e.client = newH2Client(&Proxy{log: log.New(io.Discard)})
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := e.client.roundTrip(newReq(t, "GET", "/", nil, 0), e.choice(300*time.Millisecond))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("roundTrip hangs:\n%s", buf[:runtime.Stack(buf, true)])
		}
		e.client.close()
		// The server's goroutine for the connection ends once the
		// client closed it, like the client's own.
		waitGoroutines(t, base)
	})
}

func benchEnv(b *testing.B) *h2ctEnv {
	e, _ := newH2ctEnv(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	}), 0)
	return e
}

func BenchmarkH2ClientGET(b *testing.B) {
	e := benchEnv(b)
	req := newReq(b, "GET", "/hello", nil, 0)
	ch := e.choice(10 * time.Second)
	buf := make([]byte, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := e.client.roundTrip(req, ch)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

func BenchmarkNetHTTPH2cGET(b *testing.B) {
	e := benchEnv(b)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	b.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequest("GET", "http://"+e.addr+"/hello", nil)
	buf := make([]byte, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}
