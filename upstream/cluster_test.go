package upstream_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
	_ "mosn.dev/proxy/upstream/lb"
)

func dur(d time.Duration) *config.Duration {
	c := config.Duration(d)
	return &c
}

func hostCfgs(addrs ...string) []config.Host {
	hs := make([]config.Host, len(addrs))
	for i, a := range addrs {
		hs[i] = config.Host{Address: a}
	}
	return hs
}

func mustCluster(t *testing.T, cfg *config.Cluster) *upstream.Cluster {
	t.Helper()
	c, err := upstream.NewCluster(cfg)
	if err != nil {
		t.Fatalf("NewCluster: %v", err)
	}
	return c
}

// listen returns a loopback listener on port 0 that accepts and holds
// connections until the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestNewClusterErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  *config.Cluster
		want []string
	}{
		{"nil", nil, []string{"nil config"}},
		{"no name", &config.Cluster{}, []string{"name is empty"}},
		{"unknown lb", &config.Cluster{Name: "c1", LbType: "LB_FOO"},
			[]string{`cluster "c1"`, `unknown lb_type "LB_FOO"`, "LB_ROUNDROBIN", "LB_ORIGINAL_DST"}},
		{"no port", &config.Cluster{Name: "c2", Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2")},
			[]string{`cluster "c2"`, "hosts[1]", `"10.0.0.2"`, "missing port"}},
		{"empty host", &config.Cluster{Name: "c3", Hosts: hostCfgs(":80")},
			[]string{"hosts[0]", "empty host"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := upstream.NewCluster(tc.cfg)
			if err == nil {
				t.Fatalf("NewCluster succeeded: %v", c.Name())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewClusterDefaults(t *testing.T) {
	cfg := &config.Cluster{Name: "c", Hosts: []config.Host{
		{Address: "10.0.0.1:80", Hostname: "a", Metadata: &config.Metadata{
			FilterMetadata: map[string]map[string]string{"mosn.lb": {"zone": "gz"}, "other": {"x": "y"}}}},
		{Address: "10.0.0.2:80", Weight: 7},
	}}
	c := mustCluster(t, cfg)
	if c.Name() != "c" || c.LbType() != upstream.LbRoundRobin {
		t.Errorf("name %q lb %q", c.Name(), c.LbType())
	}
	if c.ConnectTimeout() != 10*time.Second {
		t.Errorf("connect timeout %v, want 10s", c.ConnectTimeout())
	}
	hs := c.Hosts()
	if hs.Len() != 2 || len(hs.Healthy()) != 2 {
		t.Fatalf("%d hosts, %d healthy", hs.Len(), len(hs.Healthy()))
	}
	a, b := hs.All()[0], hs.All()[1]
	if a.Address() != "10.0.0.1:80" || a.Hostname() != "a" || a.Weight() != 1 || a.ClusterName() != "c" {
		t.Errorf("host a: %+v", a.Stats())
	}
	if a.Metadata()["zone"] != "gz" || len(a.Metadata()) != 1 {
		t.Errorf("metadata %v, want the mosn.lb namespace only", a.Metadata())
	}
	if b.Weight() != 7 || b.Metadata() != nil {
		t.Errorf("host b: %+v", b.Stats())
	}
	// The cluster keeps its own copy of the host list.
	cfg.Hosts[0].Address = "10.9.9.9:80"
	if got := c.Config().Hosts[0].Address; got != "10.0.0.1:80" {
		t.Errorf("Config().Hosts[0] = %q after the caller changed its slice", got)
	}
	if got := mustCluster(t, &config.Cluster{Name: "t", ConnectTimeout: dur(3 * time.Second)}).ConnectTimeout(); got != 3*time.Second {
		t.Errorf("connect timeout %v, want 3s", got)
	}
}

func TestUpdateHostsKeepsState(t *testing.T) {
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80")})
	a := c.Hosts().Host("10.0.0.1:80")
	b := c.Hosts().Host("10.0.0.2:80")
	a.ConnStart()
	a.ConnStart()
	a.RequestStart()
	a.ConnectFailed()
	b.ConnStart()

	// a stays as is, b is dropped, c is new, and a's twin at weight 3 is a
	// new identity for an existing address.
	if err := c.UpdateHosts([]config.Host{
		{Address: "10.0.0.1:80"}, {Address: "10.0.0.3:80"},
	}); err != nil {
		t.Fatal(err)
	}
	hs := c.Hosts()
	if hs.Len() != 2 || hs.Host("10.0.0.2:80") != nil {
		t.Fatalf("hosts after update: %v", addrs(hs.All()))
	}
	if got := hs.Host("10.0.0.1:80"); got != a {
		t.Errorf("unchanged host was replaced by a new value")
	}
	if a.ActiveConns() != 2 || a.TotalConns() != 2 || a.ActiveRequests() != 1 || a.ConnectFailures() != 1 {
		t.Errorf("kept host lost its counters: %+v", a.Stats())
	}
	if n := hs.Host("10.0.0.3:80"); n.ActiveConns() != 0 || !n.Healthy() {
		t.Errorf("new host: %+v", n.Stats())
	}
	if got := c.Config().Hosts; len(got) != 2 || got[1].Address != "10.0.0.3:80" {
		t.Errorf("Config().Hosts = %v", got)
	}

	// Changing the weight makes a new Host that shares the live state.
	c.SetHostHealth("10.0.0.1:80", false)
	if err := c.UpdateHosts([]config.Host{{Address: "10.0.0.1:80", Weight: 3}, {Address: "10.0.0.3:80"}}); err != nil {
		t.Fatal(err)
	}
	a2 := c.Hosts().Host("10.0.0.1:80")
	if a2 == a || a2.Weight() != 3 {
		t.Fatalf("reweighted host: same value %v, weight %d", a2 == a, a2.Weight())
	}
	if a2.ActiveConns() != 2 || a2.Healthy() {
		t.Errorf("reweighted host: %+v, want 2 active and unhealthy", a2.Stats())
	}
	a.ConnEnd() // a connection opened before the update closes
	if a2.ActiveConns() != 1 {
		t.Errorf("ConnEnd on the old value: new value has %d active, want 1", a2.ActiveConns())
	}
	if len(c.Hosts().Healthy()) != 1 {
		t.Errorf("healthy hosts %v", addrs(c.Hosts().Healthy()))
	}

	// A bad list changes nothing.
	before := c.Hosts()
	if err := c.UpdateHosts(hostCfgs("10.0.0.1:80", "nope")); err == nil || !strings.Contains(err.Error(), "hosts[1]") {
		t.Errorf("bad update: %v", err)
	}
	if c.Hosts() != before {
		t.Error("failed update changed the hosts")
	}
}

func TestDuplicateAddressesShareState(t *testing.T) {
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs("10.0.0.1:80", "10.0.0.1:80")})
	all := c.Hosts().All()
	all[0].ConnStart()
	if all[1].ActiveConns() != 1 {
		t.Errorf("duplicate address has separate counters")
	}
}

func addrs(hosts []*upstream.Host) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, h.Address())
	}
	return out
}

func TestSetHostHealth(t *testing.T) {
	for _, lbType := range []string{"", upstream.LbRandom, upstream.LbLeastRequest, upstream.LbMaglev} {
		t.Run(lbType, func(t *testing.T) {
			c := mustCluster(t, &config.Cluster{Name: "c", LbType: lbType, Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")})
			picked := func() map[string]int {
				got := map[string]int{}
				for i := range 3000 {
					h := c.Pick(&upstream.LBContext{HashKey: uint64(i) * 0x9e3779b97f4a7c15, HasHash: true})
					if h == nil {
						got["nil"]++
					} else {
						got[h.Address()]++
					}
				}
				return got
			}
			c.SetHostHealth("10.0.0.2:80", false)
			if got := picked(); got["10.0.0.2:80"] != 0 || got["10.0.0.1:80"] == 0 || got["10.0.0.3:80"] == 0 {
				t.Errorf("after marking 10.0.0.2 unhealthy: %v", got)
			}
			if h := c.Hosts().Host("10.0.0.2:80"); h.Healthy() {
				t.Error("host still reports healthy")
			}
			c.SetHostHealth("10.0.0.9:80", false) // unknown: ignored
			c.SetHostHealth("10.0.0.2:80", true)
			if got := picked(); got["10.0.0.2:80"] == 0 {
				t.Errorf("after marking 10.0.0.2 healthy again: %v", got)
			}
			for _, a := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"} {
				c.SetHostHealth(a, false)
			}
			if h := c.Pick(nil); h != nil {
				t.Errorf("all unhealthy: picked %s", h.Address())
			}
			if st := c.Stats(); st.HealthyHosts != 0 || len(st.Hosts) != 3 || st.Hosts[0].Healthy {
				t.Errorf("stats: %+v", st)
			}
		})
	}
}

func TestSetHostHealthAfterDirectFlagChange(t *testing.T) {
	// The flag is shared state, so it can change without this cluster
	// knowing (a previous Cluster of the same name, or a direct call); the
	// snapshot must still follow SetHostHealth.
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80")})
	c.Hosts().Host("10.0.0.1:80").SetHealthy(false)
	if len(c.Hosts().Healthy()) != 2 {
		t.Fatal("a direct flag change altered the snapshot")
	}
	c.SetHostHealth("10.0.0.1:80", false)
	if got := addrs(c.Hosts().Healthy()); !slices.Equal(got, []string{"10.0.0.2:80"}) {
		t.Errorf("healthy %v", got)
	}
}

func TestPickExclude(t *testing.T) {
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80")})
	first := c.Pick(nil)
	for range 100 {
		if h := c.Pick(&upstream.LBContext{Exclude: first}); h == first {
			t.Fatal("retry picked the excluded host")
		}
	}
}

func TestDial(t *testing.T) {
	ln := listen(t)
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs(ln.Addr().String())})
	h := c.Pick(nil)
	conn, err := c.Dial(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if h.ActiveConns() != 0 || h.TotalConns() != 0 {
		t.Errorf("Dial counted the connection: %+v", h.Stats())
	}
	h.ConnStart()
	if conn.RemoteAddr().String() != ln.Addr().String() {
		t.Errorf("connected to %s, want %s", conn.RemoteAddr(), ln.Addr())
	}
	if _, ok := conn.(*net.TCPConn); !ok {
		t.Errorf("Dial returned %T, want *net.TCPConn (splice and fd access need it)", conn)
	}
	if h.ActiveConns() != 1 || h.TotalConns() != 1 || h.ConnectFailures() != 0 {
		t.Errorf("counters after dial: %+v", h.Stats())
	}
	h.ConnEnd()
	if h.ActiveConns() != 0 || h.TotalConns() != 1 {
		t.Errorf("counters after ConnEnd: %+v", h.Stats())
	}
}

func TestDialRefused(t *testing.T) {
	addr := closedPort(t)
	c := mustCluster(t, &config.Cluster{Name: "svc", Hosts: hostCfgs(addr)})
	h := c.Hosts().Host(addr)
	_, err := c.Dial(context.Background(), h)
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v is not ECONNREFUSED", err)
	}
	want := `upstream cluster "svc": connect to host ` + addr + ": connection refused"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	var de *upstream.DialError
	if !errors.As(err, &de) || de.Host != addr || de.Timeout() {
		t.Errorf("error %#v", err)
	}
	if h.ConnectFailures() != 1 || h.ActiveConns() != 0 || h.TotalConns() != 0 {
		t.Errorf("counters: %+v", h.Stats())
	}
}

func TestDialCanceled(t *testing.T) {
	ln := listen(t)
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs(ln.Addr().String())})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Dial(ctx, c.Pick(nil))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("error %v, want context.Canceled naming the host", err)
	}
	if _, err := c.Dial(context.Background(), nil); err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("nil host: %v", err)
	}
}

func TestOriginalDst(t *testing.T) {
	ln := listen(t)
	c := mustCluster(t, &config.Cluster{Name: "od", LbType: upstream.LbOriginalDst})
	if c.Hosts().Len() != 0 {
		t.Fatal("hosts in an empty cluster")
	}
	if h := c.Pick(nil); h != nil {
		t.Errorf("nil context picked %s", h.Address())
	}
	if h := c.Pick(&upstream.LBContext{}); h != nil {
		t.Errorf("no destination picked %s", h.Address())
	}
	dst := ln.Addr().String()
	h := c.Pick(&upstream.LBContext{OriginalDst: dst})
	if h == nil || h.Address() != dst || h.ClusterName() != "od" {
		t.Fatalf("picked %v for %s", h, dst)
	}
	if again := c.Pick(&upstream.LBContext{OriginalDst: dst, Exclude: h}); again != h {
		t.Error("a second connection to the same destination got another host")
	}
	h.ConnStart()
	conn, err := c.Dial(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	h.ConnEnd()
	if h.TotalConns() != 1 {
		t.Errorf("counters: %+v", h.Stats())
	}
	tests := []struct {
		in, want string
	}{
		{"10.1.2.3:8080", "10.1.2.3:8080"},
		{"10.1.2.3", "10.1.2.3:80"},
		{"[::1]:9000", "[::1]:9000"},
		{"example.com:81", "example.com:81"},
		{"bad host:1", ""},
		{"10.1.2.3:0", ""},
		{"10.1.2.3:99999", ""},
	}
	for _, tc := range tests {
		h := c.Pick(&upstream.LBContext{OriginalDst: tc.in})
		got := ""
		if h != nil {
			got = h.Address()
		}
		if got != tc.want {
			t.Errorf("OriginalDst %q: picked %q, want %q", tc.in, got, tc.want)
		}
	}
	st := c.Stats()
	if st.LbType != upstream.LbOriginalDst || st.HealthyHosts != 5 || len(st.Hosts) != 5 {
		t.Errorf("stats: %+v", st)
	}
}

func TestOriginalDstReplaceLocal(t *testing.T) {
	c := mustCluster(t, &config.Cluster{
		Name: "od", LbType: upstream.LbOriginalDst,
		OriginalDstLbConfig: &config.OriginalDstLbConfig{ReplaceLocal: true},
	})
	a := c.Pick(&upstream.LBContext{OriginalDst: "10.1.2.3:8080"})
	b := c.Pick(&upstream.LBContext{OriginalDst: "10.9.9.9:8080"})
	if a == nil || a.Address() != "127.0.0.1:8080" {
		t.Fatalf("picked %v", a)
	}
	if b != a {
		t.Error("two destinations rewritten to the same local address got different hosts")
	}
}

func TestStats(t *testing.T) {
	c := mustCluster(t, &config.Cluster{Name: "c", LbType: upstream.LbWeightedRR, Hosts: []config.Host{
		{Address: "10.0.0.1:80", Weight: 2}, {Address: "10.0.0.2:80"},
	}})
	h := c.Hosts().Host("10.0.0.2:80")
	h.RequestStart()
	h.RequestStart()
	h.RequestEnd()
	c.SetHostHealth("10.0.0.1:80", false)
	st := c.Stats()
	want := upstream.ClusterStats{Name: "c", LbType: upstream.LbWeightedRR, HealthyHosts: 1, Hosts: []upstream.HostStats{
		{Address: "10.0.0.1:80", Weight: 2},
		{Address: "10.0.0.2:80", Weight: 1, Healthy: true, ActiveRequests: 1, TotalRequests: 2},
	}}
	if st.Name != want.Name || st.LbType != want.LbType || st.HealthyHosts != want.HealthyHosts || !slices.EqualFunc(st.Hosts, want.Hosts, func(a, b upstream.HostStats) bool {
		return a.Address == b.Address && a.Weight == b.Weight && a.Healthy == b.Healthy &&
			a.ActiveConns == b.ActiveConns && a.ActiveRequests == b.ActiveRequests &&
			a.TotalConns == b.TotalConns && a.TotalRequests == b.TotalRequests && a.ConnectFailures == b.ConnectFailures
	}) {
		t.Errorf("Stats() = %+v\nwant %+v", st, want)
	}
}

func BenchmarkClusterPick(b *testing.B) {
	c, err := upstream.NewCluster(&config.Cluster{Name: "c", Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")})
	if err != nil {
		b.Fatal(err)
	}
	m := upstream.NewManager()
	if err := m.AddOrUpdate(c.Config()); err != nil {
		b.Fatal(err)
	}
	od, err := upstream.NewCluster(&config.Cluster{Name: "od", LbType: upstream.LbOriginalDst})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("roundrobin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c.Pick(nil) == nil {
				b.Fatal("nil")
			}
		}
	})
	b.Run("manager-get-pick", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m.Get("c").Pick(nil) == nil {
				b.Fatal("nil")
			}
		}
	})
	b.Run("original-dst-cached", func(b *testing.B) {
		ctx := &upstream.LBContext{OriginalDst: "10.1.2.3:8080"}
		b.ReportAllocs()
		for b.Loop() {
			if od.Pick(ctx) == nil {
				b.Fatal("nil")
			}
		}
	})
}
