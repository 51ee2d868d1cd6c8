package http2

import "encoding/binary"

// Frame types and flags of RFC 9113 §6 that the server writes.
const (
	FrameData         = 0x0
	FrameHeaders      = 0x1
	FrameRSTStream    = 0x3
	FrameSettings     = 0x4
	FramePing         = 0x6
	FrameGoAway       = 0x7
	FrameWindowUpdate = 0x8
	FrameContinuation = 0x9

	FlagEndStream  = 0x1
	FlagAck        = 0x1
	FlagEndHeaders = 0x4
)

// HeaderLen is the size of a frame header, in bytes.
const HeaderLen = 9

// Setting is one SETTINGS parameter.
type Setting struct {
	ID  uint16
	Val uint32
}

// AppendFrameHeader appends a frame header for a payload of length bytes.
func AppendFrameHeader(dst []byte, length int, typ, flags byte, stream uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
}

// AppendData appends a DATA frame carrying p (at most the peer's
// SETTINGS_MAX_FRAME_SIZE; the caller splits).
func AppendData(dst []byte, stream uint32, end bool, p []byte) []byte {
	var fl byte
	if end {
		fl = FlagEndStream
	}
	dst = AppendFrameHeader(dst, len(p), FrameData, fl, stream)
	return append(dst, p...)
}

// AppendHeaders appends a header block as one HEADERS frame and as many
// CONTINUATION frames as maxFrame requires (0 or less: the protocol's
// default of 16384 bytes).
func AppendHeaders(dst []byte, stream uint32, end bool, block []byte, maxFrame int) []byte {
	if maxFrame <= 0 {
		maxFrame = 16384
	}
	var fl byte
	if end {
		fl = FlagEndStream
	}
	typ := byte(FrameHeaders)
	for {
		n := len(block)
		last := n <= maxFrame
		if !last {
			n = maxFrame
		}
		f := fl
		if last {
			f |= FlagEndHeaders
		}
		dst = AppendFrameHeader(dst, n, typ, f, stream)
		dst = append(dst, block[:n]...)
		if last {
			return dst
		}
		block = block[n:]
		typ, fl = FrameContinuation, 0
	}
}

// AppendSettings appends a SETTINGS frame (ack: an empty acknowledgement).
func AppendSettings(dst []byte, ack bool, s ...Setting) []byte {
	if ack {
		return AppendFrameHeader(dst, 0, FrameSettings, FlagAck, 0)
	}
	dst = AppendFrameHeader(dst, 6*len(s), FrameSettings, 0, 0)
	for _, v := range s {
		dst = binary.BigEndian.AppendUint16(dst, v.ID)
		dst = binary.BigEndian.AppendUint32(dst, v.Val)
	}
	return dst
}

// AppendWindowUpdate appends a WINDOW_UPDATE frame (stream 0: the
// connection's window).
func AppendWindowUpdate(dst []byte, stream, incr uint32) []byte {
	dst = AppendFrameHeader(dst, 4, FrameWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(dst, incr&0x7fffffff)
}

// AppendRSTStream appends a RST_STREAM frame with an error code.
func AppendRSTStream(dst []byte, stream, code uint32) []byte {
	dst = AppendFrameHeader(dst, 4, FrameRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(dst, code)
}

// AppendPing appends a PING frame.
func AppendPing(dst []byte, ack bool, data [8]byte) []byte {
	var fl byte
	if ack {
		fl = FlagAck
	}
	dst = AppendFrameHeader(dst, 8, FramePing, fl, 0)
	return append(dst, data[:]...)
}

// AppendGoAway appends a GOAWAY frame.
func AppendGoAway(dst []byte, lastStream, code uint32, debug string) []byte {
	dst = AppendFrameHeader(dst, 8+len(debug), FrameGoAway, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, lastStream&0x7fffffff)
	dst = binary.BigEndian.AppendUint32(dst, code)
	return append(dst, debug...)
}
