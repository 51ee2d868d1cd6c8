package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/bench/internal/benchutil"
)

// startServer runs the upstream server on a port-0 listener for the test.
func startServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln, t.Logf) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestBulk(t *testing.T) {
	addr := startServer(t)
	const n = 3<<20 + 17 // not a multiple of the buffer size
	tests := []struct {
		dir   string
		conns int
		want  uint64
	}{
		{"up", 1, n},
		{"down", 1, n},
		{"both", 1, 2 * n},
		{"both", 4, 8 * n},
		{"down", 2, 2 * n},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			r, err := runBulk(addr, tt.conns, n, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.Failures != 0 || r.Bytes != tt.want {
				t.Fatalf("bytes=%d failures=%d %v, want bytes=%d and no failures", r.Bytes, r.Failures, r.Errors, tt.want)
			}
		})
	}
	if _, err := runBulk(addr, 1, n, "sideways"); err == nil {
		t.Error("runBulk accepted dir=sideways")
	}
}

func TestOneShotAnswer(t *testing.T) {
	addr := startServer(t)
	for _, size := range []int{1, 64, 100000} {
		msg := header{mode: modeRR, reqSize: uint32(size), respSize: uint32(size)}.appendTo(nil)
		msg = append(msg, make([]byte, size)...)
		resp := make([]byte, size)
		if err := oneShot(addr, msg, resp); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		want := make([]byte, size)
		fill(want)
		if !bytes.Equal(resp, want) {
			t.Fatalf("size %d: answer is not the server's pattern", size)
		}
	}
}

func TestRRManyRequestsOneConn(t *testing.T) {
	addr := startServer(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Answers of a different size than the requests prove the server
	// frames by the header, not by what it happens to read.
	if _, err := c.Write(header{mode: modeRR, reqSize: 10, respSize: 3}.appendTo(nil)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := c.Write(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 3)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(got) != "abc" {
			t.Fatalf("request %d: answer %q", i, got)
		}
	}
}

func TestTimedModesNoFailures(t *testing.T) {
	addr := startServer(t)
	cr := runConnRate(addr, 4, 100*time.Millisecond, 64)
	rr, err := runRR(addr, 4, 100*time.Millisecond, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []latResult{cr, rr} {
		if r.Failures != 0 {
			t.Errorf("%s: %d failures: %v", r.Mode, r.Failures, r.Errors)
		}
		if r.Ops != int64(len(r.Lat)) {
			t.Errorf("%s: ops=%d but %d latencies", r.Mode, r.Ops, len(r.Lat))
		}
		out := formatLat(r)
		if !strings.Contains(out, "\nRESULT mode="+r.Mode+" ") || !strings.Contains(out, " failures=0") {
			t.Errorf("%s: output %q lacks its RESULT line", r.Mode, out)
		}
	}
}

func TestConnRateCountsFailures(t *testing.T) {
	// A port nobody listens on: every dial fails and is counted.
	ports, err := benchutil.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	r := runConnRate(addr, 1, 20*time.Millisecond, 8)
	if r.Ops != 0 {
		t.Fatalf("ops=%d against a closed port", r.Ops)
	}
	// The deadline is checked before each attempt, so a worker scheduled
	// late may attempt nothing; when it did attempt, it must have failed.
	if r.Failures > 0 && len(r.Errors) == 0 {
		t.Fatal("failures counted but none kept for printing")
	}
}

func TestServerRejectsBadHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"unknown mode", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"zero request size", header{mode: modeRR, reqSize: 0, respSize: 1}.appendTo(nil)},
		{"huge answer", header{mode: modeRR, reqSize: 1, respSize: maxMessage + 1}.appendTo(nil)},
		{"huge bulk", header{mode: modeBulk, up: 1 << 51}.appendTo(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, srv := net.Pipe()
			t.Cleanup(func() { client.Close() })
			errc := make(chan error, 1)
			go func() {
				defer srv.Close()
				errc <- handleConn(srv)
			}()
			go client.Write(tt.in)
			if err := <-errc; err == nil {
				t.Fatal("handleConn accepted the header")
			}
		})
	}
}

func TestReadHeaderTruncated(t *testing.T) {
	full := header{mode: modeBulk, up: 5, down: 6}.appendTo(nil)
	for n := 1; n < len(full); n++ {
		if _, err := readHeader(bytes.NewReader(full[:n])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%d of %d bytes: err=%v, want ErrUnexpectedEOF", n, len(full), err)
		}
	}
	if _, err := readHeader(bytes.NewReader(nil)); err != io.EOF {
		t.Fatalf("empty input: err=%v, want io.EOF", err)
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add(header{mode: modeRR, reqSize: 64, respSize: 64}.appendTo(nil))
	f.Add(header{mode: modeBulk, up: 1 << 30, down: 0}.appendTo(nil))
	f.Add([]byte("R\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte("B\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("X"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := readHeader(bytes.NewReader(in))
		if err != nil {
			return
		}
		// A header that parses re-encodes to the bytes it was read from.
		enc := h.appendTo(nil)
		if !bytes.HasPrefix(in, enc) {
			t.Fatalf("header %+v re-encodes to %x, input %x", h, enc, in)
		}
		if h.mode == modeRR && (h.reqSize == 0 || h.reqSize > maxMessage || h.respSize > maxMessage) {
			t.Fatalf("accepted out-of-range sizes %+v", h)
		}
	})
}

func TestQuantile(t *testing.T) {
	l := latencies{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5}, {0.99, 10}, {1, 10}, {0.1, 1}, {0, 1},
	}
	for _, tt := range tests {
		if got := l.quantile(tt.q); got != tt.want {
			t.Errorf("quantile(%v)=%v, want %v", tt.q, got, tt.want)
		}
	}
	if got := (latencies{}).quantile(0.5); got != 0 {
		t.Errorf("empty quantile=%v, want 0", got)
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1024", 1024, true},
		{"4K", 4096, true},
		{"64M", 64 << 20, true},
		{"2G", 2 << 30, true},
		{"", 0, false},
		{"1T", 0, false},
		{"-1", 0, false},
		{"2000000G", 0, false},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseBytes(%q)=%d,%v want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"bulk"}, 2},
		{[]string{"bulk", "-addr", "x:1", "-bytes", "lots"}, 2},
		{[]string{"rr", "-addr", "x:1", "-size", "0"}, 2},
		{[]string{"freeport", "-n", "2"}, 0},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != tt.code {
			t.Errorf("run(%q)=%d, want %d; stderr %s", tt.args, code, tt.code, errb.String())
		}
	}
}

func TestParseSchedstat(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"12482914 10408041 5\n", 10408041, true},
		{"1 0 0", 0, true},
		{"1", 0, false},
		{"", 0, false},
		{"1 x 3", 0, false},
		{"1 -5 3", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSchedstat(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSchedstat(%q)=%v,%v want %v,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseSchedstat(f *testing.F) {
	f.Add("12482914 10408041 5\n")
	f.Add("1 -1 0")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseSchedstat(s)
		if !ok && d != 0 {
			t.Fatalf("failed parse returned %v", d)
		}
		if d < 0 {
			t.Fatalf("negative wait %v from %q", d, s)
		}
	})
}
