package dubbo

import (
	"encoding/binary"
	"math"

	"mosn.dev/proxy/codec/hessian"
)

// appendHeader appends a 16-byte header with a zero body length; finish
// patches the length once the body is written.
func appendHeader(dst []byte, flag, status byte, id uint64) []byte {
	dst = append(dst, MagicHigh, MagicLow, flag, status)
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, 0, 0, 0, 0)
}

// finish writes the body length of the frame that starts at start. It
// panics when the body exceeds 4 GiB - 1, which cannot be represented.
func finish(dst []byte, start int) []byte {
	n := len(dst) - start - HeaderLen
	if uint64(n) > math.MaxUint32 {
		panic("dubbo: body longer than 4 GiB")
	}
	binary.BigEndian.PutUint32(dst[start+12:], uint32(n))
	return dst
}

// AppendRequest appends a two-way hessian2 request with id: the body holds
// m.DubboVersion, m.Service, m.Version (null when empty), m.Method,
// argsDescriptor (JVM style, e.g. "Ljava/lang/String;I"), the pre-encoded
// hessian values of args, and m.Attachments as an untyped string map.
// m.Group is not written by itself: pass a "group" attachment. For a oneway
// request clear FlagTwoWay in byte 2 of the result.
func AppendRequest(dst []byte, id uint64, m Meta, argsDescriptor string, args [][]byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, FlagRequest|FlagTwoWay|SerializationHessian2, 0, id)
	dst = hessian.AppendString(dst, m.DubboVersion)
	dst = hessian.AppendString(dst, m.Service)
	if m.Version == "" {
		dst = hessian.AppendNull(dst)
	} else {
		dst = hessian.AppendString(dst, m.Version)
	}
	dst = hessian.AppendString(dst, m.Method)
	dst = hessian.AppendString(dst, argsDescriptor)
	for _, a := range args {
		dst = append(dst, a...)
	}
	dst = hessian.AppendStringMap(dst, m.Attachments)
	return finish(dst, start)
}

// AppendResponse appends a hessian2 response with id, status and a
// pre-encoded body (for StatusOK a response type such as ResponseValue
// followed by the value; else an error string).
func AppendResponse(dst []byte, id uint64, status byte, body []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, SerializationHessian2, status, id)
	dst = append(dst, body...)
	return finish(dst, start)
}

// AppendHeartbeat appends a heartbeat request: flag 0xE2 (request, two-way,
// event, hessian2) and a null body.
func AppendHeartbeat(dst []byte, id uint64) []byte {
	start := len(dst)
	dst = appendHeader(dst, FlagRequest|FlagTwoWay|FlagEvent|SerializationHessian2, 0, id)
	dst = hessian.AppendNull(dst)
	return finish(dst, start)
}

// AppendHeartbeatReply appends the answer to a heartbeat: flag 0x22 (event,
// hessian2), status OK and a one-byte null body, as Java dubbo writes it.
// (MOSN writes two null bytes; readers decode one value and ignore the
// second, so both work.)
func AppendHeartbeatReply(dst []byte, id uint64) []byte {
	start := len(dst)
	dst = appendHeader(dst, FlagEvent|SerializationHessian2, StatusOK, id)
	dst = hessian.AppendNull(dst)
	return finish(dst, start)
}

// AppendErrorResponse appends the response a proxy sends in place of an
// upstream answer to req: same id, the given status (which should not be
// StatusOK), and message as a hessian2 string body. The flag says hessian2
// whatever req used, since that is how the body is encoded.
func AppendErrorResponse(dst []byte, req Frame, status byte, message string) []byte {
	start := len(dst)
	dst = appendHeader(dst, SerializationHessian2, status, req.ID)
	dst = hessian.AppendString(dst, message)
	return finish(dst, start)
}
