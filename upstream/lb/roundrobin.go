package lb

import (
	"math/rand/v2"
	"sync/atomic"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

// roundRobin hands out the healthy hosts in turn.
type roundRobin struct {
	hosts []*upstream.Host
	next  atomic.Uint64
}

// NewRoundRobin builds LB_ROUNDROBIN (and LB_REQUEST_ROUNDROBIN): the
// healthy hosts in turn, ignoring weights. Each snapshot starts at a random
// position so that proxies restarted together do not all begin with the
// first host.
func NewRoundRobin(hs *upstream.HostSet, _ *config.Cluster) upstream.Balancer {
	if len(hs.Healthy()) == 0 {
		return empty{}
	}
	return newRoundRobin(hs.Healthy())
}

func newRoundRobin(hosts []*upstream.Host) *roundRobin {
	b := &roundRobin{hosts: hosts}
	b.next.Store(rand.Uint64())
	return b
}

func (b *roundRobin) Pick(ctx *upstream.LBContext) *upstream.Host {
	n := uint64(len(b.hosts))
	i := b.next.Add(1)
	h := b.hosts[i%n]
	if ex := excluded(ctx); h == ex && n > 1 {
		h = b.hosts[(i+1)%n]
	}
	return h
}

// random picks a healthy host uniformly at random.
type random struct {
	hosts []*upstream.Host
	rr    *roundRobin
}

// NewRandom builds LB_RANDOM: a uniformly random healthy host, ignoring
// weights. When the random pick is the excluded host it falls back to
// round-robin order, as MOSN does when its random pick is unusable.
func NewRandom(hs *upstream.HostSet, _ *config.Cluster) upstream.Balancer {
	if len(hs.Healthy()) == 0 {
		return empty{}
	}
	return &random{hosts: hs.Healthy(), rr: newRoundRobin(hs.Healthy())}
}

func (b *random) Pick(ctx *upstream.LBContext) *upstream.Host {
	h := b.hosts[rand.IntN(len(b.hosts))]
	if h == excluded(ctx) {
		return b.rr.Pick(ctx)
	}
	return h
}
