package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The wire protocol between the load generator and the upstream server.
//
// A connection starts with one mode byte and a fixed-size header:
//
//	'R' reqSize:uint32 respSize:uint32            (9 bytes, big endian)
//	'B' upBytes:uint64 downBytes:uint64           (17 bytes, big endian)
//
// In request/response mode ('R') the client then sends requests of exactly
// reqSize bytes; the server answers each with respSize bytes, until the
// client closes. In bulk mode ('B') the client sends upBytes bytes while the
// server sends downBytes bytes at the same time; once the server has sent
// its downBytes and received all upBytes it sends an 8-byte big-endian ack
// holding the count it received, so the client's clock stops only when the
// data has really crossed the proxy in both directions.
const (
	modeRR   byte = 'R'
	modeBulk byte = 'B'

	rrHeaderLen   = 9
	bulkHeaderLen = 17
	ackLen        = 8

	// maxMessage bounds reqSize and respSize (16 MiB) so that a stray
	// client cannot make the server allocate without limit.
	maxMessage = 16 << 20
)

// header is the parsed connection header.
type header struct {
	mode     byte
	reqSize  uint32 // 'R' only
	respSize uint32 // 'R' only
	up, down uint64 // 'B' only
}

var errBadMode = errors.New("tcpload: unknown mode byte")

// appendHeader appends the wire form of h to b.
func (h header) appendTo(b []byte) []byte {
	b = append(b, h.mode)
	switch h.mode {
	case modeRR:
		b = binary.BigEndian.AppendUint32(b, h.reqSize)
		b = binary.BigEndian.AppendUint32(b, h.respSize)
	case modeBulk:
		b = binary.BigEndian.AppendUint64(b, h.up)
		b = binary.BigEndian.AppendUint64(b, h.down)
	}
	return b
}

// readHeader reads and validates one connection header from r.
func readHeader(r io.Reader) (header, error) {
	var b [bulkHeaderLen]byte
	if _, err := io.ReadFull(r, b[:1]); err != nil {
		return header{}, err
	}
	return parseHeader(b[0], r, b[1:])
}

// parseHeader reads the rest of a header whose mode byte is mode from r,
// using scratch (at least bulkHeaderLen-1 bytes) as the buffer.
func parseHeader(mode byte, r io.Reader, scratch []byte) (header, error) {
	h := header{mode: mode}
	switch mode {
	case modeRR:
		b := scratch[:rrHeaderLen-1]
		if _, err := io.ReadFull(r, b); err != nil {
			return header{}, unexpected(err)
		}
		h.reqSize = binary.BigEndian.Uint32(b)
		h.respSize = binary.BigEndian.Uint32(b[4:])
		if h.reqSize == 0 || h.reqSize > maxMessage || h.respSize > maxMessage {
			return header{}, fmt.Errorf("tcpload: request/response sizes %d/%d out of range 1..%d", h.reqSize, h.respSize, maxMessage)
		}
	case modeBulk:
		b := scratch[:bulkHeaderLen-1]
		if _, err := io.ReadFull(r, b); err != nil {
			return header{}, unexpected(err)
		}
		h.up = binary.BigEndian.Uint64(b)
		h.down = binary.BigEndian.Uint64(b[8:])
		if h.up > 1<<50 || h.down > 1<<50 {
			return header{}, fmt.Errorf("tcpload: bulk sizes %d/%d over 1 PiB", h.up, h.down)
		}
	default:
		return header{}, fmt.Errorf("%w %q", errBadMode, mode)
	}
	return h, nil
}

// unexpected turns a clean EOF inside a header into ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
