package upstream_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/metrics"
	"mosn.dev/proxy/upstream"
)

// events collects a cluster's outlier events.
type events struct {
	mu  sync.Mutex
	evs []upstream.OutlierEvent
}

func (e *events) add(ev upstream.OutlierEvent) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) all() []upstream.OutlierEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]upstream.OutlierEvent(nil), e.evs...)
}

func (e *events) count(k upstream.OutlierEventKind) int {
	n := 0
	for _, ev := range e.all() {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// outlierCluster builds a cluster of addrs with od and a fake clock, and
// records its events.
func outlierCluster(t *testing.T, od *config.OutlierDetection, addrs ...string) (*upstream.Cluster, *upstream.FakeClock, *events) {
	t.Helper()
	c := mustCluster(t, &config.Cluster{Name: "c", OutlierDetection: od, Hosts: hostCfgs(addrs...)})
	fc := upstream.NewFakeClock()
	c.SetClock(fc)
	ev := &events{}
	c.SetOutlierListener(ev.add)
	return c, fc, ev
}

// picked returns the addresses Pick returns over n picks.
func picked(c *upstream.Cluster, n int) map[string]int {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		ctx := &upstream.LBContext{HashKey: rand.Uint64(), HasHash: true}
		if h := c.Pick(ctx); h != nil {
			got[h.Address()]++
		}
	}
	return got
}

var threeHosts = []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}

func TestOutlierConsecutiveErrors(t *testing.T) {
	tests := []struct {
		name    string
		od      *config.OutlierDetection
		results string // F an error, T a success, reported for host 1
		ejected bool
	}{
		{"N errors eject", &config.OutlierDetection{ConsecutiveErrors: 3}, "FFF", true},
		{"N-1 errors do not", &config.OutlierDetection{ConsecutiveErrors: 3}, "FF", false},
		{"a success resets the count", &config.OutlierDetection{ConsecutiveErrors: 3}, "FFTFF", false},
		{"N in a row after a success", &config.OutlierDetection{ConsecutiveErrors: 3}, "FTFFF", true},
		{"one error with a threshold of one", &config.OutlierDetection{ConsecutiveErrors: 1}, "TTF", true},
		{"default threshold is 5", &config.OutlierDetection{}, "FFFF", false},
		{"default threshold reached", &config.OutlierDetection{}, "FFFFF", true},
		{"without outlier_detection nothing is ejected", nil, strings.Repeat("F", 50), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, ev := outlierCluster(t, tt.od, threeHosts...)
			h := c.Hosts().Host(threeHosts[1])
			for _, r := range tt.results {
				c.ReportResult(h, r == 'T')
			}
			if h.Ejected() != tt.ejected {
				t.Fatalf("Ejected() = %v, want %v", h.Ejected(), tt.ejected)
			}
			got := picked(c, 60)
			if tt.ejected {
				if got[threeHosts[1]] != 0 || len(got) != 2 {
					t.Errorf("picks with host 1 ejected: %v", got)
				}
				if n := c.Stats().HealthyHosts; n != 2 {
					t.Errorf("HealthyHosts = %d, want 2", n)
				}
				if !c.Stats().Hosts[1].Ejected || !c.Stats().Hosts[1].Healthy {
					t.Errorf("host stats = %+v, want ejected and healthy", c.Stats().Hosts[1])
				}
				evs := ev.all()
				if len(evs) != 1 || evs[0].Kind != upstream.OutlierEjected || evs[0].Host != threeHosts[1] ||
					evs[0].Cluster != "c" || evs[0].Errors != tt.od.ConsecutiveErrorsOrDefault() || evs[0].Duration != 30*time.Second {
					t.Errorf("events = %+v", evs)
				}
			} else {
				if len(got) != 3 {
					t.Errorf("picks = %v, want all three hosts", got)
				}
				if evs := ev.all(); len(evs) != 0 {
					t.Errorf("events = %+v, want none", evs)
				}
			}
		})
	}
}

// TestOutlierEveryBalancer checks that no balancer picks an ejected host,
// subsets included.
func TestOutlierEveryBalancer(t *testing.T) {
	for _, lb := range upstream.BalancerNames() {
		if lb == upstream.LbOriginalDst {
			continue
		}
		for _, subset := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/subset=%v", lb, subset), func(t *testing.T) {
				cfg := &config.Cluster{Name: "c", LbType: lb, OutlierDetection: &config.OutlierDetection{ConsecutiveErrors: 1},
					Hosts: hostCfgs(threeHosts...)}
				if subset {
					for i := range cfg.Hosts {
						cfg.Hosts[i].Metadata = lbMeta("version", "v1")
					}
					cfg.LbSubsetConfig = &config.LbSubsetConfig{FallBackPolicy: upstream.SubsetAnyEndpoint, SubsetSelectors: [][]string{{"version"}}}
				}
				c := mustCluster(t, cfg)
				c.SetClock(upstream.NewFakeClock())
				c.ReportResult(c.Hosts().Host(threeHosts[0]), false)
				for i := 0; i < 300; i++ {
					ctx := &upstream.LBContext{HashKey: uint64(i) * 0x9e3779b97f4a7c15, HasHash: true}
					if subset && i%2 == 0 {
						ctx.MetadataMatch = map[string]string{"version": "v1"}
					}
					h := c.Pick(ctx)
					if h == nil || h.Address() == threeHosts[0] {
						t.Fatalf("pick %d = %v", i, h)
					}
				}
			})
		}
	}
}

func TestOutlierBackoff(t *testing.T) {
	// base 10s, max 35s: the multiplier stops at 4 (40s capped to 35s).
	od := &config.OutlierDetection{ConsecutiveErrors: 1, BaseEjectionTime: dur(10 * time.Second), MaxEjectionTime: dur(35 * time.Second)}
	c, fc, ev := outlierCluster(t, od, threeHosts...)
	h := c.Hosts().Host(threeHosts[0])
	steps := []struct {
		inService time.Duration // time between the return and the next error
		want      time.Duration
	}{
		{0, 10 * time.Second},
		{0, 20 * time.Second},
		{0, 30 * time.Second},
		{0, 35 * time.Second},
		{0, 35 * time.Second},
		{time.Second, 35 * time.Second},
		// Two base periods in service take the multiplier from 4 to 2.
		{20 * time.Second, 30 * time.Second},
		{time.Hour, 10 * time.Second},
		{9 * time.Second, 20 * time.Second},
	}
	for i, s := range steps {
		fc.Advance(s.inService)
		c.ReportResult(h, false)
		evs := ev.all()
		last := evs[len(evs)-1]
		if last.Kind != upstream.OutlierEjected || last.Duration != s.want {
			t.Fatalf("step %d: event %+v, want an ejection for %v", i, last, s.want)
		}
		if !h.Ejected() {
			t.Fatalf("step %d: not ejected", i)
		}
		fc.Advance(s.want - time.Millisecond)
		if !h.Ejected() {
			t.Fatalf("step %d: returned early", i)
		}
		fc.Advance(time.Millisecond)
		if h.Ejected() {
			t.Fatalf("step %d: not returned after %v", i, s.want)
		}
		if got := picked(c, 30); got[threeHosts[0]] == 0 {
			t.Fatalf("step %d: host not picked after its return: %v", i, got)
		}
		if last := ev.all()[len(ev.all())-1]; last.Kind != upstream.OutlierReturned || last.Duration != s.want {
			t.Fatalf("step %d: last event %+v, want a return after %v", i, last, s.want)
		}
	}
}

func TestOutlierMaxPercent(t *testing.T) {
	tests := []struct {
		hosts, percent int
		want           int // hosts ejected when every host fails
	}{
		{1, 0, 0}, // a cluster's only host stays in
		{1, 99, 0},
		{1, 100, 1},
		{2, 0, 1}, // one host of two or more may always go
		{3, 0, 1},
		{10, 10, 1},
		{20, 0, 2},
		{10, 30, 3},
		{4, 50, 2},
		{3, 50, 1},
		{2, 100, 2},
		{5, 100, 5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d hosts %d%%", tt.hosts, tt.percent), func(t *testing.T) {
			addrs := make([]string, tt.hosts)
			for i := range addrs {
				addrs[i] = fmt.Sprintf("10.0.0.%d:80", i+1)
			}
			od := &config.OutlierDetection{ConsecutiveErrors: 1, MaxEjectionPercent: uint32(tt.percent)}
			c, fc, ev := outlierCluster(t, od, addrs...)
			for _, h := range c.Hosts().All() {
				c.ReportResult(h, false)
			}
			ejected := 0
			for _, h := range c.Hosts().All() {
				if h.Ejected() {
					ejected++
				}
			}
			if ejected != tt.want {
				t.Fatalf("%d hosts ejected, want %d", ejected, tt.want)
			}
			if n := ev.count(upstream.OutlierOverflow); n != tt.hosts-tt.want {
				t.Errorf("%d overflow events, want %d", n, tt.hosts-tt.want)
			}
			if tt.want == tt.hosts {
				if h := c.Pick(nil); h != nil {
					t.Errorf("Pick = %v with every host ejected", h.Address())
				}
			}
			if tt.want == 0 || tt.want == tt.hosts {
				return
			}
			// A refused host is ejected once a slot is free again.
			last := c.Hosts().All()[tt.hosts-1]
			fc.Advance(30 * time.Second)
			c.ReportResult(last, false)
			if !last.Ejected() {
				t.Errorf("host %s not ejected after the others returned", last.Address())
			}
		})
	}
}

// TestOutlierOverflowRepeat: a refused host keeps being reported, but as
// a repeat until base_ejection_time has passed since its last full report.
func TestOutlierOverflowRepeat(t *testing.T) {
	c, fc, ev := outlierCluster(t, &config.OutlierDetection{ConsecutiveErrors: 1}, threeHosts...)
	h0, h1 := c.Hosts().Host(threeHosts[0]), c.Hosts().Host(threeHosts[1])
	// Host 0 out for 60s (its second ejection in a row).
	c.ReportResult(h0, false)
	fc.Advance(30 * time.Second)
	c.ReportResult(h0, false)
	steps := []struct {
		advance time.Duration
		repeat  bool
	}{
		{0, false},
		{0, true},
		{29 * time.Second, true},
		{time.Second, false},
		{time.Second, true},
	}
	for i, s := range steps {
		fc.Advance(s.advance)
		c.ReportResult(h1, false)
		evs := ev.all()
		last := evs[len(evs)-1]
		if last.Kind != upstream.OutlierOverflow || last.Repeat != s.repeat || last.Host != h1.Address() ||
			last.EjectedHosts != 1 || last.Hosts != 3 || last.MaxPercent != 10 {
			t.Fatalf("step %d: event %+v, want an overflow of %s with Repeat %v", i, last, h1.Address(), s.repeat)
		}
	}
	if !h0.Ejected() || h1.Ejected() {
		t.Fatalf("ejected: host 0 %v, host 1 %v", h0.Ejected(), h1.Ejected())
	}
}

// TestOutlierThresholdLowered: a count already past a new, lower
// consecutive_errors still ejects at the next error.
func TestOutlierThresholdLowered(t *testing.T) {
	m := upstream.NewManager()
	if err := m.AddOrUpdate(&config.Cluster{Name: "c", OutlierDetection: &config.OutlierDetection{ConsecutiveErrors: 10}, Hosts: hostCfgs(threeHosts...)}); err != nil {
		t.Fatal(err)
	}
	old := m.Get("c")
	old.SetClock(upstream.NewFakeClock())
	h := old.Hosts().Host(threeHosts[0])
	for i := 0; i < 7; i++ {
		old.ReportResult(h, false)
	}
	if err := m.AddOrUpdate(&config.Cluster{Name: "c", OutlierDetection: &config.OutlierDetection{ConsecutiveErrors: 3}, Hosts: hostCfgs(threeHosts...)}); err != nil {
		t.Fatal(err)
	}
	m.Get("c").SetClock(upstream.NewFakeClock())
	if h.Ejected() {
		t.Fatal("ejected by the config change alone")
	}
	old.ReportResult(h, false)
	if !h.Ejected() {
		t.Fatal("not ejected past the lowered threshold")
	}
}

func TestOutlierIndependentOfHealth(t *testing.T) {
	od := &config.OutlierDetection{ConsecutiveErrors: 1}
	c, fc, _ := outlierCluster(t, od, threeHosts...)
	h := c.Hosts().Host(threeHosts[0])
	c.ReportResult(h, false)
	c.SetHostHealth(h.Address(), false)
	c.SetHostHealth(h.Address(), true)
	if got := picked(c, 30); got[h.Address()] != 0 {
		t.Fatalf("an ejected host marked healthy was picked: %v", got)
	}
	c.SetHostHealth(h.Address(), false)
	fc.Advance(30 * time.Second)
	if h.Ejected() {
		t.Fatal("still ejected")
	}
	if got := picked(c, 30); got[h.Address()] != 0 {
		t.Fatalf("an unhealthy host was picked after its ejection ended: %v", got)
	}
	c.SetHostHealth(h.Address(), true)
	if got := picked(c, 30); got[h.Address()] == 0 {
		t.Fatalf("a healthy, returned host is not picked: %v", got)
	}
}

func TestOutlierSurvivesUpdates(t *testing.T) {
	m := upstream.NewManager()
	ev := &events{}
	m.SetOutlierListener(ev.add)
	od := &config.OutlierDetection{ConsecutiveErrors: 2, MaxEjectionPercent: 50}
	cfg := &config.Cluster{Name: "c", OutlierDetection: od, Hosts: hostCfgs(threeHosts...)}
	if err := m.AddOrUpdate(cfg); err != nil {
		t.Fatal(err)
	}
	old := m.Get("c")
	fc := upstream.NewFakeClock()
	old.SetClock(fc)
	h := old.Hosts().Host(threeHosts[0])

	// A host-list update keeps the count and the ejection.
	old.ReportResult(h, false)
	if err := m.AddOrUpdate(&config.Cluster{Name: "c", OutlierDetection: od, Hosts: hostCfgs(append(threeHosts, "10.0.0.4:80")...)}); err != nil {
		t.Fatal(err)
	}
	old.ReportResult(h, false)
	if !h.Ejected() || !old.Hosts().Host(threeHosts[0]).Ejected() {
		t.Fatal("not ejected across a host update")
	}
	if got := picked(old, 40); got[threeHosts[0]] != 0 || len(got) != 3 {
		t.Fatalf("picks = %v", got)
	}

	// A new Cluster (lb_type changed) takes the ejected state over, and
	// results reported through the old one eject in the new one.
	if err := m.AddOrUpdate(&config.Cluster{Name: "c", LbType: upstream.LbRandom, OutlierDetection: od, Hosts: hostCfgs(append(threeHosts, "10.0.0.4:80")...)}); err != nil {
		t.Fatal(err)
	}
	cur := m.Get("c")
	if cur == old {
		t.Fatal("the cluster was not rebuilt")
	}
	cur.SetClock(fc)
	if got := picked(cur, 40); got[threeHosts[0]] != 0 {
		t.Fatalf("the new cluster picks the ejected host: %v", got)
	}
	h2 := old.Hosts().Host(threeHosts[1])
	old.ReportResult(h2, false)
	old.ReportResult(h2, false)
	if !h2.Ejected() {
		t.Fatal("second host not ejected")
	}
	if got := picked(cur, 60); got[threeHosts[1]] != 0 || got[threeHosts[0]] != 0 {
		t.Fatalf("the new cluster picks a host ejected through the old one: %v", got)
	}
	if n := ev.count(upstream.OutlierEjected); n != 2 {
		t.Fatalf("%d ejection events, want 2: %+v", n, ev.all())
	}

	// A config without outlier_detection ends the ejections at once.
	if err := m.AddOrUpdate(&config.Cluster{Name: "c", LbType: upstream.LbRandom, Hosts: hostCfgs(append(threeHosts, "10.0.0.4:80")...)}); err != nil {
		t.Fatal(err)
	}
	if h.Ejected() || h2.Ejected() {
		t.Fatal("ejections kept without outlier_detection")
	}
	if got := picked(m.Get("c"), 80); len(got) != 4 {
		t.Fatalf("picks = %v, want all four hosts", got)
	}
	if n := ev.count(upstream.OutlierReturned); n != 2 {
		t.Fatalf("%d return events, want 2: %+v", n, ev.all())
	}
	if n := fc.Pending(); n != 0 {
		t.Errorf("%d return timers still pending", n)
	}
	// Their old timers do nothing.
	fc.Advance(time.Hour)
	if n := ev.count(upstream.OutlierReturned); n != 2 {
		t.Fatalf("%d return events after the timers' time, want 2", n)
	}
}

// TestOutlierReturnsAfterExpiry runs on the real clock.
func TestOutlierReturnsAfterExpiry(t *testing.T) {
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs(threeHosts...),
		OutlierDetection: &config.OutlierDetection{ConsecutiveErrors: 2, BaseEjectionTime: dur(50 * time.Millisecond)}})
	h := c.Hosts().Host(threeHosts[2])
	c.ReportResult(h, false)
	c.ReportResult(h, false)
	if !h.Ejected() {
		t.Fatal("not ejected")
	}
	// The flag clears just before the host is back in the balancer's
	// snapshot (unEject logs the return first): wait for both.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := picked(c, 30)
		if !h.Ejected() && got[h.Address()] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host did not return: ejected %v, picks %v", h.Ejected(), got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDialReportsConnectFailures(t *testing.T) {
	dead := closedPort(t)
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hostCfgs(dead, "10.0.0.1:80"),
		OutlierDetection: &config.OutlierDetection{ConsecutiveErrors: 2}})
	c.SetClock(upstream.NewFakeClock())
	h := c.Hosts().Host(dead)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 3; i++ {
		if _, err := c.Dial(cancelled, h); err == nil {
			t.Fatal("dial with a cancelled context succeeded")
		}
	}
	if h.Ejected() {
		t.Fatal("dials the caller cancelled ejected the host")
	}
	for i := 0; i < 2; i++ {
		if _, err := c.Dial(context.Background(), h); err == nil {
			t.Fatal("dial to a closed port succeeded")
		}
	}
	if !h.Ejected() {
		t.Fatal("two failed connects did not eject the host")
	}
}

func TestOutlierOriginalDstIgnored(t *testing.T) {
	c := mustCluster(t, &config.Cluster{Name: "c", LbType: upstream.LbOriginalDst,
		OutlierDetection: &config.OutlierDetection{ConsecutiveErrors: 1}})
	h := c.Pick(&upstream.LBContext{OriginalDst: "10.0.0.9:80"})
	c.ReportResult(h, false)
	c.ReportResult(nil, false)
	if h.Ejected() {
		t.Fatal("an LB_ORIGINAL_DST host was ejected")
	}
}

// TestOutlierConcurrent reports, picks, updates hosts and flips health
// from many goroutines; run it with -race.
func TestOutlierConcurrent(t *testing.T) {
	m := upstream.NewManager()
	var evMu sync.Mutex
	ejected := map[string]int{}
	m.SetOutlierListener(func(ev upstream.OutlierEvent) {
		evMu.Lock()
		defer evMu.Unlock()
		switch ev.Kind {
		case upstream.OutlierEjected:
			ejected[ev.Host]++
		case upstream.OutlierReturned:
			ejected[ev.Host]--
		}
	})
	od := &config.OutlierDetection{ConsecutiveErrors: 3, BaseEjectionTime: dur(time.Millisecond), MaxEjectionTime: dur(3 * time.Millisecond), MaxEjectionPercent: 50}
	addrs := []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"}
	if err := m.AddOrUpdate(&config.Cluster{Name: "c", OutlierDetection: od, Hosts: hostCfgs(addrs...)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				c := m.Get("c")
				h := c.Pick(nil)
				if h == nil {
					continue
				}
				// Host .1 always fails, the others now and then.
				c.ReportResult(h, h.Address() != addrs[0] && rand.IntN(4) != 0)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			c := m.Get("c")
			c.SetHostHealth(addrs[i%4], i%3 != 0)
			lb := upstream.LbRoundRobin
			if i%2 == 0 {
				lb = upstream.LbRandom
			}
			hosts := addrs
			if i%5 == 0 {
				hosts = addrs[:3]
			}
			if err := m.AddOrUpdate(&config.Cluster{Name: "c", LbType: lb, OutlierDetection: od, Hosts: hostCfgs(hosts...)}); err != nil {
				t.Error(err)
				return
			}
		}
		for _, a := range addrs {
			m.Get("c").SetHostHealth(a, true)
		}
	}()
	wg.Wait()
	// Every ejection ends, and the events balance.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := m.Get("c")
		n := 0
		for _, h := range c.Hosts().All() {
			if h.Ejected() {
				n++
			}
		}
		evMu.Lock()
		balanced := true
		for _, v := range ejected {
			if v != 0 {
				balanced = false
			}
		}
		evMu.Unlock()
		if n == 0 && balanced && len(c.Hosts().Healthy()) == len(c.Hosts().All()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d hosts still ejected, events %v, %d of %d hosts usable", n, ejected, len(c.Hosts().Healthy()), c.Hosts().Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOutlierLogger(t *testing.T) {
	var buf bytes.Buffer
	lg := log.New(&buf)
	lg.SetLevel(log.INFO)
	reg := metrics.NewRegistry(nil)
	fn := upstream.OutlierLogger(lg, reg)
	fn(upstream.OutlierEvent{Kind: upstream.OutlierEjected, Cluster: "c", Host: "127.0.0.1:8080", Errors: 5, Duration: 30 * time.Second, Ejections: 1})
	fn(upstream.OutlierEvent{Kind: upstream.OutlierOverflow, Cluster: "c", Host: "127.0.0.1:8081", Errors: 5, EjectedHosts: 1, Hosts: 3, MaxPercent: 10})
	fn(upstream.OutlierEvent{Kind: upstream.OutlierOverflow, Cluster: "c", Host: "127.0.0.1:8081", Errors: 5, EjectedHosts: 1, Hosts: 3, MaxPercent: 10, Repeat: true})
	set := reg.Set("upstream", "cluster", "c")
	if got := set.Gauge("host_ejected").Value(); got != 1 {
		t.Errorf("host_ejected = %d, want 1", got)
	}
	fn(upstream.OutlierEvent{Kind: upstream.OutlierReturned, Cluster: "c", Host: "127.0.0.1:8080", Duration: 30*time.Second + 1234*time.Microsecond})
	want := []string{
		"[WARN] [upstream] [outlier] cluster c host 127.0.0.1:8080 ejected for 30s (5 consecutive errors)",
		"[WARN] [upstream] [outlier] cluster c host 127.0.0.1:8081 not ejected after 5 consecutive errors: max_ejection_percent 10 reached (1 of 3 hosts ejected)",
		"[INFO] [upstream] [outlier] cluster c host 127.0.0.1:8080 returned after 30.001s",
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d = %q, want it to end with %q", i, lines[i], w)
		}
	}
	for _, c := range []struct {
		key  string
		got  int64
		want int64
	}{
		{"outlier_ejected_total", set.Counter("outlier_ejected_total").Value(), 1},
		{"outlier_ejection_overflow_total", set.Counter("outlier_ejection_overflow_total").Value(), 2},
		{"host_ejected", set.Gauge("host_ejected").Value(), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.key, c.got, c.want)
		}
	}
	// Nil logger and registry are allowed.
	upstream.OutlierLogger(nil, nil)(upstream.OutlierEvent{Kind: upstream.OutlierEjected, Cluster: "c", Host: "h"})
}

func BenchmarkReportResultOK(b *testing.B) {
	c, err := upstream.NewCluster(&config.Cluster{Name: "c", Hosts: hostCfgs(threeHosts...),
		OutlierDetection: &config.OutlierDetection{}})
	if err != nil {
		b.Fatal(err)
	}
	h := c.Hosts().Host(threeHosts[0])
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.ReportResult(h, true)
		}
	})
}

func BenchmarkReportResultError(b *testing.B) {
	// The threshold is never reached: the cost of counting an error.
	c, err := upstream.NewCluster(&config.Cluster{Name: "c", Hosts: hostCfgs(threeHosts...),
		OutlierDetection: &config.OutlierDetection{ConsecutiveErrors: 1 << 31}})
	if err != nil {
		b.Fatal(err)
	}
	h := c.Hosts().Host(threeHosts[0])
	b.ReportAllocs()
	for b.Loop() {
		c.ReportResult(h, false)
	}
}
