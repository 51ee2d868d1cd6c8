package upstream

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"mosn.dev/proxy/config"
)

// The lb_subset_config fall_back_policy values: what a subset cluster
// picks from when a request's LBContext.MetadataMatch is empty or selects
// no subset with a healthy host.
const (
	// SubsetNoFallback picks no host (the default).
	SubsetNoFallback uint8 = 0
	// SubsetAnyEndpoint picks among all the cluster's healthy hosts.
	SubsetAnyEndpoint uint8 = 1
	// SubsetDefaultSubset picks among the healthy hosts whose metadata
	// contains every pair of default_subset (all hosts when it is empty).
	SubsetDefaultSubset uint8 = 2
)

// subsetKeyBuf is the size of the stack buffer Pick builds a multi-key
// lookup key in; longer keys cost one allocation.
const subsetKeyBuf = 128

// subsetConfig is a cluster's lb_subset_config, normalised once per
// Cluster: every selector's keys sorted and deduplicated, and selectors
// with the same key set kept once.
type subsetConfig struct {
	policy    uint8
	defaults  map[string]string
	selectors [][]string
}

// newSubsetConfig returns the normalised config, or nil when subset
// balancing is off: no lb_subset_config, or one without selectors (MOSN
// enables the subset balancer only when there is a selector).
func newSubsetConfig(sc *config.LbSubsetConfig) (*subsetConfig, error) {
	if sc == nil || len(sc.SubsetSelectors) == 0 {
		return nil, nil
	}
	if sc.FallBackPolicy > SubsetDefaultSubset {
		return nil, fmt.Errorf("lb_subset_config: unknown fall_back_policy %d (want 0 none, 1 any or 2 default subset)", sc.FallBackPolicy)
	}
	out := &subsetConfig{policy: sc.FallBackPolicy, defaults: maps.Clone(sc.DefaultSubset)}
	for i, sel := range sc.SubsetSelectors {
		if len(sel) == 0 {
			return nil, fmt.Errorf("lb_subset_config: subset_selectors[%d] is empty", i)
		}
		keys := slices.Compact(slices.Sorted(slices.Values(sel)))
		if !slices.ContainsFunc(out.selectors, func(s []string) bool { return slices.Equal(s, keys) }) {
			out.selectors = append(out.selectors, keys)
		}
	}
	return out, nil
}

// subsetBalancer is the balancer of a subset cluster's snapshot. Every
// subset and its Balancer are built with the snapshot, so Pick only looks
// one up.
type subsetBalancer struct {
	selectors []subsetSelector
	// fallback serves requests no subset serves; nil for NO_FALLBACK.
	fallback Balancer
}

// subsetSelector holds the subsets of one selector.
type subsetSelector struct {
	keys []string // sorted
	// subsets maps the lookup key of a value tuple (see appendSubsetKey)
	// to the balancer of the hosts with those values. Only subsets with at
	// least one healthy host are present.
	subsets map[string]Balancer
}

// appendSubsetKey appends to b the lookup key of md's values for keys and
// reports whether md has every key. A single value is its own key;
// several are each preceded by their length as a uvarint, so that no two
// tuples share a key whatever bytes the values hold.
func appendSubsetKey(b []byte, keys []string, md map[string]string) ([]byte, bool) {
	for _, k := range keys {
		v, ok := md[k]
		if !ok {
			return b, false
		}
		if len(keys) > 1 {
			b = binary.AppendUvarint(b, uint64(len(v)))
		}
		b = append(b, v...)
	}
	return b, true
}

// build returns the balancer of snapshot hs: for each selector, a
// balancer made by f over each subset, and the fallback. all is the
// balancer f made over the whole of hs.
func (sc *subsetConfig) build(hs *HostSet, cfg *config.Cluster, f BalancerFactory, all Balancer) Balancer {
	healthy := healthyMask(hs)
	b := &subsetBalancer{selectors: make([]subsetSelector, len(sc.selectors))}
	type group struct {
		all, healthy []*Host
	}
	var buf []byte
	for i, keys := range sc.selectors {
		groups := map[string]*group{}
		for j, h := range hs.all {
			var ok bool
			if buf, ok = appendSubsetKey(buf[:0], keys, h.metadata); !ok {
				continue
			}
			g := groups[string(buf)]
			if g == nil {
				g = &group{}
				groups[string(buf)] = g
			}
			g.all = append(g.all, h)
			if healthy[j] {
				g.healthy = append(g.healthy, h)
			}
		}
		sel := subsetSelector{keys: keys, subsets: make(map[string]Balancer, len(groups))}
		for k, g := range groups {
			if len(g.healthy) > 0 {
				sel.subsets[k] = buildBalancer(f, subHostSet(g.all, g.healthy), cfg)
			}
		}
		b.selectors[i] = sel
	}
	switch sc.policy {
	case SubsetAnyEndpoint:
		b.fallback = all
	case SubsetDefaultSubset:
		if len(sc.defaults) == 0 {
			b.fallback = all
			break
		}
		var sub, subHealthy []*Host
		for j, h := range hs.all {
			if containsAll(h.metadata, sc.defaults) {
				sub = append(sub, h)
				if healthy[j] {
					subHealthy = append(subHealthy, h)
				}
			}
		}
		b.fallback = buildBalancer(f, subHostSet(sub, subHealthy), cfg)
	}
	return b
}

// buildBalancer calls f, replacing a nil result by a balancer that picks
// nothing.
func buildBalancer(f BalancerFactory, hs *HostSet, cfg *config.Cluster) Balancer {
	if lb := f(hs, cfg); lb != nil {
		return lb
	}
	return nilBalancer{}
}

// healthyMask reports, for each host of hs.all, whether it is in
// hs.healthy. The subsets take health from the snapshot rather than from
// the live flags so that they never disagree with it.
func healthyMask(hs *HostSet) []bool {
	mask := make([]bool, len(hs.all))
	// healthy is a subsequence of all, in the same order.
	j := 0
	for i, h := range hs.all {
		if j < len(hs.healthy) && hs.healthy[j] == h {
			mask[i] = true
			j++
		}
	}
	return mask
}

// subHostSet returns a HostSet of all whose healthy hosts are healthy (a
// subsequence of all), without reading the hosts' flags again.
func subHostSet(all, healthy []*Host) *HostSet {
	hs := &HostSet{all: all, healthy: healthy, byAddr: make(map[string]*Host, len(all))}
	if len(healthy) == len(all) {
		hs.healthy = hs.all
	}
	for _, h := range all {
		if _, dup := hs.byAddr[h.address]; !dup {
			hs.byAddr[h.address] = h
		}
	}
	return hs
}

// containsAll reports whether md has every key of want with the same value.
func containsAll(md, want map[string]string) bool {
	for k, v := range want {
		if got, ok := md[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Pick picks from the subset ctx.MetadataMatch selects: the one of the
// selector whose key set equals the match's. When the match is empty,
// fits no selector, or its subset has no healthy host, it picks from the
// fallback.
func (b *subsetBalancer) Pick(ctx *LBContext) *Host {
	if ctx != nil && len(ctx.MetadataMatch) > 0 {
		if lb := b.find(ctx.MetadataMatch); lb != nil {
			if h := lb.Pick(ctx); h != nil {
				return h
			}
		}
	}
	if b.fallback == nil {
		return nil
	}
	return b.fallback.Pick(ctx)
}

// find returns the balancer of the subset match selects, or nil.
func (b *subsetBalancer) find(match map[string]string) Balancer {
	for i := range b.selectors {
		s := &b.selectors[i]
		if len(s.keys) != len(match) {
			continue
		}
		if len(s.keys) == 1 {
			v, ok := match[s.keys[0]]
			if !ok {
				continue
			}
			return s.subsets[v]
		}
		var buf [subsetKeyBuf]byte
		key, ok := appendSubsetKey(buf[:0], s.keys, match)
		if !ok {
			continue
		}
		// Selectors have distinct key sets, so no other can fit.
		return s.subsets[string(key)]
	}
	return nil
}
