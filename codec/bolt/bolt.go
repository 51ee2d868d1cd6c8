// Package bolt is the wire codec of the SOFARPC bolt protocol, versions 1
// (proto code 0x01) and 2 (0x02), which may share one connection.
//
// The codec does no I/O. Parse finds a frame boundary in a byte slice and
// returns a Frame that points into it, so a proxy can forward Frame.Raw
// unchanged after SetRequestID has rewritten the request id in place. The
// hot path (Parse, Header, SetRequestID) does not allocate.
package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Protocol codes: the first byte of every frame.
const (
	ProtoV1 byte = 0x01
	ProtoV2 byte = 0x02
)

// Fixed header lengths in bytes, without the optional v2 CRC.
const (
	RequestHeaderLenV1  = 22
	ResponseHeaderLenV1 = 20
	RequestHeaderLenV2  = 24
	ResponseHeaderLenV2 = 22
	// CRCLen is the length of the CRC32 trailer of v2 frames with CRC on.
	CRCLen = 4
)

// MaxFrameSize is the largest frame (header, class, header map, content and
// CRC) that Parse accepts: 16 MiB. ParseLimit takes another limit.
const MaxFrameSize = 16 << 20

// Type is the frame type byte.
type Type byte

// Frame types.
const (
	TypeResponse Type = 0x00
	TypeRequest  Type = 0x01
	TypeOneway   Type = 0x02
)

func (t Type) String() string {
	switch t {
	case TypeResponse:
		return "response"
	case TypeRequest:
		return "request"
	case TypeOneway:
		return "oneway"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// CmdCode is the command code of a frame.
type CmdCode uint16

// Command codes. CmdGoAway is MOSN's extension.
const (
	CmdHeartbeat CmdCode = 0
	CmdRequest   CmdCode = 1
	CmdResponse  CmdCode = 2
	CmdGoAway    CmdCode = 100
)

// Values written by the builders of this package.
const (
	// DefaultVer1 is the v2 protocol version byte; 2 allows a CRC.
	DefaultVer1 byte = 0x01
	// DefaultVer2 is the command version byte.
	DefaultVer2 byte = 0x01
	// CodecHessian2 is the serializer code of hessian2 content.
	CodecHessian2 byte = 1
	// SwitchCRC is the bit of the v2 switch byte that turns the CRC on
	// (effective when Ver1 is 2).
	SwitchCRC byte = 0x01
	// Ver1CRC is the Ver1 value under which the CRC switch is honoured.
	Ver1CRC byte = 0x02
)

// Class names SOFARPC puts in the class segment.
const (
	ClassRequest  = "com.alipay.sofa.rpc.core.request.SofaRequest"
	ClassResponse = "com.alipay.sofa.rpc.core.response.SofaResponse"
)

var (
	// ErrNeedMore means the data holds only the beginning of a frame.
	ErrNeedMore = errors.New("bolt: need more data")
	// ErrInvalid is wrapped by every error about a malformed frame; the
	// connection that sent it cannot be resynchronised.
	ErrInvalid = errors.New("bolt: invalid frame")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Frame is a parsed frame. Its byte slices point into the parsed data, and
// Raw is the whole frame, ready to be forwarded.
type Frame struct {
	// Raw is the whole frame, CRC included.
	Raw []byte
	// Class is the class-name segment, for example ClassRequest.
	Class []byte
	// HeaderBytes is the encoded header map; see Header and RangeHeaders.
	HeaderBytes []byte
	// Content is the serialized body, opaque to a proxy.
	Content []byte
	// Timeout is the request timeout in milliseconds (requests only).
	Timeout int32
	// RequestID correlates a response with its request.
	RequestID uint32
	CmdCode   CmdCode
	// Status is the response status (responses only), e.g. StatusSuccess.
	Status uint16
	// Proto is ProtoV1 or ProtoV2.
	Proto byte
	// Ver1 and Switch exist in v2 frames only (zero in v1 frames).
	Ver1   byte
	Switch byte
	Type   Type
	Ver2   byte
	// Codec is the serializer of the content, e.g. CodecHessian2.
	Codec byte
}

// IsHeartbeat reports whether f is a heartbeat or a heartbeat ack.
func (f *Frame) IsHeartbeat() bool { return f.CmdCode == CmdHeartbeat }

// IsRequest reports whether f is a request, two-way or oneway.
func (f *Frame) IsRequest() bool { return f.Type != TypeResponse }

// Oneway reports whether f is a request that expects no response.
func (f *Frame) Oneway() bool { return f.Type == TypeOneway }

// HasCRC reports whether f ends with a CRC32 trailer.
func (f *Frame) HasCRC() bool { return hasCRC(f.Proto, f.Ver1, f.Switch) }

func hasCRC(proto, ver1, sw byte) bool {
	return proto == ProtoV2 && ver1 == Ver1CRC && sw&SwitchCRC != 0
}

// SetRequestID rewrites the request id of f and of f.Raw in place.
func (f *Frame) SetRequestID(id uint32) {
	f.RequestID = id
	SetRequestID(f.Raw, id)
}

// Match reports whether prefix starts a bolt frame (v1 or v2), or whether
// more bytes are needed to decide (only for an empty prefix).
func Match(prefix []byte) (ok bool, needMore bool) {
	if len(prefix) == 0 {
		return false, true
	}
	return prefix[0] == ProtoV1 || prefix[0] == ProtoV2, false
}

// Parse parses the frame at the start of data, with MaxFrameSize as the
// limit. See ParseLimit.
func Parse(data []byte) (f Frame, n int, err error) {
	return ParseLimit(data, MaxFrameSize)
}

// ParseLimit parses the frame at the start of data and returns it and its
// length n. It returns ErrNeedMore when data holds only part of a frame, and
// an error wrapping ErrInvalid for an unknown protocol code or type, a frame
// longer than maxFrame bytes, a malformed header map or a CRC mismatch.
// Command codes are not checked, so frames with unknown commands can be
// forwarded.
func ParseLimit(data []byte, maxFrame int) (f Frame, n int, err error) {
	if len(data) == 0 {
		return f, 0, ErrNeedMore
	}
	f.Proto = data[0]
	var typeOff int
	switch f.Proto {
	case ProtoV1:
		typeOff = 1
	case ProtoV2:
		typeOff = 2
	default:
		return Frame{}, 0, invalid("unknown protocol code 0x%02x", f.Proto)
	}
	if len(data) <= typeOff {
		return Frame{}, 0, ErrNeedMore
	}
	f.Type = Type(data[typeOff])
	if f.Type > TypeOneway {
		return Frame{}, 0, invalid("unknown type 0x%02x", byte(f.Type))
	}
	hdr := headerLen(f.Proto, f.Type)
	if len(data) < hdr {
		return Frame{}, 0, ErrNeedMore
	}
	var p int
	if f.Proto == ProtoV1 {
		f.CmdCode = CmdCode(binary.BigEndian.Uint16(data[2:]))
		f.Ver2 = data[4]
		f.RequestID = binary.BigEndian.Uint32(data[5:])
		f.Codec = data[9]
		p = 10
	} else {
		f.Ver1 = data[1]
		f.CmdCode = CmdCode(binary.BigEndian.Uint16(data[3:]))
		f.Ver2 = data[5]
		f.RequestID = binary.BigEndian.Uint32(data[6:])
		f.Codec = data[10]
		f.Switch = data[11]
		p = 12
	}
	if f.Type == TypeResponse {
		f.Status = binary.BigEndian.Uint16(data[p:])
		p += 2
	} else {
		f.Timeout = int32(binary.BigEndian.Uint32(data[p:]))
		p += 4
	}
	classLen := int(binary.BigEndian.Uint16(data[p:]))
	headerMapLen := int(binary.BigEndian.Uint16(data[p+2:]))
	contentLen := uint64(binary.BigEndian.Uint32(data[p+4:]))
	total := uint64(hdr+classLen+headerMapLen) + contentLen
	crc := f.HasCRC()
	if crc {
		total += CRCLen
	}
	if total > uint64(maxFrame) {
		return Frame{}, 0, invalid("frame of %d bytes exceeds the limit of %d", total, maxFrame)
	}
	n = int(total)
	if len(data) < n {
		return Frame{}, 0, ErrNeedMore
	}
	f.Raw = data[:n:n]
	p = hdr
	f.Class = data[p : p+classLen : p+classLen]
	p += classLen
	f.HeaderBytes = data[p : p+headerMapLen : p+headerMapLen]
	p += headerMapLen
	end := p + int(contentLen)
	f.Content = data[p:end:end]
	if err := validateHeaderMap(f.HeaderBytes); err != nil {
		return Frame{}, 0, err
	}
	if crc {
		want := binary.BigEndian.Uint32(data[end:])
		if got := crc32.ChecksumIEEE(data[:end]); got != want {
			return Frame{}, 0, invalid("CRC32 mismatch: frame says 0x%08x, computed 0x%08x", want, got)
		}
	}
	return f, n, nil
}

// headerLen returns the fixed header length for a protocol and type.
func headerLen(proto byte, t Type) int {
	if proto == ProtoV2 {
		if t == TypeResponse {
			return ResponseHeaderLenV2
		}
		return RequestHeaderLenV2
	}
	if t == TypeResponse {
		return ResponseHeaderLenV1
	}
	return RequestHeaderLenV1
}

// RequestIDOffset returns the offset of the request id for a protocol code:
// 5 for v1, 6 for v2 (and -1 for unknown codes).
func RequestIDOffset(proto byte) int {
	switch proto {
	case ProtoV1:
		return 5
	case ProtoV2:
		return 6
	}
	return -1
}

// SetRequestID rewrites the request id of the whole frame raw (as returned
// in Frame.Raw) in place, and recomputes the CRC32 trailer of v2 frames that
// carry one. Only the id bytes and the CRC change. raw that is too short to
// be a frame, or has an unknown protocol code, is left untouched.
func SetRequestID(raw []byte, id uint32) {
	if len(raw) == 0 {
		return
	}
	switch raw[0] {
	case ProtoV1:
		if len(raw) >= ResponseHeaderLenV1 {
			binary.BigEndian.PutUint32(raw[5:], id)
		}
	case ProtoV2:
		if len(raw) < ResponseHeaderLenV2 {
			return
		}
		binary.BigEndian.PutUint32(raw[6:], id)
		if hasCRC(raw[0], raw[1], raw[11]) && len(raw) >= ResponseHeaderLenV2+CRCLen {
			end := len(raw) - CRCLen
			binary.BigEndian.PutUint32(raw[end:], crc32.ChecksumIEEE(raw[:end]))
		}
	}
}
