package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/bench/internal/benchutil"
	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/internal/testutil"
)

func TestParseHTTP1Head(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		hl      int
		status  int
		cl      int64
		closing bool
		wantErr string
	}{
		{name: "incomplete", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"},
		{name: "ok", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", hl: 38, status: 200, cl: 2},
		{name: "no reason", in: "HTTP/1.1 204\r\n\r\n", hl: 16, status: 204},
		{name: "204 ignores length", in: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", hl: 46, status: 204},
		{name: "close", in: "HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n", hl: 57, status: 200, closing: true},
		{name: "interim", in: "HTTP/1.1 100 Continue\r\n\r\n", hl: 25, status: 100},
		{name: "bad version", in: "HTTP/2.0 200 OK\r\n\r\n", wantErr: "bad status line"},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: "bad status line"},
		{name: "status run-on", in: "HTTP/1.1 2000 OK\r\n\r\n", wantErr: "bad status line"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: "bad Content-Length"},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantErr: "bad Content-Length"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: "Transfer-Encoding"},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", wantErr: "bad header line"},
		{name: "head too long", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 70<<10), wantErr: "longer than 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hl, status, cl, closing, err := parseHTTP1Head([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hl != tt.hl || status != tt.status || cl != tt.cl || closing != tt.closing {
				t.Fatalf("got hl=%d status=%d cl=%d closing=%v, want %d %d %d %v", hl, status, cl, closing, tt.hl, tt.status, tt.cl, tt.closing)
			}
		})
	}
}

// oneByteReader returns its data one byte per Read, as a slow socket
// would, so that every partial state of the readers is exercised.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestReadHTTP1Answer(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		left    string
		// bulk reads everything at once instead of byte by byte.
		bulk bool
	}{
		{name: "one", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{name: "interim then final", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{name: "keeps what follows", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1", left: "HTTP/1.1", bulk: true},
		{name: "error status", in: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", wantErr: "status 503"},
		{name: "closing", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", wantErr: "Connection: close"},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", wantErr: "unexpected EOF"},
		{name: "nothing", in: "", wantErr: "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := &idleConn{}
			var r io.Reader = &oneByteReader{b: []byte(tt.in)}
			if tt.bulk {
				r = strings.NewReader(tt.in)
			}
			err := readHTTP1Answer(ic, r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(ic.rd) != tt.left {
				t.Fatalf("left %q in the buffer, want %q", ic.rd, tt.left)
			}
			if tt.left == "" && ic.rd != nil {
				t.Fatal("an emptied buffer is kept: an idle connection must hold none")
			}
		})
	}
}

func TestHpackInt(t *testing.T) {
	for _, n := range []uint{4, 5, 6, 7} {
		for _, v := range []uint64{0, 1, 14, 15, 16, 30, 31, 62, 63, 126, 127, 128, 300, 1 << 20} {
			b := hpackInt(nil, 0, n, v)
			got, m := hpackReadInt(b, n)
			if got != v || m != len(b) {
				t.Errorf("n=%d v=%d: encoded %x, decoded %d in %d bytes", n, v, b, got, m)
			}
		}
	}
	if _, m := hpackReadInt([]byte{0x7f, 0x80}, 7); m != 0 {
		t.Error("a truncated integer decoded")
	}
}

func TestHpackStatus(t *testing.T) {
	tests := []struct {
		name  string
		block []byte
		want  int
	}{
		{"indexed 200", []byte{0x88}, 200},
		{"indexed 404", []byte{0x8d, 0x0f}, 404},
		{"indexed 500", []byte{0x8e}, 500},
		{"indexed non-status", []byte{0x82}, 0},
		{"after table size update", []byte{0x3f, 0xe1, 0x1f, 0x88}, 200},
		{"literal incremental", append([]byte{0x48, 0x03}, "502"...), 502},
		{"literal without indexing", append([]byte{0x08, 0x03}, "201"...), 201},
		{"literal never indexed", append([]byte{0x18, 0x03}, "429"...), 429},
		{"huffman value", []byte{0x48, 0x82, 0x64, 0x02}, 0},
		{"other name", append([]byte{0x44, 0x03}, "/ab"...), 0},
		{"truncated", []byte{0x48, 0x03, '2'}, 0},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hpackStatus(tt.block); got != tt.want {
				t.Fatalf("hpackStatus(%x) = %d, want %d", tt.block, got, tt.want)
			}
		})
	}
}

// rw joins a reader of server bytes and a record of what the client wrote.
type rw struct {
	io.Reader
	out bytes.Buffer
}

func (x *rw) Write(p []byte) (int, error) { return x.out.Write(p) }

func h2Frame2(typ, flags byte, sid uint32, payload []byte) []byte {
	return appendH2Frame(nil, typ, flags, sid, payload)
}

func TestReadH2Answer(t *testing.T) {
	settings := h2Frame2(h2Settings, 0, 0, []byte{0, 3, 0, 0, 0, 100})
	ping := h2Frame2(h2Ping, 0, 0, []byte("12345678"))
	headers200 := h2Frame2(h2Headers, h2FlagEndHeaders, 1, []byte{0x88})
	tests := []struct {
		name    string
		in      []byte
		wantErr string
		// wrote lists the frame types the client must have written.
		wrote []byte
	}{
		{name: "headers and data", in: concat(settings, headers200, h2Frame2(h2Data, h2FlagEndStream, 1, []byte("ok"))),
			wrote: []byte{h2Settings}},
		{name: "headers only", in: h2Frame2(h2Headers, h2FlagEndHeaders|h2FlagEndStream, 1, []byte{0x88})},
		{name: "padded and priority", in: h2Frame2(h2Headers, h2FlagEndHeaders|h2FlagEndStream|h2FlagPadded|h2FlagPriority, 1,
			[]byte{2, 0, 0, 0, 0, 16, 0x88, 0, 0})},
		{name: "ping answered", in: concat(ping, headers200, h2Frame2(h2Data, h2FlagEndStream, 1, nil)), wrote: []byte{h2Ping}},
		{name: "other stream ignored", in: concat(h2Frame2(h2Data, h2FlagEndStream, 3, []byte("x")), headers200,
			h2Frame2(h2Data, h2FlagEndStream, 1, nil))},
		{name: "error status", in: h2Frame2(h2Headers, h2FlagEndHeaders|h2FlagEndStream, 1, []byte{0x8e}), wantErr: "status 500"},
		{name: "undecoded status", in: h2Frame2(h2Headers, h2FlagEndHeaders|h2FlagEndStream, 1, []byte{0x48, 0x82, 0x64, 0x02}),
			wantErr: "could not be decoded"},
		{name: "reset", in: h2Frame2(h2RSTStream, 0, 1, []byte{0, 0, 0, 2}), wantErr: "reset"},
		{name: "goaway", in: h2Frame2(h2GoAway, 0, 0, make([]byte, 8)), wantErr: "GOAWAY"},
		{name: "oversized frame", in: []byte{0, 0x40, 1, 0, 0, 0, 0, 0, 1}, wantErr: "maximum frame size"},
		{name: "bad ping", in: h2Frame2(h2Ping, 0, 0, []byte("1234")), wantErr: "malformed"},
		{name: "bad settings", in: h2Frame2(h2Settings, 0, 0, []byte{1, 2, 3}), wantErr: "malformed"},
		{name: "bad padding", in: h2Frame2(h2Headers, h2FlagEndHeaders|h2FlagPadded, 1, []byte{9, 0x88}), wantErr: "malformed"},
		{name: "cut short", in: headers200, wantErr: "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := &idleConn{}
			x := &rw{Reader: &oneByteReader{b: tt.in}}
			err := readH2Answer(ic, x, 1)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var types []byte
			for out := x.out.Bytes(); len(out) >= 9; {
				n := int(out[0])<<16 | int(out[1])<<8 | int(out[2])
				types = append(types, out[3])
				if out[4]&h2FlagAck == 0 {
					t.Errorf("wrote frame type %d without ACK", out[3])
				}
				out = out[9+n:]
			}
			if !bytes.Equal(types, tt.wrote) {
				t.Fatalf("wrote frame types %v, want %v", types, tt.wrote)
			}
		})
	}
}

func TestReadH2AnswerReturnsWindow(t *testing.T) {
	body := make([]byte, h2MaxFrame)
	in := concat(h2Frame2(h2Headers, h2FlagEndHeaders, 1, []byte{0x88}), h2Frame2(h2Data, 0, 1, body), h2Frame2(h2Data, h2FlagEndStream, 1, body[:10]))
	ic := &idleConn{}
	x := &rw{Reader: bytes.NewReader(in)}
	if err := readH2Answer(ic, x, 1); err != nil {
		t.Fatal(err)
	}
	out := x.out.Bytes()
	if len(out) != 13 || out[3] != h2WindowUpdate || binary.BigEndian.Uint32(out[9:]) != h2MaxFrame {
		t.Fatalf("wrote %x, want one WINDOW_UPDATE of %d", out, h2MaxFrame)
	}
	if ic.h2Consumed != 10 {
		t.Fatalf("consumed %d bytes not yet returned, want 10", ic.h2Consumed)
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func boltResp(id uint32, cmd bolt.CmdCode, status uint16) []byte {
	return bolt.AppendResponse(nil, bolt.Response{Proto: bolt.ProtoV1, CmdCode: cmd, Ver2: bolt.DefaultVer2,
		RequestID: id, Codec: bolt.CodecHessian2, Status: status})
}

func TestReadBoltAnswer(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		heartbeat bool
		wantErr   string
		wroteAck  bool
	}{
		{name: "response", in: boltResp(7, bolt.CmdResponse, bolt.StatusSuccess)},
		{name: "stale answer skipped", in: concat(boltResp(6, bolt.CmdResponse, bolt.StatusSuccess), boltResp(7, bolt.CmdResponse, bolt.StatusSuccess))},
		{name: "server heartbeat acked", in: concat(bolt.AppendHeartbeat(nil, bolt.ProtoV1, 99), boltResp(7, bolt.CmdResponse, bolt.StatusSuccess)), wroteAck: true},
		{name: "heartbeat ack", in: boltResp(7, bolt.CmdHeartbeat, bolt.StatusSuccess), heartbeat: true},
		{name: "ack to a request", in: boltResp(7, bolt.CmdHeartbeat, bolt.StatusSuccess), wantErr: "heartbeat=true"},
		{name: "error status", in: boltResp(7, bolt.CmdResponse, 0x10), wantErr: "bolt status 16"},
		{name: "server request", in: bolt.AppendRequest(nil, bolt.Request{Proto: bolt.ProtoV1, CmdCode: bolt.CmdRequest, RequestID: 1}), wantErr: "unexpected bolt request"},
		{name: "garbage", in: []byte{9, 9, 9}, wantErr: "invalid"},
		{name: "cut short", in: boltResp(7, bolt.CmdResponse, bolt.StatusSuccess)[:15], wantErr: "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := &idleConn{}
			x := &rw{Reader: &oneByteReader{b: tt.in}}
			err := readBoltAnswer(ic, x, 7, tt.heartbeat)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wroteAck {
				f, _, err := bolt.Parse(x.out.Bytes())
				if err != nil || !f.IsHeartbeat() || f.IsRequest() || f.RequestID != 99 {
					t.Fatalf("wrote %x (%v), want a heartbeat ack for id 99", x.out.Bytes(), err)
				}
			} else if x.out.Len() != 0 {
				t.Fatalf("wrote %x, want nothing", x.out.Bytes())
			}
		})
	}
}

func TestPercentilesUS(t *testing.T) {
	d := []time.Duration{5 * time.Microsecond, time.Microsecond, 3 * time.Microsecond, 2 * time.Microsecond, 4 * time.Microsecond}
	got := percentilesUS(d, 0, 50, 80, 99, 100)
	want := []float64{1, 3, 4, 5, 5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("percentiles = %v, want %v", got, want)
		}
	}
	if got := percentilesUS(nil, 50); got[0] != 0 {
		t.Fatalf("empty input gave %v", got)
	}
	if maxUS(d) != 5 || maxUS(nil) != 0 {
		t.Fatal("maxUS")
	}
}

// servers starts one server per kind on 127.0.0.1:0 and returns their
// addresses; hs is the HTTP/1 server (for closing its connections).
func servers(t *testing.T) (addrs map[string]string, hs *httptest.Server, bs *testutil.BoltServer) {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/small" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("hello"))
	})
	hs = httptest.NewServer(h)
	t.Cleanup(hs.Close)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2 := httptest.NewUnstartedServer(h)
	h2.Config.Protocols = &p
	h2.Start()
	t.Cleanup(h2.Close)
	bs = testutil.NewBoltServer(t, "b", 0)
	return map[string]string{
		"http1": hs.Listener.Addr().String(),
		"h2c":   h2.Listener.Addr().String(),
		"bolt":  bs.Addr(),
	}, hs, bs
}

// syncBuf is a bytes.Buffer safe for the client's concurrent writers.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lineFields returns the key=value fields of the last line starting with
// word.
func lineFields(t *testing.T, out, word string) map[string]string {
	t.Helper()
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, word+" ") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no %s line in %q", word, out)
	}
	m := map[string]string{}
	for _, f := range strings.Fields(line)[1:] {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

func TestClientKinds(t *testing.T) {
	addrs, _, _ := servers(t)
	for _, kind := range []string{"http1", "h2c", "bolt"} {
		t.Run(kind, func(t *testing.T) {
			var out, errs syncBuf
			cl, err := newClient(clientConfig{kind: kind, addr: addrs[kind], n: 20, conc: 4, path: "/small",
				src: "127.0.0.1", probe: 5, timeout: 5 * time.Second, seed: 1}, &out, &errs)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cl.close)
			if !cl.open() {
				t.Fatalf("no connection opened: %s", errs.String())
			}
			o := lineFields(t, out.String(), "OPEN")
			if o["conns"] != "20" || o["failed"] != "0" {
				t.Fatalf("OPEN %v; errors: %s", o, errs.String())
			}
			// Probe twice: the second request on a connection (h2c: a new
			// stream id, bolt: a new request id) must work too.
			for range 2 {
				cl.probe()
			}
			p := lineFields(t, out.String(), "PROBE")
			if p["alive"] != "20" || p["probed"] != "5" || p["ok"] != "5" || p["failed"] != "0" {
				t.Fatalf("PROBE %v; errors: %s", p, errs.String())
			}
		})
	}
}

func TestClientProbeAll(t *testing.T) {
	addrs, _, _ := servers(t)
	var out syncBuf
	cl, err := newClient(clientConfig{kind: "http1", addr: addrs["http1"], n: 7, conc: 3, path: "/small", probe: 0, timeout: 5 * time.Second}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.close)
	cl.open()
	cl.probe()
	if p := lineFields(t, out.String(), "PROBE"); p["probed"] != "7" || p["ok"] != "7" {
		t.Fatalf("PROBE %v, want all 7 probed", p)
	}
}

func TestClientFindsClosedConnections(t *testing.T) {
	addrs, hs, _ := servers(t)
	var out syncBuf
	cl, err := newClient(clientConfig{kind: "http1", addr: addrs["http1"], n: 10, conc: 2, path: "/small", probe: 0, timeout: 5 * time.Second}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.close)
	cl.open()
	hs.CloseClientConnections()
	cl.probe()
	p := lineFields(t, out.String(), "PROBE")
	// The peek sees the FIN of most; any it misses fails its probe.
	closed, _ := strconv.Atoi(p["closed"])
	failed, _ := strconv.Atoi(p["failed"])
	if p["ok"] != "0" || closed+failed != 10 {
		t.Fatalf("PROBE %v, want every connection found closed or failed", p)
	}
}

func TestClientHeartbeats(t *testing.T) {
	addrs, _, bs := servers(t)
	var out syncBuf
	cl, err := newClient(clientConfig{kind: "bolt", addr: addrs["bolt"], n: 6, conc: 2, probe: 1, timeout: 5 * time.Second}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.close)
	cl.open()
	cl.heartbeatSlot(0, 2) // connections 0, 2, 4
	cl.heartbeatSlot(1, 2) // 1, 3, 5
	cl.heartbeatSlot(0, 1) // all again
	if got := bs.Heartbeats(); got != 12 {
		t.Fatalf("server saw %d heartbeats, want 12", got)
	}
	cl.probe()
	if p := lineFields(t, out.String(), "PROBE"); p["heartbeats_ok"] != "12" || p["heartbeats_failed"] != "0" || p["ok"] != "1" {
		t.Fatalf("PROBE %v", p)
	}
}

func TestHTTP1HasNoHeartbeat(t *testing.T) {
	if err := newHTTP1("/", "h").heartbeat(&idleConn{}); err != errNoHeartbeat {
		t.Fatalf("err = %v", err)
	}
	if err := newH2("/", "h").heartbeat(&idleConn{}); err != errNoHeartbeat {
		t.Fatalf("err = %v", err)
	}
}

func TestRunClientSignals(t *testing.T) {
	addrs, _, _ := servers(t)
	probe := make(chan os.Signal, 1)
	stop := make(chan os.Signal, 1)
	r, w := io.Pipe()
	done := make(chan int, 1)
	cfg := clientConfig{kind: "bolt", addr: addrs["bolt"], n: 5, conc: 2, probe: 2, timeout: 5 * time.Second,
		heartbeat: time.Hour, latFile: t.TempDir() + "/lat"}
	go func() {
		done <- runClient(cfg, w, io.Discard, probe, stop)
		w.Close()
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		var buf []byte
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			buf = append(buf, b[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				lines <- string(buf[:i])
				buf = buf[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	expect := func(word string) {
		t.Helper()
		l := <-lines
		if !strings.HasPrefix(l, word+" ") {
			t.Fatalf("got line %q, want %s", l, word)
		}
	}
	expect("OPEN")
	probe <- syscall.SIGUSR1
	expect("PROBE")
	stop <- syscall.SIGUSR2
	if l := <-lines; !strings.HasPrefix(l, "DONE ") || !strings.HasSuffix(l, " signal=USR2") {
		t.Fatalf("got line %q, want DONE ... signal=USR2", l)
	}
	if rc := <-done; rc != 0 {
		t.Fatalf("exit status %d", rc)
	}
	open, err := os.ReadFile(cfg.latFile + ".open")
	if err != nil || strings.Count(string(open), "\n") != 5 {
		t.Fatalf("open latencies %q, %v: want 5 lines", open, err)
	}
	pr, err := os.ReadFile(cfg.latFile + ".probe")
	if err != nil || strings.Count(string(pr), "\n") != 2 {
		t.Fatalf("probe latencies %q, %v: want 2 lines", pr, err)
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"client", "-kind", "http1"}, 2},
		{[]string{"client", "-kind", "smtp", "-addr", "127.0.0.1:1"}, 2},
		{[]string{"help"}, 0},
		{[]string{"freeport", "-n", "3"}, 0},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if got := run(tt.args, &out, io.Discard); got != tt.want {
			t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
		}
	}
}

func TestWaitAndFreePorts(t *testing.T) {
	ports, err := benchutil.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Fatalf("ports not distinct: %v", ports)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := benchutil.WaitReady(ln.Addr().String(), time.Second); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseHTTP1Head(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Length: 99999999999\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return // the answers of the bench servers are small
		}
		hl, status, cl, _, err := parseHTTP1Head(b)
		if err != nil {
			return
		}
		if hl > len(b) || cl < 0 || (hl > 0 && (status < 100 || status > 999)) {
			t.Fatalf("hl=%d status=%d cl=%d for %q", hl, status, cl, b)
		}
		ic := &idleConn{}
		readHTTP1Answer(ic, bytes.NewReader(b))
	})
}

func FuzzReadH2Answer(f *testing.F) {
	f.Add(concat(h2Frame2(h2Settings, 0, 0, nil), h2Frame2(h2Headers, h2FlagEndHeaders, 1, []byte{0x88}), h2Frame2(h2Data, h2FlagEndStream, 1, []byte("ok"))))
	f.Add(h2Frame2(h2Headers, h2FlagEndHeaders|h2FlagEndStream|h2FlagPadded|h2FlagPriority, 1, []byte{2, 0, 0, 0, 0, 16, 0x48, 0x03, '2', '0', '0', 0, 0}))
	f.Add(h2Frame2(h2Ping, 0, 0, []byte("12345678")))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return // the answers of the bench servers are small
		}
		ic := &idleConn{}
		x := &rw{Reader: bytes.NewReader(b)}
		readH2Answer(ic, x, 1)
		if len(ic.rd) > len(b) {
			t.Fatalf("buffered %d bytes of %d", len(ic.rd), len(b))
		}
		hpackStatus(b)
	})
}

func FuzzReadBoltAnswer(f *testing.F) {
	f.Add(boltResp(7, bolt.CmdResponse, bolt.StatusSuccess))
	f.Add(concat(bolt.AppendHeartbeat(nil, bolt.ProtoV1, 1), boltResp(7, bolt.CmdHeartbeat, bolt.StatusSuccess)))
	f.Add(bolt.EchoRequest())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return // the answers of the bench servers are small
		}
		ic := &idleConn{}
		x := &rw{Reader: bytes.NewReader(b)}
		readBoltAnswer(ic, x, 7, false)
		readBoltAnswer(&idleConn{}, &rw{Reader: bytes.NewReader(b)}, 7, true)
	})
}
