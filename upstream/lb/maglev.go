package lb

import (
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

// maglevTableSize is the Maglev lookup table size: a prime, so every skip
// value yields a full permutation, and large enough (65537 ≫ 100 × hosts
// for typical clusters) that hosts get shares within about 1% of their
// weights.
const maglevTableSize = 65537

// maglev is a Maglev consistent-hash table (Eisenbud et al., NSDI 2016)
// over the healthy hosts.
type maglev struct {
	hosts []*upstream.Host
	table []uint32 // maglevTableSize indexes into hosts
}

// NewMaglev builds LB_MAGLEV: a lookup table of 65537 entries filled by each
// healthy host's permutation in turns proportional to its weight, indexed
// by the (mixed) LBContext.HashKey. When a host leaves, mostly only the keys
// that were on it move. Without a hash key it picks at random. An excluded
// host is skipped by probing the following entries.
func NewMaglev(hs *upstream.HostSet, _ *config.Cluster) upstream.Balancer {
	hosts := hs.Healthy()
	if len(hosts) == 0 {
		return empty{}
	}
	return &maglev{hosts: hosts, table: maglevTable(hosts)}
}

// maglevTable fills the table. Each host's permutation is
// (offset + j*skip) mod M with offset and skip derived from its address, so
// the table depends only on the set of addresses and weights, not on the
// order of hosts. A host of weight w takes a turn in round r when
// r*w >= (turns taken+1)*maxWeight, i.e. w/maxWeight turns per round.
func maglevTable(hosts []*upstream.Host) []uint32 {
	const m = maglevTableSize
	const free = ^uint32(0)
	n := len(hosts)
	type perm struct {
		offset, skip, next, turns, weight uint64
	}
	perms := make([]perm, n)
	var maxW uint64
	for i, h := range hosts {
		hv := hashString(h.Address())
		perms[i] = perm{
			offset: hv % m,
			skip:   mix64(hv^golden)%(m-1) + 1,
			weight: uint64(h.Weight()),
		}
		maxW = max(maxW, perms[i].weight)
	}
	// Hosts sorted by address take turns in that order, so that the table
	// does not depend on configuration order.
	order := sortedByAddress(hosts)
	table := make([]uint32, m)
	for i := range table {
		table[i] = free
	}
	filled := 0
	for round := uint64(1); filled < m; round++ {
		for _, i := range order {
			p := &perms[i]
			if round*p.weight < (p.turns+1)*maxW {
				continue
			}
			p.turns++
			for {
				slot := (p.offset + p.next*p.skip) % m
				p.next++
				if table[slot] == free {
					table[slot] = uint32(i)
					filled++
					break
				}
			}
			if filled == m {
				break
			}
		}
	}
	return table
}

func (b *maglev) Pick(ctx *upstream.LBContext) *upstream.Host {
	ex := excluded(ctx)
	if ctx == nil || !ctx.HasHash {
		return pickRandom(b.hosts, ex)
	}
	slot := mix64(ctx.HashKey) % maglevTableSize
	h := b.hosts[b.table[slot]]
	if h != ex || len(b.hosts) == 1 {
		return h
	}
	// The excluded host holds about 1/n of the slots, so the next slot
	// owned by another host is a few steps away.
	for {
		slot++
		if slot == maglevTableSize {
			slot = 0
		}
		if h = b.hosts[b.table[slot]]; h != ex {
			return h
		}
	}
}
