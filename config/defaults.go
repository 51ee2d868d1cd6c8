package config

import (
	"net"
	"runtime"
	"strconv"
	"time"
)

// Defaults that MOSN applies when a field is unset. The config is never
// mutated with them (Dump shows what the user wrote); the accessors below
// apply them on read.
const (
	DefaultGracefulTimeout       = 30 * time.Second
	DefaultConnectTimeout        = 10 * time.Second
	DefaultMaxRequestPerConn     = 1024
	DefaultConnBufferLimitBytes  = 16 * 1024
	DefaultLbType                = "LB_ROUNDROBIN"
	DefaultClusterType           = "SIMPLE"
	DefaultHealthCheckTimeout    = time.Second
	DefaultHealthCheckInterval   = 15 * time.Second
	DefaultHealthCheckJitter     = 5 * time.Millisecond
	DefaultHealthCheckThreshold  = 1
	DefaultHealthCheckProtocol   = "tcp"
	DefaultOutlierErrors         = 5
	DefaultBaseEjectionTime      = 30 * time.Second
	DefaultMaxEjectionTime       = 300 * time.Second
	DefaultMaxEjectionPercent    = 10
	DefaultPprofPort             = 9090
	DefaultPprofAddress          = "0.0.0.0"
	DefaultAdminAddress          = "0.0.0.0"
	DefaultHostWeight            = 1
	MaxHostWeight                = 128
	DefaultRouteTimeout          = 60 * time.Second
	DefaultRedirectResponseCode  = 301
	DefaultLogLevel              = "INFO"
	DefaultOriginalDstHeaderName = "host"
)

// durationOr returns def when d is unset or zero: in MOSN a zero timeout
// means "use the default", never "no time at all".
func durationOr(d *Duration, def time.Duration) time.Duration {
	if d == nil || *d == 0 {
		return def
	}
	return time.Duration(*d)
}

// GracefulTimeoutOrDefault is how long shutdown and upgrade wait for
// connections to drain. Default 30s; unset or 0 means the default.
func (s *Server) GracefulTimeoutOrDefault() time.Duration {
	return durationOr(s.GracefulTimeout, DefaultGracefulTimeout)
}

// ProcessorOrDefault is the GOMAXPROCS to use: the configured number, or
// every CPU for "auto" (the default).
func (s *Server) ProcessorOrDefault() int {
	if s.Processor == nil || *s.Processor <= 0 {
		return runtime.NumCPU()
	}
	return int(*s.Processor)
}

// LogLevelOrDefault is default_log_level, or INFO when unset.
func (s *Server) LogLevelOrDefault() string {
	if s.DefaultLogLevel == "" {
		return DefaultLogLevel
	}
	return s.DefaultLogLevel
}

// NetworkOrDefault is the listener network; "tcp" when unset.
func (l *Listener) NetworkOrDefault() string {
	if l.Network == "" {
		return "tcp"
	}
	return l.Network
}

// TypeOrDefault is the cluster type; SIMPLE when unset.
func (c *Cluster) TypeOrDefault() string {
	if c.Type == "" {
		return DefaultClusterType
	}
	return c.Type
}

// ConnectTimeoutOrDefault bounds an upstream connect. Default 10s; unset
// or 0 means the default.
func (c *Cluster) ConnectTimeoutOrDefault() time.Duration {
	return durationOr(c.ConnectTimeout, DefaultConnectTimeout)
}

// MaxRequestPerConnOrDefault caps requests per upstream connection.
// Default 1024.
func (c *Cluster) MaxRequestPerConnOrDefault() uint32 {
	if c.MaxRequestPerConn == 0 {
		return DefaultMaxRequestPerConn
	}
	return c.MaxRequestPerConn
}

// ConnBufferLimitOrDefault is the per-connection buffer limit in bytes.
// Default 16384.
func (c *Cluster) ConnBufferLimitOrDefault() uint32 {
	if c.ConnBufferLimitBytes == 0 {
		return DefaultConnBufferLimitBytes
	}
	return c.ConnBufferLimitBytes
}

// LbTypeOrDefault is the balancer name. Default LB_ROUNDROBIN.
func (c *Cluster) LbTypeOrDefault() string {
	if c.LbType == "" {
		return DefaultLbType
	}
	return c.LbType
}

// WeightOrDefault is the host weight, 1..128. Default 1.
func (h *Host) WeightOrDefault() uint32 {
	if h.Weight == 0 {
		return DefaultHostWeight
	}
	return h.Weight
}

// ProtocolOrDefault is the health-check protocol. Default "tcp" (a dial).
func (h *HealthCheck) ProtocolOrDefault() string {
	if h.Protocol == "" {
		return DefaultHealthCheckProtocol
	}
	return h.Protocol
}

// TimeoutOrDefault bounds one check. Default 1s; unset or 0 means the
// default.
func (h *HealthCheck) TimeoutOrDefault() time.Duration {
	return durationOr(h.Timeout, DefaultHealthCheckTimeout)
}

// IntervalOrDefault is the time between checks. Default 15s; unset or 0
// means the default.
func (h *HealthCheck) IntervalOrDefault() time.Duration {
	return durationOr(h.Interval, DefaultHealthCheckInterval)
}

// IntervalJitterOrDefault is the random extra wait added to each interval.
// Default 5ms; unset or 0 means the default.
func (h *HealthCheck) IntervalJitterOrDefault() time.Duration {
	return durationOr(h.IntervalJitter, DefaultHealthCheckJitter)
}

// HealthyThresholdOrDefault is the number of consecutive successes that
// mark a host healthy. Default 1.
func (h *HealthCheck) HealthyThresholdOrDefault() uint32 {
	if h.HealthyThreshold == 0 {
		return DefaultHealthCheckThreshold
	}
	return h.HealthyThreshold
}

// UnhealthyThresholdOrDefault is the number of consecutive failures that
// mark a host unhealthy. Default 1.
func (h *HealthCheck) UnhealthyThresholdOrDefault() uint32 {
	if h.UnhealthyThreshold == 0 {
		return DefaultHealthCheckThreshold
	}
	return h.UnhealthyThreshold
}

// ConsecutiveErrorsOrDefault is the number of failures in a row that eject
// a host. Default 5.
func (o *OutlierDetection) ConsecutiveErrorsOrDefault() uint32 {
	if o.ConsecutiveErrors == 0 {
		return DefaultOutlierErrors
	}
	return o.ConsecutiveErrors
}

// BaseEjectionTimeOrDefault is the length of a first ejection. Default 30s;
// unset or 0 means the default.
func (o *OutlierDetection) BaseEjectionTimeOrDefault() time.Duration {
	return durationOr(o.BaseEjectionTime, DefaultBaseEjectionTime)
}

// MaxEjectionTimeOrDefault caps the length of an ejection. Default 300s;
// unset or 0 means the default. It is never shorter than
// BaseEjectionTimeOrDefault.
func (o *OutlierDetection) MaxEjectionTimeOrDefault() time.Duration {
	return max(durationOr(o.MaxEjectionTime, DefaultMaxEjectionTime), o.BaseEjectionTimeOrDefault())
}

// MaxEjectionPercentOrDefault caps the share of a cluster's hosts ejected
// at once, in percent. Default 10.
func (o *OutlierDetection) MaxEjectionPercentOrDefault() uint32 {
	if o.MaxEjectionPercent == 0 {
		return DefaultMaxEjectionPercent
	}
	return o.MaxEjectionPercent
}

// HeaderNameOrDefault is the header that carries the destination when
// UseHeader is set. Default "host".
func (o *OriginalDstLbConfig) HeaderNameOrDefault() string {
	if o.HeaderName == "" {
		return DefaultOriginalDstHeaderName
	}
	return o.HeaderName
}

// TimeoutOrDefault bounds the whole request. Default 60s; unset or 0 means
// the default.
func (a *RouteAction) TimeoutOrDefault() time.Duration {
	return durationOr(a.Timeout, DefaultRouteTimeout)
}

// ResponseCodeOrDefault is the redirect status. Default 301.
func (r *Redirect) ResponseCodeOrDefault() int {
	if r.ResponseCode == 0 {
		return DefaultRedirectResponseCode
	}
	return r.ResponseCode
}

// CaseSensitiveOrDefault reports whether prefix and path match case
// sensitively. Default true.
func (m *RouteMatch) CaseSensitiveOrDefault() bool {
	return m.CaseSensitive == nil || *m.CaseSensitive
}

// AppendOrDefault reports whether the header value is added to existing
// values (true, the default) or replaces them.
func (h *HeaderValueOption) AppendOrDefault() bool {
	return h.Append == nil || *h.Append
}

// Addr is the admin listen address as host:port. The host defaults to
// 0.0.0.0. There is no default port: MOSN configs always give one (34901
// in the examples), and port 0 picks a free port, which tests use.
func (a *Admin) Addr() string {
	host := a.Address.SocketAddress.Address
	if host == "" {
		host = DefaultAdminAddress
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(a.Address.SocketAddress.PortValue), 10))
}

// Addr is the pprof listen address as host:port: Endpoint (default
// 0.0.0.0, as MOSN binds every interface) and PortValue (default 9090).
func (p *Pprof) Addr() string {
	host := p.Endpoint
	if host == "" {
		host = DefaultPprofAddress
	}
	port := p.PortValue
	if port == 0 {
		port = DefaultPprofPort
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}

// Server returns the first (and only supported) server, or nil.
func (c *Config) Server() *Server {
	if c == nil || len(c.Servers) == 0 {
		return nil
	}
	return &c.Servers[0]
}

// ClusterByName returns the named cluster, or nil.
func (c *Config) ClusterByName(name string) *Cluster {
	if c == nil {
		return nil
	}
	for i := range c.ClusterManager.Clusters {
		if c.ClusterManager.Clusters[i].Name == name {
			return &c.ClusterManager.Clusters[i]
		}
	}
	return nil
}

// RouterByName returns the first server's route table with that
// router_config_name, or nil.
func (c *Config) RouterByName(name string) *Router {
	s := c.Server()
	if s == nil {
		return nil
	}
	for i := range s.Routers {
		if s.Routers[i].RouterConfigName == name {
			return &s.Routers[i]
		}
	}
	return nil
}

// ListenerByName returns the first server's listener with that name, or nil.
func (c *Config) ListenerByName(name string) *Listener {
	s := c.Server()
	if s == nil {
		return nil
	}
	for i := range s.Listeners {
		if s.Listeners[i].Name == name {
			return &s.Listeners[i]
		}
	}
	return nil
}
