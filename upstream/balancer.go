package upstream

import (
	"fmt"
	"slices"
	"sync"

	"mosn.dev/proxy/config"
)

// The lb_type names MOSN accepts.
const (
	LbRoundRobin        = "LB_ROUNDROBIN"
	LbRandom            = "LB_RANDOM"
	LbWeightedRR        = "LB_WEIGHTED_ROUNDROBIN"
	LbLeastConnection   = "LB_LEAST_CONNECTION"
	LbLeastRequest      = "LB_LEAST_REQUEST"
	LbRequestRoundRobin = "LB_REQUEST_ROUNDROBIN"
	LbPeakEWMA          = "LB_PEAK_EWMA"
	LbMaglev            = "LB_MAGLEV"
	LbRingHash          = "LB_RINGHASH"
	// LbOriginalDst is handled by Cluster itself (see Cluster.Pick): it is
	// always known to the registry and cannot be registered.
	LbOriginalDst = "LB_ORIGINAL_DST"
)

// DefaultLbType is used when a cluster's lb_type is empty.
const DefaultLbType = LbRoundRobin

// LBContext carries what a balancer may use to pick a host. The zero value
// (and a nil *LBContext) means "no preference".
type LBContext struct {
	// OriginalDst is the "ip:port" the downstream connection was originally
	// addressed to (or the value of the configured header); used by
	// LB_ORIGINAL_DST. A missing port means 80.
	OriginalDst string
	// HashKey is the request's hash for the consistent-hash balancers
	// (LB_MAGLEV, LB_RINGHASH); it is used only when HasHash is true.
	HashKey uint64
	HasHash bool
	// MetadataMatch selects a subset of hosts by their "mosn.lb" metadata
	// when the cluster has lb_subset_config selectors (see Cluster.Pick);
	// other clusters ignore it. It is only read.
	MetadataMatch map[string]string
	// Exclude is a host to avoid, typically the one a retry follows; it is
	// picked only when it is the only choice.
	Exclude *Host
}

// Balancer picks a host from the HostSet it was built for. Pick must be
// safe for concurrent use, should not allocate, and returns nil when there
// is no healthy host. ctx may be nil.
type Balancer interface {
	Pick(ctx *LBContext) *Host
}

// BalancerFactory builds a Balancer for one HostSet snapshot; it may
// precompute whatever it likes, since the snapshot never changes. cfg is
// the cluster's config and may be nil.
type BalancerFactory func(hs *HostSet, cfg *config.Cluster) Balancer

var (
	balancersMu sync.RWMutex
	balancers   = map[string]BalancerFactory{}
)

// RegisterBalancer registers the factory for an lb_type name. It panics
// when name is empty, f is nil, or name is already registered (including
// LB_ORIGINAL_DST, which the cluster handles itself). Call it from init.
func RegisterBalancer(name string, f BalancerFactory) {
	if name == "" || f == nil {
		panic("upstream: RegisterBalancer with empty name or nil factory")
	}
	balancersMu.Lock()
	defer balancersMu.Unlock()
	if _, dup := balancers[name]; dup || name == LbOriginalDst {
		panic(fmt.Sprintf("upstream: balancer %q registered twice", name))
	}
	balancers[name] = f
}

// BalancerNames returns the known lb_type names, sorted, including
// LB_ORIGINAL_DST.
func BalancerNames() []string {
	balancersMu.RLock()
	names := make([]string, 0, len(balancers)+1)
	for n := range balancers {
		names = append(names, n)
	}
	balancersMu.RUnlock()
	names = append(names, LbOriginalDst)
	slices.Sort(names)
	return names
}

// LookupBalancer returns the factory registered for an lb_type name. It
// reports false for LB_ORIGINAL_DST, which has no factory.
func LookupBalancer(name string) (BalancerFactory, bool) {
	balancersMu.RLock()
	defer balancersMu.RUnlock()
	f, ok := balancers[name]
	return f, ok
}

// nilBalancer is the balancer of a cluster that picks by other means
// (LB_ORIGINAL_DST) or has no factory to run.
type nilBalancer struct{}

func (nilBalancer) Pick(*LBContext) *Host { return nil }
