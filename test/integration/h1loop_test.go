package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The HTTP/1 event loop (proxy/h1loop_linux.go) serves keep-alive
// requests itself and hands a connection to a goroutine at any point it
// cannot go on without waiting. These tests drive those hand-overs and
// check that nothing is lost, reordered or stalled across them.

// numberedHandler answers /n/<i> with a body of <size> bytes that starts
// with "<i>:" (size from ?size=, default 4096), and /close/<i> the same
// way but closing the upstream connection after the answer.
func numberedHandler(w http.ResponseWriter, r *http.Request) {
	i := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	size := 4096
	if v := r.URL.Query().Get("size"); v != "" {
		size, _ = strconv.Atoi(v)
	}
	if strings.HasPrefix(r.URL.Path, "/close/") {
		w.Header().Set("Connection", "close")
	}
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s:%d:%s", i, len(b), b)
		return
	}
	body := []byte(i + ":")
	body = append(body, bytes.Repeat([]byte("x"), max(0, size-len(body)))...)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// readNumbered reads one answer of numberedHandler and checks it.
func readNumbered(t *testing.T, br *bufio.Reader, i, size int) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("answer %d: %v", i, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("answer %d body: %v", i, err)
	}
	prefix := strconv.Itoa(i) + ":"
	if resp.StatusCode != 200 || len(b) != max(size, len(prefix)) || !bytes.HasPrefix(b, []byte(prefix)) {
		t.Fatalf("answer %d: status %d, %d bytes starting %q", i, resp.StatusCode, len(b), b[:min(len(b), 16)])
	}
}

// A client that pipelines many requests without reading fills its
// socket: the loop cannot write the answers, hands the connection to a
// goroutine, and meanwhile serves other connections.
func TestH1LoopUnreadPipelineDoesNotStall(t *testing.T) {
	base, _, pp := startHTTP(t, http.HandlerFunc(numberedHandler))
	defer func() {
		if t.Failed() {
			// The proxy's goroutines, in its output.
			pp.signal(syscall.SIGQUIT)
			time.Sleep(time.Second)
		}
	}()
	addr := strings.TrimPrefix(base, "http://")
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// 24 MB of answers: more than the sockets' buffers hold (the proxy's
	// side grows to 4 MiB here).
	const n, size = 2000, 12000
	var req bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&req, "GET /n/%d?size=%d HTTP/1.1\r\nHost: x\r\n\r\n", i, size)
	}
	// One request first, so that an upstream connection is idle for the
	// loop to use (it does not dial itself).
	sbr := bufio.NewReaderSize(slow, 64<<10)
	slow.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(slow, "GET /n/0?size=10 HTTP/1.1\r\nHost: x\r\n\r\n")
	readNumbered(t, sbr, 0, 10)
	time.Sleep(50 * time.Millisecond)

	wrote := make(chan error, 1)
	go func() {
		slow.SetWriteDeadline(time.Now().Add(60 * time.Second))
		_, err := slow.Write(req.Bytes())
		wrote <- err
	}()
	time.Sleep(500 * time.Millisecond)

	// Another client is served while the first one reads nothing.
	fast, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	fast.SetDeadline(time.Now().Add(5 * time.Second))
	fbr := bufio.NewReader(fast)
	for i := 0; i < 50; i++ {
		fmt.Fprintf(fast, "GET /n/%d?size=100 HTTP/1.1\r\nHost: x\r\n\r\n", i)
		readNumbered(t, fbr, i, 100)
	}

	// Every answer arrives, in order (after a while: the proxy has sent
	// all its socket takes by then).
	time.Sleep(time.Second)
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < n; i++ {
		readNumbered(t, sbr, i, size)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// One keep-alive connection alternates requests the loop serves with
// ones it hands to a goroutine (bodies to read, answers larger than its
// buffer, streamed answers, local answers), and returns to the loop.
func TestH1LoopMixedRequests(t *testing.T) {
	base, _, _ := startHTTP(t, http.HandlerFunc(numberedHandler))
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(c, 64<<10)
	for round := 0; round < 20; round++ {
		i := round * 10
		// Served by the loop.
		fmt.Fprintf(c, "GET /n/%d?size=10 HTTP/1.1\r\nHost: x\r\n\r\n", i)
		readNumbered(t, br, i, 10)
		// A body all in the first read: the loop forwards it.
		fmt.Fprintf(c, "POST /n/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", i+1)
		if resp, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(resp.Body); string(b) != fmt.Sprintf("%d:5:hello", i+1) {
			t.Fatalf("post: %q", b)
		}
		// A body that arrives later: a goroutine reads it.
		fmt.Fprintf(c, "POST /n/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello", i+2)
		time.Sleep(5 * time.Millisecond)
		fmt.Fprintf(c, " world")
		if resp, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(resp.Body); string(b) != fmt.Sprintf("%d:11:hello world", i+2) {
			t.Fatalf("late body: %q", b)
		}
		// A chunked body.
		fmt.Fprintf(c, "POST /n/%d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", i+3)
		if resp, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(resp.Body); string(b) != fmt.Sprintf("%d:3:abc", i+3) {
			t.Fatalf("chunked body: %q", b)
		}
		// An answer larger than the loop's buffer: streamed by a goroutine.
		fmt.Fprintf(c, "GET /n/%d?size=300000 HTTP/1.1\r\nHost: x\r\n\r\n", i+4)
		readNumbered(t, br, i+4, 300000)
		// A HEAD, and a local answer (no route to a cluster).
		fmt.Fprintf(c, "HEAD /n/%d HTTP/1.1\r\nHost: x\r\n\r\nGET /direct HTTP/1.1\r\nHost: x\r\n\r\n", i+5)
		if resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"}); err != nil || resp.StatusCode != 200 {
			t.Fatalf("head: %v", err)
		}
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 403 {
			t.Fatalf("direct: %v", err)
		} else if b, _ := io.ReadAll(resp.Body); string(b) != "denied here" {
			t.Fatalf("direct body %q", b)
		}
	}
}

// The upstream closes its connections (after answering, and while they
// are idle in the loop): requests go on, on new connections.
func TestH1LoopUpstreamCloses(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(numberedHandler))
	up.Config.IdleTimeout = 50 * time.Millisecond
	up.Start()
	t.Cleanup(up.Close)
	base, _, _ := startHTTPTo(t, up)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for i := 0; i < 30; i++ {
		path := "/n/"
		if i%3 == 0 {
			path = "/close/"
		}
		fmt.Fprintf(c, "GET %s%d?size=64 HTTP/1.1\r\nHost: x\r\n\r\n", path, i)
		readNumbered(t, br, i, 64)
		if i%5 == 4 {
			// Longer than the upstream's idle timeout: it closes the
			// connections the loop holds idle.
			time.Sleep(120 * time.Millisecond)
		}
	}
}

// Many connections at once, each with many requests: the loop's
// connections and its upstream connections stay consistent.
func TestH1LoopConcurrentClients(t *testing.T) {
	base, _, p := startHTTP(t, http.HandlerFunc(numberedHandler))
	addr := strings.TrimPrefix(base, "http://")
	concurrently(t, 32, func(g int) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		for i := 0; i < 200; i++ {
			size := 16 + (g*200+i)%5000
			fmt.Fprintf(c, "GET /n/%d?size=%d HTTP/1.1\r\nHost: x\r\n\r\n", i, size)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return fmt.Errorf("client %d request %d: %v", g, i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if len(b) != size || !bytes.HasPrefix(b, []byte(strconv.Itoa(i)+":")) {
				return fmt.Errorf("client %d request %d: %d bytes %q", g, i, len(b), b[:min(len(b), 12)])
			}
		}
		return nil
	})
	if runtime.GOOS != "linux" {
		return
	}
	// The loop served nearly all of these keep-alive requests itself:
	// the hand-overs are the first requests (no idle upstream connection
	// yet) and the answers larger than its buffer.
	_, stats := httpGet(t, "http://"+p.ready[0]+"/api/v1/stats?key=downstream.http")
	served, handoffs := statValue(t, stats, "http1_loop_request_total"), statValue(t, stats, "http1_loop_handoff_total")
	t.Logf("loop served %d requests with %d hand-overs", served, handoffs)
	if served < 32*200/2 || handoffs > served/4 {
		t.Errorf("loop served %d requests with %d hand-overs; stats: %s", served, handoffs, stats)
	}
}

// statValue reads one counter from an /api/v1/stats answer.
func statValue(t *testing.T, stats, key string) int {
	t.Helper()
	i := strings.Index(stats, `"`+key+`": `)
	if i < 0 {
		t.Fatalf("no %s in %s", key, stats)
	}
	rest := stats[i+len(key)+4:]
	n, err := strconv.Atoi(rest[:strings.IndexAny(rest, ",}\n ")])
	if err != nil {
		t.Fatalf("%s in %s: %v", key, stats, err)
	}
	return n
}

// The upstream dies in the middle of an answer's body: the client's
// connection is closed (the answer cannot be completed), and other
// requests go on.
func TestH1LoopUpstreamDiesMidBody(t *testing.T) {
	base, _, _ := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cut" {
			numberedHandler(w, r)
			return
		}
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
		bw.Flush()
		conn.Close()
	}))
	addr := strings.TrimPrefix(base, "http://")
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "GET /n/%d?size=10 HTTP/1.1\r\nHost: x\r\n\r\n", i)
		readNumbered(t, br, i, 10)
		fmt.Fprintf(c, "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n")
		// The proxy closes the connection: reading ends with an error
		// that is not the deadline.
		var rerr error
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			var b []byte
			if b, rerr = io.ReadAll(resp.Body); rerr == nil {
				t.Fatalf("a cut answer read whole: %d bytes", len(b))
			}
		} else {
			rerr = err
		}
		if ne, ok := rerr.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the proxy kept the connection of a cut answer open: %v", rerr)
		}
		c.Close()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /n/7?size=10 HTTP/1.1\r\nHost: x\r\n\r\n")
	readNumbered(t, bufio.NewReader(c), 7, 10)
}

// Clients that go away at every point of an exchange (before the answer,
// after its head, in the middle of a pipeline) do not disturb the others.
func TestH1LoopClientsGoAway(t *testing.T) {
	base, _, _ := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/wait/") {
			time.Sleep(50 * time.Millisecond)
		}
		numberedHandler(w, r)
	}))
	addr := strings.TrimPrefix(base, "http://")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				switch (g + i) % 4 {
				case 0: // gone before the answer
					fmt.Fprintf(c, "GET /wait/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
				case 1: // gone after the head of a large answer
					fmt.Fprintf(c, "GET /n/%d?size=200000 HTTP/1.1\r\nHost: x\r\n\r\n", i)
					br.ReadString('\n')
				case 2: // gone in the middle of a pipeline
					fmt.Fprintf(c, "GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\nGET /wait/%d HTTP/1.1\r\nHost: x\r\n\r\n", i, i)
					if _, err := http.ReadResponse(br, nil); err != nil {
						errs <- fmt.Errorf("client %d: %v", g, err)
					}
				default: // stays to the end
					fmt.Fprintf(c, "GET /n/%d?size=100 HTTP/1.1\r\nHost: x\r\n\r\n", i)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- fmt.Errorf("client %d request %d: %v", g, i, err)
					} else if b, _ := io.ReadAll(resp.Body); len(b) != 100 {
						errs <- fmt.Errorf("client %d request %d: %d bytes", g, i, len(b))
					}
				}
				c.Close()
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Afterwards a keep-alive client is served as usual.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(c, "GET /n/%d?size=10 HTTP/1.1\r\nHost: x\r\n\r\n", i)
		readNumbered(t, br, i, 10)
	}
}

// Answers without a body keep their framing through the proxy: an empty
// answer's Content-Length: 0 (without it a client reads until the
// connection closes), and HEAD's Content-Length of the entity.
func TestHTTPEmptyAnswersKeepTheirLength(t *testing.T) {
	base, _, _ := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/empty":
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusCreated)
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Length", "4096")
			if r.Method != http.MethodHead {
				w.Write(bytes.Repeat([]byte("y"), 4096))
			}
		}
	}))
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	cases := []struct {
		method, path string
		status       int
		length       string // the Content-Length field, "" for none
	}{
		{"POST", "/empty", 201, "0"},
		{"GET", "/empty", 201, "0"},
		{"HEAD", "/entity", 200, "4096"},
		{"GET", "/nocontent", 204, ""},
		{"GET", "/entity", 200, "4096"},
	}
	for i, tc := range cases {
		body := ""
		if tc.method == "POST" {
			body = "Content-Length: 5\r\n\r\nhello"
		} else {
			body = "\r\n"
		}
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n%s", tc.method, tc.path, body)
		// Read the head by hand: a missing length must show, not be
		// papered over by a client's defaults.
		var head []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("case %d (%s %s): %v after %q", i, tc.method, tc.path, err, head)
			}
			if line == "\r\n" {
				break
			}
			head = append(head, strings.TrimRight(line, "\r\n"))
		}
		if want := fmt.Sprintf("HTTP/1.1 %d ", tc.status); !strings.HasPrefix(head[0], want) {
			t.Fatalf("case %d: status line %q", i, head[0])
		}
		length := ""
		for _, f := range head[1:] {
			if name, v, ok := strings.Cut(f, ":"); ok && strings.EqualFold(name, "content-length") {
				length = strings.TrimSpace(v)
			}
			if strings.HasPrefix(strings.ToLower(f), "transfer-encoding") {
				t.Fatalf("case %d: %q", i, f)
			}
		}
		if length != tc.length {
			t.Fatalf("case %d (%s %s): Content-Length %q, want %q (head %q)", i, tc.method, tc.path, length, tc.length, head)
		}
		if tc.method == "GET" && tc.length != "" {
			n, _ := strconv.Atoi(tc.length)
			if _, err := io.ReadFull(br, make([]byte, n)); err != nil {
				t.Fatalf("case %d body: %v", i, err)
			}
		}
	}
}
