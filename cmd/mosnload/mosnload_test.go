package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/codec/dubbo"
	"mosn.dev/proxy/codec/hessian"
)

// startServer runs an echo server on a free port, remembering request ids.
func startServer(t *testing.T, o serverOptions, tweak func(*server)) *server {
	t.Helper()
	o.addr = "127.0.0.1:0"
	s, err := newServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.trackIDs = true
	if tweak != nil {
		tweak(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve() }()
	t.Cleanup(func() {
		s.close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// target returns the URI of a server for protocol p.
func target(p, addr string) string {
	switch p {
	case protoSofaRPC, protoDubbo:
		return p + "://" + addr
	}
	return "http://" + addr + "/echo"
}

// bench runs the client with a command line and returns its result and
// output.
func bench(t *testing.T, args string) (*result, string) {
	t.Helper()
	o, err := parseClient(strings.Fields(args), io.Discard)
	if err != nil {
		t.Fatalf("%s: %v", args, err)
	}
	var out, errOut bytes.Buffer
	res, err := runClient(context.Background(), o, &out, &errOut)
	if err != nil {
		t.Fatalf("%s: %v", args, err)
	}
	if errOut.Len() > 0 {
		t.Logf("%s: stderr: %s", args, errOut.String())
	}
	return res, out.String()
}

// statusBlock is the first line of each protocol's status block.
var statusBlock = map[string]string{
	protoSofaRPC: "sofaRPC status codes: \n\t",
	protoDubbo:   "dubbo status codes: \n\t",
	protoHTTP1:   "status codes: ",
	protoH2C:     "status codes: ",
}

// checkAllSucceeded checks the counters and the sofaload lines of a run in
// which every one of n requests should succeed.
func checkAllSucceeded(t *testing.T, p string, n int64, res *result, out string) {
	t.Helper()
	tot := res.total
	if res.planned != n || tot.started != n || tot.done != n || tot.succeeded != n || tot.failed != 0 ||
		tot.errored != 0 || tot.timedOut != 0 || tot.hist.count() != uint64(n) {
		t.Errorf("planned %d started %d done %d succeeded %d failed %d errored %d timeout %d latencies %d; want %d succeeded",
			res.planned, tot.started, tot.done, tot.succeeded, tot.failed, tot.errored, tot.timedOut, tot.hist.count(), n)
	}
	if res.unknownIDs != 0 {
		t.Errorf("%d responses matched no pending request", res.unknownIDs)
	}
	label := map[string]string{protoSofaRPC: "sofarpc", protoDubbo: "dubbo", protoHTTP1: "http/1.1", protoH2C: "h2c"}[p]
	for _, want := range []string{
		"starting benchmark...\nApplication protocol: " + label + "\n\nfinished in ",
		fmt.Sprintf("requests: %d total, %d started, %d done, %d succeeded, 0 failed, 0 errored, 0 timeout\n", n, n, n, n),
		statusBlock[p],
		"\n                     min         max         mean         sd        +/- sd\ntime for request: ",
		"\ntime for connect: ",
		"\nreq/s           : ",
		"\n  Latency  Distribution\n   50%",
		"\n   99%",
		fmt.Sprintf("\nRESULT protocol=%s total=%d succeeded=%d failed=0 errored=0 timeout=0 rps=", p, n, n),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, re := range []string{
		`\nfinished in [0-9.]+(us|ms|s), [0-9.]+ req/s, [0-9.]+[KMG]?B/s\n`,
		`\ntraffic: [0-9.]+[KMG]?B \([0-9]+\) total, [0-9.]+[KMG]?B \([0-9]+\) headers \(space savings [0-9.]+%\), [0-9.]+[KMG]?B \([0-9]+\) data\n`,
		`\ntime for request: +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s) +[0-9.]+%\n`,
		`p50_us=[0-9]+ p75_us=[0-9]+ p90_us=[0-9]+ p99_us=[0-9]+ max_us=[0-9]+ mean_us=[0-9]+`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	switch p {
	case protoSofaRPC:
		if !strings.Contains(out, fmt.Sprintf("\t%d success, 0 error, 0 server exception, 0 unknown\n", n)) {
			t.Errorf("bolt status block wrong:\n%s", out)
		}
	case protoDubbo:
		if !strings.Contains(out, fmt.Sprintf("\t%d ok, 0 client timeout", n)) {
			t.Errorf("dubbo status block wrong:\n%s", out)
		}
	default:
		if !strings.Contains(out, fmt.Sprintf("status codes: %d 2xx, 0 3xx, 0 4xx, 0 5xx\n", n)) {
			t.Errorf("http status line wrong:\n%s", out)
		}
	}
}

func TestClientAgainstServer(t *testing.T) {
	tests := []struct {
		name, proto, args string
		n                 int64
	}{
		{"sofarpc closed loop", protoSofaRPC, "-n 2000 -c 4 -t 2 -m 8", 2000},
		{"sofarpc fixed rate", protoSofaRPC, "-D 0.25 --qps=2000 -c 20 -t 4", 500},
		{"sofarpc v2", protoSofaRPC, "-n 300 -c 2 -m 4 --bolt-version 2", 300},
		{"dubbo closed loop", protoDubbo, "-n 2000 -c 4 -m 8", 2000},
		{"dubbo fixed rate", protoDubbo, "-n 400 --qps=2000 -c 8 -t 2", 400},
		{"http1 closed loop", protoHTTP1, "-n 500 -c 4 -t 2", 500},
		{"http1 fixed rate POST", protoHTTP1, "-D 0.2 --qps=1000 -c 4 -d 100", 200},
		{"h2c closed loop", protoH2C, "-n 1000 -c 2 -m 10 -p h2c", 1000},
		{"h2c fixed rate", protoH2C, "-n 300 --qps=2000 -c 3 -p h2c", 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, serverOptions{proto: tc.proto, bodySize: 2}, nil)
			res, out := bench(t, tc.args+" "+target(tc.proto, s.addr()))
			checkAllSucceeded(t, tc.proto, tc.n, res, out)
			if got := s.requests.Load(); got != tc.n {
				t.Errorf("server saw %d requests, want %d", got, tc.n)
			}
			if tc.proto == protoSofaRPC || tc.proto == protoDubbo {
				if d, dups := s.distinct.Load(), s.dups.Load(); d != tc.n || dups != 0 {
					t.Errorf("server saw %d distinct ids and %d repeated ones, want %d and 0", d, dups, tc.n)
				}
				hdr := map[string]int64{protoSofaRPC: bolt.ResponseHeaderLenV1, protoDubbo: dubbo.HeaderLen}[tc.proto]
				if strings.Contains(tc.args, "--bolt-version 2") {
					hdr = bolt.ResponseHeaderLenV2
				}
				if res.rxTotal-res.rxData != tc.n*hdr {
					t.Errorf("header bytes %d for %d responses", res.rxTotal-res.rxData, tc.n)
				}
			}
			var wantH2 int64
			if tc.proto == protoH2C {
				wantH2 = tc.n
			}
			if got := s.h2.Load(); got != wantH2 {
				t.Errorf("%d requests came over HTTP/2, want %d", got, wantH2)
			}
			o, _ := parseClient(strings.Fields(tc.args+" "+target(tc.proto, s.addr())), io.Discard)
			if len(res.connects) != o.clients {
				t.Errorf("%d connections made, want -c %d", len(res.connects), o.clients)
			}
			if tc.proto == protoHTTP1 && res.rxData != 2*tc.n {
				t.Errorf("data bytes %d, want 2 per response", res.rxData)
			}
		})
	}
}

// TestOutOfOrderRandomDelay sends many requests in flight per connection
// to a server that answers each after a random delay: every answer must be
// matched to its own request.
func TestOutOfOrderRandomDelay(t *testing.T) {
	for _, p := range []string{protoSofaRPC, protoDubbo} {
		t.Run(p, func(t *testing.T) {
			s := startServer(t, serverOptions{proto: p, delayMin: 0, delayMax: 5 * time.Millisecond}, nil)
			res, out := bench(t, "-n 1000 -c 2 -m 32 "+target(p, s.addr()))
			checkAllSucceeded(t, p, 1000, res, out)
			if d, dups := s.distinct.Load(), s.dups.Load(); d != 1000 || dups != 0 {
				t.Errorf("server saw %d distinct ids and %d repeated ones", d, dups)
			}
		})
	}
}

// TestOutOfOrderReversed makes the server answer each batch of four
// requests in reverse order, which reorders answers without relying on
// timing.
func TestOutOfOrderReversed(t *testing.T) {
	for _, p := range []string{protoSofaRPC, protoDubbo} {
		t.Run(p, func(t *testing.T) {
			s := startServer(t, serverOptions{proto: p}, func(s *server) { s.reverseBatch = 4 })
			res, out := bench(t, "-n 400 -c 1 -m 4 "+target(p, s.addr()))
			checkAllSucceeded(t, p, 400, res, out)
			// Within each batch of four the last three answers come after
			// a higher id.
			if res.reordered < 100 {
				t.Errorf("%d answers counted as reordered, want at least 100", res.reordered)
			}
		})
	}
}

func TestForcedStatus(t *testing.T) {
	tests := []struct {
		proto, status, want string
	}{
		{protoSofaRPC, "SERVER_THREADPOOL_BUSY", "\t0 success, 0 error, 0 server exception, 0 unknown\n\t50 server threadpool busy, 0 error comm"},
		{protoSofaRPC, "0x33", "\t50 other\n"},
		{protoDubbo, "SERVICE_NOT_FOUND", "\t0 bad response, 50 service not found, 0 service error"},
		{protoHTTP1, "503", "status codes: 0 2xx, 0 3xx, 0 4xx, 50 5xx\n"},
		{protoH2C, "302", "status codes: 0 2xx, 50 3xx, 0 4xx, 0 5xx\n"},
	}
	for _, tc := range tests {
		t.Run(tc.proto+" "+tc.status, func(t *testing.T) {
			s := startServer(t, serverOptions{proto: tc.proto, status: tc.status}, nil)
			args := "-n 50 -c 2 -m 2 "
			if tc.proto == protoH2C {
				args += "-p h2c "
			}
			res, out := bench(t, args+target(tc.proto, s.addr()))
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			tot := res.total
			wantOK := int64(0)
			if tc.status == "302" { // h2load counts 3xx as succeeded
				wantOK = 50
			}
			if tot.done != 50 || tot.succeeded != wantOK || tot.failed != 50-wantOK || tot.errored != 0 {
				t.Errorf("done %d succeeded %d failed %d errored %d", tot.done, tot.succeeded, tot.failed, tot.errored)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	for _, p := range []string{protoSofaRPC, protoDubbo, protoHTTP1} {
		t.Run(p, func(t *testing.T) {
			s := startServer(t, serverOptions{proto: p, delay: time.Minute}, nil)
			res, out := bench(t, "-n 5 -c 1 -m 5 --timeout 50ms "+target(p, s.addr()))
			tot := res.total
			if tot.done != 5 || tot.timedOut != 5 || tot.failed != 5 || tot.succeeded != 0 {
				t.Errorf("done %d timeout %d failed %d succeeded %d, want 5 timeouts", tot.done, tot.timedOut, tot.failed, tot.succeeded)
			}
			if !strings.Contains(out, "5 failed, 0 errored, 5 timeout") {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}

func TestWarmUpIsNotCounted(t *testing.T) {
	s := startServer(t, serverOptions{proto: protoSofaRPC}, nil)
	res, out := bench(t, "--warm-up-time=0.1 -D 0.2 --qps=1000 -c 4 "+target(protoSofaRPC, s.addr()))
	checkAllSucceeded(t, protoSofaRPC, 200, res, out)
	if got := s.requests.Load(); got != 300 {
		t.Errorf("server saw %d requests, want 100 warm-up + 200 measured", got)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, p := range []string{protoSofaRPC, protoHTTP1} {
		res, out := bench(t, "-n 20 --qps=1000 -c 2 "+target(p, addr))
		tot := res.total
		if tot.done != 20 || tot.errored != 20 || tot.failed != 20 || tot.succeeded != 0 {
			t.Errorf("%s: done %d errored %d failed %d succeeded %d, want 20 errored", p, tot.done, tot.errored, tot.failed, tot.succeeded)
		}
		if !strings.Contains(out, "RESULT protocol="+p+" total=20 succeeded=0 failed=20 errored=20 timeout=0") ||
			res.connectErrs < 2 || !strings.Contains(out, " connect_errors=") {
			t.Errorf("%s: output:\n%s", p, out)
		}
	}
}

// readFrame reads one whole frame of a protocol from r.
func readFrame(t *testing.T, r *bufio.Reader, parse func([]byte) (int, error)) []byte {
	t.Helper()
	var buf []byte
	for {
		if n, err := parse(buf); err == nil {
			return buf[:n]
		}
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading a frame: %v (have % x)", err, buf)
		}
		buf = append(buf, b)
	}
}

func parseBolt(b []byte) (int, error) {
	_, n, err := bolt.Parse(b)
	return n, err
}

func parseDubbo(b []byte) (int, error) {
	_, n, err := dubbo.Parse(b)
	return n, err
}

// fakePeer accepts one connection on a free port and hands it to fn.
func fakePeer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net, not synchronisation
		fn(nc)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestClientAnswersHeartbeats has a fake server send a heartbeat to the
// client and checks the answer.
func TestClientAnswersHeartbeats(t *testing.T) {
	tests := []struct {
		proto string
		hb    []byte
		check func(t *testing.T, frame []byte)
	}{
		{protoSofaRPC, bolt.AppendHeartbeat(nil, bolt.ProtoV1, 77), func(t *testing.T, b []byte) {
			f, _, _ := bolt.Parse(b)
			if f.CmdCode != bolt.CmdHeartbeat || f.Type != bolt.TypeResponse || f.RequestID != 77 || f.Status != bolt.StatusSuccess {
				t.Errorf("answer %+v, want a heartbeat ack for id 77", f)
			}
		}},
		{protoDubbo, dubbo.AppendHeartbeat(nil, 1<<40), func(t *testing.T, b []byte) {
			f, _, _ := dubbo.Parse(b)
			if !f.IsEvent || f.IsRequest || f.ID != 1<<40 || f.Status != dubbo.StatusOK {
				t.Errorf("answer %+v, want a heartbeat reply for id 1<<40", f)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.proto, func(t *testing.T) {
			answer := make(chan []byte, 1)
			addr := fakePeer(t, func(nc net.Conn) {
				if _, err := nc.Write(tc.hb); err != nil {
					t.Error(err)
					return
				}
				parse := parseBolt
				if tc.proto == protoDubbo {
					parse = parseDubbo
				}
				answer <- readFrame(t, bufio.NewReader(nc), parse)
			})
			o, err := parseClient([]string{target(tc.proto, addr)}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := specFor(o)
			if err != nil {
				t.Fatal(err)
			}
			r := newRunner(o, spec)
			t.Cleanup(r.close)
			if err := r.clients[0].tr.connect(); err != nil {
				t.Fatal(err)
			}
			tc.check(t, <-answer)
		})
	}
}

// TestServerHeartbeats checks that the server answers heartbeats and sends
// its own when asked to.
func TestServerHeartbeats(t *testing.T) {
	tests := []struct {
		proto string
		hb    []byte
		parse func([]byte) (int, error)
		check func(t *testing.T, b []byte) // the answer to hb
		isHB  func(b []byte) bool          // a heartbeat from the server
	}{
		{protoSofaRPC, bolt.AppendHeartbeat(nil, bolt.ProtoV2, 9), parseBolt, func(t *testing.T, b []byte) {
			f, _, _ := bolt.Parse(b)
			if f.Proto != bolt.ProtoV2 || f.CmdCode != bolt.CmdHeartbeat || f.Type != bolt.TypeResponse || f.RequestID != 9 {
				t.Errorf("answer %+v, want a v2 heartbeat ack for id 9", f)
			}
		}, func(b []byte) bool {
			f, _, _ := bolt.Parse(b)
			return f.CmdCode == bolt.CmdHeartbeat && f.IsRequest()
		}},
		{protoDubbo, dubbo.AppendHeartbeat(nil, 9), parseDubbo, func(t *testing.T, b []byte) {
			f, _, _ := dubbo.Parse(b)
			if !f.IsEvent || f.IsRequest || f.ID != 9 {
				t.Errorf("answer %+v, want a heartbeat reply for id 9", f)
			}
		}, func(b []byte) bool {
			f, _, _ := dubbo.Parse(b)
			return f.IsEvent && f.IsRequest && f.TwoWay
		}},
	}
	for _, tc := range tests {
		t.Run(tc.proto, func(t *testing.T) {
			s := startServer(t, serverOptions{proto: tc.proto}, nil)
			nc, err := net.Dial("tcp", s.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := nc.Write(tc.hb); err != nil {
				t.Fatal(err)
			}
			tc.check(t, readFrame(t, bufio.NewReader(nc), tc.parse))

			hs := startServer(t, serverOptions{proto: tc.proto, heartbeat: time.Millisecond}, nil)
			hc, err := net.Dial("tcp", hs.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer hc.Close()
			hc.SetDeadline(time.Now().Add(10 * time.Second))
			if b := readFrame(t, bufio.NewReader(hc), tc.parse); !tc.isHB(b) {
				t.Errorf("server sent % x, want a heartbeat", b)
			}
		})
	}
}

// TestReconnect has the first connection closed by the server after one
// request: that request errors, and the client dials again for the next.
func TestReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if i == 0 {
				readFrame(t, bufio.NewReader(nc), parseBolt)
				nc.Close()
				continue
			}
			go echoBolt(nc)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	res, _ := bench(t, "-n 3 -c 1 "+target(protoSofaRPC, ln.Addr().String()))
	tot := res.total
	if tot.done != 3 || tot.errored != 1 || tot.succeeded != 2 {
		t.Errorf("done %d errored %d succeeded %d, want 3, 1, 2", tot.done, tot.errored, tot.succeeded)
	}
	if len(res.connects) != 2 {
		t.Errorf("%d connects recorded, want 2", len(res.connects))
	}
}

// echoBolt answers bolt requests on nc with the server codec until EOF.
func echoBolt(nc net.Conn) {
	defer nc.Close()
	codec := &boltServerCodec{}
	r := bufio.NewReader(nc)
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := r.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			f, m, perr := codec.parse(buf)
			if perr != nil || m == 0 {
				break
			}
			if f.reply != nil {
				if _, err := nc.Write(f.reply); err != nil {
					return
				}
			}
			buf = buf[m:]
		}
		if err != nil {
			return
		}
	}
}

func TestDubboEchoBody(t *testing.T) {
	req := dubboEchoRequest()
	dubbo.SetID(req, 5)
	codec := &dubboServerCodec{}
	f, n, err := codec.parse(req)
	if err != nil || n != len(req) || !f.request || f.id != 5 {
		t.Fatalf("parse: %+v, %d, %v", f, n, err)
	}
	resp, _, err := dubbo.Parse(f.reply)
	if err != nil || resp.Status != dubbo.StatusOK || resp.ID != 5 {
		t.Fatalf("answer %+v, %v", resp, err)
	}
	// The body is the VALUE response type and the argument.
	r := hessian.NewReader(resp.Body)
	if typ, err := r.ReadInt(); err != nil || typ != dubbo.ResponseValue {
		t.Errorf("response type %d, %v", typ, err)
	}
	arg, err := r.ReadString()
	if want := strings.Repeat("1234567890", dubboArgLen/10+1)[:dubboArgLen]; err != nil || arg != want || r.Len() != 0 {
		t.Errorf("argument %q (%v), %d bytes left; want the 1 KiB echo string", arg, err, r.Len())
	}
}

// TestCommandLine runs the CLI: a server started by "serve", a client run
// against it, and the exit codes.
func TestCommandLine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve", "-p", "dubbo", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("serve printed nothing")
	}
	first := lines.Text()
	addr, ok := strings.CutPrefix(first, "mosnload: serving dubbo on ")
	if !ok {
		t.Fatalf("serve printed %q", first)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-n", "10", "-c", "2", "dubbo://" + addr}, &out, io.Discard); code != 0 {
		t.Errorf("client exit %d", code)
	}
	if !strings.Contains(out.String(), "requests: 10 total, 10 started, 10 done, 10 succeeded") {
		t.Errorf("client output:\n%s", out.String())
	}
	cancel()
	if !lines.Scan() || lines.Text() != "mosnload: served 10 requests" {
		t.Errorf("serve's last line %q", lines.Text())
	}
	if code := <-exit; code != 0 {
		t.Errorf("serve exit %d", code)
	}
	for _, args := range [][]string{{"-c", "x", "sofarpc://h"}, {"serve", "-p", "ftp", ":0"}, {"nothing"}} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	if code := run(context.Background(), []string{"serve", "-p", "dubbo", "256.0.0.1:1"}, io.Discard, io.Discard); code != 1 {
		t.Errorf("serve on a bad address: exit %d, want 1", code)
	}
}
