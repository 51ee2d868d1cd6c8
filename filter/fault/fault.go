// Package fault is the "fault" stream filter: it injects a fixed delay
// and/or aborts requests with a status, for a share of the requests that
// go to one upstream cluster and carry given headers. Its config is
// MOSN's StreamFaultInject:
//
//	{"type": "fault", "config": {
//	  "delay": {"fixed_delay": "200ms", "percentage": 100},
//	  "abort": {"status": 503, "percentage": 10},
//	  "upstream_cluster": "web",
//	  "headers": [{"name": "x-fault", "value": "on"}]}}
//
// The filter runs at AfterRoute, as in MOSN, so the routed cluster is
// known. A delayed request is flagged DelayInjected, an aborted one
// FaultInjected (the access log's DI and FI); a request may be both
// delayed and then aborted.
package fault

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/stream"
)

// Name is the filter's type in stream_filters.
const Name = "fault"

// AbortBody is the body of an aborted request's reply.
const AbortBody = "fault filter abort"

func init() {
	stream.Filters.Register(Name, Build)
}

// Config is the filter's JSON config.
type Config struct {
	// Delay, when set, holds requests for FixedDelay before they go on.
	Delay *Delay `json:"delay,omitempty"`
	// Abort, when set, answers requests locally with Status.
	Abort *Abort `json:"abort,omitempty"`
	// UpstreamCluster, when set, limits faults to requests routed to this
	// cluster.
	UpstreamCluster string `json:"upstream_cluster,omitempty"`
	// Headers must all match for a fault to be injected (none: every
	// request). A matcher without a value only needs the header present;
	// with regex the value is a Go regular expression that must match the
	// whole header value. ":method" (and, as in MOSN, "method" for HTTP)
	// and ":path" match the request line.
	Headers []config.HeaderMatcher `json:"headers,omitempty"`
}

// Delay is the delay fault.
type Delay struct {
	// FixedDelay is how long a delayed request waits ("200ms", "1s");
	// it must be positive.
	FixedDelay config.Duration `json:"fixed_delay,omitempty"`
	// Percentage is the share of matching requests delayed, 0..100.
	Percentage int `json:"percentage,omitempty"`
}

// Abort is the abort fault.
type Abort struct {
	// Status is the HTTP status of the local reply, 200..599.
	Status int `json:"status,omitempty"`
	// Percentage is the share of matching requests aborted, 0..100.
	Percentage int `json:"percentage,omitempty"`
}

type headerMatch struct {
	name   string
	pseudo string // ":method", ":path" or "method": see match
	value  string
	re     *regexp.Regexp
}

// filter is immutable once built, so every request shares it.
type filter struct {
	delay    time.Duration
	delayPct int
	status   int
	abortPct int
	cluster  string
	headers  []headerMatch
	// intn picks a number in [0, n); rand.IntN is safe for concurrent use.
	intn func(n int) int
}

// Build parses the config; problems name JSON paths below path.
func Build(cfg *config.Config, path string, raw json.RawMessage) (stream.Factory, error) {
	var c Config
	if _, err := cfg.DecodeRaw(path, raw, &c); err != nil {
		return nil, err
	}
	f := &filter{cluster: c.UpstreamCluster, intn: rand.IntN}
	var ps config.Problems
	if c.Delay == nil && c.Abort == nil {
		ps = append(ps, cfg.Problemf(path, "set delay, abort or both (a fault filter without them does nothing)"))
	}
	if d := c.Delay; d != nil {
		dp := config.Path(path, "delay")
		if d.FixedDelay.D() <= 0 {
			ps = append(ps, cfg.Problemf(config.Path(dp, "fixed_delay"), "must be a positive duration such as \"200ms\""))
		}
		if d.Percentage < 0 || d.Percentage > 100 {
			ps = append(ps, cfg.Problemf(config.Path(dp, "percentage"), "must be 0..100"))
		}
		f.delay, f.delayPct = d.FixedDelay.D(), d.Percentage
	}
	if a := c.Abort; a != nil {
		ap := config.Path(path, "abort")
		if a.Status < 200 || a.Status > 599 {
			ps = append(ps, cfg.Problemf(config.Path(ap, "status"), "must be an HTTP status 200..599"))
		}
		if a.Percentage < 0 || a.Percentage > 100 {
			ps = append(ps, cfg.Problemf(config.Path(ap, "percentage"), "must be 0..100"))
		}
		f.status, f.abortPct = a.Status, a.Percentage
	}
	for i, h := range c.Headers {
		hp := config.Path(path, "headers", i)
		if h.Name == "" {
			ps = append(ps, cfg.Problemf(config.Path(hp, "name"), "a header name is required"))
			continue
		}
		// Names stay as written: HTTP headers match case-insensitively,
		// RPC header keys exactly.
		m := headerMatch{name: h.Name, value: h.Value}
		switch lower := strings.ToLower(h.Name); lower {
		case ":method", ":path", "method":
			m.pseudo = lower
		}
		if h.Regex {
			// Anchored like the router's header matchers, so "v1" does
			// not match "v10".
			re, err := regexp.Compile("^(?:" + h.Value + ")$")
			if err != nil {
				ps = append(ps, cfg.Problemf(config.Path(hp, "value"), "invalid regex: %v", err))
				continue
			}
			m.re = re
		}
		f.headers = append(f.headers, m)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return f, nil
}

// New returns the shared filter: it keeps no per-request state.
func (f *filter) New() any { return f }

// Phases is AfterRoute, where the routed cluster is known.
func (f *filter) Phases() []stream.Phase { return []stream.Phase{stream.AfterRoute} }

// OnReceive delays and/or aborts a matching request. When ctx ends during
// the delay the client is gone: the filter stops the request without a
// reply.
func (f *filter) OnReceive(ctx context.Context, cb stream.ReceiverCallbacks, _ stream.Phase) stream.Status {
	if f.cluster != "" && cb.Cluster() != f.cluster {
		return stream.Continue
	}
	if !f.match(cb) {
		return stream.Continue
	}
	if f.delay > 0 && f.hit(f.delayPct) {
		cb.Flag(accesslog.DelayInjected)
		if !stream.Delay(ctx, f.delay) {
			return stream.Stop
		}
	}
	if f.hit(f.abortPct) {
		cb.Flag(accesslog.FaultInjected)
		cb.Reply(f.status, nil, AbortBody)
		return stream.Stop
	}
	return stream.Continue
}

// hit decides one request: true for pct percent of the calls.
func (f *filter) hit(pct int) bool {
	switch {
	case pct <= 0:
		return false
	case pct >= 100:
		return true
	}
	return f.intn(100) < pct
}

func (f *filter) match(cb stream.ReceiverCallbacks) bool {
	if len(f.headers) == 0 {
		return true
	}
	hs := cb.RequestHeaders()
	for i := range f.headers {
		m := &f.headers[i]
		var v string
		switch {
		case m.pseudo == ":method", m.pseudo == "method" && cb.Method() != "":
			// MOSN reads "method" as the HTTP method; RPC protocols have
			// no method and keep it as a header.
			v = cb.Method()
		case m.pseudo == ":path":
			v = cb.Path()
		default:
			var ok bool
			if v, ok = hs.Get(m.name); !ok {
				return false
			}
		}
		switch {
		case m.re != nil:
			if !m.re.MatchString(v) {
				return false
			}
		case m.value != "" && v != m.value:
			return false
		}
	}
	return true
}
