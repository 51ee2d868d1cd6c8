package network

import (
	"encoding/json"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/metrics"
	"mosn.dev/proxy/registry"
	"mosn.dev/proxy/upstream"
	"mosn.dev/proxy/upstream/circuit"
)

// Handler serves one accepted connection until it ends and then closes it.
// Exactly one handler ends a filter chain: tcp_proxy or proxy.
type Handler interface {
	ServeConn(c *Conn)
}

// ConnFilter runs on each new connection before the chain's Handler; it
// returns false to close the connection (access control, rate limits).
//
// L4 filters are connection-level rather than byte-level (MOSN's OnData
// read filters): passing every byte through a filter chain would keep the
// per-connection buffers and copies the proxy is designed to avoid.
type ConnFilter interface {
	OnAccept(c *Conn) bool
}

// FilterFactory builds a network filter from its JSON config, once per
// config snapshot. It returns a Handler or a ConnFilter; errors name the
// JSON path (bc.Path) of the bad field.
type FilterFactory func(bc *BuildContext, raw json.RawMessage) (any, error)

// Filters is the registry of network filter types ("tcp_proxy", "proxy").
var Filters = registry.New[FilterFactory]("network filter")

// BuildContext is what a factory may use while building.
type BuildContext struct {
	// Config is the whole config being built, for cross references.
	Config *config.Config
	// Listener is the listener whose filter chain is being built.
	Listener *config.Listener
	// Path is the JSON path of the filter's "config" object.
	Path string
	// Clusters resolves cluster names at run time.
	Clusters *upstream.Manager
	// Log is the error log.
	Log *log.Logger
	// AccessLogs are the listener's access logs.
	AccessLogs []*accesslog.Logger
	// Warn records a non-fatal config problem.
	Warn func(config.Problem)
	// Metrics is the process's metric registry (never nil).
	Metrics *metrics.Registry
	// Breakers are the clusters' circuit breakers, shared process-wide.
	Breakers *circuit.Set
}
