// Package dubbo is the wire codec of the dubbo (dubbo2) RPC protocol.
//
// The codec does no I/O. Parse finds a frame boundary in a byte slice and
// returns a Frame that points into it, so a proxy can forward Frame.Raw
// unchanged after SetID has rewritten the request id in place; Parse and
// SetID do not allocate. Frame.Service decodes what routing needs (service,
// version, method, group, attachments) from hessian2 request bodies.
package dubbo

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the length of the fixed frame header.
const HeaderLen = 16

// MaxBodySize is the largest body Parse accepts: 8 MiB, dubbo's default
// payload limit. ParseLimit takes another limit.
const MaxBodySize = 8 << 20

// Magic is the first two bytes of every frame.
const (
	MagicHigh byte = 0xda
	MagicLow  byte = 0xbb
)

// Bits of the flag byte.
const (
	FlagRequest byte = 0x80
	FlagTwoWay  byte = 0x40
	FlagEvent   byte = 0x20
	// SerializationMask selects the serialization id bits.
	SerializationMask byte = 0x1f
)

// SerializationHessian2 is the serialization id of hessian2, the only one
// whose bodies this package decodes.
const SerializationHessian2 byte = 2

var (
	// ErrNeedMore means the data holds only the beginning of a frame.
	ErrNeedMore = errors.New("dubbo: need more data")
	// ErrInvalid is wrapped by every error about a malformed frame; the
	// connection that sent it cannot be resynchronised.
	ErrInvalid = errors.New("dubbo: invalid frame")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Frame is a parsed frame. Its byte slices point into the parsed data, and
// Raw is the whole frame, ready to be forwarded.
type Frame struct {
	// Raw is the whole frame, header and body.
	Raw []byte
	// Body is the serialized body.
	Body []byte
	// ID correlates a response with its request.
	ID uint64
	// Flag is the raw flag byte; the fields below are decoded from it.
	Flag      byte
	IsRequest bool
	TwoWay    bool
	// IsEvent marks heartbeats (and other events).
	IsEvent bool
	// Serialization is the serialization id, e.g. SerializationHessian2.
	Serialization byte
	// Status is the response status (zero in requests), e.g. StatusOK.
	Status byte
}

// IsHeartbeat reports whether f is an event frame, which dubbo uses for
// heartbeats.
func (f *Frame) IsHeartbeat() bool { return f.IsEvent }

// SetID rewrites the id of f and of f.Raw in place.
func (f *Frame) SetID(id uint64) {
	f.ID = id
	SetID(f.Raw, id)
}

// Match reports whether prefix starts a dubbo frame, or whether more bytes
// are needed to decide: the magic takes two bytes.
func Match(prefix []byte) (ok bool, needMore bool) {
	switch {
	case len(prefix) == 0:
		return false, true
	case prefix[0] != MagicHigh:
		return false, false
	case len(prefix) == 1:
		return false, true
	}
	return prefix[1] == MagicLow, false
}

// Parse parses the frame at the start of data, with MaxBodySize as the
// limit. See ParseLimit.
func Parse(data []byte) (f Frame, n int, err error) {
	return ParseLimit(data, MaxBodySize)
}

// ParseLimit parses the frame at the start of data and returns it and its
// length n. It returns ErrNeedMore when data holds only part of a frame, and
// an error wrapping ErrInvalid for a wrong magic or a body longer than
// maxBody bytes.
func ParseLimit(data []byte, maxBody int) (f Frame, n int, err error) {
	if ok, more := Match(data); !ok {
		if more {
			return Frame{}, 0, ErrNeedMore
		}
		return Frame{}, 0, invalid("bad magic 0x%02x%02x", data[0], data[min(1, len(data)-1)])
	}
	if len(data) < HeaderLen {
		return Frame{}, 0, ErrNeedMore
	}
	bodyLen := uint64(binary.BigEndian.Uint32(data[12:]))
	if bodyLen > uint64(maxBody) {
		return Frame{}, 0, invalid("body of %d bytes exceeds the limit of %d", bodyLen, maxBody)
	}
	n = HeaderLen + int(bodyLen)
	if len(data) < n {
		return Frame{}, 0, ErrNeedMore
	}
	flag := data[2]
	f = Frame{
		Raw:           data[:n:n],
		Body:          data[HeaderLen:n:n],
		ID:            binary.BigEndian.Uint64(data[4:]),
		Flag:          flag,
		IsRequest:     flag&FlagRequest != 0,
		TwoWay:        flag&FlagTwoWay != 0,
		IsEvent:       flag&FlagEvent != 0,
		Serialization: flag & SerializationMask,
		Status:        data[3],
	}
	return f, n, nil
}

// SetID rewrites the id (bytes 4 to 11) of the whole frame raw in place;
// raw shorter than a header is left untouched.
func SetID(raw []byte, id uint64) {
	if len(raw) >= HeaderLen {
		binary.BigEndian.PutUint64(raw[4:], id)
	}
}
