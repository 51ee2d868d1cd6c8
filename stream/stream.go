// Package stream is the STREAMING layer's extension point: stream filters
// that see each request/response exchange of the L7 proxy, whatever the
// protocol (HTTP/1, HTTP/2, bolt, dubbo), with MOSN's phases and statuses.
//
// A filter type registers a Builder in Filters. The proxy builds each
// listener's stream_filters once per config (Builder), then asks every
// factory for fresh filter objects per request (Factory.New), and runs
// them:
//
//   - receiver filters on the request, in config order, at BeforeRoute
//     (before the router picks a route), AfterRoute (route known, host not
//     yet chosen) and AfterChooseHost (host picked, before sending);
//   - sender filters on the response head, in reverse config order
//     (Append), before it is written downstream.
//
// A filter returns Continue to go on or Stop after it has answered the
// request itself with Reply (fault abort, access denied, payload too
// large). Filters may add or remove request/response headers and set
// load-balancer metadata (header_to_metadata) through the callbacks.
package stream

import (
	"context"
	"encoding/json"
	"net"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/registry"
)

// Phase says when a receiver filter runs.
type Phase int

// Phases, in the order they happen.
const (
	BeforeRoute Phase = iota
	AfterRoute
	AfterChooseHost
)

func (p Phase) String() string {
	switch p {
	case BeforeRoute:
		return "BeforeRoute"
	case AfterRoute:
		return "AfterRoute"
	case AfterChooseHost:
		return "AfterChooseHost"
	}
	return "Phase(?)"
}

// Status is a filter's verdict.
type Status int

const (
	// Continue runs the next filter and then the proxy.
	Continue Status = iota
	// Stop ends the exchange: the filter has answered with Reply.
	Stop
)

// Headers is a request or response head as filters see it. Names are
// case-insensitive for HTTP; for RPC protocols they are the protocol's
// header keys (bolt header map, dubbo attachments) and are read-only.
type Headers interface {
	Get(name string) (string, bool)
	Set(name, value string)
	Add(name, value string)
	Del(name string)
}

// Info describes the exchange.
type Info interface {
	// Protocol is "HTTP1", "HTTP2", "bolt" or "dubbo".
	Protocol() string
	RemoteAddr() net.Addr
	LocalAddr() net.Addr
	// Method and Path are the HTTP method and path ("" for RPC).
	Method() string
	Path() string
	// ContentLength is the declared request body length, -1 if unknown.
	ContentLength() int64
	// Cluster is the chosen cluster (known from AfterRoute on).
	Cluster() string
	// Host is the chosen upstream host (known at AfterChooseHost).
	Host() string
}

// ReceiverCallbacks is what a receiver filter may do with the request.
type ReceiverCallbacks interface {
	Info
	RequestHeaders() Headers
	// Reply answers the request locally; the filter then returns Stop.
	// For RPC protocols status is mapped to the protocol's error status.
	Reply(status int, headers map[string]string, body string)
	// SetMetadata adds a key for metadata_match subset balancing
	// ("mosn.lb" namespace), merged over the route's metadata_match.
	SetMetadata(key, value string)
	// SetBodyLimit caps the request body in bytes; a larger body is
	// answered with status (413 for HTTP).
	SetBodyLimit(limit int64, status int)
	// Flag records a MOSN response flag for the access log (bits of
	// accesslog's flag constants).
	Flag(flag uint64)
}

// SenderCallbacks is what a sender filter may do with the response.
type SenderCallbacks interface {
	Info
	RequestHeaders() Headers
	ResponseHeaders() Headers
	// Status is the response status (HTTP) or the protocol's status.
	Status() int
}

// ReceiverFilter handles a request.
type ReceiverFilter interface {
	OnReceive(ctx context.Context, cb ReceiverCallbacks, phase Phase) Status
}

// SenderFilter handles a response head.
type SenderFilter interface {
	Append(ctx context.Context, cb SenderCallbacks) Status
}

// Factory makes the filters of one request. New returns a ReceiverFilter,
// a SenderFilter, a value that is both, or nil. Its phases say at which
// receive phases OnReceive is called (empty: BeforeRoute).
type Factory interface {
	New() any
	Phases() []Phase
}

// Builder parses a stream filter's config once per config snapshot.
// Errors name JSON paths below path (use cfg.DecodeRaw and cfg.Problemf).
type Builder func(cfg *config.Config, path string, raw json.RawMessage) (Factory, error)

// Filters is the registry of stream filter types.
var Filters = registry.New[Builder]("stream filter")

// Delay waits for d or until ctx is done; filters use it instead of
// time.Sleep so a client that goes away releases the request.
func Delay(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
