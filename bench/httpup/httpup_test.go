package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/bench/internal/benchutil"
)

func TestParseHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		err     error
		method  string
		path    string
		len     int // 0: the whole input
		bodyLen int64
		chunked bool
		close   bool
	}{
		{name: "wrk GET", in: "GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", method: "GET", path: "/small"},
		{name: "no headers", in: "GET / HTTP/1.1\r\n\r\n", method: "GET", path: "/"},
		{name: "query cut", in: "HEAD /4k?a=b HTTP/1.1\r\n\r\n", method: "HEAD", path: "/4k"},
		{name: "absolute form", in: "GET http://h:1/small?x HTTP/1.1\r\n\r\n", method: "GET", path: "/small"},
		{name: "absolute form without path", in: "GET http://h HTTP/1.1\r\n\r\n", method: "GET", path: "/"},
		{name: "asterisk", in: "OPTIONS * HTTP/1.1\r\n\r\n", method: "OPTIONS", path: "*"},
		{name: "followed by the next request", in: "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", method: "GET", path: "/a", len: 19},
		{name: "leading empty lines", in: "\r\n\r\nGET /a HTTP/1.1\r\n\r\n", method: "GET", path: "/a"},
		{name: "content length", in: "POST /p HTTP/1.1\r\ncontent-length:  5 \r\n\r\nhello", method: "POST", path: "/p", len: 41, bodyLen: 5},
		{name: "same content length twice", in: "POST /p HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", method: "POST", path: "/p", bodyLen: 5},
		{name: "transfer encoding", in: "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", method: "POST", path: "/p", chunked: true},
		{name: "connection close", in: "GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", method: "GET", path: "/", close: true},
		{name: "HTTP/1.0 closes", in: "GET / HTTP/1.0\r\n\r\n", method: "GET", path: "/", close: true},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", method: "GET", path: "/"},
		{name: "empty value", in: "GET / HTTP/1.1\r\nX-A:\r\n\r\n", method: "GET", path: "/"},

		{name: "empty", in: "", err: errIncomplete},
		{name: "a CR", in: "\r", err: errIncomplete},
		{name: "request line only", in: "GET / HTTP/1.1\r\n", err: errIncomplete},
		{name: "half the end", in: "GET / HTTP/1.1\r\nHost: a\r\n\r", err: errIncomplete},
		{name: "too large", in: "GET /" + strings.Repeat("a", maxHead) + " HTTP/1.1\r\n\r\n", err: errHeadTooLarge},
		{name: "too large and incomplete", in: "GET /" + strings.Repeat("a", maxHead), err: errHeadTooLarge},
		{name: "too many empty lines", in: strings.Repeat("\r\n", maxHead), err: errHeadTooLarge},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: a\n\n", err: errBadRequest},
		{name: "HTTP/2", in: "GET / HTTP/2.0\r\n\r\n", err: errBadRequest},
		{name: "lower-case version", in: "GET / http/1.1\r\n\r\n", err: errBadRequest},
		{name: "two fields", in: "GET /\r\n\r\n", err: errBadRequest},
		{name: "double space", in: "GET  / HTTP/1.1\r\n\r\n", err: errBadRequest},
		{name: "relative target", in: "GET small HTTP/1.1\r\n\r\n", err: errBadRequest},
		{name: "control in target", in: "GET /a\x01 HTTP/1.1\r\n\r\n", err: errBadRequest},
		{name: "bad method", in: "G(T / HTTP/1.1\r\n\r\n", err: errBadRequest},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", err: errBadRequest},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost\r\n\r\n", err: errBadRequest},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", err: errBadRequest},
		{name: "control in value", in: "GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n", err: errBadRequest},
		{name: "bad content length", in: "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", err: errBadRequest},
		{name: "huge content length", in: "POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", err: errBadRequest},
		{name: "two content lengths", in: "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", err: errBadRequest},
		{name: "length and chunked", in: "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", err: errBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseHead([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			wantLen := tt.len
			if wantLen == 0 {
				wantLen = len(tt.in)
			}
			if string(h.Method) != tt.method || string(h.Path) != tt.path || h.Len != wantLen ||
				h.BodyLen != tt.bodyLen || h.Chunked != tt.chunked || h.Close != tt.close {
				t.Errorf("got method %q path %q len %d body %d chunked %v close %v, want %q %q %d %d %v %v",
					h.Method, h.Path, h.Len, h.BodyLen, h.Chunked, h.Close,
					tt.method, tt.path, wantLen, tt.bodyLen, tt.chunked, tt.close)
			}
		})
	}
}

func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET /small HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://h/4k?q HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
		"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\nA: b\n\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHead(b)
		if err != nil {
			if err != errIncomplete && err != errHeadTooLarge && err != errBadRequest {
				t.Fatalf("unexpected error %v", err)
			}
			if err == errIncomplete && len(b) > maxHead {
				t.Fatalf("incomplete with %d bytes, over maxHead", len(b))
			}
			return
		}
		if h.Len < 4 || h.Len > len(b) || h.Len > maxHead || !bytes.HasSuffix(b[:h.Len], []byte("\r\n\r\n")) {
			t.Fatalf("head length %d of %d bytes", h.Len, len(b))
		}
		if !isToken(h.Method) || len(h.Path) == 0 || (h.Path[0] != '/' && string(h.Path) != "*") {
			t.Fatalf("method %q path %q", h.Method, h.Path)
		}
		if h.BodyLen < 0 || (h.Chunked && h.BodyLen != 0) {
			t.Fatalf("body length %d, chunked %v", h.BodyLen, h.Chunked)
		}
		// A complete head parses the same with more bytes after it.
		h2, err := parseHead(append(b[:h.Len:h.Len], "GET"...))
		if err != nil || h2.Len != h.Len || string(h2.Path) != string(h.Path) {
			t.Fatalf("with bytes after it: %+v, %v; alone %+v", h2, err, h)
		}
	})
}

// startServer starts the server kind impl on a loopback port and returns its
// address; it stops with the test.
func startServer(t *testing.T, impl string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	switch impl {
	case "epoll":
		stop := make(chan struct{})
		go func() { done <- (&rawServer{}).serveEpoll(ln.(*net.TCPListener), stop) }()
		t.Cleanup(func() {
			close(stop)
			if err := <-done; err != nil {
				t.Errorf("serveEpoll: %v", err)
			}
			ln.Close()
		})
	case "goroutines":
		go func() { done <- (&rawServer{}).serveGoroutines(ln) }()
		t.Cleanup(func() { ln.Close(); <-done })
	case "std", "h2c":
		go func() { done <- serveStd(ln, impl == "h2c") }()
		t.Cleanup(func() { ln.Close(); <-done })
	default:
		t.Fatalf("unknown impl %q", impl)
	}
	return ln.Addr().String()
}

func impls() []string {
	if runtime.GOOS == "linux" {
		return []string{"epoll", "goroutines", "std"}
	}
	return []string{"goroutines", "std"}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

func readResponse(t *testing.T, r *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading a body: %v", err)
	}
	resp.Body.Close()
	return resp, body
}

func TestServe(t *testing.T) {
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			addr := startServer(t, impl)
			if err := check(addr, "", false); err != nil {
				t.Fatalf("check: %v", err)
			}
			c := dial(t, addr)
			r := bufio.NewReader(c)
			// Pipelined: a GET, a POST with a body to skip (answered like
			// a GET), a HEAD, a miss and a GET with a query, in one write.
			reqs := "GET /4k HTTP/1.1\r\nHost: a\r\n\r\n" +
				"POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
				"HEAD /small HTTP/1.1\r\nHost: a\r\n\r\n" +
				"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n" +
				"GET /small?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
			if _, err := io.WriteString(c, reqs); err != nil {
				t.Fatal(err)
			}
			want := []struct {
				method string
				code   int
				body   []byte
			}{
				{"GET", 200, largeBody},
				{"POST", 200, smallBody},
				{"HEAD", 200, nil},
				{"GET", 404, nil},
				{"GET", 200, smallBody},
			}
			for i, w := range want {
				resp, body := readResponse(t, r, w.method)
				if resp.StatusCode != w.code || (w.body != nil && !bytes.Equal(body, w.body)) {
					t.Errorf("response %d: %s, %d bytes; want %d", i, resp.Status, len(body), w.code)
				}
				if w.method == "HEAD" && resp.ContentLength != int64(len(smallBody)) {
					t.Errorf("HEAD: Content-Length %d, want %d", resp.ContentLength, len(smallBody))
				}
			}
			// The request body split over two writes.
			if _, err := io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nab"); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, "cdefGET /small HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if resp, _ := readResponse(t, r, "POST"); resp.StatusCode != 404 {
				t.Errorf("POST /x: %s, want 404", resp.Status)
			}
			resp, body := readResponse(t, r, "GET")
			if resp.StatusCode != 200 || !bytes.Equal(body, smallBody) || !resp.Close {
				t.Errorf("last request: %s, body %q, close %v; want 200, %q, close", resp.Status, body, resp.Close, smallBody)
			}
			if n, err := r.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after Connection: close: read %d bytes, %v; want EOF", n, err)
			}

			st := statsOf(t, addr)
			// check: 3 requests; then 5 + 2 here.
			if st["requests"] != 10 || st["conns"] < 2 {
				t.Errorf("stats %v, want requests=10 and conns >= 2", st)
			}
		})
	}
}

// TestServeH2C checks the h2c server: the answers over HTTP/2 with prior
// knowledge, and the counters, which it shares with HTTP/1.1 on its port.
func TestServeH2C(t *testing.T) {
	addr := startServer(t, "h2c")
	if err := check(addr, "", true); err != nil {
		t.Fatalf("check -h2c: %v", err)
	}
	c := newClient(true)
	t.Cleanup(c.CloseIdleConnections)
	tests := []struct {
		method, path string
		code         int
		body         []byte
	}{
		{"GET", "/4k", 200, largeBody},
		{"GET", "/small?x=1", 200, smallBody},
		{"HEAD", "/small", 200, nil},
		{"GET", "/nope", 404, notFoundBody},
		{"POST", "/small", 200, smallBody},
		{"PUT", "/small", 405, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://"+addr+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != 2 || resp.StatusCode != tt.code || (tt.body != nil && !bytes.Equal(body, tt.body)) {
				t.Errorf("%s %d, %d bytes; want HTTP/2 %d, %d bytes", resp.Proto, resp.StatusCode, len(body), tt.code, len(tt.body))
			}
			if tt.method == "HEAD" && (resp.ContentLength != int64(len(smallBody)) || len(body) != 0) {
				t.Errorf("HEAD: Content-Length %d and %d body bytes; want %d and none", resp.ContentLength, len(body), len(smallBody))
			}
		})
	}
	// check: 3 requests over one connection; then 6 over another.
	if st := statsOf(t, addr); st["requests"] != 9 || st["conns"] < 2 {
		t.Errorf("stats %v, want requests=9 and conns >= 2", st)
	}
}

func statsOf(t *testing.T, addr string) map[string]int {
	t.Helper()
	var out, errb bytes.Buffer
	if rc := run([]string{"stats", "-addr", addr}, &out, &errb); rc != 0 {
		t.Fatalf("stats: exit %d: %s", rc, errb.String())
	}
	m := map[string]int{}
	for _, kv := range strings.Fields(out.String()) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("stats line %q", out.String())
		}
		m[k] = n
	}
	return m
}

// TestServeErrors covers the answers that close the connection; net/http
// has its own, so only the built-in servers are tested.
func TestServeErrors(t *testing.T) {
	tests := []struct {
		name string
		req  string
		code int
	}{
		{"chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
		{"malformed", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHead) + "\r\n\r\n", 431},
		{"HTTP/1.0", "GET /small HTTP/1.0\r\n\r\n", 200},
	}
	for _, impl := range impls() {
		if impl == "std" {
			continue
		}
		addr := startServer(t, impl)
		for _, tt := range tests {
			t.Run(impl+"/"+tt.name, func(t *testing.T) {
				c := dial(t, addr)
				if _, err := io.WriteString(c, tt.req); err != nil {
					t.Fatal(err)
				}
				r := bufio.NewReader(c)
				resp, _ := readResponse(t, r, "GET")
				if resp.StatusCode != tt.code || !resp.Close {
					t.Errorf("%s, close %v; want %d and close", resp.Status, resp.Close, tt.code)
				}
				if _, err := r.ReadByte(); err != io.EOF {
					t.Errorf("connection still open (%v)", err)
				}
			})
		}
	}
}

// TestServeBackpressure pipelines more answers than the socket buffers
// hold and reads none until all requests are sent, so that the server's
// writes block (epoll: it waits for EPOLLOUT) and resume.
func TestServeBackpressure(t *testing.T) {
	const n = 3000 // 12 MiB of answers, 90 KB of requests
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			addr := startServer(t, impl)
			c := dial(t, addr)
			// A small receive buffer (no autotuning): the answers cannot all
			// fit in the kernel's buffers, while the requests can.
			if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
				t.Fatal(err)
			}
			req := []byte("GET /4k HTTP/1.1\r\nHost: a\r\n\r\n")
			for i := range n {
				if _, err := c.Write(req); err != nil {
					t.Fatalf("writing request %d: %v", i, err)
				}
			}
			r := bufio.NewReader(c)
			for i := range n {
				resp, body := readResponse(t, r, "GET")
				if resp.StatusCode != 200 || !bytes.Equal(body, largeBody) {
					t.Fatalf("response %d: %s, %d bytes", i, resp.Status, len(body))
				}
			}
		})
	}
}

func TestRun(t *testing.T) {
	addr := startServer(t, impls()[0])
	h2addr := startServer(t, "h2c")
	tests := []struct {
		name string
		args []string
		rc   int
		out  string
	}{
		{"no command", nil, 2, ""},
		{"unknown command", []string{"nope"}, 2, ""},
		{"help", []string{"help"}, 0, "usage:"},
		{"serve without addr", []string{"serve"}, 2, ""},
		{"serve bad impl", []string{"serve", "-addr", "127.0.0.1:0", "-impl", "x"}, 2, ""},
		{"check", []string{"check", "-addr", addr, "-host", "example.com"}, 0, ""},
		{"check h2c", []string{"check", "-addr", h2addr, "-h2c"}, 0, ""},
		{"check h2c against HTTP/1.1 only", []string{"check", "-addr", addr, "-h2c"}, 1, ""},
		{"check HTTP/1.1 against h2c", []string{"check", "-addr", h2addr}, 0, ""},
		{"wait", []string{"wait", "-addr", addr}, 0, ""},
		{"freeport", []string{"freeport", "-n", "3"}, 0, " "},
		{"freeport zero", []string{"freeport", "-n", "0"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			rc := run(tt.args, &out, &errb)
			if rc != tt.rc || !strings.Contains(out.String(), tt.out) {
				t.Errorf("exit %d, output %q (stderr %q); want exit %d and %q", rc, out.String(), errb.String(), tt.rc, tt.out)
			}
		})
	}
}

func TestCheckFailsOnWrongBody(t *testing.T) {
	// A server that answers every request with the small body: check must
	// notice that /4k is wrong.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(smallBody)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	if err := check(ln.Addr().String(), "", false); err == nil || !strings.Contains(err.Error(), "/4k") {
		t.Fatalf("check: %v, want an error about /4k", err)
	}
}

func TestWaitTimesOut(t *testing.T) {
	ports, err := benchutil.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := benchutil.WaitReady("127.0.0.1:"+strconv.Itoa(ports[0]), 100*time.Millisecond); err == nil {
		t.Fatal("WaitReady on a closed port succeeded")
	}
}

func BenchmarkConsume(b *testing.B) {
	s := &rawServer{}
	req := []byte("GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
	out := make([]byte, 0, 4096)
	var skip int64
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		var used int
		out, used, _ = s.consume(req, &skip, out[:0])
		if used != len(req) {
			b.Fatalf("used %d of %d bytes", used, len(req))
		}
	}
}
