package upstream_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

// lbMeta returns host metadata in the "mosn.lb" namespace from k, v pairs.
func lbMeta(kv ...string) *config.Metadata {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &config.Metadata{FilterMetadata: map[string]map[string]string{"mosn.lb": m}}
}

// subsetHosts are six hosts: .1-.3 version v1, .4-.5 version v2, .6 with a
// stage only.
func subsetHosts() []config.Host {
	return []config.Host{
		{Address: "10.0.0.1:80", Metadata: lbMeta("version", "v1", "stage", "prod")},
		{Address: "10.0.0.2:80", Metadata: lbMeta("version", "v1", "stage", "prod")},
		{Address: "10.0.0.3:80", Metadata: lbMeta("version", "v1", "stage", "test")},
		{Address: "10.0.0.4:80", Metadata: lbMeta("version", "v2", "stage", "prod")},
		{Address: "10.0.0.5:80", Metadata: lbMeta("version", "v2", "stage", "test")},
		{Address: "10.0.0.6:80", Metadata: lbMeta("stage", "test")},
	}
}

var subsetSelectors = [][]string{{"version"}, {"version", "stage"}}

func subsetCluster(t testing.TB, lbType string, policy uint8, hosts []config.Host) *upstream.Cluster {
	t.Helper()
	c, err := upstream.NewCluster(&config.Cluster{
		Name: "sub", LbType: lbType, Hosts: hosts,
		LbSubsetConfig: &config.LbSubsetConfig{
			FallBackPolicy:  policy,
			DefaultSubset:   map[string]string{"stage": "test"},
			SubsetSelectors: subsetSelectors,
		},
	})
	if err != nil {
		t.Fatalf("NewCluster: %v", err)
	}
	return c
}

// ips returns the addresses 10.0.0.<a>:80 for each a.
func ips(addrs ...string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = "10.0.0." + a + ":80"
	}
	return out
}

// pickCounts picks n times and counts the picked addresses ("nil" for none).
func pickCounts(c *upstream.Cluster, ctx *upstream.LBContext, n int) map[string]int {
	got := map[string]int{}
	for range n {
		if h := c.Pick(ctx); h != nil {
			got[h.Address()]++
		} else {
			got["nil"]++
		}
	}
	return got
}

// checkPicks fails unless the picks over n tries are exactly the hosts of
// want, each at least once; an empty want means every pick is nil.
func checkPicks(t *testing.T, c *upstream.Cluster, ctx *upstream.LBContext, want []string) {
	t.Helper()
	if len(want) == 0 {
		want = []string{"nil"}
	}
	got := pickCounts(c, ctx, 100*len(want))
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, slices.Sorted(slices.Values(want))) {
		t.Errorf("picked %v, want exactly %v", got, want)
	}
}

func TestSubsetPick(t *testing.T) {
	fallbacks := map[uint8][]string{
		upstream.SubsetNoFallback:    nil,
		upstream.SubsetAnyEndpoint:   ips("1", "2", "3", "4", "5", "6"),
		upstream.SubsetDefaultSubset: ips("3", "5", "6"), // stage=test
	}
	tests := []struct {
		name  string
		match map[string]string
		nilCtx,
		fallback bool
		want []string
	}{
		{name: "version v1", match: map[string]string{"version": "v1"}, want: ips("1", "2", "3")},
		{name: "version v2", match: map[string]string{"version": "v2"}, want: ips("4", "5")},
		{name: "v1 prod", match: map[string]string{"version": "v1", "stage": "prod"}, want: ips("1", "2")},
		{name: "v2 test", match: map[string]string{"stage": "test", "version": "v2"}, want: ips("5")},
		{name: "unknown value", match: map[string]string{"version": "v3"}, fallback: true},
		{name: "unknown pair", match: map[string]string{"version": "v2", "stage": "dev"}, fallback: true},
		{name: "keys fit no selector", match: map[string]string{"stage": "prod"}, fallback: true},
		{name: "superset of a selector", match: map[string]string{"version": "v1", "stage": "prod", "zone": "a"}, fallback: true},
		{name: "empty match", match: map[string]string{}, fallback: true},
		{name: "no match", fallback: true},
		{name: "nil context", nilCtx: true, fallback: true},
	}
	for _, policy := range []uint8{upstream.SubsetNoFallback, upstream.SubsetAnyEndpoint, upstream.SubsetDefaultSubset} {
		c := subsetCluster(t, "", policy, subsetHosts())
		for _, tc := range tests {
			t.Run(fmt.Sprintf("policy%d/%s", policy, tc.name), func(t *testing.T) {
				ctx := &upstream.LBContext{MetadataMatch: tc.match}
				if tc.nilCtx {
					ctx = nil
				}
				want := tc.want
				if tc.fallback {
					want = fallbacks[policy]
				}
				checkPicks(t, c, ctx, want)
			})
		}
	}
}

func TestSubsetDefaultSubset(t *testing.T) {
	tests := []struct {
		name     string
		defaults map[string]string
		want     []string
	}{
		{"no default_subset means every host", nil, ips("1", "2", "3", "4", "5", "6")},
		{"two pairs", map[string]string{"version": "v1", "stage": "test"}, ips("3")},
		{"no host matches", map[string]string{"version": "v9"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCluster(t, &config.Cluster{Name: "c", Hosts: subsetHosts(), LbSubsetConfig: &config.LbSubsetConfig{
				FallBackPolicy: upstream.SubsetDefaultSubset, DefaultSubset: tc.defaults, SubsetSelectors: subsetSelectors,
			}})
			checkPicks(t, c, nil, tc.want)
			checkPicks(t, c, &upstream.LBContext{MetadataMatch: map[string]string{"version": "v1"}}, ips("1", "2", "3"))
		})
	}
}

func TestSubsetUsesClusterLbType(t *testing.T) {
	v1 := &upstream.LBContext{MetadataMatch: map[string]string{"version": "v1"}}
	v1prod := &upstream.LBContext{MetadataMatch: map[string]string{"version": "v1", "stage": "prod"}}
	tests := []struct {
		name   string
		lbType string
		lbCfg  *config.LbConfig
		// weights are host weights by address; load sets counters.
		weights map[string]uint32
		load    func(c *upstream.Cluster)
		ctx     *upstream.LBContext
		n       int
		want    map[string]int
	}{
		{
			name: "round robin is even", lbType: upstream.LbRoundRobin, ctx: v1, n: 3000,
			want: map[string]int{"10.0.0.1:80": 1000, "10.0.0.2:80": 1000, "10.0.0.3:80": 1000},
		},
		{
			name: "weighted round robin follows weights", lbType: upstream.LbWeightedRR, ctx: v1prod, n: 400,
			weights: map[string]uint32{"10.0.0.1:80": 3, "10.0.0.4:80": 50},
			want:    map[string]int{"10.0.0.1:80": 300, "10.0.0.2:80": 100},
		},
		{
			name: "least connection", lbType: upstream.LbLeastConnection, ctx: v1, n: 100,
			load: func(c *upstream.Cluster) {
				// .4 is idle too but outside the subset.
				c.Hosts().Host("10.0.0.1:80").ConnStart()
				c.Hosts().Host("10.0.0.3:80").ConnStart()
			},
			want: map[string]int{"10.0.0.2:80": 100},
		},
		{
			name: "least request gets the cluster's lbconfig", lbType: upstream.LbLeastRequest, ctx: v1, n: 100,
			// choice_count 3 scans the whole 3-host subset, so the idle host
			// always wins; the default of 2 would not.
			lbCfg: &config.LbConfig{ChoiceCount: 3},
			load: func(c *upstream.Cluster) {
				c.Hosts().Host("10.0.0.2:80").RequestStart()
				c.Hosts().Host("10.0.0.3:80").RequestStart()
			},
			want: map[string]int{"10.0.0.1:80": 100},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hosts := subsetHosts()
			for i := range hosts {
				hosts[i].Weight = tc.weights[hosts[i].Address]
			}
			c := mustCluster(t, &config.Cluster{
				Name: "c", LbType: tc.lbType, LbConfig: tc.lbCfg, Hosts: hosts,
				LbSubsetConfig: &config.LbSubsetConfig{SubsetSelectors: subsetSelectors},
			})
			if tc.load != nil {
				tc.load(c)
			}
			if got := pickCounts(c, tc.ctx, tc.n); !maps.Equal(got, tc.want) {
				t.Errorf("picked %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSubsetHashBalancer(t *testing.T) {
	c := subsetCluster(t, upstream.LbMaglev, upstream.SubsetNoFallback, subsetHosts())
	got := map[string]int{}
	for i := range 2000 {
		key := uint64(i) * 0x9e3779b97f4a7c15
		ctx := &upstream.LBContext{HashKey: key, HasHash: true, MetadataMatch: map[string]string{"version": "v2"}}
		h := c.Pick(ctx)
		if h == nil {
			t.Fatal("nil pick")
		}
		if again := c.Pick(ctx); again != h {
			t.Fatalf("hash %x picked %s then %s", key, h.Address(), again.Address())
		}
		got[h.Address()]++
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, ips("4", "5")) {
		t.Errorf("picked %v, want .4 and .5 only", got)
	}
}

func TestSubsetExclude(t *testing.T) {
	c := subsetCluster(t, "", upstream.SubsetNoFallback, subsetHosts())
	ex := c.Hosts().Host("10.0.0.1:80")
	checkPicks(t, c, &upstream.LBContext{Exclude: ex, MetadataMatch: map[string]string{"version": "v1", "stage": "prod"}}, ips("2"))
	// The only host of a subset is picked even when excluded.
	ex = c.Hosts().Host("10.0.0.5:80")
	checkPicks(t, c, &upstream.LBContext{Exclude: ex, MetadataMatch: map[string]string{"version": "v2", "stage": "test"}}, ips("5"))
}

func TestSubsetFollowsHealth(t *testing.T) {
	type step struct {
		addr    string
		healthy bool
	}
	tests := []struct {
		name   string
		policy uint8
		steps  []step
		match  map[string]string
		want   []string
	}{
		{"unhealthy host leaves", upstream.SubsetNoFallback,
			[]step{{"10.0.0.1:80", false}}, map[string]string{"version": "v1"}, ips("2", "3")},
		{"recovered host returns", upstream.SubsetNoFallback,
			[]step{{"10.0.0.1:80", false}, {"10.0.0.1:80", true}}, map[string]string{"version": "v1"}, ips("1", "2", "3")},
		{"empty subset, no fallback", upstream.SubsetNoFallback,
			[]step{{"10.0.0.4:80", false}, {"10.0.0.5:80", false}}, map[string]string{"version": "v2"}, nil},
		{"empty subset falls back to any healthy", upstream.SubsetAnyEndpoint,
			[]step{{"10.0.0.5:80", false}, {"10.0.0.1:80", false}}, map[string]string{"version": "v2", "stage": "test"}, ips("2", "3", "4", "6")},
		{"empty subset falls back to healthy default", upstream.SubsetDefaultSubset,
			[]step{{"10.0.0.5:80", false}, {"10.0.0.6:80", false}}, map[string]string{"version": "v2", "stage": "test"}, ips("3")},
		{"default subset without healthy host", upstream.SubsetDefaultSubset,
			[]step{{"10.0.0.3:80", false}, {"10.0.0.5:80", false}, {"10.0.0.6:80", false}}, map[string]string{"version": "v3"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := subsetCluster(t, "", tc.policy, subsetHosts())
			for _, s := range tc.steps {
				c.SetHostHealth(s.addr, s.healthy)
			}
			checkPicks(t, c, &upstream.LBContext{MetadataMatch: tc.match}, tc.want)
		})
	}
}

func TestSubsetFollowsUpdateHosts(t *testing.T) {
	c := subsetCluster(t, "", upstream.SubsetNoFallback, subsetHosts())
	c.SetHostHealth("10.0.0.2:80", false)
	hosts := subsetHosts()
	hosts[3].Metadata = lbMeta("version", "v1", "stage", "prod") // .4 moves to v1
	hosts = append(hosts, config.Host{Address: "10.0.0.7:80", Metadata: lbMeta("version", "v3", "stage", "prod")})
	if err := c.UpdateHosts(hosts); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		match map[string]string
		want  []string
	}{
		{map[string]string{"version": "v1"}, ips("1", "3", "4")}, // .2 stays unhealthy
		{map[string]string{"version": "v1", "stage": "prod"}, ips("1", "4")},
		{map[string]string{"version": "v2"}, ips("5")},
		{map[string]string{"version": "v3"}, ips("7")},
		{map[string]string{"version": "v3", "stage": "prod"}, ips("7")},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.match), func(t *testing.T) {
			checkPicks(t, c, &upstream.LBContext{MetadataMatch: tc.match}, tc.want)
		})
	}
}

func TestSubsetManagerUpdate(t *testing.T) {
	m := upstream.NewManager()
	cfg := &config.Cluster{Name: "c", Hosts: subsetHosts()}
	if err := m.AddOrUpdate(cfg); err != nil {
		t.Fatal(err)
	}
	v2 := &upstream.LBContext{MetadataMatch: map[string]string{"version": "v2"}}
	checkPicks(t, m.Get("c"), v2, ips("1", "2", "3", "4", "5", "6"))
	withSubsets := *cfg
	withSubsets.LbSubsetConfig = &config.LbSubsetConfig{SubsetSelectors: subsetSelectors}
	if err := m.AddOrUpdate(&withSubsets); err != nil {
		t.Fatal(err)
	}
	checkPicks(t, m.Get("c"), v2, ips("4", "5"))
}

func TestSubsetIgnored(t *testing.T) {
	v1 := &upstream.LBContext{MetadataMatch: map[string]string{"version": "v1"}}
	tests := []struct {
		name string
		sc   *config.LbSubsetConfig
	}{
		{"no lb_subset_config", nil},
		{"no selectors", &config.LbSubsetConfig{FallBackPolicy: upstream.SubsetNoFallback, DefaultSubset: map[string]string{"version": "v2"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCluster(t, &config.Cluster{Name: "c", Hosts: subsetHosts(), LbSubsetConfig: tc.sc})
			checkPicks(t, c, v1, ips("1", "2", "3", "4", "5", "6"))
			checkPicks(t, c, nil, ips("1", "2", "3", "4", "5", "6"))
		})
	}
	t.Run("original dst", func(t *testing.T) {
		c := mustCluster(t, &config.Cluster{Name: "od", LbType: upstream.LbOriginalDst,
			LbSubsetConfig: &config.LbSubsetConfig{SubsetSelectors: subsetSelectors}})
		h := c.Pick(&upstream.LBContext{OriginalDst: "10.1.1.1:80", MetadataMatch: map[string]string{"version": "v1"}})
		if h == nil || h.Address() != "10.1.1.1:80" {
			t.Errorf("picked %v", h)
		}
	})
}

func TestSubsetSelectorsNormalised(t *testing.T) {
	// Unordered and repeated keys, and a duplicate selector, are the same
	// selector.
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: subsetHosts(), LbSubsetConfig: &config.LbSubsetConfig{
		SubsetSelectors: [][]string{{"stage", "version", "stage"}, {"version", "stage"}},
	}})
	checkPicks(t, c, &upstream.LBContext{MetadataMatch: map[string]string{"version": "v1", "stage": "prod"}}, ips("1", "2"))
	checkPicks(t, c, &upstream.LBContext{MetadataMatch: map[string]string{"version": "v1"}}, nil)
}

func TestSubsetValuesDoNotCollide(t *testing.T) {
	// With two keys, ("a\x00", "b") and ("a", "\x00b") are different tuples
	// whatever separator a key encoding uses.
	hosts := []config.Host{
		{Address: "10.0.0.1:80", Metadata: lbMeta("k1", "a\x00", "k2", "b")},
		{Address: "10.0.0.2:80", Metadata: lbMeta("k1", "a", "k2", "\x00b")},
		{Address: "10.0.0.3:80", Metadata: lbMeta("k1", strings.Repeat("x", 200), "k2", "y")},
	}
	c := mustCluster(t, &config.Cluster{Name: "c", Hosts: hosts, LbSubsetConfig: &config.LbSubsetConfig{
		SubsetSelectors: [][]string{{"k1", "k2"}},
	}})
	checkPicks(t, c, &upstream.LBContext{MetadataMatch: map[string]string{"k1": "a\x00", "k2": "b"}}, ips("1"))
	checkPicks(t, c, &upstream.LBContext{MetadataMatch: map[string]string{"k1": "a", "k2": "\x00b"}}, ips("2"))
	// A key longer than the stack buffer.
	checkPicks(t, c, &upstream.LBContext{MetadataMatch: map[string]string{"k1": strings.Repeat("x", 200), "k2": "y"}}, ips("3"))
}

func TestSubsetConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		sc   *config.LbSubsetConfig
		want string
	}{
		{"unknown policy", &config.LbSubsetConfig{FallBackPolicy: 3, SubsetSelectors: subsetSelectors}, "unknown fall_back_policy 3"},
		{"empty selector", &config.LbSubsetConfig{SubsetSelectors: [][]string{{"version"}, {}}}, "subset_selectors[1] is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := upstream.NewCluster(&config.Cluster{Name: "c", Hosts: subsetHosts(), LbSubsetConfig: tc.sc})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `cluster "c"`) {
				t.Errorf("error %v, want one naming the cluster and containing %q", err, tc.want)
			}
		})
	}
}

func TestSubsetPickAllocs(t *testing.T) {
	c := subsetCluster(t, "", upstream.SubsetAnyEndpoint, subsetHosts())
	for _, match := range []map[string]string{
		{"version": "v1"},
		{"version": "v1", "stage": "prod"},
		{"version": "v9", "stage": "prod"}, // falls back
	} {
		ctx := &upstream.LBContext{MetadataMatch: match}
		if n := testing.AllocsPerRun(100, func() { c.Pick(ctx) }); n != 0 {
			t.Errorf("Pick with %v: %v allocations, want 0", match, n)
		}
	}
}

func TestSubsetConcurrentPick(t *testing.T) {
	c := subsetCluster(t, upstream.LbLeastConnection, upstream.SubsetNoFallback, subsetHosts())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := &upstream.LBContext{MetadataMatch: map[string]string{"version": "v1"}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if h := c.Pick(ctx); h != nil && h.Metadata()["version"] != "v1" {
					errs <- fmt.Sprintf("picked %s with metadata %v", h.Address(), h.Metadata())
					return
				}
			}
		}()
	}
	// .4 moves between v1 and v2 while hosts' health flips: every pick
	// sees one consistent snapshot.
	for i := range 200 {
		c.SetHostHealth(fmt.Sprintf("10.0.0.%d:80", i%5+1), i%2 == 0)
		hosts := subsetHosts()
		if i%3 == 0 {
			hosts[3].Metadata = lbMeta("version", "v1", "stage", "prod")
		}
		if err := c.UpdateHosts(hosts); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func BenchmarkSubsetPick(b *testing.B) {
	long := strings.Repeat("x", 200)
	hosts := subsetHosts()
	hosts = append(hosts, config.Host{Address: "10.0.0.7:80", Metadata: lbMeta("version", long, "stage", "prod")})
	// 1000 hosts in 100 versions, to show Pick does not depend on size.
	var big []config.Host
	for i := range 1000 {
		big = append(big, config.Host{
			Address:  fmt.Sprintf("10.1.%d.%d:80", i/250, i%250+1),
			Metadata: lbMeta("version", fmt.Sprintf("v%d", i%100), "stage", []string{"prod", "test"}[i%2]),
		})
	}
	c := subsetCluster(b, "", upstream.SubsetAnyEndpoint, hosts)
	cBig := subsetCluster(b, "", upstream.SubsetAnyEndpoint, big)
	cLeast := subsetCluster(b, upstream.LbLeastConnection, upstream.SubsetAnyEndpoint, hosts)
	tests := []struct {
		name  string
		c     *upstream.Cluster
		match map[string]string
	}{
		{"one-key", c, map[string]string{"version": "v1"}},
		{"two-keys", c, map[string]string{"version": "v1", "stage": "prod"}},
		{"two-keys-long-value", c, map[string]string{"version": long, "stage": "prod"}},
		{"fallback-no-selector", c, map[string]string{"stage": "prod"}},
		{"fallback-no-subset", c, map[string]string{"version": "v9", "stage": "prod"}},
		{"no-match", c, nil},
		{"1000-hosts-two-keys", cBig, map[string]string{"version": "v42", "stage": "prod"}},
		{"least-connection-two-keys", cLeast, map[string]string{"version": "v1", "stage": "prod"}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			ctx := &upstream.LBContext{MetadataMatch: tc.match}
			b.ReportAllocs()
			for b.Loop() {
				if tc.c.Pick(ctx) == nil {
					b.Fatal("nil")
				}
			}
		})
	}
}

func BenchmarkSubsetRebuild(b *testing.B) {
	// The cost of a health change on a 1000-host cluster with two
	// selectors (200 subsets): the whole snapshot is rebuilt.
	var hosts []config.Host
	for i := range 1000 {
		hosts = append(hosts, config.Host{
			Address:  fmt.Sprintf("10.1.%d.%d:80", i/250, i%250+1),
			Metadata: lbMeta("version", fmt.Sprintf("v%d", i%100), "stage", []string{"prod", "test"}[i%2]),
		})
	}
	for _, lbType := range []string{upstream.LbRoundRobin, upstream.LbWeightedRR} {
		b.Run(lbType, func(b *testing.B) {
			c := subsetCluster(b, lbType, upstream.SubsetDefaultSubset, hosts)
			b.ReportAllocs()
			healthy := false
			for b.Loop() {
				c.SetHostHealth("10.1.0.1:80", healthy)
				healthy = !healthy
			}
		})
	}
}
