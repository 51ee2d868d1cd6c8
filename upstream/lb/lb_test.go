package lb_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
	_ "mosn.dev/proxy/upstream/lb"
)

// balancerNames are the lb_type names this package registers.
var balancerNames = []string{
	upstream.LbRoundRobin, upstream.LbRequestRoundRobin, upstream.LbRandom,
	upstream.LbWeightedRR, upstream.LbLeastConnection, upstream.LbLeastRequest,
	upstream.LbPeakEWMA, upstream.LbMaglev, upstream.LbRingHash,
}

// makeHosts returns one host per weight, at 10.0.0.<i+1>:80.
func makeHosts(weights ...uint32) []*upstream.Host {
	hosts := make([]*upstream.Host, len(weights))
	for i, w := range weights {
		hosts[i] = upstream.NewHost(config.Host{Address: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: w}, "c")
	}
	return hosts
}

func equalWeights(n int) []uint32 {
	w := make([]uint32, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func build(t testing.TB, name string, hosts []*upstream.Host, cfg *config.Cluster) upstream.Balancer {
	t.Helper()
	f, ok := upstream.LookupBalancer(name)
	if !ok {
		t.Fatalf("balancer %s not registered", name)
	}
	return f(upstream.NewHostSet(hosts), cfg)
}

// count picks n times and returns how often each host was picked.
func count(b upstream.Balancer, ctx *upstream.LBContext, n int) map[*upstream.Host]int {
	got := map[*upstream.Host]int{}
	for range n {
		got[b.Pick(ctx)]++
	}
	return got
}

func TestRegistered(t *testing.T) {
	names := upstream.BalancerNames()
	for _, n := range append(slices.Clone(balancerNames), upstream.LbOriginalDst) {
		if !slices.Contains(names, n) {
			t.Errorf("BalancerNames() = %v, missing %s", names, n)
		}
	}
	for _, n := range []string{upstream.LbRoundRobin, upstream.LbOriginalDst} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registering %s again did not panic", n)
				}
			}()
			upstream.RegisterBalancer(n, func(*upstream.HostSet, *config.Cluster) upstream.Balancer { return nil })
		}()
	}
}

func TestRoundRobinExact(t *testing.T) {
	for _, name := range []string{upstream.LbRoundRobin, upstream.LbRequestRoundRobin} {
		for _, n := range []int{1, 3, 7} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				hosts := makeHosts(equalWeights(n)...)
				// Weights are ignored by round robin.
				hosts[0] = upstream.NewHost(config.Host{Address: "10.0.1.1:80", Weight: 50}, "c")
				b := build(t, name, hosts, nil)
				for round := range 1000 {
					seen := map[*upstream.Host]bool{}
					for range n {
						seen[b.Pick(nil)] = true
					}
					if len(seen) != n {
						t.Fatalf("round %d: %d distinct hosts in %d picks, want all", round, len(seen), n)
					}
				}
			})
		}
	}
}

func TestWeightedRoundRobinExact(t *testing.T) {
	tests := []struct {
		weights []uint32
		picks   int
		want    []int
	}{
		{[]uint32{1, 2, 3}, 600, []int{100, 200, 300}},
		{[]uint32{2, 4, 6}, 600, []int{100, 200, 300}},
		{[]uint32{0, 1}, 100, []int{50, 50}}, // 0 means 1
		{[]uint32{128, 1, 1}, 1300, []int{1280, 10, 10}},
		{[]uint32{5, 5, 5, 5}, 400, []int{100, 100, 100, 100}},
		{[]uint32{7}, 10, []int{10}},
		{[]uint32{3, 1, 2, 1, 3}, 1000, []int{300, 100, 200, 100, 300}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.weights), func(t *testing.T) {
			hosts := makeHosts(tc.weights...)
			b := build(t, upstream.LbWeightedRR, hosts, nil)
			got := count(b, nil, tc.picks)
			for i, h := range hosts {
				if got[h] != tc.want[i] {
					t.Errorf("host %d (weight %d): %d picks, want %d", i, tc.weights[i], got[h], tc.want[i])
				}
			}
		})
	}
}

func TestWeightedRoundRobinSmooth(t *testing.T) {
	// With weights 1:2:3 the heaviest host never gets three picks in a row,
	// which a naive "repeat each host weight times" schedule would give it.
	hosts := makeHosts(1, 2, 3)
	b := build(t, upstream.LbWeightedRR, hosts, nil)
	var last *upstream.Host
	run := 0
	for range 600 {
		h := b.Pick(nil)
		if h == last {
			run++
		} else {
			last, run = h, 1
		}
		if run > 2 {
			t.Fatalf("host %s picked %d times in a row", h.Address(), run)
		}
	}
}

func TestRandomRoughlyEven(t *testing.T) {
	hosts := makeHosts(1, 1, 1)
	b := build(t, upstream.LbRandom, hosts, nil)
	const picks = 30000
	got := count(b, nil, picks)
	// Expected 10000 each with a standard deviation of about 82: the
	// bounds are more than 40 deviations away.
	for i, h := range hosts {
		if got[h] < picks*20/100 || got[h] > picks*47/100 {
			t.Errorf("host %d: %d of %d picks, want 20%%..47%%", i, got[h], picks)
		}
	}
}

func TestLeastConnection(t *testing.T) {
	for _, n := range []int{3, 5, 20, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			hosts := makeHosts(equalWeights(n)...)
			for range 100 {
				hosts[0].ConnStart()
			}
			hosts[1].ConnStart()
			b := build(t, upstream.LbLeastConnection, hosts, nil)
			got := count(b, nil, 10000)
			if got[hosts[0]] != 0 {
				t.Errorf("host with 100 connections picked %d times", got[hosts[0]])
			}
			if n == 3 {
				// Scan: the unique least-loaded host always wins.
				if got[hosts[2]] != 10000 {
					t.Errorf("least-loaded host picked %d of 10000 times", got[hosts[2]])
				}
			}
			if n >= 20 {
				// Two choices: every idle host wins some picks.
				for i := 2; i < n; i++ {
					if got[hosts[i]] == 0 {
						t.Errorf("idle host %d never picked", i)
					}
				}
			}
		})
	}
}

func TestLeastConnectionTiesRandom(t *testing.T) {
	hosts := makeHosts(1, 1, 1)
	hosts[0].ConnStart()
	b := build(t, upstream.LbLeastConnection, hosts, nil)
	got := count(b, nil, 10000)
	if got[hosts[0]] != 0 {
		t.Errorf("busier host picked %d times", got[hosts[0]])
	}
	// Two tied hosts, 5000 expected each with a deviation of 50.
	for _, h := range hosts[1:] {
		if got[h] < 4000 || got[h] > 6000 {
			t.Errorf("tied host %s picked %d of 10000 times, want about half", h.Address(), got[h])
		}
	}
}

func TestLeastRequest(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		choices uint32
		maxBusy int // most picks of the busy host out of 10000
	}{
		{"default 3 hosts", 3, 0, 0},
		{"default 50 hosts", 50, 0, 0},
		{"scan", 4, 10, 0},
		// Three draws with replacement from 10 hosts are all the busy one
		// with probability 1/1000: about 10 of 10000 expected.
		{"3 of 10", 10, 3, 200},
		// One choice is random: about 1000 of 10000 expected.
		{"1 of 10", 10, 1, 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hosts := makeHosts(equalWeights(tc.n)...)
			for range 50 {
				hosts[0].RequestStart()
			}
			cfg := &config.Cluster{LbConfig: &config.LbConfig{ChoiceCount: tc.choices}}
			for _, name := range []string{upstream.LbLeastRequest, upstream.LbPeakEWMA} {
				b := build(t, name, hosts, cfg)
				got := count(b, nil, 10000)
				if got[hosts[0]] > tc.maxBusy {
					t.Errorf("%s: host with 50 requests picked %d times, want <= %d", name, got[hosts[0]], tc.maxBusy)
				}
				if got[nil] != 0 {
					t.Errorf("%s: nil picked", name)
				}
			}
		})
	}
}

func TestUnhealthyNeverPicked(t *testing.T) {
	for _, name := range balancerNames {
		t.Run(name, func(t *testing.T) {
			hosts := makeHosts(1, 2, 3, 1, 2)
			hosts[1].SetHealthy(false)
			hosts[3].SetHealthy(false)
			b := build(t, name, hosts, nil)
			rng := rand.New(rand.NewPCG(1, 2))
			for range 5000 {
				ctx := &upstream.LBContext{HashKey: rng.Uint64(), HasHash: true}
				h := b.Pick(ctx)
				if h == nil || !h.Healthy() {
					t.Fatalf("picked %v", h)
				}
			}
			for _, h := range hosts {
				h.SetHealthy(false)
			}
			if h := build(t, name, hosts, nil).Pick(nil); h != nil {
				t.Errorf("no healthy host, picked %s", h.Address())
			}
			if h := build(t, name, nil, nil).Pick(&upstream.LBContext{HasHash: true}); h != nil {
				t.Errorf("no host, picked %s", h.Address())
			}
		})
	}
}

func TestExclude(t *testing.T) {
	for _, name := range balancerNames {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{2, 3, 12} {
				hosts := makeHosts(equalWeights(n)...)
				b := build(t, name, hosts, nil)
				rng := rand.New(rand.NewPCG(3, 4))
				for _, ex := range hosts {
					for range 1000 {
						ctx := &upstream.LBContext{Exclude: ex, HashKey: rng.Uint64(), HasHash: rng.IntN(2) == 0}
						if h := b.Pick(ctx); h == ex || h == nil {
							t.Fatalf("%d hosts: excluded %s, picked %v", n, ex.Address(), h)
						}
					}
				}
			}
			// The only healthy host is still picked when excluded.
			hosts := makeHosts(1, 1)
			hosts[1].SetHealthy(false)
			b := build(t, name, hosts, nil)
			if h := b.Pick(&upstream.LBContext{Exclude: hosts[0], HasHash: true, HashKey: 7}); h != hosts[0] {
				t.Errorf("only host excluded: picked %v, want it anyway", h)
			}
		})
	}
}

// keys returns n deterministic hash keys.
func keys(n int) []uint64 {
	rng := rand.New(rand.NewPCG(5, 6))
	k := make([]uint64, n)
	for i := range k {
		k[i] = rng.Uint64()
	}
	return k
}

func TestConsistentHashStable(t *testing.T) {
	for _, name := range []string{upstream.LbMaglev, upstream.LbRingHash} {
		t.Run(name, func(t *testing.T) {
			hosts := makeHosts(1, 1, 1, 1, 1)
			b := build(t, name, hosts, nil)
			// Same addresses in another order, as other Host values: a
			// different proxy or a rebuilt snapshot.
			other := makeHosts(1, 1, 1, 1, 1)
			slices.Reverse(other)
			b2 := build(t, name, other, nil)
			for _, k := range keys(10000) {
				ctx := &upstream.LBContext{HashKey: k, HasHash: true}
				h := b.Pick(ctx)
				if again := b.Pick(ctx); again != h {
					t.Fatalf("key %x: %s then %s", k, h.Address(), again.Address())
				}
				if h2 := b2.Pick(ctx); h2.Address() != h.Address() {
					t.Fatalf("key %x: %s, but %s after reordering hosts", k, h.Address(), h2.Address())
				}
			}
		})
	}
}

func TestConsistentHashRemoveHost(t *testing.T) {
	tests := []struct {
		name    string
		minKept float64 // share of keys on surviving hosts that must stay
	}{
		{upstream.LbMaglev, 0.90},
		{upstream.LbRingHash, 1.0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hosts := makeHosts(1, 1, 1, 1, 1)
			before := build(t, tc.name, hosts, nil)
			gone := hosts[2]
			after := build(t, tc.name, slices.Delete(slices.Clone(hosts), 2, 3), nil)
			var onSurvivors, kept, share int
			ks := keys(100000)
			for _, k := range ks {
				ctx := &upstream.LBContext{HashKey: k, HasHash: true}
				h1, h2 := before.Pick(ctx), after.Pick(ctx)
				if h2 == gone {
					t.Fatalf("key %x still on the removed host", k)
				}
				if h1 == gone {
					share++
					continue
				}
				onSurvivors++
				if h1 == h2 {
					kept++
				}
			}
			t.Logf("%d of %d keys on surviving hosts stayed; the removed host held %d", kept, onSurvivors, share)
			if got := float64(kept) / float64(onSurvivors); got < tc.minKept {
				t.Errorf("%.4f of the keys on surviving hosts stayed, want >= %.2f", got, tc.minKept)
			}
			// The removed host held about a fifth of the keys.
			if share < len(ks)*15/100 || share > len(ks)*25/100 {
				t.Errorf("removed host held %d of %d keys, want about 20%%", share, len(ks))
			}
		})
	}
}

func TestConsistentHashWeights(t *testing.T) {
	for _, name := range []string{upstream.LbMaglev, upstream.LbRingHash} {
		t.Run(name, func(t *testing.T) {
			hosts := makeHosts(1, 3)
			b := build(t, name, hosts, nil)
			ks := keys(40000)
			got := map[*upstream.Host]int{}
			for _, k := range ks {
				got[b.Pick(&upstream.LBContext{HashKey: k, HasHash: true})]++
			}
			t.Logf("weight-1 host got %d of %d keys", got[hosts[0]], len(ks))
			// Weight 1 of 4: a quarter of the keys, give or take a few
			// percent for the hash's unevenness.
			if got[hosts[0]] < len(ks)*20/100 || got[hosts[0]] > len(ks)*30/100 {
				t.Errorf("weight-1 host got %d of %d keys, want about 25%%", got[hosts[0]], len(ks))
			}
		})
	}
}

func TestConsistentHashWithoutKeyIsRandom(t *testing.T) {
	for _, name := range []string{upstream.LbMaglev, upstream.LbRingHash} {
		t.Run(name, func(t *testing.T) {
			hosts := makeHosts(1, 1, 1)
			b := build(t, name, hosts, nil)
			got := count(b, &upstream.LBContext{HashKey: 42}, 3000)
			for _, h := range hosts {
				if got[h] < 600 {
					t.Errorf("host %s picked %d of 3000 times without a hash key", h.Address(), got[h])
				}
			}
		})
	}
}

func TestConcurrentPick(t *testing.T) {
	for _, name := range balancerNames {
		t.Run(name, func(t *testing.T) {
			hosts := makeHosts(1, 2, 3, 4)
			b := build(t, name, hosts, &config.Cluster{LbConfig: &config.LbConfig{ChoiceCount: 3}})
			var wg sync.WaitGroup
			errs := make(chan string, 4)
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 9))
					for i := range 2000 {
						ctx := &upstream.LBContext{HashKey: rng.Uint64(), HasHash: i%2 == 0, Exclude: hosts[i%4]}
						h := b.Pick(ctx)
						if h == nil || h == ctx.Exclude {
							errs <- fmt.Sprintf("picked %v excluding %s", h, ctx.Exclude.Address())
							return
						}
						h.ConnStart()
						h.RequestStart()
						h.RequestEnd()
						h.ConnEnd()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			for _, h := range hosts {
				if h.ActiveConns() != 0 || h.ActiveRequests() != 0 {
					t.Errorf("%s: active %d/%d after all ended", h.Address(), h.ActiveConns(), h.ActiveRequests())
				}
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, name := range balancerNames {
		for _, n := range []int{3, 100} {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				hosts := makeHosts(equalWeights(n)...)
				for i, h := range hosts {
					h.SetHealthy(true)
					for range i % 7 {
						h.ConnStart()
						h.RequestStart()
					}
				}
				bal := build(b, name, hosts, nil)
				ctx := &upstream.LBContext{HasHash: true}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					ctx.HashKey = uint64(i)
					if bal.Pick(ctx) == nil {
						b.Fatal("nil pick")
					}
				}
			})
		}
	}
}

// BenchmarkBuild measures the per-snapshot cost paid on every host-list or
// health change.
func BenchmarkBuild(b *testing.B) {
	for _, name := range []string{upstream.LbWeightedRR, upstream.LbMaglev, upstream.LbRingHash} {
		for _, n := range []int{3, 100} {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				weights := make([]uint32, n)
				for i := range weights {
					weights[i] = uint32(1 + i%4)
				}
				hs := upstream.NewHostSet(makeHosts(weights...))
				f, _ := upstream.LookupBalancer(name)
				b.ReportAllocs()
				for b.Loop() {
					f(hs, nil)
				}
			})
		}
	}
}
