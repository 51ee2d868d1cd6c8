package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"mosn.dev/proxy/codec/bolt"
)

// idleConn is one held connection. Its mutex serialises the probe and the
// heartbeat sender; nothing reads the socket between them, so bytes the
// server sends unasked (an h2 PING, a bolt heartbeat) wait in the kernel
// until the next exchange.
type idleConn struct {
	mu sync.Mutex
	c  net.Conn
	// next is the next HTTP/2 stream id or bolt request id.
	next uint32
	// rd holds bytes read past the end of the last frame or answer.
	rd []byte
	// h2Consumed counts DATA bytes received since the last connection-level
	// WINDOW_UPDATE.
	h2Consumed int
}

// protocol is what a client kind does on the wire.
type protocol interface {
	// start sends what opens the connection at the protocol level before
	// the first request (the HTTP/2 preface and SETTINGS); nothing for
	// HTTP/1 and bolt.
	start(ic *idleConn) error
	// request sends one request on ic and reads its answer.
	request(ic *idleConn) error
	// heartbeat sends one keep-alive message and reads its answer; a
	// protocol without one returns errNoHeartbeat.
	heartbeat(ic *idleConn) error
}

var errNoHeartbeat = errors.New("this protocol has no heartbeat")

// maxAnswer bounds what the client buffers for one answer (head plus body
// for HTTP/1, one frame for HTTP/2 and bolt): the bench answers are small.
const maxAnswer = 1 << 20

// fill reads more bytes from r into ic.rd, failing once maxAnswer is passed.
func (ic *idleConn) fill(r io.Reader) error {
	if len(ic.rd) >= maxAnswer {
		return fmt.Errorf("answer longer than %d bytes", maxAnswer)
	}
	if cap(ic.rd)-len(ic.rd) < 2048 {
		grown := make([]byte, len(ic.rd), 2*cap(ic.rd)+4096)
		copy(grown, ic.rd)
		ic.rd = grown
	}
	n, err := r.Read(ic.rd[len(ic.rd):cap(ic.rd)])
	ic.rd = ic.rd[:len(ic.rd)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// consume drops n bytes from the front of ic.rd; an emptied buffer is
// released so that an idle connection holds none.
func (ic *idleConn) consume(n int) {
	if n >= len(ic.rd) {
		ic.rd = nil
		return
	}
	ic.rd = append([]byte(nil), ic.rd[n:]...)
}

// --- HTTP/1.1 ----------------------------------------------------------------

// http1Proto sends keep-alive GETs.
type http1Proto struct{ req []byte }

func newHTTP1(path, host string) *http1Proto {
	return &http1Proto{req: []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n")}
}

func (p *http1Proto) start(*idleConn) error { return nil }

func (p *http1Proto) heartbeat(*idleConn) error { return errNoHeartbeat }

func (p *http1Proto) request(ic *idleConn) error {
	if _, err := ic.c.Write(p.req); err != nil {
		return err
	}
	return readHTTP1Answer(ic, ic.c)
}

// readHTTP1Answer reads one response (a head with Content-Length, or none
// for a body-less status) from r and fails unless its status is 2xx and
// the connection stays open.
func readHTTP1Answer(ic *idleConn, r io.Reader) error {
	for {
		hl, status, cl, closing, err := parseHTTP1Head(ic.rd)
		if err != nil {
			return err
		}
		if hl == 0 {
			if err := ic.fill(r); err != nil {
				return err
			}
			continue
		}
		if cl > maxAnswer {
			return fmt.Errorf("Content-Length %d is larger than this client reads", cl)
		}
		for len(ic.rd) < hl+int(cl) {
			if err := ic.fill(r); err != nil {
				return err
			}
		}
		ic.consume(hl + int(cl))
		switch {
		case status >= 100 && status < 200:
			continue // an interim answer: the final one follows
		case status < 200 || status > 299:
			return fmt.Errorf("status %d", status)
		case closing:
			return errors.New("the server closes the connection (Connection: close)")
		}
		return nil
	}
}

// parseHTTP1Head parses the response head at the start of b. It returns
// hl 0 when the head is not complete yet, else the head's length, the
// status, the Content-Length (0 when absent: the bench servers send one
// with every body, and a chunked body is an error here) and whether the
// server announced Connection: close.
func parseHTTP1Head(b []byte) (hl, status int, cl int64, closing bool, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > 64<<10 {
			return 0, 0, 0, false, errors.New("response head longer than 64 KiB")
		}
		return 0, 0, 0, false, nil
	}
	lines := bytes.Split(b[:end], []byte("\r\n"))
	sl := lines[0]
	if len(sl) < 12 || !bytes.HasPrefix(sl, []byte("HTTP/1.")) || sl[8] != ' ' {
		return 0, 0, 0, false, fmt.Errorf("bad status line %q", trunc(sl))
	}
	status, err = strconv.Atoi(string(sl[9:12]))
	if err != nil || status < 100 || (len(sl) > 12 && sl[12] != ' ') {
		return 0, 0, 0, false, fmt.Errorf("bad status line %q", trunc(sl))
	}
	haveCL := false
	for _, l := range lines[1:] {
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			return 0, 0, 0, false, fmt.Errorf("bad header line %q", trunc(l))
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			n, perr := strconv.ParseInt(string(v), 10, 64)
			if perr != nil || n < 0 || (haveCL && n != cl) {
				return 0, 0, 0, false, fmt.Errorf("bad Content-Length %q", trunc(v))
			}
			cl, haveCL = n, true
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			return 0, 0, 0, false, fmt.Errorf("Transfer-Encoding %q: this client reads Content-Length bodies only", trunc(v))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.Contains(bytes.ToLower(v), []byte("close"))
		}
	}
	if status == 204 || status == 304 || status < 200 {
		cl = 0
	}
	return end + 4, status, cl, closing, nil
}

func trunc(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// --- HTTP/2 (h2c, prior knowledge) ------------------------------------------

// HTTP/2 frame types and flags used here (RFC 9113, section 6).
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2RSTStream    = 0x3
	h2Settings     = 0x4
	h2Ping         = 0x6
	h2GoAway       = 0x7
	h2WindowUpdate = 0x8
	h2Continuation = 0x9

	h2FlagEndStream  = 0x1
	h2FlagAck        = 0x1
	h2FlagEndHeaders = 0x4
	h2FlagPadded     = 0x8
	h2FlagPriority   = 0x20

	// h2MaxFrame is the default SETTINGS_MAX_FRAME_SIZE, which this
	// client does not raise.
	h2MaxFrame = 16384
)

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2Proto sends GETs, one stream at a time, with its own minimal framing:
// HPACK is only written (static-table indexes and literals without
// indexing) and only the :status of an answer is decoded.
type h2Proto struct{ block []byte }

func newH2(path, authority string) *h2Proto {
	b := []byte{0x82, 0x86} // :method GET, :scheme http
	b = hpackLiteral(b, 4, path)
	b = hpackLiteral(b, 1, authority)
	return &h2Proto{block: b}
}

// hpackLiteral appends a literal header field without indexing whose name
// is static-table entry idx (< 15) and whose value is s, not Huffman-coded.
func hpackLiteral(dst []byte, idx byte, s string) []byte {
	dst = append(dst, idx)
	dst = hpackInt(dst, 0, 7, uint64(len(s)))
	return append(dst, s...)
}

// hpackInt appends v as an HPACK integer with an n-bit prefix; first holds
// the bits above the prefix (RFC 7541, section 5.1).
func hpackInt(dst []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(dst, byte(v))
}

func appendH2Frame(dst []byte, typ, flags byte, sid uint32, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	dst = binary.BigEndian.AppendUint32(dst, sid&0x7fffffff)
	return append(dst, payload...)
}

func (p *h2Proto) start(ic *idleConn) error {
	b := []byte(h2Preface)
	// SETTINGS_ENABLE_PUSH = 0.
	b = appendH2Frame(b, h2Settings, 0, 0, []byte{0, 2, 0, 0, 0, 0})
	ic.next = 1
	_, err := ic.c.Write(b)
	return err
}

func (p *h2Proto) heartbeat(*idleConn) error { return errNoHeartbeat }

func (p *h2Proto) request(ic *idleConn) error {
	sid := ic.next
	ic.next += 2
	if _, err := ic.c.Write(appendH2Frame(nil, h2Headers, h2FlagEndStream|h2FlagEndHeaders, sid, p.block)); err != nil {
		return err
	}
	return readH2Answer(ic, ic.c, sid)
}

// h2Frame is a frame read by nextH2Frame; payload points into ic.rd and is
// valid until the next read.
type h2Frame struct {
	typ, flags byte
	sid        uint32
	payload    []byte
}

// nextH2Frame reads one frame from r into ic.rd and returns it with its
// total length, which the caller consumes once done with the payload.
func nextH2Frame(ic *idleConn, r io.Reader) (f h2Frame, n int, err error) {
	for len(ic.rd) < 9 {
		if err := ic.fill(r); err != nil {
			return f, 0, err
		}
	}
	ln := int(ic.rd[0])<<16 | int(ic.rd[1])<<8 | int(ic.rd[2])
	if ln > h2MaxFrame {
		return f, 0, fmt.Errorf("HTTP/2 frame of %d bytes exceeds the maximum frame size", ln)
	}
	for len(ic.rd) < 9+ln {
		if err := ic.fill(r); err != nil {
			return f, 0, err
		}
	}
	f = h2Frame{typ: ic.rd[3], flags: ic.rd[4], sid: binary.BigEndian.Uint32(ic.rd[5:]) & 0x7fffffff, payload: ic.rd[9 : 9+ln]}
	return f, 9 + ln, nil
}

// readH2Answer reads frames until stream sid ends, answering SETTINGS and
// PING and returning connection-level flow-control credit. It fails unless
// the answer's :status is 2xx.
func readH2Answer(ic *idleConn, rw io.ReadWriter, sid uint32) error {
	status := 0
	var out []byte
	for {
		f, n, err := nextH2Frame(ic, rw)
		if err != nil {
			return err
		}
		end := false
		switch f.typ {
		case h2Settings:
			if f.flags&h2FlagAck == 0 {
				if len(f.payload)%6 != 0 || f.sid != 0 {
					return errors.New("malformed HTTP/2 SETTINGS frame")
				}
				out = appendH2Frame(out, h2Settings, h2FlagAck, 0, nil)
			}
		case h2Ping:
			if f.flags&h2FlagAck == 0 {
				if len(f.payload) != 8 {
					return errors.New("malformed HTTP/2 PING frame")
				}
				out = appendH2Frame(out, h2Ping, h2FlagAck, 0, f.payload)
			}
		case h2GoAway:
			return errors.New("the server sent GOAWAY")
		case h2RSTStream:
			if f.sid == sid {
				return errors.New("the server reset the stream")
			}
		case h2Headers:
			if f.sid == sid {
				if status == 0 {
					block, err := h2HeaderBlock(f)
					if err != nil {
						return err
					}
					status = hpackStatus(block)
				}
				end = f.flags&h2FlagEndStream != 0
			}
		case h2Data:
			if len(f.payload) > 0 {
				ic.h2Consumed += len(f.payload)
			}
			end = f.sid == sid && f.flags&h2FlagEndStream != 0
		}
		ic.consume(n)
		if ic.h2Consumed >= 16384 {
			var inc [4]byte
			binary.BigEndian.PutUint32(inc[:], uint32(ic.h2Consumed))
			out = appendH2Frame(out, h2WindowUpdate, 0, 0, inc[:])
			ic.h2Consumed = 0
		}
		if len(out) > 0 && (end || len(ic.rd) == 0) {
			if _, err := rw.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
		if end {
			if status < 200 || status > 299 {
				if status == 0 {
					return errors.New("the answer's :status could not be decoded")
				}
				return fmt.Errorf("status %d", status)
			}
			return nil
		}
	}
}

// h2HeaderBlock returns the header block fragment of a HEADERS frame,
// without padding and priority fields.
func h2HeaderBlock(f h2Frame) ([]byte, error) {
	p := f.payload
	pad := 0
	if f.flags&h2FlagPadded != 0 {
		if len(p) < 1 {
			return nil, errors.New("malformed HTTP/2 HEADERS frame")
		}
		pad = int(p[0])
		p = p[1:]
	}
	if f.flags&h2FlagPriority != 0 {
		if len(p) < 5 {
			return nil, errors.New("malformed HTTP/2 HEADERS frame")
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, errors.New("malformed HTTP/2 HEADERS frame")
	}
	return p[:len(p)-pad], nil
}

// hpackStatus decodes the :status at the start of a response header block
// when it is a static-table entry (8-14) or a literal with the :status name
// and a plain (not Huffman) value; it returns 0 otherwise. Servers put
// :status first, and the usual codes are static entries.
func hpackStatus(block []byte) int {
	// Dynamic table size updates may come first.
	for len(block) > 0 && block[0]&0xe0 == 0x20 {
		_, n := hpackReadInt(block, 5)
		if n == 0 {
			return 0
		}
		block = block[n:]
	}
	if len(block) == 0 {
		return 0
	}
	b := block[0]
	if b&0x80 != 0 {
		idx, n := hpackReadInt(block, 7)
		if n == 0 || idx < 8 || idx > 14 {
			return 0
		}
		return [...]int{200, 204, 206, 304, 400, 404, 500}[idx-8]
	}
	var idx uint64
	var n int
	switch {
	case b&0xc0 == 0x40:
		idx, n = hpackReadInt(block, 6)
	default: // without indexing (0000) or never indexed (0001)
		idx, n = hpackReadInt(block, 4)
	}
	if n == 0 || idx < 8 || idx > 14 || n >= len(block) || block[n]&0x80 != 0 {
		return 0
	}
	ln, m := hpackReadInt(block[n:], 7)
	if m == 0 || ln != 3 || n+m+3 > len(block) {
		return 0
	}
	s, err := strconv.Atoi(string(block[n+m : n+m+3]))
	if err != nil {
		return 0
	}
	return s
}

// hpackReadInt decodes an HPACK integer with an n-bit prefix and returns it
// with the bytes it took, or 0 bytes when it is truncated or too large.
func hpackReadInt(b []byte, n uint) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	max := uint64(1)<<n - 1
	v := uint64(b[0]) & max
	if v < max {
		return v, 1
	}
	var shift uint
	for i := 1; i < len(b) && i < 10; i++ {
		v += uint64(b[i]&0x7f) << shift
		shift += 7
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// --- bolt --------------------------------------------------------------------

// boltProto sends sofaload's echo request (bolt v1) and bolt heartbeats.
type boltProto struct{ req []byte }

func newBolt() *boltProto { return &boltProto{req: bolt.EchoRequest()} }

func (p *boltProto) start(ic *idleConn) error {
	ic.next = 1
	return nil
}

func (p *boltProto) request(ic *idleConn) error {
	id := ic.next
	ic.next++
	b := append([]byte(nil), p.req...)
	bolt.SetRequestID(b, id)
	if _, err := ic.c.Write(b); err != nil {
		return err
	}
	return readBoltAnswer(ic, ic.c, id, false)
}

func (p *boltProto) heartbeat(ic *idleConn) error {
	id := ic.next
	ic.next++
	if _, err := ic.c.Write(bolt.AppendHeartbeat(nil, bolt.ProtoV1, id)); err != nil {
		return err
	}
	return readBoltAnswer(ic, ic.c, id, true)
}

// readBoltAnswer reads frames until the response to request id arrives,
// acknowledging heartbeats the server sends meanwhile, and fails unless it
// has status SUCCESS (and is a heartbeat ack when heartbeat is set).
func readBoltAnswer(ic *idleConn, rw io.ReadWriter, id uint32, heartbeat bool) error {
	for {
		f, n, err := bolt.ParseLimit(ic.rd, maxAnswer)
		if errors.Is(err, bolt.ErrNeedMore) {
			if err := ic.fill(rw); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if f.IsRequest() {
			if f.IsHeartbeat() && !f.Oneway() {
				ack := bolt.AppendHeartbeatAck(nil, f.Proto, f.RequestID)
				ic.consume(n)
				if _, err := rw.Write(ack); err != nil {
					return err
				}
				continue
			}
			ic.consume(n)
			return fmt.Errorf("unexpected bolt request (cmdcode %d) from the server", f.CmdCode)
		}
		if f.RequestID != id {
			ic.consume(n)
			continue // an answer to an earlier, abandoned request
		}
		status, hb := f.Status, f.IsHeartbeat()
		ic.consume(n)
		if status != bolt.StatusSuccess {
			return fmt.Errorf("bolt status %d (%s)", status, bolt.StatusName(status))
		}
		if hb != heartbeat {
			return fmt.Errorf("bolt answer with cmdcode heartbeat=%v to a request with heartbeat=%v", hb, heartbeat)
		}
		return nil
	}
}

// setDeadline bounds one exchange on ic.
func (ic *idleConn) setDeadline(d time.Duration) {
	if d > 0 {
		ic.c.SetDeadline(time.Now().Add(d))
	}
}

func (ic *idleConn) clearDeadline() { ic.c.SetDeadline(time.Time{}) }
