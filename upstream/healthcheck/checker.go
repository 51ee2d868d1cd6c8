package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"mosn.dev/proxy/log"
	"mosn.dev/proxy/upstream"
)

// maxParallel bounds the checks in flight per Checker: a round over
// thousands of hosts runs this many at a time.
const maxParallel = 32

// Checker actively checks the hosts of one cluster. It is made by Start
// and stopped by Stop; its methods are safe for concurrent use.
type Checker struct {
	cl     *upstream.Cluster
	lg     *log.Logger
	set    settings
	prober prober
	events *eventLog // nil without event_log_path

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once

	mu    sync.Mutex
	hosts map[string]*hostState // by address, the hosts of the last round
}

// hostState is the checking state of one address.
type hostState struct {
	// successes and failures are the current streaks. Only the worker
	// checking the host in a round touches them, and rounds do not
	// overlap.
	successes uint32
	failures  uint32

	checks   atomic.Uint64
	failed   atomic.Uint64
	changes  atomic.Uint64
	lastErr  atomic.Pointer[string]
	lastTime atomic.Int64 // unix nanoseconds of the last check, 0 before
}

// target is one host to check in a round.
type target struct {
	h  *upstream.Host
	st *hostState
}

// Start begins checking every host of cl with cl.Config().HealthCheck,
// which must be non-nil. The first round runs after initial_delay_seconds
// (at once when 0), the next ones every interval plus a random jitter in
// [0, interval_jitter) after the previous round ends. Each round re-reads
// cl.Hosts(), so host updates are followed, and runs at most 32 checks at a
// time, each bounded by the health-check timeout. A host becomes unhealthy
// after unhealthy_threshold consecutive failures and healthy again after
// healthy_threshold consecutive successes, through cl.SetHostHealth.
//
// lg receives the state changes (WARN when a host goes down, INFO when it
// comes back) and, at DEBUG, every failed check; nil means no logging.
// Start fails when the config is invalid (see Validate) or the event log
// cannot be opened.
func Start(cl *upstream.Cluster, lg *log.Logger) (*Checker, error) {
	if cl == nil {
		return nil, errors.New("health check: nil cluster")
	}
	if lg == nil {
		lg = log.Nop()
	}
	s, err := parseSettings(cl.Config().HealthCheck)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: health_check: %w", cl.Name(), err)
	}
	c := &Checker{
		cl:     cl,
		lg:     lg,
		set:    s,
		prober: newProber(&s),
		done:   make(chan struct{}),
		hosts:  make(map[string]*hostState),
	}
	if s.eventLogPath != "" {
		c.events, err = openEventLog(s.eventLogPath)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: health_check: %w", cl.Name(), err)
		}
	}
	if s.httpFallback {
		lg.Warnf("[upstream] [health check] cluster %s: protocol Http1 without http settings in check_config, checking with a TCP dial as MOSN does", cl.Name())
	}
	if lg.Enabled(log.INFO) {
		lg.Infof("[upstream] [health check] cluster %s: %s checks every %v (jitter %v, timeout %v, first after %v)",
			cl.Name(), s.protocol, s.interval, s.jitter, s.timeout, s.initialDelay)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	return c, nil
}

// Stop stops the checks, waits for those in flight to be abandoned (their
// results are not recorded) and closes the event log file. No event line
// is written after Stop returns. Host health is left as it is. Stop is
// idempotent.
func (c *Checker) Stop() {
	c.stopOnce.Do(func() {
		c.cancel()
		<-c.done
		if hp, ok := c.prober.(*httpProber); ok {
			hp.close()
		}
		if c.events != nil {
			if err := c.events.close(); err != nil {
				c.lg.Errorf("[upstream] [health check] cluster %s: closing the event log: %v", c.cl.Name(), err)
			}
		}
	})
}

func (c *Checker) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTimer(c.set.initialDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.round(ctx)
		t.Reset(c.nextInterval())
	}
}

func (c *Checker) nextInterval() time.Duration {
	d := c.set.interval
	if c.set.jitter > 0 {
		d += rand.N(c.set.jitter)
	}
	return d
}

// round checks every current host once.
func (c *Checker) round(ctx context.Context) {
	targets := c.targets()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(targets), maxParallel) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(targets)) {
					return
				}
				c.check(ctx, targets[i])
			}
		})
	}
	wg.Wait()
}

// targets returns the cluster's hosts, one per address, with their state;
// the state of addresses no longer in the cluster is dropped.
func (c *Checker) targets() []target {
	all := c.cl.Hosts().All()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]target, 0, len(all))
	seen := make(map[string]*hostState, len(all))
	for _, h := range all {
		addr := h.Address()
		if _, dup := seen[addr]; dup {
			continue
		}
		st := c.hosts[addr]
		if st == nil {
			st = new(hostState)
		}
		seen[addr] = st
		out = append(out, target{h, st})
	}
	c.hosts = seen
	return out
}

// check runs one check of t and applies its result.
func (c *Checker) check(ctx context.Context, t target) {
	cctx, cancel := context.WithTimeout(ctx, c.set.timeout)
	err := c.prober.probe(cctx, t.h.Address())
	cancel()
	if ctx.Err() != nil {
		// Stopped: the result says nothing about the host.
		return
	}
	now := time.Now()
	st := t.st
	st.checks.Add(1)
	st.lastTime.Store(now.UnixNano())
	addr := t.h.Address()
	before := t.h.Healthy()
	acted := false
	if err == nil {
		st.failures = 0
		st.lastErr.Store(nil)
		if !before {
			st.successes++
			if st.successes >= c.set.healthyThreshold {
				c.cl.SetHostHealth(addr, true)
				acted = true
			}
		}
	} else {
		st.failed.Add(1)
		st.successes = 0
		msg := err.Error()
		st.lastErr.Store(&msg)
		if before {
			st.failures++
			if st.failures >= c.set.unhealthyThreshold {
				c.cl.SetHostHealth(addr, false)
				acted = true
			}
		}
		if c.lg.Enabled(log.DEBUG) {
			c.lg.Debugf("[upstream] [health check] cluster %s host %s check failed: %v", c.cl.Name(), addr, err)
		}
	}
	// Read the state back rather than assume the change happened: the
	// host may have left the cluster in the meantime.
	after := t.h.Healthy()
	changed := acted && after != before
	if changed {
		st.changes.Add(1)
		if after {
			c.lg.Infof("[upstream] [health check] cluster %s host %s is healthy again (%d consecutive successes)", c.cl.Name(), addr, st.successes)
		} else {
			c.lg.Warnf("[upstream] [health check] cluster %s host %s is now unhealthy (%d consecutive failures: %v)", c.cl.Name(), addr, st.failures, err)
		}
		st.successes, st.failures = 0, 0
	}
	if c.events != nil {
		c.events.write(now, addr, after, err == nil, changed)
	}
}

// Stats is a point-in-time view of a Checker, for metrics and the admin
// API.
type Stats struct {
	Cluster     string `json:"cluster"`
	ServiceName string `json:"service_name,omitempty"`
	// Protocol is the check actually run: tcp, Http1, bolt or dubbo.
	Protocol string `json:"protocol"`
	// Hosts lists the cluster's current hosts in configuration order, one
	// per address.
	Hosts []HostStats `json:"hosts"`
}

// HostStats counts the checks of one host since the Checker started (or
// since the host was added to the cluster).
type HostStats struct {
	Address string `json:"address"`
	Healthy bool   `json:"healthy"`
	// Checks counts completed checks, Failures the failed ones among them,
	// StateChanges the times a check turned the host unhealthy or healthy.
	Checks       uint64 `json:"checks"`
	Failures     uint64 `json:"failures"`
	StateChanges uint64 `json:"state_changes"`
	// LastCheck is the time of the last completed check; zero before the
	// first.
	LastCheck time.Time `json:"last_check,omitzero"`
	// LastError is the cause of the last failure when the last check
	// failed, else empty.
	LastError string `json:"last_error,omitempty"`
}

// Stats returns the counters of every current host of the cluster.
func (c *Checker) Stats() Stats {
	all := c.cl.Hosts().All()
	st := Stats{
		Cluster:     c.cl.Name(),
		ServiceName: c.set.serviceName,
		Protocol:    c.set.protocol,
		Hosts:       make([]HostStats, 0, len(all)),
	}
	seen := make(map[string]bool, len(all))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range all {
		addr := h.Address()
		if seen[addr] {
			continue
		}
		seen[addr] = true
		hs := HostStats{Address: addr, Healthy: h.Healthy()}
		if s := c.hosts[addr]; s != nil {
			hs.Checks = s.checks.Load()
			hs.Failures = s.failed.Load()
			hs.StateChanges = s.changes.Load()
			if ns := s.lastTime.Load(); ns != 0 {
				hs.LastCheck = time.Unix(0, ns)
			}
			if e := s.lastErr.Load(); e != nil {
				hs.LastError = *e
			}
		}
		st.Hosts = append(st.Hosts, hs)
	}
	return st
}
