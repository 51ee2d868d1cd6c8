package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"mosn.dev/proxy/internal/testutil"
)

// h2ServerConfig has two Http2 (h2c) listeners: "h2h1" forwards to an
// HTTP/1 upstream, "h2h2" to an h2c upstream.
const h2ServerConfig = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "graceful_timeout": "15s",
    "listeners": [
      {"name": "h2h1", "address": "127.0.0.1:${H2H1}", "bind_port": true, "connection_idle_timeout": "60s",
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http1", "router_config_name": "r1"}}]}]},
      {"name": "h2h2", "address": "127.0.0.1:${H2H2}", "bind_port": true, "connection_idle_timeout": "60s",
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http2", "router_config_name": "r2"}}]}]}
    ],
    "routers": [
      {"router_config_name": "r1", "virtual_hosts": [{"name": "v1", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "up1"}}]}]},
      {"router_config_name": "r2", "virtual_hosts": [{"name": "v2", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "up2"}}]}]}
    ]
  }],
  "cluster_manager": {"clusters": [
    {"name": "up1", "hosts": [{"address": "${UP1}"}]},
    {"name": "up2", "hosts": [{"address": "${UP2}"}]}
  ]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}},
  "metrics": {"sinks": [{"type": "prometheus", "config": {"port": ${PROM}}}]}
}`

// h2Env is a running mosn with the two listeners of h2ServerConfig.
type h2Env struct {
	t    *testing.T
	p    *proc
	h1   string // the Http2 listener whose upstream speaks HTTP/1.1
	h2   string // the Http2 listener whose upstream speaks h2c
	prom string // the Prometheus scrape URL
	up2  string // the h2c upstream itself
}

// startH2Env starts the upstreams (h1 over HTTP/1.1, h2 over h2c; nil
// answers 404) and a mosn in front of them.
func startH2Env(t *testing.T, h1, h2 http.Handler) *h2Env {
	t.Helper()
	if h1 == nil {
		h1 = http.NotFoundHandler()
	}
	if h2 == nil {
		h2 = http.NotFoundHandler()
	}
	return startH2EnvAt(t, httpServer(t, h1), h2cServer(t, h2))
}

// startH2EnvWith is startH2Env with up1 as the HTTP/1.1 upstream server
// (its own timeouts) and no h2c one.
func startH2EnvWith(t *testing.T, up1 *http.Server) *h2Env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up1.Serve(ln)
	t.Cleanup(func() { up1.Close() })
	return startH2EnvAt(t, ln.Addr().String(), h2cServer(t, http.NotFoundHandler()))
}

// startH2EnvAt starts a mosn in front of the upstreams at up1 (HTTP/1.1)
// and up2 (h2c).
func startH2EnvAt(t *testing.T, up1, up2 string) *h2Env {
	t.Helper()
	vars := map[string]string{"DIR": t.TempDir(), "UP1": up1, "UP2": up2}
	for _, k := range []string{"H2H1", "H2H2", "ADMIN", "PROM"} {
		vars[k] = strconv.Itoa(testutil.FreePort(t))
	}
	e := &h2Env{
		t:    t,
		h1:   "127.0.0.1:" + vars["H2H1"],
		h2:   "127.0.0.1:" + vars["H2H2"],
		prom: "http://127.0.0.1:" + vars["PROM"] + "/metrics",
		up2:  vars["UP2"],
	}
	// Ready when admin answers (it starts after the listeners): a probe
	// of an Http2 listener would count as a protocol error there.
	e.p = startMosn(t, writeConfig(t, expand(h2ServerConfig, vars)), "127.0.0.1:"+vars["ADMIN"], "127.0.0.1:"+vars["PROM"])
	t.Cleanup(func() {
		// Before the process stops: what the race detector of the
		// -race build found while the test ran.
		if out := e.p.out.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("the proxy reported a data race (its output follows at the end)")
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(vars["DIR"], "mosn.log"))
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("mosn.log (end):\n%s", b)
		}
	})
	return e
}

// h2cServer serves h over h2c (prior knowledge) on a loopback port.
func h2cServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// protocolErrors scrapes mosn_downstream_protocol_error_total of a listener.
func (e *h2Env) protocolErrors(listener string) int {
	e.t.Helper()
	_, body := httpGet(e.t, e.prom)
	re := regexp.MustCompile(`(?m)^mosn_downstream_protocol_error_total\{listener="` + listener + `"\} (\d+)`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no protocol_error_total of listener %s in the scrape:\n%.2000s", listener, body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// rssKiB returns a process's resident set size (0 once it is gone).
func rssKiB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// watchRSS samples a process's RSS every 10 ms until the returned func
// is called, which returns the largest sample.
func watchRSS(pid int) func() int {
	peak := rssKiB(pid)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peak = max(peak, rssKiB(pid))
			}
		}
	}()
	return func() int {
		close(stop)
		<-done
		return max(peak, rssKiB(pid))
	}
}

// prng is a deterministic body: the same seed gives the same bytes on
// both ends of a transfer.
func prng(seed uint64, n int64) io.Reader {
	var key [32]byte
	key[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

func sha256Of(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// flowBody is the size of the flow-control transfers.
const flowBody = 64 << 20

// rssBoundKiB is the RSS growth a 64 MiB transfer may cause: half the
// body, so a proxy that buffered the body whole cannot pass.
const rssBoundKiB = 32 << 10

// TestH2FlowControl moves 64 MiB up (with and without Content-Length)
// and 64 MiB down through an Http2 listener to an HTTP/1 upstream. On the
// download the client announces a 1 KiB stream window and grants credit
// stingily, first on the stream, then on the connection: every DATA
// frame must fit the credit granted when it arrived and the body must
// arrive intact. The proxy's RSS must not grow by anything near the body.
func TestH2FlowControl(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/count":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%d %x %d", n, h.Sum(nil), r.ContentLength)
		case "/download":
			w.Header().Set("Content-Length", strconv.Itoa(flowBody))
			io.Copy(w, prng(2, flowBody))
		}
	}), nil)
	pid := e.p.cmd.Process.Pid
	if rssKiB(pid) == 0 {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	upHash := sha256Of(t, prng(1, flowBody))

	// Warm up the process, so that the baseline includes its pools.
	warm := dialRaw(t, e.h1)
	id, _ := warm.open(false, request("POST", "/count"))
	warm.sendBody(id, prng(1, 1<<20))
	if r := warm.response(id); r.status != "200" {
		t.Fatalf("warm-up: %+v", r)
	}

	for _, withLength := range []bool{false, true} {
		t.Run(fmt.Sprintf("upload/content-length=%v", withLength), func(t *testing.T) {
			rc := dialRaw(t, e.h1)
			fields := request("POST", "/count")
			wantCL := -1
			if withLength {
				fields = append(fields, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(flowBody)})
				wantCL = flowBody
			}
			base := rssKiB(pid)
			peak := watchRSS(pid)
			id, _ := rc.open(false, fields)
			start := time.Now()
			wait := rc.sendBody(id, prng(1, flowBody))
			resp := rc.response(id)
			top := peak()
			t.Logf("upload took %s; the longest wait for credit %s", time.Since(start).Round(time.Millisecond), wait.Round(time.Millisecond))
			if want := fmt.Sprintf("%d %s %d", flowBody, upHash, wantCL); resp.status != "200" || string(resp.body) != want {
				t.Fatalf("upload: %s %q, want 200 %q (frames %v)", resp.status, resp.body, want, resp.frames)
			}
			t.Logf("proxy RSS %d KiB before the upload, %d KiB at most during it", base, top)
			if top-base > rssBoundKiB {
				t.Errorf("proxy RSS grew by %d KiB during a %d MiB upload: the body is buffered", top-base, flowBody>>20)
			}
		})
	}

	t.Run("download", func(t *testing.T) {
		rc := dialRaw(t, e.h1,
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1024},
			http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
		rc.settings()
		base := rssKiB(pid)
		peak := watchRSS(pid)
		id, _ := rc.open(true, request("GET", "/download"))
		head := rc.onStream(id)
		if head.Type != http2.FrameHeaders || head.header(":status") != "200" || head.header("content-length") != strconv.Itoa(flowBody) {
			t.Fatalf("download head: %v", head)
		}
		h := sha256.New()
		var got, pending int64
		var frames, streamStalls, connStalls int
		phase := 0
		for {
			f := rc.onStream(id)
			if f.Type != http2.FrameData {
				t.Fatalf("after %d body bytes: %v, want DATA", got, f)
			}
			if f.Len > 16384 {
				t.Fatalf("DATA of %d bytes over our MAX_FRAME_SIZE 16384", f.Len)
			}
			h.Write(f.Data)
			n := int64(f.Len)
			got += int64(len(f.Data))
			frames++
			if f.endStream() {
				break
			}
			connCredit, streamCredit := rc.credit(id)
			switch {
			case got < 1<<20:
				// The stream window (1 KiB) binds: it is topped up only
				// once spent, by an odd amount; the connection gets
				// back what was read.
				rc.grant(0, uint32(n))
				if streamCredit == 0 {
					rc.grant(id, uint32(1000+frames%24))
					streamStalls++
				}
			case got < 2<<20:
				// The connection window binds: the stream has plenty,
				// the connection gets ~1.5 KiB whenever it is spent.
				if phase == 0 {
					phase = 1
					rc.grant(id, 8<<20)
				}
				if connCredit == 0 {
					rc.grant(0, uint32(1500+frames%100))
					connStalls++
				}
			default:
				// The rest at speed, still checked frame by frame.
				if phase == 1 {
					phase = 2
					rc.grant(id, flowBody)
					rc.grant(0, 4<<20)
				}
				if pending += n; pending >= 1<<20 {
					rc.grant(0, uint32(pending))
					pending = 0
				}
			}
		}
		top := peak()
		if got != flowBody {
			t.Fatalf("download: %d bytes, want %d", got, flowBody)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != sha256Of(t, prng(2, flowBody)) {
			t.Fatalf("download: body corrupted (sha256 %s)", sum)
		}
		if v := rc.violations(); len(v) > 0 {
			t.Fatalf("the proxy sent more than the credit granted (%d times), first: %s", len(v), v[0])
		}
		// Without stalls the windows were never reached: the test
		// would not have checked anything.
		if streamStalls < 500 || connStalls < 300 {
			t.Fatalf("only %d stream and %d connection window stalls", streamStalls, connStalls)
		}
		t.Logf("download: %d DATA frames, %d stream and %d connection stalls; proxy RSS %d KiB before, %d KiB at most during it",
			frames, streamStalls, connStalls, base, top)
		if top-base > rssBoundKiB {
			t.Errorf("proxy RSS grew by %d KiB during a %d MiB download to a slow reader", top-base, flowBody>>20)
		}
	})
}

// gatedUpstream answers /slow only after release is closed, counting the
// requests that reached it.
type gatedUpstream struct {
	arrived atomic.Int64
	notify  chan int64 // every arrival's count
	release chan struct{}
}

func newGatedUpstream(t *testing.T) *gatedUpstream {
	g := &gatedUpstream{notify: make(chan int64, 1024), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	return g
}

func (g *gatedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/slow"):
		g.notify <- g.arrived.Add(1)
		select {
		case <-g.release:
			io.WriteString(w, "slow done")
		case <-r.Context().Done():
		}
	default:
		io.WriteString(w, "fast")
	}
}

// waitArrivals waits until n requests reached the upstream.
func (g *gatedUpstream) waitArrivals(t *testing.T, n int64) {
	t.Helper()
	timeout := time.After(rawWait)
	for {
		select {
		case k := <-g.notify:
			if k >= n {
				return
			}
		case <-timeout:
			t.Fatalf("%d requests reached the upstream, want %d", g.arrived.Load(), n)
		}
	}
}

// TestH2MaxConcurrentStreams opens 260 streams on one connection whose
// upstream answers only when told: the 10 beyond the announced 250 are
// refused (RST_STREAM REFUSED_STREAM, not a protocol error), the 250
// others complete with 200 once released.
func TestH2MaxConcurrentStreams(t *testing.T) {
	g := newGatedUpstream(t)
	e := startH2Env(t, g, nil)
	before := e.protocolErrors("h2h1")
	rc := dialRaw(t, e.h1)
	if s := rc.settings(); !hasSetting(s, http2.SettingMaxConcurrentStreams, 250) {
		t.Fatalf("SETTINGS %v: no MAX_CONCURRENT_STREAMS 250", s.Settings)
	}
	ids := make([]uint32, 260)
	for i := range ids {
		ids[i], _ = rc.open(true, request("GET", fmt.Sprintf("/slow/%d", i)))
	}
	for _, id := range ids[250:] {
		if f := rc.onStream(id); f.Type != http2.FrameRSTStream || f.Code != http2.ErrCodeRefusedStream {
			t.Fatalf("stream %d beyond the limit: %v, want RST_STREAM REFUSED_STREAM", id, f)
		}
	}
	g.waitArrivals(t, 250)
	for _, f := range rc.queued() {
		if f.Stream != 0 {
			t.Fatalf("before the upstream answered: %v", f)
		}
	}
	close(g.release)
	for _, id := range ids[:250] {
		if r := rc.response(id); r.status != "200" || string(r.body) != "slow done" {
			t.Fatalf("stream %d: %s %q %v", id, r.status, r.body, r.frames)
		}
	}
	if n := g.arrived.Load(); n != 250 {
		t.Errorf("%d requests reached the upstream, want 250", n)
	}
	if n := e.protocolErrors("h2h1") - before; n != 0 {
		t.Errorf("refused streams counted as %d protocol errors", n)
	}
}

func hasSetting(f rawFrame, id http2.SettingID, val uint32) bool {
	for _, s := range f.Settings {
		if s.ID == id {
			return s.Val == val
		}
	}
	return false
}

// cancelUpstream streams the head and 1 KiB of /cancel, then waits for
// its request to be canceled; /gate answers when released; the rest
// answers "hello".
type cancelUpstream struct {
	canceled chan struct{}
	gate     chan struct{}
}

func (u *cancelUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/cancel":
		w.Write(bytes.Repeat([]byte("x"), 1024))
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			close(u.canceled)
		case <-time.After(2 * rawWait):
		}
	case "/gate":
		select {
		case <-u.gate:
			io.WriteString(w, "gated")
		case <-r.Context().Done():
		}
	default:
		io.WriteString(w, "hello")
	}
}

// TestH2ResetCancelsUpstream: a client RST_STREAM in the middle of a
// response cancels the upstream request (HTTP/1: its connection closes;
// h2c: the upstream stream is reset), while the connection's other
// streams, open or new, keep working.
func TestH2ResetCancelsUpstream(t *testing.T) {
	u1 := &cancelUpstream{canceled: make(chan struct{}), gate: make(chan struct{})}
	u2 := &cancelUpstream{canceled: make(chan struct{}), gate: make(chan struct{})}
	e := startH2Env(t, u1, u2)
	for _, tc := range []struct {
		name, addr string
		u          *cancelUpstream
	}{{"h2-h1", e.h1, u1}, {"h2-h2", e.h2, u2}} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, tc.addr)
			s1, _ := rc.open(true, request("GET", "/cancel"))
			s3, _ := rc.open(true, request("GET", "/gate"))
			if f := rc.onStream(s1); f.Type != http2.FrameHeaders || f.header(":status") != "200" || f.endStream() {
				t.Fatalf("stream %d head: %v", s1, f)
			}
			if f := rc.onStream(s1); f.Type != http2.FrameData || len(f.Data) == 0 {
				t.Fatalf("stream %d body: %v", s1, f)
			}
			rc.write(func(w *http2.Framer) error { return w.WriteRSTStream(s1, http2.ErrCodeCancel) })
			select {
			case <-tc.u.canceled:
			case <-time.After(rawWait):
				t.Fatal("the upstream request was not canceled after the client reset its stream")
			}
			s5, _ := rc.open(true, request("GET", "/after"))
			if r := rc.response(s5); r.status != "200" || string(r.body) != "hello" {
				t.Fatalf("new stream after the reset: %s %q %v", r.status, r.body, r.frames)
			}
			close(tc.u.gate)
			if r := rc.response(s3); r.status != "200" || string(r.body) != "gated" {
				t.Fatalf("open stream after the reset: %s %q %v", r.status, r.body, r.frames)
			}
		})
	}
}

// trailerUpstream tells started when a request head arrived, echoes the
// body, reports the request trailer it saw and answers with a declared
// and an undeclared trailer.
func trailerUpstream(started chan<- struct{}, got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		body, _ := io.ReadAll(r.Body)
		got <- r.Trailer.Get("X-Req-Trailer")
		w.Header().Set("Trailer", "X-Resp-Sum, X-Echo")
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
		w.Header().Set("X-Resp-Sum", strconv.Itoa(len(body)))
		w.Header().Set("X-Echo", r.Trailer.Get("X-Req-Trailer"))
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}
}

// TestH2Trailers streams a request body with a declared trailer through
// the proxy with Go's h2c client, the end of the body and the trailer
// coming after the upstream received the request head (as in any long
// upload): the upstream must see the trailer, and the upstream's
// response trailers (declared and not) must reach the client. The
// "direct" case, without the proxy, shows the client and upstream do
// their part.
func TestH2Trailers(t *testing.T) {
	type upstream struct {
		started chan struct{}
		got     chan string
	}
	u1 := upstream{make(chan struct{}, 1), make(chan string, 1)}
	u2 := upstream{make(chan struct{}, 1), make(chan string, 1)}
	e := startH2Env(t, trailerUpstream(u1.started, u1.got), trailerUpstream(u2.started, u2.got))
	client := h2cClient()
	for _, tc := range []struct {
		name, addr string
		u          upstream
	}{{"direct", e.up2, u2}, {"h2-h2", e.h2, u2}, {"h2-h1", e.h1, u1}} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			req, _ := http.NewRequest("POST", "http://"+tc.addr+"/trailers", pr)
			req.Trailer = http.Header{"X-Req-Trailer": {"from-client"}}
			go func() {
				pw.Write([]byte("payload"))
				select {
				case <-tc.u.started:
				case <-time.After(rawWait):
				}
				pw.Close()
			}()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(body) != "payload" {
				t.Fatalf("%d %q %v", resp.StatusCode, body, err)
			}
			upstreamSaw := <-tc.u.got
			if upstreamSaw != "from-client" {
				t.Errorf("the upstream saw request trailer X-Req-Trailer = %q, want %q", upstreamSaw, "from-client")
			}
			for _, kv := range [][2]string{{"X-Resp-Sum", "7"}, {"X-Late", "late"}} {
				if v := resp.Trailer.Get(kv[0]); v != kv[1] {
					t.Errorf("response trailer %s = %q, want %q (trailers %v)", kv[0], v, kv[1], resp.Trailer)
				}
			}
			// The upstream echoes the request trailer as a response one.
			if v := resp.Trailer.Get("X-Echo"); v != upstreamSaw {
				t.Errorf("response trailer X-Echo = %q, the upstream sent %q", v, upstreamSaw)
			}
		})
	}
}

// TestH2WireEdgeCases checks the exact frames of edge cases on one
// connection: the SETTINGS announced, HEAD, 204, Expect: 100-continue, a
// header list over the limit (431), CONNECT (405), malformed requests
// (RST_STREAM PROTOCOL_ERROR), each followed by a working stream; then an
// invalid preface. The protocol error counter grows by exactly the
// errors provoked.
func TestH2WireEdgeCases(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/echo":
			io.Copy(w, r.Body)
		default:
			io.WriteString(w, "ok")
		}
	}), nil)
	before := e.protocolErrors("h2h1")
	rc := dialRaw(t, e.h1)
	var done []uint32 // streams that ended: nothing may follow on them
	ok := func(what string) {
		t.Helper()
		id, _ := rc.open(true, request("GET", "/ok"))
		if r := rc.response(id); r.status != "200" || string(r.body) != "ok" {
			t.Fatalf("stream after %s: %s %q %v", what, r.status, r.body, r.frames)
		}
		done = append(done, id)
	}
	// exact checks that stream id's frames are exactly want (type,
	// flags, :status or error code).
	exact := func(what string, id uint32, want ...string) {
		t.Helper()
		var got []string
		for range want {
			f := rc.onStream(id)
			s := fmt.Sprintf("%v flags=%#x", f.Type, uint8(f.Flags))
			switch f.Type {
			case http2.FrameHeaders:
				s += " :status=" + f.header(":status")
			case http2.FrameRSTStream:
				s += " " + f.Code.String()
			}
			got = append(got, s)
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("%s: frames\n  %s\nwant\n  %s", what, strings.Join(got, "; "), strings.Join(want, "; "))
		}
		done = append(done, id)
	}
	endHeaders := uint8(http2.FlagHeadersEndHeaders)
	endAll := uint8(http2.FlagHeadersEndHeaders | http2.FlagHeadersEndStream)

	// The SETTINGS announced, and a connection window of 1 MiB.
	{
		s := rc.settings()
		for _, want := range []http2.Setting{
			{ID: http2.SettingMaxConcurrentStreams, Val: 250},
			{ID: http2.SettingInitialWindowSize, Val: 256 << 10},
			{ID: http2.SettingMaxHeaderListSize, Val: 64 << 10},
		} {
			if !hasSetting(s, want.ID, want.Val) {
				t.Errorf("SETTINGS %v lacks %v", s.Settings, want)
			}
		}
		rc.waitUntil("the connection window of 1 MiB", func() bool { return rc.connIncr == 1<<20-65535 })
	}

	// HEAD: one HEADERS frame with END_STREAM, no DATA.
	{
		id, _ := rc.open(true, request("HEAD", "/head"))
		exact("HEAD", id, fmt.Sprintf("HEADERS flags=%#x :status=200", endAll))
	}

	// A 204 from the upstream: the same.
	{
		id, _ := rc.open(true, request("GET", "/204"))
		exact("204", id, fmt.Sprintf("HEADERS flags=%#x :status=204", endAll))
	}

	// Expect: 100-continue: a 100 before the final response.
	{
		id, _ := rc.open(false, request("POST", "/echo", "content-length", "5", "expect", "100-continue"))
		// The 100 comes before any body was sent: the upstream request
		// reading the body asks for it.
		exact("Expect: 100-continue before the body", id, fmt.Sprintf("HEADERS flags=%#x :status=100", endHeaders))
		rc.data(id, true, []byte("hello"))
		r := rc.response(id)
		var interim int
		for _, f := range r.frames {
			if f.Type == http2.FrameHeaders && strings.HasPrefix(f.header(":status"), "1") {
				interim++
			}
		}
		if r.status != "200" || string(r.body) != "hello" || r.frames[0].Type != http2.FrameHeaders {
			t.Errorf("Expect: 100-continue final response: %s %q %v", r.status, r.body, r.frames)
		}
		if interim > 0 {
			// RFC 9110 §15.2 allows several 1xx; noted for the report.
			t.Logf("%d more 1xx HEADERS after the first 100: %v", interim, r.frames)
		}
	}

	// A header list over MAX_HEADER_LIST_SIZE (HEADERS and two
	// CONTINUATIONs): 431, and the connection goes on.
	{
		id, block := rc.open(true, request("GET", "/ok", "x-big", strings.Repeat("b", 70000)))
		if len(block) < 16384 {
			t.Fatalf("header block of %d bytes: no CONTINUATION", len(block))
		}
		exact("header list over 64 KiB", id, fmt.Sprintf("HEADERS flags=%#x :status=431", endAll))
		ok("431")
	}

	// CONNECT is not proxied: 405, then RST_STREAM NO_ERROR since the
	// client had not ended the stream (RFC 9113 §8.1).
	{
		id, _ := rc.open(false, []hpack.HeaderField{{Name: ":method", Value: "CONNECT"}, {Name: ":authority", Value: "example.com:443"}})
		exact("CONNECT", id, fmt.Sprintf("HEADERS flags=%#x :status=405", endAll), "RST_STREAM flags=0x0 NO_ERROR")
		ok("CONNECT")
	}

	// Malformed requests (RFC 9113 §8.2.1, §8.2.2): a stream error.
	for _, tc := range []struct{ name, field, value string }{
		{"upper-case field name", "X-Upper", "1"},
		{"connection-specific field", "connection", "keep-alive"},
	} {
		id, _ := rc.open(true, request("GET", "/ok", tc.field, tc.value))
		exact(tc.name, id, "RST_STREAM flags=0x0 PROTOCOL_ERROR")
		ok(tc.name)
	}

	// An invalid preface: the connection is closed, nothing written.
	{
		c, err := net.Dial("tcp", e.h1)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(rawWait))
		b, err := io.ReadAll(c)
		if err != nil || len(b) != 0 {
			t.Fatalf("after an invalid preface: read %q, %v; want the connection closed", b, err)
		}
	}

	// Nothing followed on the streams that had ended.
	for _, f := range rc.queued() {
		for _, id := range done {
			if f.Stream == id {
				t.Errorf("frame after the end of stream %d: %v", id, f)
			}
		}
	}
	// 431, uppercase name, connection-specific field, invalid preface.
	if n := e.protocolErrors("h2h1") - before; n != 4 {
		t.Errorf("protocol_error_total grew by %d, want 4", n)
	}
}

// TestH2FramesOnClosedStream sends a frame on a stream right after both
// sides ended it (the client's HEADERS had END_STREAM and the response's
// END_STREAM arrived), as h2spec 5.1/11 and 5.1/12 do, on fresh
// connections again and again: DATA must get a STREAM_CLOSED error
// (RFC 9113 §6.1: a stream error at least) and HEADERS a connection
// error STREAM_CLOSED (RFC 7540 §5.1, "closed"), however soon the frame
// follows the end of the response. The wait for the reply is the raw
// client's liveness bound (rawWait): with the machine loaded by other
// tests, a 2 s bound was exceeded about once in 5,000 attempts, the
// reply still coming later (the same with the server of before
// 2026-11-23's evening changes).
//
// It found a lost reply (twice in CI, attempts 56 and 87): a DATA frame
// read while the stream's goroutine was closing the stream got no
// RST_STREAM at all (resetID now sends it when resetStream does not).
// A failure makes the proxy dump its goroutines (SIGQUIT) into the
// test's output.
func TestH2FramesOnClosedStream(t *testing.T) {
	const closedStreamAttempts = 100
	e := startH2Env(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), nil)
	for _, tc := range []struct {
		name   string
		send   func(rc *rawH2, id uint32)
		goAway bool // a connection error is required
	}{
		{"DATA", func(rc *rawH2, id uint32) { rc.data(id, true, []byte("late")) }, false},
		{"HEADERS", func(rc *rawH2, id uint32) { rc.headers(id, true, request("GET", "/ok")) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < closedStreamAttempts; i++ {
				rc := dialRaw(t, e.h1)
				id, _ := rc.open(true, request("GET", "/ok"))
				if r := rc.response(id); r.status != "200" {
					t.Fatalf("attempt %d: %s %v", i, r.status, r.frames)
				}
				tc.send(rc, id)
				f, ok := rc.poll(rawWait, func(f rawFrame) bool {
					return f.Type == http2.FrameRSTStream && f.Stream == id || f.Type == http2.FrameGoAway
				})
				switch {
				case !ok:
					// The proxy's goroutines, for the failure's output
					// (the harness prints what the process wrote).
					e.p.cmd.Process.Signal(syscall.SIGQUIT)
					select {
					case <-e.p.exited:
					case <-time.After(5 * time.Second):
					}
					t.Fatalf("attempt %d: no RST_STREAM or GOAWAY within %v after a %s frame on closed stream %d (queued %v)", i, rawWait, tc.name, id, rc.queued())
				case f.Code != http2.ErrCodeStreamClosed || tc.goAway && f.Type != http2.FrameGoAway:
					t.Fatalf("attempt %d: %v after a %s frame on closed stream %d", i, f, tc.name, id)
				}
				rc.c.Close()
			}
		})
	}
}

// TestH2IdleConnectionsParked: 200 idle h2c connections that each served
// a request are parked (the proxy's goroutines return to about their
// number before the connections), answer a second request whose header
// block refers to HPACK dynamic-table entries the first one created,
// and answer PING while parked.
func TestH2IdleConnectionsParked(t *testing.T) {
	e := startH2Env(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Park-Token"))
	}), nil)
	base := goroutines(t, e.prom)
	const n = 200
	waitParked := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for g := goroutines(t, e.prom); g > base+n/4; g = goroutines(t, e.prom) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d goroutines with %d idle connections (%d before them): not parked", what, g, n, base)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	conns := make([]*rawH2, n)
	fields := make([][]hpack.HeaderField, n)
	firstLen := make([]int, n)
	for i := range conns {
		conns[i] = dialRaw(t, e.h1)
		token := fmt.Sprintf("token-%03d-%s", i, strings.Repeat("p", 32))
		fields[i] = request("GET", fmt.Sprintf("/park/%d", i), "x-park-token", token)
		id, block := conns[i].open(true, fields[i])
		firstLen[i] = len(block)
		if r := conns[i].response(id); r.status != "200" || string(r.body) != token {
			t.Fatalf("connection %d: %s %q", i, r.status, r.body)
		}
	}
	waitParked("after the first requests")
	for i, rc := range conns {
		id, block := rc.open(true, fields[i])
		// Indexed fields only: :method and :scheme from the static
		// table, :authority, :path and the token from the dynamic one.
		if len(block) > 8 {
			t.Fatalf("connection %d: second header block of %d bytes (first %d): the dynamic table is not used", i, len(block), firstLen[i])
		}
		want := fields[i][4].Value
		if r := rc.response(id); r.status != "200" || string(r.body) != want {
			t.Fatalf("connection %d after parking: %s %q, want %q", i, r.status, r.body, want)
		}
	}
	waitParked("after the second requests")
	for i, rc := range conns {
		rc.ping([8]byte{'p', 'a', 'r', 'k', byte(i >> 8), byte(i)})
	}
}

// TestH2GracefulDrain: SIGTERM drains an h2c connection with an open
// slow stream as RFC 9113 §6.8 suggests: GOAWAY(2^31-1) and a PING; a
// stream opened before the PING ack is still served; after the ack a
// GOAWAY names the last stream and later streams are refused; the open
// stream completes, then the proxy closes the connection and exits.
func TestH2GracefulDrain(t *testing.T) {
	g := newGatedUpstream(t)
	e := startH2Env(t, g, nil)
	rc := dialRaw(t, e.h1)
	rc.settings()
	s1, _ := rc.open(true, request("GET", "/slow"))
	g.waitArrivals(t, 1)
	e.p.signal(syscall.SIGTERM)

	first := rc.take("GOAWAY or PING", func(f rawFrame) bool {
		return f.Type == http2.FrameGoAway || f.Type == http2.FramePing && !f.Flags.Has(http2.FlagPingAck)
	})
	if first.Type != http2.FrameGoAway || first.LastID != 1<<31-1 || first.Code != http2.ErrCodeNo {
		t.Fatalf("first drain frame: %v, want GOAWAY last=2147483647 NO_ERROR", first)
	}
	ping := rc.take("the drain PING", func(f rawFrame) bool {
		return f.Type == http2.FramePing || f.Type == http2.FrameGoAway
	})
	if ping.Type != http2.FramePing || ping.Flags.Has(http2.FlagPingAck) {
		t.Fatalf("after the first GOAWAY: %v, want PING", ping)
	}
	s3, _ := rc.open(true, request("GET", "/fast"))
	rc.write(func(w *http2.Framer) error { return w.WritePing(true, ping.Ping) })
	final := rc.take("the final GOAWAY", func(f rawFrame) bool { return f.Type == http2.FrameGoAway })
	if final.LastID != s3 || final.Code != http2.ErrCodeNo {
		t.Fatalf("final GOAWAY: %v, want last=%d NO_ERROR", final, s3)
	}
	if r := rc.response(s3); r.status != "200" || string(r.body) != "fast" {
		t.Fatalf("stream opened before the PING ack: %s %q %v", r.status, r.body, r.frames)
	}
	s5, _ := rc.open(true, request("GET", "/fast"))
	if f := rc.onStream(s5); f.Type != http2.FrameRSTStream || f.Code != http2.ErrCodeRefusedStream {
		t.Fatalf("stream after the final GOAWAY: %v, want RST_STREAM REFUSED_STREAM", f)
	}
	close(g.release)
	if r := rc.response(s1); r.status != "200" || string(r.body) != "slow done" {
		t.Fatalf("open stream during the drain: %s %q %v", r.status, r.body, r.frames)
	}
	if err := rc.closed(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last stream: connection ended with %v, want EOF", err)
	}
	for _, f := range rc.queued() {
		if f.Type != http2.FrameSettings {
			t.Errorf("unexpected frame: %v", f)
		}
	}
	rc.c.Close()
	if code := e.p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after the drain", code)
	}
}

// h2specSummary is h2spec's last line: "146 tests, 145 passed, 1
// skipped, 0 failed".
var h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

// TestH2Spec runs h2spec (MOSN_H2SPEC or h2spec on PATH) against an
// Http2 listener: no case may fail.
func TestH2Spec(t *testing.T) {
	bin := os.Getenv("MOSN_H2SPEC")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("h2spec"); err != nil {
			t.Skip("h2spec not found: set MOSN_H2SPEC to its binary or put it on PATH; build it with " +
				"`cd $(mktemp -d) && GOFLAGS=-mod=mod go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible`")
		}
	}
	e := startH2Env(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bytes.Repeat([]byte("h2spec "), 512))
	}), nil)
	_, port, _ := net.SplitHostPort(e.h1)
	report := filepath.Join(t.TempDir(), "report.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", port, "-o", "5", "-j", report).CombinedOutput()
	m := h2specSummary.FindAllStringSubmatch(string(out), -1)
	if m == nil {
		t.Fatalf("h2spec: %v, no summary:\n%s", err, out)
	}
	sum := m[len(m)-1]
	t.Logf("h2spec: %s", sum[0])
	if sum[4] != "0" || err != nil {
		var failed []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "×") || strings.Contains(line, "Expected:") || strings.Contains(line, "Actual:") {
				failed = append(failed, strings.TrimSpace(line))
			}
		}
		t.Fatalf("h2spec: %s (%v):\n%s", sum[0], err, strings.Join(failed, "\n"))
	}
	total, passed, skipped := atoi(sum[1]), atoi(sum[2]), atoi(sum[3])
	if total == 0 || passed+skipped != total {
		t.Fatalf("h2spec: %s", sum[0])
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
