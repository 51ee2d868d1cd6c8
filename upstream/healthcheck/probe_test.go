package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/codec/dubbo"
	"mosn.dev/proxy/log"
)

// httpUpstream answers /health with the status in code, /redirect with a
// 302 to /health, and everything else with 200, and records the requests.
type httpUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string // "METHOD host uri"
}

func newHTTPUpstream(t *testing.T, code int) *httpUpstream {
	u := &httpUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Method+" "+r.Host+" "+r.RequestURI)
		u.mu.Unlock()
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(code)
		case "/redirect":
			http.Redirect(w, r, "/health", http.StatusFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *httpUpstream) lastRequest() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return ""
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *httpUpstream) addr() string { return strings.TrimPrefix(u.URL, "http://") }

func TestHTTPCheck(t *testing.T) {
	tests := []struct {
		name string
		code int // what /health answers
		// cc is check_config; "{port}" in a string value is replaced by
		// the upstream's port.
		cc          map[string]any
		deadHost    bool // the cluster's host is a closed port (check_config.port must fix it)
		wantHealthy bool
		wantReq     string // "METHOD host uri"; "{addr}" is the upstream address
		wantErr     string
	}{
		{
			name: "MOSN layout, defaults", code: 503,
			cc:          map[string]any{"http_check_config": map[string]any{}},
			wantHealthy: true, wantReq: "GET {addr} /",
		},
		{
			name: "path answering 503 fails", code: 503,
			cc:          map[string]any{"http_check_config": map[string]any{"path": "/health"}},
			wantHealthy: false, wantReq: "GET {addr} /health", wantErr: "answered status 503, want [200]",
		},
		{
			name: "path answering 200 succeeds", code: 200,
			cc:          map[string]any{"path": "/health?full=1"},
			wantHealthy: true, wantReq: "GET {addr} /health?full=1",
		},
		{
			name: "204 is not 200 by default", code: 204,
			cc:          map[string]any{"path": "/health"},
			wantHealthy: false, wantErr: "status 204",
		},
		{
			name: "custom code 503", code: 503,
			cc:          map[string]any{"path": "/health", "codes": []any{float64(503)}},
			wantHealthy: true,
		},
		{
			name: "MOSN code range object", code: 204,
			cc:          map[string]any{"http_check_config": map[string]any{"path": "/health", "codes": []any{map[string]any{"Start": float64(200), "End": float64(299)}}}},
			wantHealthy: true,
		},
		{
			name: "string range excludes", code: 500,
			cc:          map[string]any{"path": "/health", "codes": []any{"200-299", "404"}},
			wantHealthy: false, wantErr: "want [200-299 404]",
		},
		{
			name: "redirect is not followed", code: 200,
			cc:          map[string]any{"path": "/redirect"},
			wantHealthy: false, wantReq: "GET {addr} /redirect", wantErr: "status 302",
		},
		{
			name: "domain sets the Host header, method HEAD", code: 200,
			cc:          map[string]any{"path": "/health", "domain": "svc.example", "method": "HEAD"},
			wantHealthy: true, wantReq: "HEAD svc.example /health",
		},
		{
			name: "port overrides the host's port", code: 200, deadHost: true,
			cc:          map[string]any{"http_check_config": map[string]any{"port": "{port}", "path": "/health", "timeout": "1s"}},
			wantHealthy: true, wantReq: "GET {addr} /health",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newHTTPUpstream(t, tt.code)
			_, port, _ := net.SplitHostPort(up.addr())
			hostAddr := up.addr()
			if tt.deadHost {
				hostAddr = closedAddr(t)
			}
			hc := fast("Http1")
			hc.CheckConfig = withPort(tt.cc, port)
			c := start(t, newCluster(t, hc, hostAddr), nil)
			if tt.wantHealthy {
				waitFor(t, "two checks", func() bool { return hostStats(c, hostAddr).Checks >= 2 })
			} else {
				waitFor(t, "the host to be marked unhealthy", func() bool { return !hostStats(c, hostAddr).Healthy })
			}
			st := hostStats(c, hostAddr)
			if st.Healthy != tt.wantHealthy {
				t.Fatalf("stats %+v, want healthy %v", st, tt.wantHealthy)
			}
			if tt.wantHealthy && st.Failures != 0 {
				t.Errorf("%d failures: %s", st.Failures, st.LastError)
			}
			if !strings.Contains(st.LastError, tt.wantErr) {
				t.Errorf("last error %q, want it to contain %q", st.LastError, tt.wantErr)
			}
			if want := strings.ReplaceAll(tt.wantReq, "{addr}", up.addr()); want != "" {
				if got := up.lastRequest(); got != want {
					t.Errorf("request %q, want %q", got, want)
				}
			}
			if got := c.Stats().Protocol; got != ProtocolHTTP1 {
				t.Errorf("protocol %q, want Http1", got)
			}
		})
	}
}

func withPort(cc map[string]any, port string) map[string]any {
	out := make(map[string]any, len(cc))
	for k, v := range cc {
		switch x := v.(type) {
		case string:
			if x == "{port}" {
				n, _ := strconv.Atoi(port)
				v = float64(n)
			}
		case map[string]any:
			v = withPort(x, port)
		}
		out[k] = v
	}
	return out
}

// TestHTTPWithoutSettingsDialsTCP is MOSN's fallback: protocol Http1
// without http settings checks with a TCP dial (seed 001's config).
func TestHTTPWithoutSettingsDialsTCP(t *testing.T) {
	srv := serve(t, "127.0.0.1:0", nil) // accepts and closes: no HTTP at all
	var errLog syncBuffer
	c := start(t, newCluster(t, fast("Http1"), srv.Addr()), log.New(&errLog))
	waitFor(t, "two checks", func() bool { return hostStats(c, srv.Addr()).Checks >= 2 })
	if st := hostStats(c, srv.Addr()); !st.Healthy || st.Failures != 0 {
		t.Errorf("stats %+v, want healthy", st)
	}
	if got := c.Stats().Protocol; got != ProtocolTCP {
		t.Errorf("protocol %q, want tcp", got)
	}
	if !strings.Contains(errLog.String(), "[WARN] [upstream] [health check] cluster c: protocol Http1 without http settings") {
		t.Errorf("no warning about the fallback in:\n%s", errLog.String())
	}
}

// boltUpstream is a tiny bolt server: it answers each heartbeat as reply
// says.
func boltUpstream(t *testing.T, reply func(req bolt.Frame) []byte) *server {
	return serve(t, "127.0.0.1:0", func(c net.Conn) {
		for {
			var f bolt.Frame
			_, err := readUntil(c, func(b []byte) (err error) {
				f, _, err = bolt.Parse(b)
				return err
			}, bolt.ErrNeedMore)
			if err != nil {
				return
			}
			if !f.IsHeartbeat() || !f.IsRequest() {
				return
			}
			out := reply(f)
			if out == nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
}

func TestBoltCheck(t *testing.T) {
	tests := []struct {
		name        string
		reply       func(req bolt.Frame) []byte
		wantHealthy bool
		wantErr     string
	}{
		{"ack", func(f bolt.Frame) []byte { return bolt.AppendHeartbeatAck(nil, f.Proto, f.RequestID) }, true, ""},
		{"ack split in two writes", nil, true, ""},
		{"wrong id", func(f bolt.Frame) []byte { return bolt.AppendHeartbeatAck(nil, f.Proto, f.RequestID+1) }, false, "answered with request id"},
		{"error status", func(f bolt.Frame) []byte { return bolt.AppendErrorResponse(nil, f, bolt.StatusServerThreadpoolBusy) }, false, "status 4"},
		{"closes", func(bolt.Frame) []byte { return nil }, false, "connection closed"},
		{"garbage", func(bolt.Frame) []byte { return []byte{0x7f, 0, 0, 0} }, false, "invalid frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srv *server
			if tt.reply != nil {
				srv = boltUpstream(t, tt.reply)
			} else {
				srv = serve(t, "127.0.0.1:0", func(c net.Conn) {
					for {
						var f bolt.Frame
						if _, err := readUntil(c, func(b []byte) (err error) {
							f, _, err = bolt.Parse(b)
							return err
						}, bolt.ErrNeedMore); err != nil {
							return
						}
						ack := bolt.AppendHeartbeatAck(nil, f.Proto, f.RequestID)
						c.Write(ack[:5])
						c.Write(ack[5:])
					}
				})
			}
			c := start(t, newCluster(t, fast("bolt"), srv.Addr()), nil)
			assertOutcome(t, c, srv.Addr(), tt.wantHealthy, tt.wantErr)
		})
	}
}

func TestBoltCheckTimesOut(t *testing.T) {
	srv := serve(t, "127.0.0.1:0", func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	hc := fast("bolt")
	hc.Timeout = dur(30 * time.Millisecond)
	c := start(t, newCluster(t, hc, srv.Addr()), nil)
	assertOutcome(t, c, srv.Addr(), false, "timeout")
}

func TestDubboCheck(t *testing.T) {
	tests := []struct {
		name        string
		reply       func(req dubbo.Frame) []byte
		wantHealthy bool
		wantErr     string
	}{
		{"reply", func(f dubbo.Frame) []byte { return dubbo.AppendHeartbeatReply(nil, f.ID) }, true, ""},
		{"wrong id", func(f dubbo.Frame) []byte { return dubbo.AppendHeartbeatReply(nil, f.ID+7) }, false, "answered with id"},
		{"service error", func(f dubbo.Frame) []byte {
			return dubbo.AppendErrorResponse(nil, f, dubbo.StatusServiceError, "boom")
		}, false, "status 70"},
		{"echoes the request", func(f dubbo.Frame) []byte { return f.Raw }, false, "answered by a request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, "127.0.0.1:0", func(c net.Conn) {
				for {
					var f dubbo.Frame
					if _, err := readUntil(c, func(b []byte) (err error) {
						f, _, err = dubbo.Parse(b)
						return err
					}, dubbo.ErrNeedMore); err != nil {
						return
					}
					if !f.IsHeartbeat() || !f.IsRequest || !f.TwoWay {
						return
					}
					if _, err := c.Write(tt.reply(f)); err != nil {
						return
					}
				}
			})
			c := start(t, newCluster(t, fast("dubbo"), srv.Addr()), nil)
			assertOutcome(t, c, srv.Addr(), tt.wantHealthy, tt.wantErr)
		})
	}
}

// assertOutcome waits for the host's fate and checks it.
func assertOutcome(t *testing.T, c *Checker, addr string, wantHealthy bool, wantErr string) {
	t.Helper()
	if wantHealthy {
		waitFor(t, "two checks", func() bool { return hostStats(c, addr).Checks >= 2 })
	} else {
		waitFor(t, "the host to be marked unhealthy", func() bool { return !hostStats(c, addr).Healthy })
	}
	st := hostStats(c, addr)
	if st.Healthy != wantHealthy || (wantHealthy && st.Failures != 0) {
		t.Fatalf("stats %+v, want healthy %v", st, wantHealthy)
	}
	if !strings.Contains(st.LastError, wantErr) {
		t.Errorf("last error %q, want it to contain %q", st.LastError, wantErr)
	}
}

// TestProbeCancelled checks that each prober gives up at once when its
// context is cancelled, whatever its own timeout.
func TestProbeCancelled(t *testing.T) {
	srv := serve(t, "127.0.0.1:0", func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	hs, err := parseHTTPConfig(map[string]any{"timeout": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]prober{"http": newHTTPProber(hs), "bolt": &boltProber{}, "dubbo": &dubboProber{}} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			before := srv.Accepts()
			done := make(chan error, 1)
			go func() { done <- p.probe(ctx, srv.Addr()) }()
			waitFor(t, "the probe to connect", func() bool { return srv.Accepts() > before })
			cancel()
			if err := <-done; err == nil {
				t.Fatal("cancelled probe succeeded")
			}
		})
	}
}
