package lb

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

// maxSchedule bounds the length of a weighted round-robin cycle. Weights
// are 1..128 in MOSN, so only clusters of more than 512 hosts with mixed
// weights come near it; beyond it weights are scaled down and the cycle
// follows them approximately.
const maxSchedule = 1 << 16

// weightedRR walks a precomputed cycle in which each host appears as often
// as its weight (reduced by the weights' GCD).
type weightedRR struct {
	hosts    []*upstream.Host
	schedule []uint32 // indexes into hosts
	next     atomic.Uint64
}

// NewWeightedRoundRobin builds LB_WEIGHTED_ROUNDROBIN: smooth weighted round
// robin over the healthy hosts. Over every cycle of sum(weights)/gcd picks
// each host is picked exactly weight/gcd times, spread out rather than in
// runs (weights 1:2:3 give C B A C B C). The cycle is computed once per
// snapshot, so Pick is one atomic add and two loads.
func NewWeightedRoundRobin(hs *upstream.HostSet, _ *config.Cluster) upstream.Balancer {
	hosts := hs.Healthy()
	if len(hosts) == 0 {
		return empty{}
	}
	b := &weightedRR{hosts: hosts, schedule: wrrSchedule(hosts)}
	// Start at a random point of the cycle, as round robin does.
	b.next.Store(rand.Uint64())
	return b
}

// wrrSchedule orders every host's k-th turn (k = 1..w) by the midpoint of
// its slot, (k-0.5)/w, breaking ties by host order: stride scheduling,
// which yields the same sequences as nginx's smooth weighted round robin
// for small weights without its O(hosts) work per pick.
func wrrSchedule(hosts []*upstream.Host) []uint32 {
	w := make([]uint64, len(hosts))
	var g, sum uint64
	for i, h := range hosts {
		w[i] = uint64(h.Weight())
		g = gcd(g, w[i])
	}
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if sum > maxSchedule {
		scaled := uint64(0)
		for i := range w {
			w[i] = max(1, w[i]*maxSchedule/sum)
			scaled += w[i]
		}
		sum = scaled
	}
	type turn struct {
		num, den uint64 // the turn's midpoint is num/den
		host     uint32
	}
	turns := make([]turn, 0, sum)
	for i, wi := range w {
		for k := uint64(1); k <= wi; k++ {
			turns = append(turns, turn{num: 2*k - 1, den: wi, host: uint32(i)})
		}
	}
	slices.SortFunc(turns, func(a, b turn) int {
		if c := cmp.Compare(a.num*b.den, b.num*a.den); c != 0 {
			return c
		}
		return cmp.Compare(a.host, b.host)
	})
	sched := make([]uint32, len(turns))
	for i, t := range turns {
		sched[i] = t.host
	}
	return sched
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (b *weightedRR) Pick(ctx *upstream.LBContext) *upstream.Host {
	i := b.schedule[b.next.Add(1)%uint64(len(b.schedule))]
	h := b.hosts[i]
	if ex := excluded(ctx); h == ex && len(b.hosts) > 1 {
		h = b.hosts[(int(i)+1)%len(b.hosts)]
	}
	return h
}
