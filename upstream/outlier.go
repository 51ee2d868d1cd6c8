package upstream

import (
	"math"
	"sync"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/metrics"
)

// Passive outlier detection (a cluster's outlier_detection).
//
// The proxy reports the outcome of every request and connect with
// Cluster.ReportResult. Each host state counts its consecutive errors; the
// consecutive_errors-th error in a row ejects the host: its ejected flag is
// set and the cluster publishes a snapshot without it, exactly as for an
// unhealthy host (a host is picked only when healthy and not ejected, the
// two flags being independent). One timer per ejection returns the host.
//
// The n-th ejection in a row lasts n × base_ejection_time, capped at
// max_ejection_time. The multiplier decays by one for every
// base_ejection_time the host spends in service after a return, computed
// when it is next ejected (no timer runs for it), so a host that fails
// once in a long while is ejected for the base time again.
//
// At most max_ejection_percent of the cluster's hosts are ejected at once,
// counted over all its hosts, healthy or not; one host of a cluster of two
// or more may always be ejected, so that the 10% default does something in
// small clusters, and a cluster's only host is ejected only with 100%.
// An error that would exceed the cap resets the host's count and is
// reported as an OutlierOverflow event.

// outlierConfig is a cluster's outlier_detection with defaults applied.
type outlierConfig struct {
	errors    uint32
	base, max time.Duration
	percent   uint32
	// maxMult is the multiplier at which ejections reach max.
	maxMult uint32
}

func newOutlierConfig(od *config.OutlierDetection) *outlierConfig {
	oc := &outlierConfig{
		errors:  od.ConsecutiveErrorsOrDefault(),
		base:    od.BaseEjectionTimeOrDefault(),
		max:     od.MaxEjectionTimeOrDefault(),
		percent: min(od.MaxEjectionPercentOrDefault(), 100),
	}
	mult := (oc.max + oc.base - 1) / oc.base
	oc.maxMult = uint32(min(mult, math.MaxUint32))
	return oc
}

// ejectionTime is the length of an ejection with multiplier mult.
func (oc *outlierConfig) ejectionTime(mult uint32) time.Duration {
	if mult >= oc.maxMult {
		return oc.max
	}
	// mult < max/base rounded up, so the product does not overflow.
	return min(oc.base*time.Duration(mult), oc.max)
}

// ejectAllowed reports whether one more of n hosts may be ejected when
// ejected already are.
func (oc *outlierConfig) ejectAllowed(ejected, n int) bool {
	if ejected == 0 && n >= 2 {
		return true
	}
	return (ejected+1)*100 <= int(oc.percent)*n
}

// clock is the time outlier detection uses; tests replace it to run
// ejections and returns by hand.
type clock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine after d, unless the returned
	// stop function is called first.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock is the system's.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// nextMult is the multiplier of a new ejection of a host whose previous
// one had mult and ended at returned (zero if it never did): mult decayed
// by one per base spent in service, plus one, at most oc.maxMult.
func (oc *outlierConfig) nextMult(mult uint32, returned, now time.Time) uint32 {
	if mult > 0 && !returned.IsZero() {
		if decay := now.Sub(returned) / oc.base; decay >= time.Duration(mult) {
			mult = 0
		} else if decay > 0 {
			mult -= uint32(decay)
		}
	}
	return min(mult+1, oc.maxMult)
}

// outlierHost is the ejection state of one host state. Its mutex orders
// ejections and returns of the host; the data path never takes it.
type outlierHost struct {
	mu sync.Mutex
	// mult is the multiplier of the last ejection, decayed lazily.
	mult uint32
	// since is when the current or last ejection began; returned when it
	// ended (zero before the first return).
	since, returned time.Time
	// overflow is when an overflow of the host was last reported
	// without Repeat.
	overflow time.Time
	// stop cancels the return timer of the current ejection.
	stop func() bool
	// gen tells a return timer whether its ejection is still the current
	// one.
	gen uint64
}

// OutlierEventKind says what an OutlierEvent reports.
type OutlierEventKind uint8

const (
	// OutlierEjected: the host was taken out of load balancing.
	OutlierEjected OutlierEventKind = iota + 1
	// OutlierReturned: its ejection ended (or the cluster's new config
	// has no outlier_detection) and it is picked again if healthy.
	OutlierReturned
	// OutlierOverflow: the host reached consecutive_errors but was not
	// ejected because max_ejection_percent of the cluster's hosts already
	// are.
	OutlierOverflow
)

// OutlierEvent is an ejection, a return, or an ejection refused by
// max_ejection_percent.
type OutlierEvent struct {
	Kind    OutlierEventKind
	Cluster string
	Host    string
	// Errors is the consecutive errors that triggered an ejection or an
	// overflow.
	Errors uint32
	// Duration is how long the host is ejected for (OutlierEjected), or
	// was (OutlierReturned).
	Duration time.Duration
	// Ejections is the back-off multiplier of an ejection: it lasts
	// Ejections × base_ejection_time, capped at max_ejection_time.
	Ejections uint32
	// EjectedHosts of Hosts were already ejected, and MaxPercent is the
	// cap, for an overflow.
	EjectedHosts, Hosts int
	MaxPercent          uint32
	// Repeat marks an overflow of a host whose previous one, less than
	// base_ejection_time ago, was not a repeat: a host that keeps
	// failing while the cap holds would otherwise be reported every
	// consecutive_errors requests. OutlierLogger counts repeats without
	// logging them.
	Repeat bool
}

// SetOutlierListener makes fn receive this cluster's outlier events (nil
// stops them). Clusters of a Manager get theirs from
// Manager.SetOutlierListener. fn is called without the cluster's lock held.
func (c *Cluster) SetOutlierListener(fn func(OutlierEvent)) {
	if fn == nil {
		c.onOutlier.Store(nil)
		return
	}
	c.onOutlier.Store(&fn)
}

func (c *Cluster) emit(ev OutlierEvent) {
	if fn := c.onOutlier.Load(); fn != nil {
		(*fn)(ev)
	}
}

// ReportResult records the outcome of one request to h, or of a connect
// (Dial reports failed connects itself): ok is false for a failed connect,
// a reset, a timeout, an HTTP 5xx answer or an RPC error status, true for
// any other answer. The consecutive_errors-th error in a row ejects h (see
// the outlier_detection settings). It does nothing for a nil host, when the
// cluster has no outlier_detection, or for LB_ORIGINAL_DST. h may come from
// an older snapshot or an older Cluster of the same name: its state is
// shared, and the newest Cluster holding it is the one that ejects it.
//
// A success costs an atomic load, plus a store when errors were counted;
// an error an atomic add.
func (c *Cluster) ReportResult(h *Host, ok bool) {
	if h == nil {
		return
	}
	st := h.st
	cur := st.owner.Load()
	if cur == nil {
		cur = c
	}
	oc := cur.outlier
	if oc == nil {
		return
	}
	if ok {
		if st.consecErrors.Load() != 0 {
			st.consecErrors.Store(0)
		}
		return
	}
	if st.ejected.Load() {
		// Answers to requests sent before the ejection.
		return
	}
	if st.consecErrors.Add(1) < oc.errors {
		return
	}
	// Concurrent reporters past the threshold serialise in eject, where
	// the first resets the count.
	c.eject(h)
}

// eject takes h out of its owner's load balancing, if the owner's config
// and max_ejection_percent allow it. The return timer starts after the
// event is emitted, so that a listener sees the return after the ejection.
func (c *Cluster) eject(h *Host) {
	st := h.st
	owner := st.lockOwner(c)
	ev, gen, ok := owner.ejectLocked(h)
	owner.mu.Unlock()
	if !ok {
		return
	}
	owner.emit(ev)
	if ev.Kind != OutlierEjected {
		return
	}
	o := &st.outlier
	o.mu.Lock()
	if o.gen == gen {
		o.stop = owner.clock.AfterFunc(ev.Duration, func() { owner.unEject(h, gen) })
	}
	o.mu.Unlock()
}

// ejectLocked ejects h; c.mu is held and c owns h's state. It reports the
// event to emit, if any, and the number of the ejection.
func (c *Cluster) ejectLocked(h *Host) (OutlierEvent, uint64, bool) {
	st := h.st
	oc := c.outlier
	if oc == nil || st.ejected.Load() || st.consecErrors.Load() < oc.errors {
		return OutlierEvent{}, 0, false
	}
	st.consecErrors.Store(0)
	snap := c.snap.Load()
	if m := snap.hosts.hostOrNil(h.address); m == nil || m.st != st {
		// Removed from the cluster since it was picked: nothing to do.
		return OutlierEvent{}, 0, false
	}
	n, ejected := len(snap.hosts.all), 0
	for _, x := range snap.hosts.all {
		if x.st.ejected.Load() {
			ejected++
		}
	}
	o := &st.outlier
	if !oc.ejectAllowed(ejected, n) {
		o.mu.Lock()
		now := c.clock.Now()
		repeat := !o.overflow.IsZero() && now.Sub(o.overflow) < oc.base
		if !repeat {
			o.overflow = now
		}
		o.mu.Unlock()
		return OutlierEvent{Kind: OutlierOverflow, Cluster: c.name, Host: h.address, Errors: oc.errors,
			EjectedHosts: ejected, Hosts: n, MaxPercent: oc.percent, Repeat: repeat}, 0, true
	}

	o.mu.Lock()
	now := c.clock.Now()
	o.mult = oc.nextMult(o.mult, o.returned, now)
	d := oc.ejectionTime(o.mult)
	o.since = now
	o.gen++
	gen := o.gen
	st.ejected.Store(true)
	mult := o.mult
	o.mu.Unlock()

	if snap.hosts.stale() {
		c.publish(snap.cfg, NewHostSet(snap.hosts.all))
	}
	return OutlierEvent{Kind: OutlierEjected, Cluster: c.name, Host: h.address, Errors: oc.errors,
		Duration: d, Ejections: mult}, gen, true
}

// unEject ends the ejection numbered gen of h, unless another has begun or
// it was cleared. The event is emitted before the host is back in the
// snapshot, so that no request reaches it before its return is logged.
func (c *Cluster) unEject(h *Host, gen uint64) {
	st := h.st
	o := &st.outlier
	o.mu.Lock()
	if o.gen != gen || !st.ejected.Load() {
		o.mu.Unlock()
		return
	}
	now := c.clock.Now()
	st.consecErrors.Store(0)
	st.ejected.Store(false)
	o.returned = now
	o.stop = nil
	since := o.since
	o.mu.Unlock()

	owner := st.owner.Load()
	if owner == nil {
		owner = c
	}
	owner.emit(OutlierEvent{Kind: OutlierReturned, Cluster: owner.name, Host: h.address, Duration: now.Sub(since)})
	owner = st.lockOwner(c)
	if snap := owner.snap.Load(); snap.hosts.stale() {
		owner.publish(snap.cfg, NewHostSet(snap.hosts.all))
	}
	owner.mu.Unlock()
}

// clear ends an ejection at once, without a new snapshot (the caller
// builds one); c is the cluster h belongs to. It reports the event when
// the host was ejected.
func (o *outlierHost) clear(c *Cluster, h *Host) (OutlierEvent, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !h.st.ejected.Load() {
		return OutlierEvent{}, false
	}
	if o.stop != nil {
		o.stop()
		o.stop = nil
	}
	o.gen++
	now := c.clock.Now()
	o.returned = now
	h.st.ejected.Store(false)
	h.st.consecErrors.Store(0)
	return OutlierEvent{Kind: OutlierReturned, Cluster: c.name, Host: h.address, Duration: now.Sub(o.since)}, true
}

// lockOwner locks and returns the Cluster that owns st (fallback when none
// does, as for hosts made outside a cluster). The owner can change while
// its lock is awaited, hence the loop.
func (st *hostState) lockOwner(fallback *Cluster) *Cluster {
	for {
		o := st.owner.Load()
		if o == nil {
			o = fallback
		}
		o.mu.Lock()
		if cur := st.owner.Load(); cur == nil || cur == o {
			return o
		}
		o.mu.Unlock()
	}
}

// OutlierLogger returns a listener for Manager.SetOutlierListener that
// writes each event to lg and counts it in reg's upstream set of the
// cluster (either may be nil):
//
//	[upstream] [outlier] cluster c host 127.0.0.1:8080 ejected for 30s (5 consecutive errors)
//	[upstream] [outlier] cluster c host 127.0.0.1:8080 returned after 30s
//	[upstream] [outlier] cluster c host 127.0.0.1:8080 not ejected after 5 consecutive errors: max_ejection_percent 10 reached (1 of 3 hosts ejected)
//
// Ejections and overflows are logged at WARN (an overflow marked Repeat is
// only counted), returns at INFO. The gauge
// is raised before an ejection's line and lowered after a return's, so
// that a reader of the log never sees it lag. The metrics
// are the counters outlier_ejected_total and
// outlier_ejection_overflow_total and the gauge host_ejected (hosts
// ejected now), e.g. mosn_upstream_outlier_ejected_total{cluster="c"}.
func OutlierLogger(lg *log.Logger, reg *metrics.Registry) func(OutlierEvent) {
	if lg == nil {
		lg = log.Nop()
	}
	return func(ev OutlierEvent) {
		var set *metrics.Set
		if reg != nil {
			set = reg.Set("upstream", "cluster", ev.Cluster)
		}
		switch ev.Kind {
		case OutlierEjected:
			if set != nil {
				set.Counter("outlier_ejected_total").Inc()
				set.Gauge("host_ejected").Add(1)
			}
			lg.Warnf("[upstream] [outlier] cluster %s host %s ejected for %v (%d consecutive errors)",
				ev.Cluster, ev.Host, ev.Duration, ev.Errors)
		case OutlierReturned:
			lg.Infof("[upstream] [outlier] cluster %s host %s returned after %v",
				ev.Cluster, ev.Host, ev.Duration.Round(time.Millisecond))
			if set != nil {
				set.Gauge("host_ejected").Add(-1)
			}
		case OutlierOverflow:
			if set != nil {
				set.Counter("outlier_ejection_overflow_total").Inc()
			}
			if ev.Repeat {
				return
			}
			lg.Warnf("[upstream] [outlier] cluster %s host %s not ejected after %d consecutive errors: max_ejection_percent %d reached (%d of %d hosts ejected)",
				ev.Cluster, ev.Host, ev.Errors, ev.MaxPercent, ev.EjectedHosts, ev.Hosts)
		}
	}
}
