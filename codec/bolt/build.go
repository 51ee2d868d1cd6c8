package bolt

import (
	"encoding/binary"
	"hash/crc32"
	"math"
)

// Request describes a request frame for AppendRequest. Every field is
// written as given, so set CmdCode (normally CmdRequest), Ver2 and Codec
// (normally DefaultVer2 and CodecHessian2) explicitly.
type Request struct {
	// Proto selects the version: ProtoV2 writes v2, anything else v1.
	Proto byte
	// Ver1 and Switch are written in v2 frames only; with Ver1 == Ver1CRC
	// and the SwitchCRC bit set, a CRC32 trailer is appended.
	Ver1      byte
	Switch    byte
	Oneway    bool
	CmdCode   CmdCode
	Ver2      byte
	RequestID uint32
	Codec     byte
	// Timeout is in milliseconds.
	Timeout int32
	Class   string
	// Headers are written in order; at most 65535 bytes once encoded.
	Headers [][2]string
	Content []byte
}

// Response describes a response frame for AppendResponse; fields are
// written as given, as for Request.
type Response struct {
	Proto     byte
	Ver1      byte
	Switch    byte
	CmdCode   CmdCode
	Ver2      byte
	RequestID uint32
	Codec     byte
	Status    uint16
	Class     string
	Headers   [][2]string
	Content   []byte
}

// frameSpec is what every builder fills before appendFrame encodes it.
type frameSpec struct {
	proto, ver1, sw, ver2, codec byte
	typ                          Type
	cmd                          CmdCode
	id                           uint32
	timeout                      int32
	status                       uint16
	class                        string
	headers                      [][2]string
	content                      []byte
}

// appendFrame encodes s. It panics when the class or the header map is
// longer than 65535 bytes or the content longer than 4 GiB - 1: those cannot
// be represented and are programming errors of the caller.
func appendFrame(dst []byte, s *frameSpec) []byte {
	hl := HeaderMapLen(s.headers)
	if len(s.class) > math.MaxUint16 {
		panic("bolt: class name longer than 65535 bytes")
	}
	if hl > math.MaxUint16 {
		panic("bolt: header map longer than 65535 bytes")
	}
	if uint64(len(s.content)) > math.MaxUint32 {
		panic("bolt: content longer than 4 GiB")
	}
	start := len(dst)
	v2 := s.proto == ProtoV2
	if v2 {
		dst = append(dst, ProtoV2, s.ver1, byte(s.typ))
	} else {
		dst = append(dst, ProtoV1, byte(s.typ))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(s.cmd))
	dst = append(dst, s.ver2)
	dst = binary.BigEndian.AppendUint32(dst, s.id)
	dst = append(dst, s.codec)
	if v2 {
		dst = append(dst, s.sw)
	}
	if s.typ == TypeResponse {
		dst = binary.BigEndian.AppendUint16(dst, s.status)
	} else {
		dst = binary.BigEndian.AppendUint32(dst, uint32(s.timeout))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s.class)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(hl))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s.content)))
	dst = append(dst, s.class...)
	dst = AppendHeaderMap(dst, s.headers)
	dst = append(dst, s.content...)
	if v2 && hasCRC(ProtoV2, s.ver1, s.sw) {
		dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
	}
	return dst
}

// AppendRequest appends the encoding of r to dst. See appendFrame for the
// size limits, beyond which it panics.
func AppendRequest(dst []byte, r Request) []byte {
	t := TypeRequest
	if r.Oneway {
		t = TypeOneway
	}
	return appendFrame(dst, &frameSpec{
		proto: r.Proto, ver1: r.Ver1, sw: r.Switch, ver2: r.Ver2, codec: r.Codec,
		typ: t, cmd: r.CmdCode, id: r.RequestID, timeout: r.Timeout,
		class: r.Class, headers: r.Headers, content: r.Content,
	})
}

// AppendResponse appends the encoding of r to dst. See appendFrame for the
// size limits, beyond which it panics.
func AppendResponse(dst []byte, r Response) []byte {
	return appendFrame(dst, &frameSpec{
		proto: r.Proto, ver1: r.Ver1, sw: r.Switch, ver2: r.Ver2, codec: r.Codec,
		typ: TypeResponse, cmd: r.CmdCode, id: r.RequestID, status: r.Status,
		class: r.Class, headers: r.Headers, content: r.Content,
	})
}

// AppendHeartbeat appends a heartbeat request (cmdcode 0, timeout -1, no
// class, headers or content) of protocol proto (ProtoV2 for v2, else v1).
func AppendHeartbeat(dst []byte, proto byte, id uint32) []byte {
	return appendFrame(dst, &frameSpec{
		proto: proto, ver1: DefaultVer1, ver2: DefaultVer2, codec: CodecHessian2,
		typ: TypeRequest, cmd: CmdHeartbeat, id: id, timeout: -1,
	})
}

// AppendHeartbeatAck appends the answer to a heartbeat: a response with
// cmdcode 0 and status SUCCESS.
func AppendHeartbeatAck(dst []byte, proto byte, id uint32) []byte {
	return appendFrame(dst, &frameSpec{
		proto: proto, ver1: DefaultVer1, ver2: DefaultVer2, codec: CodecHessian2,
		typ: TypeResponse, cmd: CmdHeartbeat, id: id, status: StatusSuccess,
	})
}

// AppendErrorResponse appends the response a proxy sends in place of an
// upstream answer to req: same protocol, Ver1, Switch (so a CRC when req had
// one), Ver2, codec and request id, the given status, class ClassResponse,
// no headers and no content. A heartbeat request gets a heartbeat ack.
func AppendErrorResponse(dst []byte, req Frame, status uint16) []byte {
	cmd := CmdResponse
	if req.IsHeartbeat() {
		cmd = CmdHeartbeat
	}
	return appendFrame(dst, &frameSpec{
		proto: req.Proto, ver1: req.Ver1, sw: req.Switch, ver2: req.Ver2, codec: req.Codec,
		typ: TypeResponse, cmd: cmd, id: req.RequestID, status: status,
		class: ClassResponse,
	})
}
