package upstream

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"mosn.dev/proxy/config"
)

func TestNormalizeOrigDst(t *testing.T) {
	tests := []struct {
		in           string
		replaceLocal bool
		want         string // "" means rejected
	}{
		{"10.0.0.1:8080", false, "10.0.0.1:8080"},
		{"10.0.0.1:8080", true, "127.0.0.1:8080"},
		{"10.0.0.1", false, "10.0.0.1:80"},
		{"10.0.0.1", true, "127.0.0.1:80"},
		{"[2001:db8::1]:443", false, "[2001:db8::1]:443"},
		{"[2001:db8::1]:443", true, "127.0.0.1:443"},
		{"2001:db8::1", false, "[2001:db8::1]:80"},
		{"::ffff:10.0.0.1", false, "[::ffff:10.0.0.1]:80"},
		{"svc.default.svc.cluster.local:9080", false, "svc.default.svc.cluster.local:9080"},
		{"svc", false, "svc:80"},
		{"svc.", false, "svc.:80"},
		{"my_host-1:1", false, "my_host-1:1"},
		{"", false, ""},
		{":80", false, ""},
		{"10.0.0.1:", false, ""},
		{"10.0.0.1:0", false, ""},
		{"10.0.0.1:65536", false, ""},
		{"10.0.0.1:+80", false, ""},
		{"10.0.0.1:080", false, "10.0.0.1:80"},
		{"host:080", false, "host:80"},
		{"a..b:80", false, ""},
		{".:80", false, ""},
		{"a b:80", false, ""},
		{"a/b", false, ""},
		{"[::1]", false, ""},
		{"x:y:z", false, ""},
		{"[fe80::1%eth0]:80", false, ""},
		{"fe80::1%eth0", false, ""},
	}
	for _, tc := range tests {
		got, ok := normalizeOrigDst(tc.in, tc.replaceLocal)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("normalizeOrigDst(%q, %v) = %q, want %q", tc.in, tc.replaceLocal, got, tc.want)
		}
	}
}

func FuzzNormalizeOrigDst(f *testing.F) {
	for _, s := range []string{"10.0.0.1:8080", "10.0.0.1", "[::1]:80", "::1", "svc.ns:9080", "svc", "", ":80", "1.2.3.4:0", "[fe80::1%eth0]:80", "a..b"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, replaceLocal bool) {
		got, ok := normalizeOrigDst(s, replaceLocal)
		if !ok {
			return
		}
		host, port, err := net.SplitHostPort(got)
		if err != nil || host == "" {
			t.Fatalf("%q -> %q: not host:port: %v", s, got, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			t.Fatalf("%q -> %q: bad port", s, got)
		}
		if replaceLocal && host != "127.0.0.1" {
			t.Fatalf("%q -> %q with replace_local", s, got)
		}
		// Normalising is idempotent, so cached keys are stable.
		if again, ok := normalizeOrigDst(got, replaceLocal); !ok || again != got {
			t.Fatalf("%q -> %q -> %q, %v", s, got, again, ok)
		}
	})
}

func TestOrigDstPoolBound(t *testing.T) {
	p := newOrigDstPool("c", false, 3)
	pick := func(dst string) *Host { return p.pick(&LBContext{OriginalDst: dst}) }
	a, b, c := pick("10.0.0.1:80"), pick("10.0.0.2:80"), pick("10.0.0.3:80")
	a.ConnStart()
	b.RequestStart()
	if pick("10.0.0.1:80") != a || pick("10.0.0.3:80") != c {
		t.Fatal("cached destinations not reused")
	}
	// Full: the idle c is evicted to make room for d.
	d := pick("10.0.0.4:80")
	if d == nil || d.Address() != "10.0.0.4:80" {
		t.Fatalf("picked %v", d)
	}
	if len(p.byRaw) != 3 || p.byRaw["10.0.0.3:80"] != nil {
		t.Errorf("cache %v after eviction", p.byRaw)
	}
	if pick("10.0.0.1:80") != a || pick("10.0.0.2:80") != b {
		t.Error("busy destinations were evicted")
	}
	// Full of busy hosts: served uncached.
	d.ConnStart()
	e1, e2 := pick("10.0.0.5:80"), pick("10.0.0.5:80")
	if e1 == nil || e1.Address() != "10.0.0.5:80" || e1 == e2 {
		t.Errorf("over the bound: %v, %v; want fresh uncached hosts", e1, e2)
	}
	if len(p.byRaw) != 3 {
		t.Errorf("cache grew to %d over its bound of 3", len(p.byRaw))
	}
	if got := len(p.hostsSorted()); got != 3 {
		t.Errorf("hostsSorted() has %d hosts", got)
	}
}

func TestOrigDstPoolAliases(t *testing.T) {
	// Raw strings that normalise to one address share a Host.
	p := newOrigDstPool("c", false, 16)
	h := p.pick(&LBContext{OriginalDst: "10.0.0.1"})
	for _, raw := range []string{"10.0.0.1:80", "10.0.0.1:080"} {
		if got := p.pick(&LBContext{OriginalDst: raw}); got != h {
			t.Errorf("%q: %v, want the host of 10.0.0.1", raw, got)
		}
	}
	if len(p.hostsSorted()) != 1 {
		t.Errorf("%d hosts", len(p.hostsSorted()))
	}
}

func TestOrigDstPoolConcurrent(t *testing.T) {
	p := newOrigDstPool("c", true, 8)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				h := p.pick(&LBContext{OriginalDst: fmt.Sprintf("10.0.%d.%d:%d", g, i%20, 8000+i%3)})
				if h == nil || h.Address() != fmt.Sprintf("127.0.0.1:%d", 8000+i%3) {
					t.Errorf("picked %v", h)
					return
				}
				h.ConnStart()
				h.ConnEnd()
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func TestBalancerRegistry(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering LB_ORIGINAL_DST did not panic")
		}
	}()
	if _, ok := LookupBalancer(LbOriginalDst); ok {
		t.Error("LB_ORIGINAL_DST has a factory")
	}
	RegisterBalancer(LbOriginalDst, func(*HostSet, *config.Cluster) Balancer { return nilBalancer{} })
}
