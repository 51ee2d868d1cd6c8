package upstream

import (
	"maps"
	"sync/atomic"

	"mosn.dev/proxy/config"
)

// Host is one upstream endpoint of a cluster.
//
// Its identity (address, hostname, weight, metadata, cluster name) never
// changes after creation. Its live state (health, active and cumulative
// counters) is updated atomically and is shared by every Host value created
// for the same address of the same cluster across host-list updates, so
// that a connection opened before an update still decrements the counter
// the balancer reads after it.
type Host struct {
	// st points at the live state. For a fresh host it points into the same
	// allocation (see newHostAlloc), so the common case costs one object.
	st *hostState

	address     string
	hostname    string
	clusterName string
	metadata    map[string]string
	weight      uint32
}

// hostState is the mutable part of a Host. The counters the balancers read
// on every pick (active connections and requests) come first so that they
// share a cache line with the health flag.
type hostState struct {
	activeConns    atomic.Int64
	activeRequests atomic.Int64
	// unhealthy rather than healthy so that the zero value means healthy.
	unhealthy       atomic.Bool
	totalConns      atomic.Int64
	connectFailures atomic.Int64
	totalRequests   atomic.Int64

	// Outlier detection (see outlier.go). consecErrors is touched by every
	// reported result; the rest only by ejections and returns.
	consecErrors atomic.Uint32
	ejected      atomic.Bool
	// owner is the newest Cluster whose snapshot lists this state: the one
	// an ejection or a return republishes, whichever Cluster the result
	// was reported to.
	owner   atomic.Pointer[Cluster]
	outlier outlierHost
}

// hostAlloc puts a Host and its state in one allocation.
type hostAlloc struct {
	h  Host
	st hostState
}

// NewHost returns a healthy Host for one configured endpoint of the named
// cluster. A weight of 0 means the default weight 1. The metadata is the
// "mosn.lb" namespace of cfg.Metadata, copied.
func NewHost(cfg config.Host, clusterName string) *Host {
	return newHostWithState(cfg, clusterName, nil)
}

// newHostWithState returns a Host for cfg that shares st, or has fresh state
// when st is nil.
func newHostWithState(cfg config.Host, clusterName string, st *hostState) *Host {
	w := cfg.Weight
	if w == 0 {
		w = 1
	}
	var md map[string]string
	if lb := cfg.Metadata.LB(); len(lb) > 0 {
		md = maps.Clone(lb)
	}
	id := Host{
		address:     cfg.Address,
		hostname:    cfg.Hostname,
		clusterName: clusterName,
		metadata:    md,
		weight:      w,
	}
	if st != nil {
		h := new(Host)
		*h = id
		h.st = st
		return h
	}
	a := &hostAlloc{h: id}
	a.h.st = &a.st
	return &a.h
}

// Address returns the "ip:port" (or "name:port") the host is dialed at.
func (h *Host) Address() string { return h.address }

// Hostname returns the configured hostname, which may be empty.
func (h *Host) Hostname() string { return h.hostname }

// ClusterName returns the name of the cluster the host belongs to.
func (h *Host) ClusterName() string { return h.clusterName }

// Weight returns the balancing weight, at least 1.
func (h *Host) Weight() uint32 { return h.weight }

// Metadata returns the host's "mosn.lb" metadata. The map is shared and
// must not be modified; it is nil when the host has none.
func (h *Host) Metadata() map[string]string { return h.metadata }

// Healthy reports whether active health checking considers the host
// healthy. Hosts start healthy.
func (h *Host) Healthy() bool { return !h.st.unhealthy.Load() }

// Ejected reports whether outlier detection has taken the host out of load
// balancing for now (see Cluster.ReportResult). Ejection and health are
// independent: a host is picked only when it is healthy and not ejected.
func (h *Host) Ejected() bool { return h.st.ejected.Load() }

// available reports whether the host may be picked: healthy and not
// ejected.
func (h *Host) available() bool { return !h.st.unhealthy.Load() && !h.st.ejected.Load() }

// SetHealthy sets the health flag and reports whether it changed. It does
// not change which hosts a cluster's balancer picks from; use
// Cluster.SetHostHealth for that, which calls this and rebuilds the
// cluster's snapshot.
func (h *Host) SetHealthy(healthy bool) (changed bool) {
	return h.st.unhealthy.CompareAndSwap(healthy, !healthy)
}

// ActiveConns returns the number of open connections to the host.
func (h *Host) ActiveConns() int64 { return h.st.activeConns.Load() }

// ActiveRequests returns the number of requests in flight to the host.
func (h *Host) ActiveRequests() int64 { return h.st.activeRequests.Load() }

// TotalConns returns the number of connections ever started to the host.
func (h *Host) TotalConns() int64 { return h.st.totalConns.Load() }

// ConnectFailures returns the number of failed connection attempts.
func (h *Host) ConnectFailures() int64 { return h.st.connectFailures.Load() }

// TotalRequests returns the number of requests ever started to the host.
func (h *Host) TotalRequests() int64 { return h.st.totalRequests.Load() }

// ConnStart counts a new connection (active and total); the code that
// picks a host for a connection calls it (see Cluster.Dial).
func (h *Host) ConnStart() {
	h.st.activeConns.Add(1)
	h.st.totalConns.Add(1)
}

// ConnEnd counts the close of a connection counted by ConnStart. Call it
// exactly once per connection.
func (h *Host) ConnEnd() { h.st.activeConns.Add(-1) }

// ConnectFailed counts a failed connection attempt. Cluster.Dial calls it;
// code that dials by other means calls it itself.
func (h *Host) ConnectFailed() { h.st.connectFailures.Add(1) }

// RequestStart counts a request sent to the host (active and total).
func (h *Host) RequestStart() {
	h.st.activeRequests.Add(1)
	h.st.totalRequests.Add(1)
}

// RequestEnd counts the end of a request counted by RequestStart, whatever
// its outcome. Call it exactly once per request.
func (h *Host) RequestEnd() { h.st.activeRequests.Add(-1) }

// HostStats is a point-in-time copy of a host's identity and counters, for
// the admin API.
type HostStats struct {
	Address         string            `json:"address"`
	Hostname        string            `json:"hostname,omitempty"`
	Weight          uint32            `json:"weight"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Healthy         bool              `json:"healthy"`
	Ejected         bool              `json:"ejected"`
	ActiveConns     int64             `json:"active_connections"`
	ActiveRequests  int64             `json:"active_requests"`
	TotalConns      int64             `json:"total_connections"`
	ConnectFailures int64             `json:"connect_failures"`
	TotalRequests   int64             `json:"total_requests"`
}

// Stats returns a snapshot of the host's counters. The counters are read
// one by one, so they are each exact but not mutually consistent.
func (h *Host) Stats() HostStats {
	return HostStats{
		Address:         h.address,
		Hostname:        h.hostname,
		Weight:          h.weight,
		Metadata:        maps.Clone(h.metadata),
		Healthy:         h.Healthy(),
		Ejected:         h.Ejected(),
		ActiveConns:     h.ActiveConns(),
		ActiveRequests:  h.ActiveRequests(),
		TotalConns:      h.TotalConns(),
		ConnectFailures: h.ConnectFailures(),
		TotalRequests:   h.TotalRequests(),
	}
}
