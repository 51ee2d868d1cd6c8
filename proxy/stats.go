package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/metrics"
)

// stats records one finished request in the listener's downstream set and
// the cluster's upstream set (MOSN's metric keys).
type stats struct {
	reg  *metrics.Registry
	down *metrics.Set

	requests *metrics.Counter
	failed   *metrics.Counter
	time     *metrics.Histogram
	protoErr *metrics.Counter
	// The HTTP/1 event loop: requests it served whole, and hand-overs of
	// a connection to a goroutine.
	loopServed  *metrics.Counter
	loopHandoff *metrics.Counter
	// The same for HTTP/2: streams the loop served whole, and hand-overs
	// of a stream (or of a connection's read side) to a goroutine.
	loopServedH2  *metrics.Counter
	loopHandoffH2 *metrics.Counter

	upMu  sync.Mutex
	ups   atomic.Pointer[map[string]*upStats]
	codes [6]*metrics.Counter // by status class: 1xx..5xx, other
}

func newStats(reg *metrics.Registry, listener string) *stats {
	if reg == nil {
		reg = metrics.NewRegistry(nil)
	}
	down := reg.Set("downstream", "listener", listener)
	st := &stats{
		reg:      reg,
		down:     down,
		requests: down.Counter("request_total"),
		failed:   down.Counter("request_failed"),
		time:     down.Histogram("request_time"),
		protoErr: down.Counter("protocol_error_total"),

		loopServed:  down.Counter("http1_loop_request_total"),
		loopHandoff: down.Counter("http1_loop_handoff_total"),

		loopServedH2:  down.Counter("http2_loop_request_total"),
		loopHandoffH2: down.Counter("http2_loop_handoff_total"),
	}
	for i := 1; i <= 5; i++ {
		st.codes[i] = down.Counter("response_" + strconv.Itoa(i) + "xx_total")
	}
	return st
}

// failureFlags are the response flags that count as a failed request.
const failureFlags = accesslog.NoHealthyUpstream | accesslog.UpstreamConnectionFailure |
	accesslog.UpstreamRequestTimeout | accesslog.UpstreamConnectionTermination |
	accesslog.UpstreamLocalReset | accesslog.UpstreamRemoteReset | accesslog.NoRouteFound |
	accesslog.UpstreamOverflow

// record counts a finished request. For RPC protocols httpStatus is the
// protocol status mapped to an HTTP class by the caller (-1 if none).
func (st *stats) record(info *accesslog.Info, httpStatus int) {
	st.requests.Inc()
	st.time.Observe(info.Duration)
	if httpStatus >= 100 && httpStatus < 600 {
		st.codes[httpStatus/100].Inc()
	}
	if info.ResponseFlags&failureFlags != 0 || httpStatus >= 500 {
		st.failed.Inc()
	}
	if info.UpstreamCluster == "" {
		return
	}
	up := st.upstream(info.UpstreamCluster)
	up.requests.Inc()
	if info.ResponseFlags&accesslog.UpstreamRequestTimeout != 0 {
		up.timeout.Inc()
	}
	if info.ResponseFlags&(accesslog.UpstreamConnectionFailure|accesslog.NoHealthyUpstream) != 0 {
		up.conFail.Inc()
	}
	if httpStatus >= 500 || info.ResponseFlags&failureFlags != 0 {
		up.failed.Inc()
	} else {
		up.success.Inc()
	}
}

// upStats are one cluster's request counters.
type upStats struct {
	requests, timeout, conFail, failed, success *metrics.Counter
}

// upstream returns the counters of a cluster. They are looked up in the
// registry once per cluster (a few allocations) and then read from a
// copy-on-write map without locking.
func (st *stats) upstream(cluster string) *upStats {
	if m := st.ups.Load(); m != nil {
		if u, ok := (*m)[cluster]; ok {
			return u
		}
	}
	set := st.reg.Set("upstream", "cluster", cluster)
	u := &upStats{
		requests: set.Counter("request_total"),
		timeout:  set.Counter("request_timeout"),
		conFail:  set.Counter("connection_con_fail"),
		failed:   set.Counter("response_failed"),
		success:  set.Counter("response_success"),
	}
	st.upMu.Lock()
	defer st.upMu.Unlock()
	old := st.ups.Load()
	m := make(map[string]*upStats, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[cluster] = u
	st.ups.Store(&m)
	return u
}

// protocolError counts a connection or stream the client broke the
// protocol on (malformed frames or headers, flow-control violations).
func (st *stats) protocolError() { st.protoErr.Inc() }
