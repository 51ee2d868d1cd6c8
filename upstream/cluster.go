package upstream

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mosn.dev/proxy/config"
)

// DefaultConnectTimeout bounds an upstream connect when the cluster's
// connect_timeout is unset or zero.
const DefaultConnectTimeout = 10 * time.Second

// Cluster is a named group of upstream hosts with a load balancer.
//
// Pick, Hosts, Config, Dial and ReportResult are lock-free and safe for
// concurrent use (ReportResult locks only to eject); UpdateHosts,
// SetHostHealth and ejections serialise among themselves and publish a new
// snapshot atomically.
type Cluster struct {
	name   string
	lbType string
	// factory builds the balancer of each snapshot; nil for LB_ORIGINAL_DST.
	factory BalancerFactory
	// origDst is non-nil for LB_ORIGINAL_DST, whose hosts are made on demand.
	origDst *origDstPool
	// subset is non-nil when the cluster balances over subsets
	// (lb_subset_config with selectors, any lb_type but LB_ORIGINAL_DST).
	subset *subsetConfig

	connectTimeout time.Duration
	dialer         net.Dialer

	// outlier is the outlier_detection with defaults applied; nil when the
	// cluster has none, and for LB_ORIGINAL_DST.
	outlier *outlierConfig
	// onOutlier receives the ejections and returns; nil means nobody.
	onOutlier atomic.Pointer[func(OutlierEvent)]
	// clock times ejections; tests replace it.
	clock clock

	mu   sync.Mutex // serialises snapshot writers
	snap atomic.Pointer[clusterSnapshot]
}

// clusterSnapshot is what readers see: never modified once published.
type clusterSnapshot struct {
	cfg   *config.Cluster
	hosts *HostSet
	lb    Balancer
}

// NewCluster builds a cluster from its config. The config is copied
// shallowly and must not be modified afterwards. It fails when the name is
// empty, the lb_type is unknown (an empty lb_type means LB_ROUNDROBIN), a
// host address is not "host:port", or lb_subset_config has an empty
// selector or an unknown fall_back_policy.
func NewCluster(cfg *config.Cluster) (*Cluster, error) {
	return newCluster(cfg, nil, nil)
}

// newCluster builds a cluster that takes over the live host state of prev
// (which may be nil) for addresses both have. Its outlier listener is
// listener, or prev's when listener is nil.
func newCluster(cfg *config.Cluster, prev *Cluster, listener *func(OutlierEvent)) (*Cluster, error) {
	if cfg == nil {
		return nil, errors.New("cluster: nil config")
	}
	if cfg.Name == "" {
		return nil, errors.New("cluster: name is empty")
	}
	c := &Cluster{name: cfg.Name, lbType: cfg.LbType, clock: realClock{}}
	if c.lbType == "" {
		c.lbType = DefaultLbType
	}
	if c.lbType == LbOriginalDst {
		replaceLocal := cfg.OriginalDstLbConfig != nil && cfg.OriginalDstLbConfig.ReplaceLocal
		if prev != nil && prev.origDst != nil && prev.origDst.replaceLocal == replaceLocal {
			// Keep the cached destinations and their counters.
			c.origDst = prev.origDst
		} else {
			c.origDst = newOrigDstPool(c.name, replaceLocal, defaultOrigDstMax)
		}
	} else {
		f, ok := LookupBalancer(c.lbType)
		if !ok {
			return nil, fmt.Errorf("cluster %q: unknown lb_type %q (known: %s)",
				c.name, c.lbType, strings.Join(BalancerNames(), ", "))
		}
		c.factory = f
		// LB_ORIGINAL_DST has no host list to divide, so it ignores
		// lb_subset_config (Envoy rejects the combination).
		sc, err := newSubsetConfig(cfg.LbSubsetConfig)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %v", c.name, err)
		}
		c.subset = sc
	}
	if err := validateHosts(c.name, cfg.Hosts); err != nil {
		return nil, err
	}

	c.connectTimeout = cfg.ConnectTimeout.Or(DefaultConnectTimeout)
	if c.connectTimeout <= 0 {
		c.connectTimeout = DefaultConnectTimeout
	}
	c.dialer = net.Dialer{Timeout: c.connectTimeout}
	if cfg.Mark != 0 {
		c.dialer.Control = markControl(cfg.Mark)
	}
	if c.origDst == nil && cfg.OutlierDetection != nil {
		c.outlier = newOutlierConfig(cfg.OutlierDetection)
	}
	if listener == nil && prev != nil {
		listener = prev.onOutlier.Load()
	}
	c.onOutlier.Store(listener)

	own := *cfg
	own.Hosts = slices.Clone(cfg.Hosts)
	var prevHosts *HostSet
	if prev != nil {
		prevHosts = prev.Hosts()
	}
	// buildHosts makes c the owner of the hosts' states, so that ejections
	// reported through prev land here: hold the lock until the first
	// snapshot is out.
	c.mu.Lock()
	hosts := c.buildHosts(own.Hosts, prevHosts)
	var returned []OutlierEvent
	if prev != nil && cfg.HealthCheck == nil {
		// Without a health checker nothing would ever mark these hosts
		// healthy again.
		for _, h := range hosts {
			h.SetHealthy(true)
		}
	}
	if prev != nil && c.outlier == nil {
		// Nor would anything end an ejection made under the old config.
		for _, h := range hosts {
			if ev, ok := h.st.outlier.clear(c, h); ok {
				returned = append(returned, ev)
			}
		}
	}
	c.publish(&own, NewHostSet(hosts))
	c.mu.Unlock()
	for _, ev := range returned {
		c.emit(ev)
	}
	return c, nil
}

// validateHosts checks that every address is "host:port".
func validateHosts(cluster string, hosts []config.Host) error {
	for i, h := range hosts {
		host, port, err := net.SplitHostPort(h.Address)
		if err == nil && (host == "" || port == "") {
			err = errors.New("empty host or port")
		}
		if err != nil {
			return fmt.Errorf("cluster %q: hosts[%d]: address %q: %v (want \"ip:port\")",
				cluster, i, h.Address, err)
		}
	}
	return nil
}

// buildHosts makes the Hosts for cfgs. A host whose address is in prev
// keeps its live state, and is reused as is when its identity is unchanged
// (so that pointer comparisons such as LBContext.Exclude survive updates).
// Hosts listed twice share their state. c becomes the owner of every
// state. It is called with c.mu held.
func (c *Cluster) buildHosts(cfgs []config.Host, prev *HostSet) []*Host {
	hosts := make([]*Host, 0, len(cfgs))
	seen := make(map[string]*hostState, len(cfgs))
	for _, hc := range cfgs {
		var st *hostState
		if old := prev.hostOrNil(hc.Address); old != nil {
			if sameIdentity(old, hc) {
				hosts = append(hosts, old)
				seen[hc.Address] = old.st
				continue
			}
			st = old.st
		} else {
			st = seen[hc.Address]
		}
		h := newHostWithState(hc, c.name, st)
		seen[hc.Address] = h.st
		hosts = append(hosts, h)
	}
	for _, h := range hosts {
		h.st.owner.Store(c)
	}
	return hosts
}

// hostOrNil is Host that tolerates a nil receiver.
func (hs *HostSet) hostOrNil(addr string) *Host {
	if hs == nil {
		return nil
	}
	return hs.byAddr[addr]
}

// sameIdentity reports whether h was built from a config equal to hc.
func sameIdentity(h *Host, hc config.Host) bool {
	w := hc.Weight
	if w == 0 {
		w = 1
	}
	if h.hostname != hc.Hostname || h.weight != w {
		return false
	}
	md := hc.Metadata.LB()
	if len(md) != len(h.metadata) {
		return false
	}
	for k, v := range md {
		if hv, ok := h.metadata[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// publish builds the balancer for hs (and, for a subset cluster, the
// balancers of every subset) and makes cfg and hs current. It is called
// with c.mu held, or before c is shared.
func (c *Cluster) publish(cfg *config.Cluster, hs *HostSet) {
	var lb Balancer = nilBalancer{}
	if c.factory != nil {
		lb = buildBalancer(c.factory, hs, cfg)
		if c.subset != nil {
			lb = c.subset.build(hs, cfg, c.factory, lb)
		}
	}
	c.snap.Store(&clusterSnapshot{cfg: cfg, hosts: hs, lb: lb})
}

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// LbType returns the effective lb_type (LB_ROUNDROBIN when unset).
func (c *Cluster) LbType() string { return c.lbType }

// Config returns the cluster's current config, whose Hosts reflect the
// last UpdateHosts. It must not be modified.
func (c *Cluster) Config() *config.Cluster { return c.snap.Load().cfg }

// Hosts returns the current host snapshot. For LB_ORIGINAL_DST it holds the
// configured hosts only, not the destinations made on demand.
func (c *Cluster) Hosts() *HostSet { return c.snap.Load().hosts }

// ConnectTimeout returns the effective connect timeout.
func (c *Cluster) ConnectTimeout() time.Duration { return c.connectTimeout }

// UpdateHosts replaces the host list. Hosts whose address was already
// present keep their health, ejection and counters. On error (a bad
// address) nothing changes.
func (c *Cluster) UpdateHosts(hosts []config.Host) error {
	if err := validateHosts(c.name, hosts); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	cfg := *old.cfg
	cfg.Hosts = slices.Clone(hosts)
	c.publish(&cfg, NewHostSet(c.buildHosts(cfg.Hosts, old.hosts)))
	return nil
}

// SetHostHealth marks the host with the given address healthy or not and,
// when that changes the set of hosts the balancer picks from, publishes a
// new snapshot. Unknown addresses are ignored.
func (c *Cluster) SetHostHealth(addr string, healthy bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	h := old.hosts.Host(addr)
	if h == nil {
		return
	}
	h.SetHealthy(healthy)
	// Compare with the snapshot rather than trusting the flag transition:
	// the flag may have been flipped directly, or through a previous
	// Cluster sharing the same state. An ejected host stays out whatever
	// its health.
	if old.hosts.isHealthyMember(h) == h.available() {
		return
	}
	c.publish(old.cfg, NewHostSet(old.hosts.all))
}

// Pick returns a host for a new connection or request, or nil when there is
// no usable host. ctx may be nil. "Healthy" below means healthy and not
// ejected by outlier detection.
//
// For a cluster with lb_subset_config selectors, a non-empty
// ctx.MetadataMatch whose key set equals a selector's picks, with the
// cluster's lb_type, among the healthy hosts whose metadata holds every
// pair of the match; any other request (no match, a key set no selector
// declares, no healthy host with those values) follows fall_back_policy:
// no host, any healthy host, or a healthy host of default_subset. Other
// clusters ignore ctx.MetadataMatch.
//
// For LB_ORIGINAL_DST the host is ctx.OriginalDst (with the IP replaced by
// 127.0.0.1 when original_dst_lb_config.replace_local is set), made on
// demand and cached so that repeated connections to one destination share
// counters; nil when ctx.OriginalDst is empty or not an address.
func (c *Cluster) Pick(ctx *LBContext) *Host {
	if c.origDst != nil {
		return c.origDst.pick(ctx)
	}
	return c.snap.Load().lb.Pick(ctx)
}

// ClusterStats is a point-in-time view of a cluster for the admin API.
type ClusterStats struct {
	Name   string `json:"name"`
	LbType string `json:"lb_type"`
	// HealthyHosts counts the hosts the balancer currently picks from.
	HealthyHosts int `json:"healthy_hosts"`
	// Hosts lists the configured hosts in order, then, for
	// LB_ORIGINAL_DST, the cached destinations sorted by address.
	Hosts []HostStats `json:"hosts"`
}

// Stats returns a snapshot of the cluster's hosts and counters.
func (c *Cluster) Stats() ClusterStats {
	hs := c.Hosts()
	st := ClusterStats{
		Name:         c.name,
		LbType:       c.lbType,
		HealthyHosts: len(hs.Healthy()),
		Hosts:        make([]HostStats, 0, hs.Len()),
	}
	for _, h := range hs.All() {
		st.Hosts = append(st.Hosts, h.Stats())
	}
	if c.origDst != nil {
		// Only the on-demand destinations are ever picked.
		extra := c.origDst.hostsSorted()
		st.HealthyHosts = len(extra)
		for _, h := range extra {
			st.Hosts = append(st.Hosts, h.Stats())
		}
	}
	return st
}
