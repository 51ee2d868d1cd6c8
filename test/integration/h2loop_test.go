package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"mosn.dev/proxy/internal/testutil"
)

// The event loop also serves HTTP/2 connections whose upstream speaks
// HTTP/1.1 (proxy/h2loop_linux.go): it reads their frames, sends simple
// requests itself and finishes those whose answers arrive whole, and
// hands a stream to a goroutine at any point it would have to wait.
// These tests drive those hand-overs over real h2c connections.

// h2LoopStats reads the loop's counters of the h2h1 listener.
func h2LoopStats(t *testing.T, e *h2Env) (served, handoffs int) {
	t.Helper()
	_, stats := httpGet(t, "http://"+e.p.ready[0]+"/api/v1/stats?key=downstream.h2h1")
	return statValue(t, stats, "http2_loop_request_total"), statValue(t, stats, "http2_loop_handoff_total")
}

// Many h2c connections at once, each with many requests of many sizes
// (some larger than the loop's buffer, which a goroutine streams): every
// answer is whole and right, and the loop served most of them itself.
func TestH2LoopConcurrentClients(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(numberedHandler), nil)
	concurrently(t, 16, func(g int) error {
		// A client of its own: one connection per goroutine.
		c := h2cClient()
		defer c.CloseIdleConnections()
		for i := 0; i < 150; i++ {
			size := 16 + (g*150+i)*37%24000
			resp, err := c.Get(fmt.Sprintf("http://%s/n/%d?size=%d", e.h1, i, size))
			if err != nil {
				return fmt.Errorf("client %d request %d: %v", g, i, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(b) != size || !bytes.HasPrefix(b, []byte(strconv.Itoa(i)+":")) {
				return fmt.Errorf("client %d request %d: %d, %d bytes %q, %v", g, i, resp.StatusCode, len(b), b[:min(len(b), 12)], err)
			}
		}
		return nil
	})
	if runtime.GOOS != "linux" {
		return
	}
	served, handoffs := h2LoopStats(t, e)
	t.Logf("loop served %d streams with %d hand-overs", served, handoffs)
	// About a third of the answers are larger than the loop's 16 KiB
	// buffer (or than a stream's first window), and the first request
	// of each connection dials.
	if served < 16*150/3 {
		t.Errorf("loop served %d of %d streams (%d hand-overs)", served, 16*150, handoffs)
	}
}

// A client with a tiny stream window: the loop cannot write the answer
// without waiting for credit, so a goroutine does, as the client grants
// it; the connection then goes on in the loop.
func TestH2LoopSmallWindowHandsOver(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(numberedHandler), nil)
	r := dialRaw(t, e.h1, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
	for i := 1; i <= 3; i++ {
		id, _ := r.open(true, request("GET", fmt.Sprintf("/n/%d?size=3000", i)))
		// Credit for each DATA frame as it comes, and no more.
		var status string
		var body []byte
		for {
			f := r.onStream(id)
			switch f.Type {
			case http2.FrameHeaders:
				status = f.header(":status")
			case http2.FrameData:
				body = append(body, f.Data...)
				if n := uint32(len(f.Data)); n > 0 && !f.endStream() {
					r.grant(id, n)
					r.grant(0, n)
				}
			case http2.FrameRSTStream:
				t.Fatalf("stream %d reset: %v", id, f)
			}
			if f.endStream() {
				break
			}
		}
		if status != "200" || len(body) != 3000 || !bytes.HasPrefix(body, []byte(strconv.Itoa(i)+":")) {
			t.Fatalf("stream %d: status %s, %d bytes", id, status, len(body))
		}
	}
	if v := r.violations(); len(v) > 0 {
		t.Fatalf("flow-control violations: %v", v)
	}
}

// A stream the client resets while the loop awaits its answer: the
// upstream's late answer is dropped, nothing more is sent on the stream,
// and the connection's other streams are served.
func TestH2LoopClientResetWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	e := startH2Env(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		numberedHandler(w, r)
	}), nil)
	defer close(release)
	r := dialRaw(t, e.h1)
	slow, _ := r.open(true, request("GET", "/slow"))
	time.Sleep(100 * time.Millisecond) // sent upstream by now
	r.write(func(w *http2.Framer) error { return w.WriteRSTStream(slow, http2.ErrCodeCancel) })
	for i := 0; i < 20; i++ {
		id, _ := r.open(true, request("GET", fmt.Sprintf("/n/%d?size=100", i)))
		resp := r.response(id)
		if resp.status != "200" || len(resp.body) != 100 {
			t.Fatalf("request %d after the reset: %s, %d bytes", i, resp.status, len(resp.body))
		}
	}
	release <- struct{}{}
	if f, ok := r.poll(300*time.Millisecond, func(f rawFrame) bool { return f.Stream == slow }); ok {
		t.Fatalf("a frame on the reset stream: %v", f)
	}
	id, _ := r.open(true, request("GET", "/n/99?size=10"))
	if resp := r.response(id); resp.status != "200" {
		t.Fatalf("request after the late answer: %s", resp.status)
	}
}

// Requests whose upstream connections the server closes after each
// answer (Connection: close), and which go idle long enough for the
// upstream to close them: the loop's idle upstream connections go stale
// under it, and no request fails.
func TestH2LoopUpstreamCloses(t *testing.T) {
	up := &http.Server{Handler: http.HandlerFunc(numberedHandler), IdleTimeout: 80 * time.Millisecond}
	e := startH2EnvWith(t, up)
	c := h2cClient()
	defer c.CloseIdleConnections()
	for i := 0; i < 30; i++ {
		path := "/n/"
		if i%3 == 0 {
			path = "/close/"
		}
		resp, err := c.Get(fmt.Sprintf("http://%s%s%d?size=64", e.h1, path, i))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != 64 || !bytes.HasPrefix(b, []byte(strconv.Itoa(i)+":")) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
		if i%5 == 4 {
			time.Sleep(120 * time.Millisecond)
		}
	}
}

// A client that cancels requests at random points while others run on
// the same connection: every request that was not cancelled gets its
// whole answer.
func TestH2LoopCancelsUnderLoad(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
			time.Sleep(d)
		}
		numberedHandler(w, r)
	}), nil)
	c := h2cClient()
	defer c.CloseIdleConnections()
	concurrently(t, 8, func(g int) error {
		for i := 0; i < 60; i++ {
			cancel := (g+i)%4 == 0
			ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
			if cancel {
				ctx, stop = context.WithTimeout(context.Background(), time.Duration(1+i%5)*time.Millisecond)
			}
			size := 100 + i*97%20000
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/n/%d?size=%d&delay=%dms", e.h1, i, size, i%3), nil)
			resp, err := c.Do(req)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != 200 || len(b) != size) {
					err = fmt.Errorf("%d, %d bytes", resp.StatusCode, len(b))
				}
			}
			stop()
			if err != nil && !cancel {
				return fmt.Errorf("client %d request %d: %v", g, i, err)
			}
		}
		return nil
	})
}

// h2IdleConfig: an Http2 listener (HTTP/1.1 upstream) whose idle timeout
// is shorter than the time after which idle connections are parked, so
// the event loop itself ends idle connections.
const h2IdleConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "listeners": [
      {"name": "h2short", "address": "127.0.0.1:${PORT}", "bind_port": true, "connection_idle_timeout": "400ms",
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http1", "router_config_name": "r"}}]}]}
    ],
    "routers": [{"router_config_name": "r", "virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "up"}}]}]}]
  }],
  "cluster_manager": {"clusters": [{"name": "up", "hosts": [{"address": "${UP}"}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

// An idle h2c connection held by the loop gets GOAWAY (NO_ERROR) at its
// idle timeout and is closed; a busy one is not.
func TestH2LoopIdleTimeout(t *testing.T) {
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	cfg := expand(h2IdleConfig, map[string]string{
		"DIR": t.TempDir(), "PORT": strconv.Itoa(port), "ADMIN": strconv.Itoa(admin),
		"UP": httpServer(t, http.HandlerFunc(numberedHandler)),
	})
	startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	r := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", port))
	// Busy for longer than the idle timeout: a request every 100 ms.
	var idleSince time.Time
	for i := 0; i < 10; i++ {
		time.Sleep(100 * time.Millisecond)
		id, _ := r.open(true, request("GET", fmt.Sprintf("/n/%d?size=10", i)))
		if resp := r.response(id); resp.status != "200" {
			t.Fatalf("request %d: %s", i, resp.status)
		}
		idleSince = time.Now()
	}
	g := r.take("GOAWAY", func(f rawFrame) bool { return f.Type == http2.FrameGoAway })
	if g.Code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v, want NO_ERROR", g)
	}
	if err := r.closed(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the GOAWAY: %v, want EOF", err)
	}
	// Not before the idle timeout (a slow machine only makes it later).
	if waited := time.Since(idleSince); waited < 350*time.Millisecond {
		t.Fatalf("closed after %v idle, before the 400ms idle timeout", waited)
	}
}

// One connection with streams of both kinds at once: bodiless GETs the
// loop serves and POSTs with bodies that goroutines serve, whose answers
// share the connection's output and windows. Every answer is whole and
// right.
func TestH2LoopMixedStreamsOnOneConnection(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(numberedHandler), nil)
	c := h2cClient()
	defer c.CloseIdleConnections()
	concurrently(t, 12, func(g int) error {
		for i := 0; i < 80; i++ {
			var resp *http.Response
			var err error
			var want []byte
			if (g+i)%3 == 0 {
				body := bytes.Repeat([]byte{byte('a' + g)}, 100+i*300)
				resp, err = c.Post(fmt.Sprintf("http://%s/n/%d", e.h1, i), "application/octet-stream", bytes.NewReader(body))
				want = append([]byte(fmt.Sprintf("%d:%d:", i, len(body))), body...)
			} else {
				size := 50 + (g*80+i)*131%12000
				resp, err = c.Get(fmt.Sprintf("http://%s/n/%d?size=%d", e.h1, i, size))
				want = append([]byte(strconv.Itoa(i)+":"), bytes.Repeat([]byte("x"), size-len(strconv.Itoa(i))-1)...)
			}
			if err != nil {
				return fmt.Errorf("stream %d/%d: %v", g, i, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(b, want) {
				return fmt.Errorf("stream %d/%d: %d, %d bytes (want %d), %v", g, i, resp.StatusCode, len(b), len(want), err)
			}
		}
		return nil
	})
}

// concurrently runs f(g) for g in [0, n) on goroutines of their own and
// reports the errors they return.
func concurrently(t *testing.T, n int, f func(g int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			if err := f(g); err != nil {
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// POSTs whose small bodies arrive with their heads (one write each) are
// sent by the loop itself; the upstream gets every body whole, with its
// length, and the client its credit back.
func TestH2LoopSmallBodies(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(numberedHandler), nil)
	c, err := net.DialTimeout("tcp", e.h1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var out bytes.Buffer
	fr := http2.NewFramer(&out, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	out.WriteString(http2.ClientPreface)
	fr.WriteSettings()
	const n = 40
	for i := 0; i < n; i++ {
		id := uint32(2*i + 1)
		body := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*211%9000)
		hb.Reset()
		for _, f := range request("POST", fmt.Sprintf("/n/%d", i)) {
			enc.WriteField(f)
		}
		if i%2 == 0 { // with and without a content-length
			enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true})
		fr.WriteData(id, true, body)
		if _, err := c.Write(out.Bytes()); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		want := fmt.Sprintf("%d:%d:%s", i, len(body), body)
		var got []byte
		status := ""
		for done := false; !done; {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("stream %d: %v", id, err)
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				if f.StreamID == id {
					status = f.PseudoValue("status")
					done = f.StreamEnded()
				}
			case *http2.DataFrame:
				if f.StreamID == id {
					got = append(got, f.Data()...)
					done = f.StreamEnded()
				}
				if k := uint32(len(f.Data())); k > 0 {
					// Credit back for the connection's window.
					fr.WriteWindowUpdate(0, k)
					c.Write(out.Bytes())
					out.Reset()
				}
			case *http2.RSTStreamFrame:
				t.Fatalf("stream %d reset: %v", id, f.ErrCode)
			case *http2.GoAwayFrame:
				t.Fatalf("GOAWAY: %v", f.ErrCode)
			}
		}
		if status != "200" || string(got) != want {
			t.Fatalf("stream %d: %s %q, want %q", id, status, got[:min(len(got), 40)], want[:min(len(want), 40)])
		}
		if out.Len() > 0 {
			c.Write(out.Bytes()) // acks of the server's SETTINGS
			out.Reset()
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	served, handoffs := h2LoopStats(t, e)
	t.Logf("loop served %d of %d streams, %d hand-overs", served, n, handoffs)
	if served < n/2 {
		t.Errorf("the loop served %d of %d small POSTs", served, n)
	}
}

// warmConfig: HTTP/1 and h2c listeners whose cluster allows 64 requests
// per upstream connection.
const warmConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "listeners": [
      {"name": "h1", "address": "127.0.0.1:${H1}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "upstream_protocol": "Http1", "router_config_name": "r"}}]}]},
      {"name": "h2", "address": "127.0.0.1:${H2}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http1", "router_config_name": "r"}}]}]}
    ],
    "routers": [{"router_config_name": "r", "virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "up"}}]}]}]
  }],
  "cluster_manager": {"clusters": [{"name": "up", "max_request_per_conn": 64, "hosts": [{"address": "${UP}"}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

// The loop has an upstream connection's replacement dialled before the
// connection reaches max_request_per_conn, so the requests that follow do
// not wait for a dial on a goroutine: the hand-overs are about the first
// dial of each client's connection, not one per 64 requests.
func TestLoopDialsReplacementsAhead(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the event loop is Linux-only")
	}
	h1, h2, admin := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	cfg := expand(warmConfig, map[string]string{
		"DIR": t.TempDir(), "H1": strconv.Itoa(h1), "H2": strconv.Itoa(h2), "ADMIN": strconv.Itoa(admin),
		"UP": httpServer(t, http.HandlerFunc(numberedHandler)),
	})
	startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	const clients, requests = 8, 400
	concurrently(t, clients, func(g int) error {
		h1c := h1Client()
		h2c := h2cClient()
		defer h1c.CloseIdleConnections()
		defer h2c.CloseIdleConnections()
		for i := 0; i < requests; i++ {
			c, port := h1c, h1
			if i%2 == 1 {
				c, port = h2c, h2
			}
			resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/n/%d?size=100", port, i))
			if err != nil {
				return fmt.Errorf("client %d request %d: %v", g, i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(b) != 100 {
				return fmt.Errorf("client %d request %d: %d, %d bytes", g, i, resp.StatusCode, len(b))
			}
		}
		return nil
	})
	_, stats := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/stats", admin))
	total := clients * requests
	for k, listener := range map[string]string{"http1": "h1", "http2": "h2"} {
		i := strings.Index(stats, `"downstream.`+listener+`"`)
		if i < 0 {
			t.Fatalf("no stats of listener %s: %s", k, stats)
		}
		served := statValue(t, stats[i:], k+"_loop_request_total")
		handoffs := statValue(t, stats[i:], k+"_loop_handoff_total")
		t.Logf("%s: loop served %d of %d, %d hand-overs", k, served, total/2, handoffs)
		// The first dial of each client's connection hands over, and
		// each h2c connection's end (a read side leaving the loop).
		// Dialling on the request path would also hand over one request
		// per 64: about 25 more here.
		if limit := 2*clients + total/2/64/4; handoffs > limit {
			t.Errorf("%s: %d hand-overs for %d requests, want at most %d", k, handoffs, total/2, limit)
		}
	}
}
