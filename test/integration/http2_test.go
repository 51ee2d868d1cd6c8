package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

const h2Config = `{
  "servers": [{
    "default_log_path": "${DIR}/mosn.log",
    "listeners": [{
      "name": "h", "address": "127.0.0.1:${PORT}", "bind_port": true,
      "access_logs": [{"log_path": "${DIR}/access.log", "log_format": "%request_header_x-case% %response_code% %upstream_transport_failure_reason%"}],
      "filter_chains": [{"filters": [{"type": "proxy", "config": {
        "downstream_protocol": "${DOWN}", "upstream_protocol": "${UP}", "router_config_name": "r"}}]}]
    }],
    "routers": [{"router_config_name": "r", "virtual_hosts": [{"name": "all", "domains": ["*"], "routers": [
      {"match": {"prefix": "/direct"}, "direct_response": {"status": 200, "body": "direct"}},
      {"match": {"prefix": "/slow"}, "route": {"cluster_name": "web", "timeout": "300ms"}},
      {"match": {"prefix": "/"}, "route": {"cluster_name": "web",
        "response_headers_to_add": [{"header": {"key": "x-proxy", "value": "mosn"}}]}}
    ]}]}]
  }],
  "cluster_manager": {"clusters": [{"name": "web", "hosts": [{"address": "${UPSTREAM}"}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

// h2Upstream answers with the protocol it saw and sends a trailer; /slow
// answers after 10 s, or not at all once the proxy gives up.
func h2Upstream(t *testing.T, h2 bool) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %s body=%d", r.Proto, r.Method, r.URL.RequestURI(), len(body))
		w.Header().Set("X-Checksum", fmt.Sprint(len(body)))
	})
	srv := httptest.NewUnstartedServer(h)
	if h2 {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		p.SetHTTP1(true)
		srv.Config.Protocols = &p
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func startH2(t *testing.T, down, up, upstream string) string {
	base, _ := startH2Dir(t, down, up, upstream)
	return base
}

// startH2Dir is startH2 that also returns the directory of the logs.
func startH2Dir(t *testing.T, down, up, upstream string) (string, string) {
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	dir := t.TempDir()
	cfg := expand(h2Config, map[string]string{
		"DIR": dir, "PORT": fmt.Sprint(port), "ADMIN": fmt.Sprint(admin),
		"DOWN": down, "UP": up, "UPSTREAM": upstream,
	})
	startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
	return fmt.Sprintf("http://127.0.0.1:%d", port), dir
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &p}}
}

func h1Client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second}
}

// TestHTTP2Matrix runs the same requests across downstream x upstream
// protocols: h2c->h2c, h2c->h1, Auto (h1 and h2c clients on one port).
func TestHTTP2Matrix(t *testing.T) {
	for _, tc := range []struct {
		name, down, up string
		upH2           bool
		client         *http.Client
		wantUpProto    string
	}{
		{"h2->h2", "Http2", "Http2", true, h2cClient(), "HTTP/2.0"},
		{"h2->h1", "Http2", "Http1", false, h2cClient(), "HTTP/1.1"},
		{"auto-h2->h2", "Auto", "Auto", true, h2cClient(), "HTTP/2.0"},
		{"auto-h1->h1", "Auto", "Auto", true, h1Client(), "HTTP/1.1"},
		{"h1->h1", "Http1", "Http1", false, h1Client(), "HTTP/1.1"},
		{"h1->h2", "Http1", "Http2", true, h1Client(), "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, dir := startH2Dir(t, tc.down, tc.up, h2Upstream(t, tc.upH2))
			resp, err := tc.client.Post(base+"/echo?q=1", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := tc.wantUpProto + " POST /echo?q=1 body=5"
			if resp.StatusCode != 200 || string(b) != want {
				t.Fatalf("%d %q, want %q", resp.StatusCode, b, want)
			}
			if resp.Header.Get("X-Proxy") != "mosn" {
				t.Errorf("response header ops not applied: %v", resp.Header)
			}
			if (resp.ProtoMajor == 2 || tc.upH2) && resp.Trailer.Get("X-Checksum") != "5" {
				t.Errorf("trailer lost: %v", resp.Trailer)
			}
			// A body of unknown length (chunked for HTTP/1, DATA frames for h2).
			req, _ := http.NewRequest("POST", base+"/up", io.MultiReader(strings.NewReader(strings.Repeat("z", 100000))))
			req.ContentLength = -1
			resp, err = tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := tc.wantUpProto + " POST /up body=100000"; string(b) != want {
				t.Fatalf("streamed upload: %q, want %q", b, want)
			}
			resp, err = tc.client.Get(base + "/direct")
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "direct" {
				t.Errorf("direct response: %q", b)
			}
			// The route timeout (300 ms) ends a request whose answer does
			// not come: 504 with the UT flag, and the next request on the
			// same client works.
			req, _ = http.NewRequest("GET", base+"/slow", nil)
			req.Header.Set("X-Case", "slow")
			start := time.Now()
			resp, err = tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Fatalf("slow upstream: %d, want 504", resp.StatusCode)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("slow upstream answered after %v: the 300ms route timeout did not end it", took)
			}
			waitLog(t, filepath.Join(dir, "access.log"), "slow 504 UT")
			resp, err = tc.client.Get(base + "/after?x=1")
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := tc.wantUpProto + " GET /after?x=1 body=0"; string(b) != want {
				t.Fatalf("after a timeout: %q, want %q", b, want)
			}
		})
	}
}

// TestHTTP2Concurrent sends many concurrent streams over one h2c client
// connection; every answer matches its request.
func TestHTTP2Concurrent(t *testing.T) {
	base := startH2(t, "Http2", "Http2", h2Upstream(t, true))
	client := h2cClient()
	errc := make(chan error, 200)
	for i := 0; i < 200; i++ {
		go func() {
			resp, err := client.Get(fmt.Sprintf("%s/n/%d", base, i))
			if err != nil {
				errc <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("HTTP/2.0 GET /n/%d body=0", i); string(b) != want {
				errc <- fmt.Errorf("got %q, want %q", b, want)
				return
			}
			errc <- nil
		}()
	}
	for i := 0; i < 200; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func getBody(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestH1ToH2BodyStillGoing: an HTTP/1 request whose body is still coming
// when the h2c upstream answers without reading it. The answer is
// relayed and the connection closed after it (the rest of the body may
// never come); the proxy stops reading the body before it reuses or
// frees the connection's buffer (the race-built binary would report a
// race otherwise).
func TestH1ToH2BodyStillGoing(t *testing.T) {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "early")
	}))
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(srv.Close)
	base := startH2(t, "Http1", "Http2", strings.TrimPrefix(srv.URL, "http://"))
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// A chunked body with a first chunk and no end.
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "early" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
		if !resp.Close {
			t.Fatalf("request %d: connection kept open with the request body unfinished", i)
		}
		c.Close()
	}
}
