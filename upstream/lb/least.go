package lb

import (
	"math/rand/v2"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

// p2cThreshold is the host count from which least connection compares two
// random hosts instead of scanning them all.
const p2cThreshold = 10

// defaultChoiceCount is the number of hosts least request compares when
// lbconfig.choice_count is unset.
const defaultChoiceCount = 2

// load reads the figure a least-loaded balancer minimises.
type load func(*upstream.Host) int64

var (
	activeConns    load = (*upstream.Host).ActiveConns
	activeRequests load = (*upstream.Host).ActiveRequests
)

// leastLoaded picks the host with the smallest load among choices random
// hosts, or among all hosts when choices >= len(hosts).
type leastLoaded struct {
	hosts   []*upstream.Host
	choices int
	load    load
}

// NewLeastConnection builds LB_LEAST_CONNECTION: the healthy host with the
// fewest active connections, at random among ties, ignoring weights. From
// 10 hosts up it compares two distinct random hosts (power of two choices)
// instead of scanning, which keeps Pick O(1) and avoids every proxy
// herding onto the same least-loaded host.
func NewLeastConnection(hs *upstream.HostSet, _ *config.Cluster) upstream.Balancer {
	hosts := hs.Healthy()
	if len(hosts) == 0 {
		return empty{}
	}
	b := &leastLoaded{hosts: hosts, load: activeConns, choices: len(hosts)}
	if len(hosts) >= p2cThreshold {
		b.choices = 2
	}
	return b
}

// NewLeastRequest builds LB_LEAST_REQUEST (and LB_PEAK_EWMA): the host with
// the fewest active requests among lbconfig.choice_count (default 2)
// distinct random healthy hosts, all hosts weighing the same (so
// active_request_bias has nothing to act on and is ignored). With
// choice_count >= the number of hosts it scans them all.
func NewLeastRequest(hs *upstream.HostSet, cfg *config.Cluster) upstream.Balancer {
	hosts := hs.Healthy()
	if len(hosts) == 0 {
		return empty{}
	}
	k := defaultChoiceCount
	if lc := lbConfig(cfg); lc != nil && lc.ChoiceCount > 0 {
		k = int(min(lc.ChoiceCount, uint32(len(hosts))))
	}
	return &leastLoaded{hosts: hosts, load: activeRequests, choices: k}
}

func (b *leastLoaded) Pick(ctx *upstream.LBContext) *upstream.Host {
	ex := excluded(ctx)
	switch n := len(b.hosts); {
	case n == 1:
		return b.hosts[0]
	case b.choices >= n:
		return b.scan(ex)
	case b.choices == 1:
		return pickRandom(b.hosts, ex)
	case b.choices == 2:
		return b.two(ex)
	default:
		return b.sample(ex)
	}
}

// scan returns the least-loaded host other than ex, at random among ties.
func (b *leastLoaded) scan(ex *upstream.Host) *upstream.Host {
	var best *upstream.Host
	var bestLoad int64
	ties := 0
	for _, h := range b.hosts {
		if h == ex {
			continue
		}
		l := b.load(h)
		switch {
		case best == nil || l < bestLoad:
			best, bestLoad, ties = h, l, 1
		case l == bestLoad:
			// Reservoir sampling: each tied host ends up chosen with
			// probability 1/ties.
			ties++
			if rand.IntN(ties) == 0 {
				best = h
			}
		}
	}
	if best == nil {
		return ex
	}
	return best
}

// two compares two distinct random hosts.
func (b *leastLoaded) two(ex *upstream.Host) *upstream.Host {
	n := len(b.hosts)
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	x, y := b.hosts[i], b.hosts[j]
	switch {
	case x == ex:
		return y
	case y == ex:
		return x
	case b.load(y) < b.load(x):
		return y
	}
	return x
}

// sample compares b.choices random hosts (2 < choices < n), drawn with
// replacement as Envoy does: distinct draws would need per-pick state.
func (b *leastLoaded) sample(ex *upstream.Host) *upstream.Host {
	n := len(b.hosts)
	var best *upstream.Host
	var bestLoad int64
	for range b.choices {
		h := b.hosts[rand.IntN(n)]
		if h == ex {
			continue
		}
		if l := b.load(h); best == nil || l < bestLoad {
			best, bestLoad = h, l
		}
	}
	if best == nil {
		// Every draw was the excluded host; any other will do.
		return pickRandom(b.hosts, ex)
	}
	return best
}
