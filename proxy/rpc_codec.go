package proxy

import (
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/codec/dubbo"
)

// rpcKind is a failure the proxy answers itself, in the protocol's words.
type rpcKind int

const (
	rpcNoRoute  rpcKind = iota // no route, no cluster
	rpcNoHost                  // no healthy host, connect failure
	rpcTimeout                 // no answer in time
	rpcOverflow                // too many requests
	rpcConnLost                // the upstream connection died
	rpcRejected                // a stream filter answered the request
)

// rpcFrame is one decoded bolt or dubbo frame, as the engine needs it.
type rpcFrame struct {
	raw       []byte
	id        uint64
	request   bool
	oneway    bool
	heartbeat bool
	timeout   time.Duration // from the frame (bolt), 0 if none
	status    int           // responses: the protocol's status
	bolt      bolt.Frame
	dubbo     dubbo.Frame
	meta      *dubbo.Meta // decoded lazily for routing
}

// rpcCodec is what the multiplexing engine needs from a wire format.
type rpcCodec interface {
	name() string
	parse(data []byte) (rpcFrame, int, error)
	setID(raw []byte, id uint64)
	// nextID turns a counter into a valid id (bolt ids are 32-bit).
	nextID(n uint64) uint64
	heartbeatReply(dst []byte, f *rpcFrame) []byte
	heartbeat(dst []byte, id uint64) []byte
	errorReply(dst []byte, f *rpcFrame, k rpcKind) []byte
	header(f *rpcFrame, name string) (string, bool)
	ok(f *rpcFrame) bool
}

type boltCodec struct{}

func (boltCodec) name() string { return "bolt" }

func (boltCodec) parse(data []byte) (rpcFrame, int, error) {
	f, n, err := bolt.Parse(data)
	if err != nil {
		return rpcFrame{}, 0, err
	}
	fr := rpcFrame{
		raw:       f.Raw,
		id:        uint64(f.RequestID),
		request:   f.IsRequest(),
		oneway:    f.Oneway(),
		heartbeat: f.IsHeartbeat(),
		status:    int(f.Status),
		bolt:      f,
	}
	if fr.request && f.Timeout > 0 {
		fr.timeout = time.Duration(f.Timeout) * time.Millisecond
	}
	return fr, n, nil
}

func (boltCodec) setID(raw []byte, id uint64) { bolt.SetRequestID(raw, uint32(id)) }

func (boltCodec) nextID(n uint64) uint64 {
	id := uint64(uint32(n))
	if id == 0 {
		id = 1
	}
	return id
}

func (boltCodec) heartbeatReply(dst []byte, f *rpcFrame) []byte {
	return bolt.AppendHeartbeatAck(dst, f.bolt.Proto, f.bolt.RequestID)
}

func (boltCodec) heartbeat(dst []byte, id uint64) []byte {
	return bolt.AppendHeartbeat(dst, bolt.ProtoV1, uint32(id))
}

func (boltCodec) errorReply(dst []byte, f *rpcFrame, k rpcKind) []byte {
	status := map[rpcKind]uint16{
		rpcNoRoute:  bolt.StatusNoProcessor,
		rpcNoHost:   bolt.StatusNoProcessor,
		rpcTimeout:  bolt.StatusTimeout,
		rpcOverflow: bolt.StatusServerThreadpoolBusy,
		rpcConnLost: bolt.StatusConnectionClosed,
		rpcRejected: bolt.StatusServerException,
	}[k]
	return bolt.AppendErrorResponse(dst, f.bolt, status)
}

func (boltCodec) header(f *rpcFrame, name string) (string, bool) {
	v, ok := f.bolt.Header(name)
	return bstr(v), ok
}

func (boltCodec) ok(f *rpcFrame) bool { return f.status == int(bolt.StatusSuccess) }

type dubboCodec struct{}

func (dubboCodec) name() string { return "dubbo" }

func (dubboCodec) parse(data []byte) (rpcFrame, int, error) {
	f, n, err := dubbo.Parse(data)
	if err != nil {
		return rpcFrame{}, 0, err
	}
	return rpcFrame{
		raw:       f.Raw,
		id:        f.ID,
		request:   f.IsRequest,
		oneway:    f.IsRequest && !f.TwoWay,
		heartbeat: f.IsHeartbeat(),
		status:    int(f.Status),
		dubbo:     f,
	}, n, nil
}

func (dubboCodec) setID(raw []byte, id uint64) { dubbo.SetID(raw, id) }

func (dubboCodec) nextID(n uint64) uint64 { return n }

func (dubboCodec) heartbeatReply(dst []byte, f *rpcFrame) []byte {
	return dubbo.AppendHeartbeatReply(dst, f.id)
}

func (dubboCodec) heartbeat(dst []byte, id uint64) []byte { return dubbo.AppendHeartbeat(dst, id) }

func (dubboCodec) errorReply(dst []byte, f *rpcFrame, k rpcKind) []byte {
	status, msg := map[rpcKind]byte{
		rpcNoRoute:  dubbo.StatusServiceNotFound,
		rpcNoHost:   dubbo.StatusServiceNotFound,
		rpcTimeout:  dubbo.StatusClientTimeout,
		rpcOverflow: dubbo.StatusBadRequest,
		rpcConnLost: dubbo.StatusServiceError,
		rpcRejected: dubbo.StatusServerError,
	}[k], map[rpcKind]string{
		rpcNoRoute:  "mosn: no route for the service",
		rpcNoHost:   "mosn: no healthy upstream",
		rpcTimeout:  "mosn: upstream timeout",
		rpcOverflow: "mosn: upstream overflow",
		rpcConnLost: "mosn: upstream connection closed",
		rpcRejected: "mosn: rejected by a stream filter",
	}[k]
	return dubbo.AppendErrorResponse(dst, f.dubbo, status, msg)
}

func (dubboCodec) header(f *rpcFrame, name string) (string, bool) {
	if f.meta == nil {
		m, err := f.dubbo.Service()
		if err != nil {
			return "", false
		}
		f.meta = &m
	}
	m := f.meta
	switch name {
	case "service":
		return m.Service, m.Service != ""
	case "method":
		return m.Method, m.Method != ""
	case "version":
		return m.Version, m.Version != ""
	case "group":
		return m.Group, m.Group != ""
	case "dubbo":
		return m.DubboVersion, m.DubboVersion != ""
	}
	for _, kv := range m.Attachments {
		if kv[0] == name {
			return kv[1], true
		}
	}
	return "", false
}

func (dubboCodec) ok(f *rpcFrame) bool { return f.status == int(dubbo.StatusOK) }

var (
	errBoltNeedMore  = bolt.ErrNeedMore
	errDubboNeedMore = dubbo.ErrNeedMore
)
