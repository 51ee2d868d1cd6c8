package upstream_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

func TestManager(t *testing.T) {
	m := upstream.NewManager()
	if m.Get("a") != nil || len(m.Names()) != 0 || len(m.All()) != 0 {
		t.Fatal("new manager is not empty")
	}
	for _, name := range []string{"b", "a", "c"} {
		if err := m.AddOrUpdate(&config.Cluster{Name: name, Hosts: hostCfgs("10.0.0.1:80")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Names(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Names() = %v", got)
	}
	var names []string
	for _, c := range m.All() {
		names = append(names, c.Name())
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("All() names = %v", names)
	}
	if c := m.Get("b"); c == nil || c.Name() != "b" {
		t.Errorf("Get(b) = %v", c)
	}
	if !m.Remove("b") || m.Remove("b") || m.Get("b") != nil {
		t.Error("Remove(b) twice did not report true then false")
	}
	if got := m.Names(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("Names() after Remove = %v", got)
	}
}

func TestManagerUpdateHostsOnly(t *testing.T) {
	m := upstream.NewManager()
	cfg := &config.Cluster{Name: "a", LbType: upstream.LbRandom, ConnectTimeout: dur(time.Second), Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80")}
	if err := m.AddOrUpdate(cfg); err != nil {
		t.Fatal(err)
	}
	c := m.Get("a")
	h := c.Hosts().Host("10.0.0.1:80")
	h.ConnStart()
	// Same config again: nothing changes, not even the snapshot.
	hs := c.Hosts()
	same := *cfg
	same.ConnectTimeout = dur(time.Second) // equal value, other pointer
	if err := m.AddOrUpdate(&same); err != nil {
		t.Fatal(err)
	}
	if m.Get("a") != c || c.Hosts() != hs {
		t.Error("an identical config replaced the cluster or its hosts")
	}
	next := *cfg
	next.Hosts = hostCfgs("10.0.0.1:80", "10.0.0.3:80")
	if err := m.AddOrUpdate(&next); err != nil {
		t.Fatal(err)
	}
	if m.Get("a") != c {
		t.Fatal("a hosts-only update replaced the cluster")
	}
	if got := addrs(c.Hosts().All()); !slices.Equal(got, []string{"10.0.0.1:80", "10.0.0.3:80"}) {
		t.Errorf("hosts %v", got)
	}
	if c.Hosts().Host("10.0.0.1:80").ActiveConns() != 1 {
		t.Error("kept host lost its counters")
	}
}

func TestManagerReplaceKeepsHostState(t *testing.T) {
	m := upstream.NewManager()
	hc := &config.HealthCheck{Protocol: "tcp"}
	if err := m.AddOrUpdate(&config.Cluster{Name: "a", HealthCheck: hc, Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80")}); err != nil {
		t.Fatal(err)
	}
	old := m.Get("a")
	h := old.Hosts().Host("10.0.0.1:80")
	h.ConnStart()
	old.SetHostHealth("10.0.0.2:80", false)

	if err := m.AddOrUpdate(&config.Cluster{Name: "a", LbType: upstream.LbLeastConnection, HealthCheck: hc, Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80")}); err != nil {
		t.Fatal(err)
	}
	c := m.Get("a")
	if c == old || c.LbType() != upstream.LbLeastConnection {
		t.Fatalf("lb_type change did not build a new cluster (%s)", c.LbType())
	}
	if got := c.Hosts().Host("10.0.0.1:80").ActiveConns(); got != 1 {
		t.Errorf("active conns after replace: %d, want 1", got)
	}
	if got := addrs(c.Hosts().Healthy()); !slices.Equal(got, []string{"10.0.0.1:80"}) {
		t.Errorf("healthy after replace with a health check: %v", got)
	}
	h.ConnEnd() // closing a connection picked from the old cluster
	if got := c.Hosts().Host("10.0.0.1:80").ActiveConns(); got != 0 {
		t.Errorf("active conns after ConnEnd on the old host: %d, want 0", got)
	}

	// Without a health check nothing would mark the host healthy again.
	if err := m.AddOrUpdate(&config.Cluster{Name: "a", Hosts: hostCfgs("10.0.0.1:80", "10.0.0.2:80")}); err != nil {
		t.Fatal(err)
	}
	if got := len(m.Get("a").Hosts().Healthy()); got != 2 {
		t.Errorf("%d healthy hosts after dropping the health check, want 2", got)
	}
}

func TestManagerBadUpdateKeepsOld(t *testing.T) {
	m := upstream.NewManager()
	if err := m.AddOrUpdate(&config.Cluster{Name: "a", Hosts: hostCfgs("10.0.0.1:80")}); err != nil {
		t.Fatal(err)
	}
	old := m.Get("a")
	err := m.AddOrUpdate(&config.Cluster{Name: "a", LbType: "LB_NOPE"})
	if err == nil || !strings.Contains(err.Error(), "LB_NOPE") {
		t.Errorf("error %v", err)
	}
	if m.Get("a") != old {
		t.Error("failed update replaced the cluster")
	}
	if err := m.AddOrUpdate(&config.Cluster{Name: "a", Hosts: hostCfgs("nope")}); err == nil {
		t.Error("hosts-only update with a bad address succeeded")
	}
	if got := addrs(m.Get("a").Hosts().All()); !slices.Equal(got, []string{"10.0.0.1:80"}) {
		t.Errorf("hosts after failed update: %v", got)
	}
	if err := m.AddOrUpdate(nil); err == nil {
		t.Error("nil config accepted")
	}
	if err := m.AddOrUpdate(&config.Cluster{}); err == nil {
		t.Error("nameless cluster accepted")
	}
}

func TestManagerConcurrent(t *testing.T) {
	m := upstream.NewManager()
	if err := m.AddOrUpdate(&config.Cluster{Name: "a", Hosts: hostCfgs("10.0.0.1:80")}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := m.Get("a")
				if c == nil {
					t.Error("cluster a vanished")
					return
				}
				if h := c.Pick(nil); h != nil {
					h.RequestStart()
					h.RequestEnd()
				}
				m.Get("b")
				_ = m.Names()
			}
		}()
	}
	for i := range 100 {
		hosts := hostCfgs(fmt.Sprintf("10.0.0.%d:80", i%5+1), "10.0.0.9:80")
		lb := []string{upstream.LbRoundRobin, upstream.LbRandom, upstream.LbWeightedRR}[i%3]
		if err := m.AddOrUpdate(&config.Cluster{Name: "a", LbType: lb, Hosts: hosts}); err != nil {
			t.Error(err)
		}
		if err := m.AddOrUpdate(&config.Cluster{Name: "b", Hosts: hosts}); err != nil {
			t.Error(err)
		}
		m.Get("a").SetHostHealth("10.0.0.9:80", i%2 == 0)
		m.Remove("b")
	}
	close(stop)
	wg.Wait()
}
