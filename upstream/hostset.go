package upstream

// HostSet is an immutable snapshot of a cluster's hosts. The healthy subset
// (the hosts the balancers pick from) is computed once, when the snapshot
// is built, from the hosts' health and ejection flags at that moment; a
// change of either produces a new HostSet.
//
// The slices returned by All and Healthy are shared and must not be
// modified.
type HostSet struct {
	all     []*Host
	healthy []*Host
	byAddr  map[string]*Host
}

// NewHostSet returns a snapshot of hosts (the slice is copied). When two
// hosts have the same address, Host(addr) returns the first.
func NewHostSet(hosts []*Host) *HostSet {
	hs := &HostSet{
		all:    make([]*Host, len(hosts)),
		byAddr: make(map[string]*Host, len(hosts)),
	}
	copy(hs.all, hosts)
	n := 0
	for _, h := range hosts {
		if h.available() {
			n++
		}
		if _, dup := hs.byAddr[h.address]; !dup {
			hs.byAddr[h.address] = h
		}
	}
	if n == len(hosts) {
		// The common case: everything is healthy, so share the backing array.
		hs.healthy = hs.all
	} else {
		hs.healthy = make([]*Host, 0, n)
		for _, h := range hs.all {
			if h.available() {
				hs.healthy = append(hs.healthy, h)
			}
		}
	}
	return hs
}

// All returns every host, healthy or not, ejected or not, in configuration
// order.
func (hs *HostSet) All() []*Host { return hs.all }

// Healthy returns the hosts that were healthy and not ejected by outlier
// detection when the snapshot was built, in configuration order.
func (hs *HostSet) Healthy() []*Host { return hs.healthy }

// Len returns the number of hosts, healthy or not.
func (hs *HostSet) Len() int { return len(hs.all) }

// Host returns the host with the given address, or nil.
func (hs *HostSet) Host(addr string) *Host { return hs.byAddr[addr] }

// isHealthyMember reports whether h is in the snapshot's healthy list.
func (hs *HostSet) isHealthyMember(h *Host) bool {
	for _, x := range hs.healthy {
		if x == h {
			return true
		}
	}
	return false
}

// stale reports whether a host's health or ejection flag no longer agrees
// with the snapshot's healthy list.
func (hs *HostSet) stale() bool {
	for i, in := range healthyMask(hs) {
		if in != hs.all[i].available() {
			return true
		}
	}
	return false
}
