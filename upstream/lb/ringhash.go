package lb

import (
	"math/bits"
	"slices"
	"strings"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

const (
	// ringPointsPerHost is the number of virtual nodes of a host of the
	// cluster's smallest weight; heavier hosts get proportionally more.
	ringPointsPerHost = 1024
	// maxRingPoints bounds the ring (8 bytes a point plus the index);
	// beyond it every host's share is scaled down.
	maxRingPoints = 1 << 17
)

// ringHash is a ketama-style ring: every host owns points on a 64-bit
// circle and a key goes to the owner of the first point at or after it.
//
// A point's low ownerBits bits hold the index of its owner in hosts, so
// that the ring is one sorted []uint64 (a fast integer sort to build, 8
// bytes a point). This moves points by less than 2^ownerBits out of 2^64,
// which changes nothing measurable.
type ringHash struct {
	hosts     []*upstream.Host
	points    []uint64 // sorted
	ownerBits uint
	// index[b] is the first i with points[i]>>shift >= b, so a lookup
	// binary-searches only the few points of one bucket instead of the
	// whole ring (about 4x faster on a 100-host ring).
	index []uint32
	shift uint
}

// NewRingHash builds LB_RINGHASH: each healthy host gets 1024 points per
// unit of weight relative to the lightest host (capped at 131072 points in
// all), placed by hashing its address, and a key (the mixed
// LBContext.HashKey) goes to the next point clockwise. Removing a host
// moves only the keys it owned, as long as the lightest weight and the cap
// are not involved. Without a hash key it picks at random; an excluded host
// is skipped by walking on to the next point of another host.
func NewRingHash(hs *upstream.HostSet, _ *config.Cluster) upstream.Balancer {
	hosts := hs.Healthy()
	if len(hosts) == 0 {
		return empty{}
	}
	b := &ringHash{hosts: hosts}
	b.build()
	return b
}

func (b *ringHash) build() {
	minW := uint64(b.hosts[0].Weight())
	for _, h := range b.hosts {
		minW = min(minW, uint64(h.Weight()))
	}
	counts := make([]uint64, len(b.hosts))
	var total uint64
	for i, h := range b.hosts {
		counts[i] = ringPointsPerHost * uint64(h.Weight()) / minW
		total += counts[i]
	}
	if total > maxRingPoints {
		scaled := uint64(0)
		for i := range counts {
			counts[i] = max(1, counts[i]*maxRingPoints/total)
			scaled += counts[i]
		}
		total = scaled
	}
	b.ownerBits = uint(max(1, bits.Len(uint(len(b.hosts)-1))))
	ownerMask := uint64(1)<<b.ownerBits - 1
	b.points = make([]uint64, 0, total)
	for i, h := range b.hosts {
		base := hashString(h.Address())
		for j := range counts[i] {
			b.points = append(b.points, mix64(base+(j+1)*golden)&^ownerMask|uint64(i))
		}
	}
	slices.Sort(b.points)

	// About four points per bucket.
	nbits := uint(bits.Len(uint(len(b.points)/4 + 1)))
	b.shift = 64 - nbits
	b.index = make([]uint32, 1<<nbits+1)
	i := 0
	for bucket := range b.index {
		for i < len(b.points) && b.points[i]>>b.shift < uint64(bucket) {
			i++
		}
		b.index[bucket] = uint32(i)
	}
}

// owner returns the host of point i.
func (b *ringHash) owner(i int) *upstream.Host {
	return b.hosts[b.points[i]&(1<<b.ownerBits-1)]
}

// successor returns the index of the first point at or after key, wrapping
// to 0.
func (b *ringHash) successor(key uint64) int {
	bucket := key >> b.shift
	lo, hi := int(b.index[bucket]), int(b.index[bucket+1])
	i, _ := slices.BinarySearch(b.points[lo:hi], key)
	i += lo
	if i == len(b.points) {
		i = 0
	}
	return i
}

func (b *ringHash) Pick(ctx *upstream.LBContext) *upstream.Host {
	ex := excluded(ctx)
	if ctx == nil || !ctx.HasHash {
		return pickRandom(b.hosts, ex)
	}
	i := b.successor(mix64(ctx.HashKey))
	h := b.owner(i)
	if h != ex || len(b.hosts) == 1 {
		return h
	}
	for {
		i++
		if i == len(b.points) {
			i = 0
		}
		if h = b.owner(i); h != ex {
			return h
		}
	}
}

// sortedByAddress returns the indexes of hosts in address order.
func sortedByAddress(hosts []*upstream.Host) []int {
	order := make([]int, len(hosts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		return strings.Compare(hosts[x].Address(), hosts[y].Address())
	})
	return order
}
