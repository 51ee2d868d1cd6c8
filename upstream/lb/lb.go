// Package lb holds the load balancers and registers them with package
// upstream by their MOSN lb_type names. Import it for its side effect
// (plugins/all does).
//
// Every balancer is built for one immutable upstream.HostSet and picks only
// among its healthy hosts, so anything costly (schedules, hash tables,
// rings) is computed once per snapshot and Pick is lock-free and
// allocation-free. Pick returns nil when no host is healthy and avoids
// LBContext.Exclude whenever another healthy host exists.
//
// Name mapping:
//
//	LB_ROUNDROBIN, LB_REQUEST_ROUNDROBIN  round robin (atomic counter)
//	LB_RANDOM                             uniform random; round robin when the pick is excluded
//	LB_WEIGHTED_ROUNDROBIN                smooth weighted round robin, precomputed schedule
//	LB_LEAST_CONNECTION                   fewest active connections (two choices for >= 10 hosts)
//	LB_LEAST_REQUEST, LB_PEAK_EWMA        fewest active requests among choice_count random hosts
//	LB_MAGLEV                             Maglev table of 65537 entries keyed by LBContext.HashKey
//	LB_RINGHASH                           ring of virtual nodes keyed by LBContext.HashKey
//
// LB_ORIGINAL_DST has no balancer here: upstream.Cluster makes its hosts
// from LBContext.OriginalDst itself.
package lb

import (
	"math/rand/v2"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

func init() {
	upstream.RegisterBalancer(upstream.LbRoundRobin, NewRoundRobin)
	upstream.RegisterBalancer(upstream.LbRequestRoundRobin, NewRoundRobin)
	upstream.RegisterBalancer(upstream.LbRandom, NewRandom)
	upstream.RegisterBalancer(upstream.LbWeightedRR, NewWeightedRoundRobin)
	upstream.RegisterBalancer(upstream.LbLeastConnection, NewLeastConnection)
	upstream.RegisterBalancer(upstream.LbLeastRequest, NewLeastRequest)
	// MOSN's peak EWMA weighs hosts by a moving average of latency times
	// active requests; active requests alone is the part we track, so it
	// is least request.
	upstream.RegisterBalancer(upstream.LbPeakEWMA, NewLeastRequest)
	upstream.RegisterBalancer(upstream.LbMaglev, NewMaglev)
	upstream.RegisterBalancer(upstream.LbRingHash, NewRingHash)
}

// excluded returns the host ctx asks to avoid, or nil.
func excluded(ctx *upstream.LBContext) *upstream.Host {
	if ctx == nil {
		return nil
	}
	return ctx.Exclude
}

// empty is the balancer of a snapshot without healthy hosts.
type empty struct{}

func (empty) Pick(*upstream.LBContext) *upstream.Host { return nil }

// pickRandom returns a random host of hosts (len > 0), avoiding ex when
// another exists.
func pickRandom(hosts []*upstream.Host, ex *upstream.Host) *upstream.Host {
	n := len(hosts)
	i := rand.IntN(n)
	if h := hosts[i]; h != ex || n == 1 {
		return h
	}
	return hosts[(i+1+rand.IntN(n-1))%n]
}

// lbConfig returns cfg.LbConfig or nil, tolerating a nil cfg.
func lbConfig(cfg *config.Cluster) *config.LbConfig {
	if cfg == nil {
		return nil
	}
	return cfg.LbConfig
}
