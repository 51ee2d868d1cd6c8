// Package payloadlimit is the "payload_limit" stream filter: it caps the
// request body size of HTTP/1 and HTTP/2 requests. Its config is MOSN's
// StreamPayloadLimit:
//
//	{"type": "payload_limit", "config": {"max_entity_size": 1048576, "http_status": 413}}
//
// The filter hands the limit to the proxy (ReceiverCallbacks.SetBodyLimit):
// a request whose declared Content-Length is larger is answered with
// http_status before anything is sent upstream, and flagged
// ReqEntityTooLarge in the access log (RETL).
package payloadlimit

import (
	"context"
	"encoding/json"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/stream"
)

// Name is the filter's type in stream_filters.
const Name = "payload_limit"

// DefaultStatus is the reply status when http_status is not set.
const DefaultStatus = 413

func init() {
	stream.Filters.Register(Name, Build)
}

// Config is the filter's JSON config.
type Config struct {
	// MaxEntitySize is the largest request body allowed, in bytes; it
	// must be positive. A body of exactly this size passes.
	MaxEntitySize int64 `json:"max_entity_size,omitempty"`
	// HTTPStatus is the status of the reply to a larger body, 400..599;
	// the default is 413.
	HTTPStatus int `json:"http_status,omitempty"`
}

// filter is immutable once built, so every request shares it.
type filter struct {
	limit  int64
	status int
}

// Build parses the config; problems name JSON paths below path.
func Build(cfg *config.Config, path string, raw json.RawMessage) (stream.Factory, error) {
	var c Config
	if _, err := cfg.DecodeRaw(path, raw, &c); err != nil {
		return nil, err
	}
	var ps config.Problems
	if c.MaxEntitySize <= 0 {
		ps = append(ps, cfg.Problemf(config.Path(path, "max_entity_size"), "must be a positive number of bytes"))
	}
	status := c.HTTPStatus
	if status == 0 {
		status = DefaultStatus
	}
	if status < 400 || status > 599 {
		ps = append(ps, cfg.Problemf(config.Path(path, "http_status"), "must be an HTTP error status 400..599"))
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return &filter{limit: c.MaxEntitySize, status: status}, nil
}

// New returns the shared filter: it keeps no per-request state.
func (f *filter) New() any { return f }

// Phases is AfterRoute, as in MOSN.
func (f *filter) Phases() []stream.Phase { return []stream.Phase{stream.AfterRoute} }

// OnReceive sets the request's body limit; the proxy enforces it.
func (f *filter) OnReceive(_ context.Context, cb stream.ReceiverCallbacks, _ stream.Phase) stream.Status {
	cb.SetBodyLimit(f.limit, f.status)
	return stream.Continue
}
