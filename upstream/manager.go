package upstream

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"mosn.dev/proxy/config"
)

// Manager is the cluster manager: the set of clusters by name.
//
// Get is lock-free (it reads an immutable map published through an
// atomic pointer), because it runs for every new connection or request;
// the writers copy the map under a mutex.
type Manager struct {
	mu       sync.Mutex
	clusters atomic.Pointer[map[string]*Cluster]
	// onOutlier is given to every cluster built; guarded by mu.
	onOutlier *func(OutlierEvent)
}

// NewManager returns an empty cluster manager.
func NewManager() *Manager {
	m := &Manager{}
	empty := map[string]*Cluster{}
	m.clusters.Store(&empty)
	return m
}

// AddOrUpdate adds the cluster cfg names, or updates the existing one.
//
// When only the hosts changed, the existing Cluster is kept and its hosts
// are replaced with UpdateHosts. Otherwise a new Cluster is built and
// swapped in; it takes over the live state (counters, and health when the
// new config has a health check) of hosts whose address it shares with the
// old one. On error the old cluster, if any, stays in place.
func (m *Manager) AddOrUpdate(cfg *config.Cluster) error {
	if cfg == nil {
		return errors.New("cluster: nil config")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.clusters.Load()
	old := cur[cfg.Name]
	if old != nil && onlyHostsDiffer(old.Config(), cfg) {
		if reflect.DeepEqual(old.Config().Hosts, cfg.Hosts) {
			return nil
		}
		return old.UpdateHosts(cfg.Hosts)
	}
	c, err := newCluster(cfg, old, m.onOutlier)
	if err != nil {
		return err
	}
	next := maps.Clone(cur)
	next[c.name] = c
	m.clusters.Store(&next)
	return nil
}

// onlyHostsDiffer reports whether a and b are equal except for Hosts.
func onlyHostsDiffer(a, b *config.Cluster) bool {
	x, y := *a, *b
	x.Hosts, y.Hosts = nil, nil
	return reflect.DeepEqual(x, y)
}

// SetOutlierListener makes fn receive the outlier ejections and returns of
// every cluster, present and future (nil stops them). fn is called without
// any cluster's lock held, but on the data path (an ejection happens inside
// the ReportResult that triggers it), from timers, and from AddOrUpdate
// (returns when a new config drops outlier_detection), so it should be
// quick and must not call the Manager.
func (m *Manager) SetOutlierListener(fn func(OutlierEvent)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onOutlier = nil
	if fn != nil {
		m.onOutlier = &fn
	}
	for _, c := range *m.clusters.Load() {
		c.onOutlier.Store(m.onOutlier)
	}
}

// Remove deletes the named cluster and reports whether it existed. Hosts
// already picked from it stay usable by their holders.
func (m *Manager) Remove(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.clusters.Load()
	if _, ok := cur[name]; !ok {
		return false
	}
	next := maps.Clone(cur)
	delete(next, name)
	m.clusters.Store(&next)
	return true
}

// Get returns the named cluster, or nil. It takes no lock.
func (m *Manager) Get(name string) *Cluster {
	return (*m.clusters.Load())[name]
}

// Names returns the cluster names, sorted.
func (m *Manager) Names() []string {
	return slices.Sorted(maps.Keys(*m.clusters.Load()))
}

// All returns the clusters sorted by name.
func (m *Manager) All() []*Cluster {
	cur := *m.clusters.Load()
	out := make([]*Cluster, 0, len(cur))
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		out = append(out, cur[name])
	}
	return out
}
