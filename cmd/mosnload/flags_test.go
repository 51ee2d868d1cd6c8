package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseClientSeedCommandLine(t *testing.T) {
	args := strings.Fields("-D 10 --qps=2000 -c 200 -t 16 -p sofarpc sofarpc://127.0.0.1:12200")
	o, err := parseClient(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := options{duration: 10 * time.Second, requests: 1, qps: 2000, clients: 200, threads: 16, streams: 1,
		proto: protoSofaRPC, addr: "127.0.0.1:12200", host: "127.0.0.1:12200", path: "/", timeout: 5 * time.Second, boltProto: 1}
	if o.duration != want.duration || o.qps != want.qps || o.clients != want.clients || o.threads != want.threads ||
		o.streams != want.streams || o.proto != want.proto || o.addr != want.addr || o.timeout != want.timeout ||
		o.boltProto != want.boltProto || o.body != nil {
		t.Errorf("got %+v\nwant %+v", *o, want)
	}
}

func TestParseClient(t *testing.T) {
	dir := t.TempDir()
	bodyFile := filepath.Join(dir, "body")
	if err := os.WriteFile(bodyFile, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  string
		check func(*options) bool
		err   string
	}{
		{args: "--duration=500ms dubbo://h:1", check: func(o *options) bool { return o.duration == 500*time.Millisecond && o.proto == protoDubbo }},
		{args: "-n 100 -m 8 http://h:8080/x?y=1 -p h2c", check: func(o *options) bool {
			return o.requests == 100 && o.streams == 8 && o.proto == protoH2C && o.path == "/x?y=1" && o.addr == "h:8080"
		}},
		{args: "-d 10 http://h", check: func(o *options) bool { return string(o.body) == "xxxxxxxxxx" && o.addr == "h:80" }},
		{args: "--data " + bodyFile + " http://h", check: func(o *options) bool { return string(o.body) == "hello" }},
		{args: "-p bolt 127.0.0.1:12200 --timeout 2 --warm-up-time=1.5", check: func(o *options) bool {
			return o.proto == protoSofaRPC && o.timeout == 2*time.Second && o.warmup == 1500*time.Millisecond
		}},
		{args: "-c 2 -t 8 sofarpc://h", check: func(o *options) bool { return o.threads == 2 }},
		{args: "--bolt-version 2 sofarpc://h", check: func(o *options) bool { return o.boltProto == 2 && o.addr == "h:12200" }},
		{args: "dubbo://h", check: func(o *options) bool { return o.addr == "h:20880" }},
		{args: "", err: "exactly one target"},
		{args: "sofarpc://a sofarpc://b", err: "exactly one target"},
		{args: "-p dubbo sofarpc://h", err: "does not match"},
		{args: "-p smtp h:1", err: "unknown protocol"},
		{args: "h:1", err: "no scheme"},
		{args: "-D 0 sofarpc://h", err: "-D must be positive"},
		{args: "-n 0 sofarpc://h", err: "-n must be positive"},
		{args: "-c 0 sofarpc://h", err: "-c must be positive"},
		{args: "--qps=-1 sofarpc://h", err: "--qps"},
		{args: "--timeout=0 sofarpc://h", err: "--timeout"},
		{args: "--bolt-version 3 sofarpc://h", err: "--bolt-version"},
		{args: "-d 10 sofarpc://h", err: "-d applies"},
		{args: "-D forever sofarpc://h", err: "invalid duration"},
		{args: "https://h", err: "https"},
	}
	for _, tc := range tests {
		o, err := parseClient(strings.Fields(tc.args), io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !tc.check(o) {
			t.Errorf("%q: got %+v", tc.args, *o)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"10", 10 * time.Second, true},
		{"0.25", 250 * time.Millisecond, true},
		{"1m", time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{"-1", 0, false},
		{"-1s", 0, false},
		{"NaN", 0, false},
		{"1e10", 0, false},
		{"ten", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSeconds(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseDelayRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi time.Duration
		ok     bool
	}{
		{"0-5ms", 0, 5 * time.Millisecond, true},
		{"1ms-2ms", time.Millisecond, 2 * time.Millisecond, true},
		{"100us-1", 100 * time.Microsecond, time.Microsecond, false}, // MAX < MIN
		{"2-3s", 2 * time.Second, 3 * time.Second, true},
		{"0-5", 0, 0, false},
		{"5ms", 0, 0, false},
		{"5ms-1ms", 0, 0, false},
		{"a-b", 0, 0, false},
	}
	for _, tc := range tests {
		lo, hi, err := parseDelayRange(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseDelayRange(%q): err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (lo != tc.lo || hi != tc.hi) {
			t.Errorf("parseDelayRange(%q) = %v, %v; want %v, %v", tc.in, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestNewStatus(t *testing.T) {
	tests := []struct {
		proto, in string
		want      forcedStatus
		ok        bool
	}{
		{protoSofaRPC, "", forcedStatus{}, true},
		{protoSofaRPC, "SERVER_THREADPOOL_BUSY", forcedStatus{4, true}, true},
		{protoSofaRPC, "no-processor", forcedStatus{6, true}, true},
		{protoSofaRPC, "0x10", forcedStatus{16, true}, true},
		{protoSofaRPC, "7", forcedStatus{7, true}, true},
		{protoSofaRPC, "BOGUS", forcedStatus{}, false},
		{protoDubbo, "SERVICE_NOT_FOUND", forcedStatus{60, true}, true},
		{protoDubbo, "100", forcedStatus{100, true}, true},
		{protoDubbo, "300", forcedStatus{}, false},
		{protoHTTP1, "503", forcedStatus{503, true}, true},
		{protoH2C, "99", forcedStatus{}, false},
		{protoHTTP1, "teapot", forcedStatus{}, false},
	}
	for _, tc := range tests {
		got, err := newStatus(tc.proto, tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("newStatus(%s, %q) = %+v, %v; want %+v, ok=%v", tc.proto, tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseServe(t *testing.T) {
	o, err := parseServe(strings.Fields("-p dubbo 127.0.0.1:0 --delay-random=0-5ms --status SERVICE_ERROR --heartbeat 1s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.proto != protoDubbo || o.addr != "127.0.0.1:0" || o.delayMax != 5*time.Millisecond || o.status != "SERVICE_ERROR" || o.heartbeat != time.Second {
		t.Errorf("got %+v", *o)
	}
	if o, err := parseServe([]string{"sofarpc://127.0.0.1:12201"}, io.Discard); err != nil || o.addr != "127.0.0.1:12201" || o.proto != protoSofaRPC {
		t.Errorf("URI address: %+v, %v", o, err)
	}
	for _, bad := range []string{"", "-p http1 --status 42 :0", "--delay-random 5 :0", "--body-size -1 :0", "a b"} {
		if _, err := parseServe(strings.Fields(bad), io.Discard); err == nil {
			t.Errorf("parseServe(%q) accepted", bad)
		}
	}
}

func TestFormatting(t *testing.T) {
	// The figures of the seed report.
	units := map[float64]string{25271152: "24.10M", 399860: "390.49K", 24871292: "23.72M", 1000: "1000", 3 << 30: "3.00G"}
	for n, want := range units {
		if got := formatUnits(n); got != want {
			t.Errorf("formatUnits(%v) = %q, want %q", n, got, want)
		}
	}
	durs := map[time.Duration]string{
		131 * time.Microsecond:   "131us",
		7670 * time.Microsecond:  "7.67ms",
		10 * time.Second:         "10.00s",
		999999 * time.Nanosecond: "999us",
		0:                        "0us",
	}
	for d, want := range durs {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	s := computeStats([]float64{9.5, 10, 10, 10.5})
	if s.min != 9.5 || s.max != 10.5 || s.mean != 10 || math.Abs(s.sd-math.Sqrt(0.125)) > 1e-12 || s.within != 50 {
		t.Errorf("computeStats = %+v", s)
	}
	if (computeStats(nil) != sampleStats{}) {
		t.Error("computeStats(nil) should be zero")
	}
}

func TestSchedstatWait(t *testing.T) {
	if d, ok := schedstatWait("123 4567 89\n"); !ok || d != 4567 {
		t.Errorf("got %v, %v", d, ok)
	}
	for _, bad := range []string{"", "1 2", "1 x 3", "1 -2 3"} {
		if _, ok := schedstatWait(bad); ok {
			t.Errorf("schedstatWait(%q) accepted", bad)
		}
	}
}
