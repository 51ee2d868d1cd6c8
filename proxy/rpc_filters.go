package proxy

import (
	"context"
	"net"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/stream"
)

// rpcFilters adapts one bolt or dubbo request to the stream filter
// callbacks. Request headers (the bolt header map, dubbo attachments)
// are read-only; a filter's Reply becomes the protocol's error response.
type rpcFilters struct {
	d       *rpcDown
	f       *rpcFrame
	chain   *stream.Chain
	info    *accesslog.Info
	replied bool
	status  int
	meta    map[string]string
	limit   int64
	limitSt int
	cluster string
	host    string
}

func (x *rpcFilters) Protocol() string               { return x.d.codec.name() }
func (x *rpcFilters) RemoteAddr() net.Addr           { return x.d.c.RemoteAddr() }
func (x *rpcFilters) LocalAddr() net.Addr            { return x.d.c.LocalAddr() }
func (x *rpcFilters) Method() string                 { return "" }
func (x *rpcFilters) Path() string                   { return "" }
func (x *rpcFilters) Cluster() string                { return x.cluster }
func (x *rpcFilters) Host() string                   { return x.host }
func (x *rpcFilters) ContentLength() int64           { return int64(len(x.f.raw)) }
func (x *rpcFilters) RequestHeaders() stream.Headers { return rpcHeaders{x.d.codec, x.f} }
func (x *rpcFilters) Flag(flag uint64)               { x.info.ResponseFlags |= flag }
func (x *rpcFilters) SetBodyLimit(l int64, st int)   { x.limit, x.limitSt = l, st }
func (x *rpcFilters) SetMetadata(k, v string)        { x.setMeta(k, v) }
func (x *rpcFilters) Reply(st int, _ map[string]string, _ string) {
	if !x.replied {
		x.replied, x.status = true, st
	}
}

func (x *rpcFilters) setMeta(k, v string) {
	if x.meta == nil {
		x.meta = map[string]string{}
	}
	x.meta[k] = v
}

// run runs a receive phase; true means the request was answered (a
// filter replied, or the frame is over the body limit a filter set).
func (x *rpcFilters) run(ctx context.Context, phase stream.Phase) bool {
	if x.chain.OnReceive(ctx, x, phase) == stream.Stop || x.replied {
		if !x.replied {
			x.replied, x.status = true, 500
		}
		return true
	}
	if x.limit > 0 && int64(len(x.f.raw)) > x.limit {
		x.replied, x.status = true, x.limitSt
		if x.status == 0 {
			x.status = 413
		}
		return true
	}
	return false
}

// rpcKindOf maps a filter's HTTP-style reply status to the protocol
// error it is answered with.
func rpcKindOf(status int) rpcKind {
	switch status {
	case 404:
		return rpcNoRoute
	case 429, 503:
		return rpcOverflow
	case 504:
		return rpcTimeout
	case 502:
		return rpcConnLost
	}
	return rpcRejected
}

// rpcHeaders is the read-only view of a request's protocol headers.
type rpcHeaders struct {
	codec rpcCodec
	f     *rpcFrame
}

func (h rpcHeaders) Get(name string) (string, bool) { return h.codec.header(h.f, name) }

// Set, Add and Del do nothing: RPC frames are forwarded as their bytes,
// so their headers cannot change on the way.
func (rpcHeaders) Set(string, string) {}
func (rpcHeaders) Add(string, string) {}
func (rpcHeaders) Del(string)         {}
