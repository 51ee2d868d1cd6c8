package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawWait bounds every wait of the raw client for a frame, so that a
// proxy that never answers fails the test instead of hanging it.
const rawWait = 15 * time.Second

// rawFrame is one frame the raw client read, copied out of the Framer's
// buffers. HEADERS frames arrive decoded, CONTINUATIONs merged in.
type rawFrame struct {
	Type     http2.FrameType
	Stream   uint32
	Flags    http2.Flags
	Len      uint32 // payload length: what DATA costs in flow control
	Data     []byte // DATA payload
	Fields   []hpack.HeaderField
	Code     http2.ErrCode // RST_STREAM and GOAWAY
	LastID   uint32        // GOAWAY
	Ping     [8]byte
	Settings []http2.Setting
}

func (f rawFrame) endStream() bool {
	return (f.Type == http2.FrameData || f.Type == http2.FrameHeaders) && f.Flags.Has(http2.FlagDataEndStream)
}

// header returns the first value of a decoded field ("" if absent).
func (f rawFrame) header(name string) string {
	for _, hf := range f.Fields {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

func (f rawFrame) String() string {
	switch f.Type {
	case http2.FrameData:
		return fmt.Sprintf("DATA[%d] len=%d flags=%v", f.Stream, f.Len, f.Flags)
	case http2.FrameHeaders:
		var b strings.Builder
		for _, hf := range f.Fields {
			v := hf.Value
			if len(v) > 40 {
				v = v[:40] + "..."
			}
			fmt.Fprintf(&b, " %s=%q", hf.Name, v)
		}
		return fmt.Sprintf("HEADERS[%d] flags=%v%s", f.Stream, f.Flags, b.String())
	case http2.FrameRSTStream:
		return fmt.Sprintf("RST_STREAM[%d] %v", f.Stream, f.Code)
	case http2.FrameGoAway:
		return fmt.Sprintf("GOAWAY last=%d %v", f.LastID, f.Code)
	case http2.FramePing:
		return fmt.Sprintf("PING ack=%v %q", f.Flags.Has(http2.FlagPingAck), f.Ping[:])
	case http2.FrameSettings:
		return fmt.Sprintf("SETTINGS ack=%v %v", f.Flags.Has(http2.FlagSettingsAck), f.Settings)
	}
	return fmt.Sprintf("%v[%d] flags=%v len=%d", f.Type, f.Stream, f.Flags, f.Len)
}

// rawH2 is a wire-level HTTP/2 client built on x/net's Framer and hpack:
// it sends exactly the frames a test asks for (malformed ones included)
// and queues every frame it reads, except WINDOW_UPDATEs, which it only
// accounts. It checks every DATA frame the server sends against the flow
// control credit it granted.
type rawH2 struct {
	t   testing.TB
	c   net.Conn
	wmu sync.Mutex // writes: w, enc, hbuf
	w   *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer

	mu       sync.Mutex
	cond     sync.Cond
	queue    []rawFrame
	err      error // why the reader stopped
	next     uint32
	peer     map[http2.SettingID]uint32
	peerInit int64            // the server's SETTINGS_INITIAL_WINDOW_SIZE
	sendConn int64            // what we may still send on the connection
	sendWin  map[uint32]int64 // ... and on each stream
	reset    map[uint32]http2.ErrCode
	ourInit  int64            // our SETTINGS_INITIAL_WINDOW_SIZE
	recvConn int64            // credit the server still has on the connection
	recvWin  map[uint32]int64 // ... and on each stream
	bad      []string         // flow-control violations by the server
	connIncr int64            // sum of the server's connection WINDOW_UPDATEs
	// autoGrant returns the credit of every DATA frame at once.
	autoGrant bool
}

// dialRaw connects, sends the preface and our SETTINGS (the Framer's
// defaults otherwise) and starts reading. With no INITIAL_WINDOW_SIZE
// among settings the client grants credit back as DATA arrives.
func dialRaw(t testing.TB, addr string, settings ...http2.Setting) *rawH2 {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawH2{
		t: t, c: c, next: 1,
		peer:     map[http2.SettingID]uint32{},
		peerInit: 65535, sendConn: 65535, sendWin: map[uint32]int64{},
		reset:   map[uint32]http2.ErrCode{},
		ourInit: 65535, recvConn: 65535, recvWin: map[uint32]int64{},
		autoGrant: true,
	}
	r.cond.L = &r.mu
	r.w = http2.NewFramer(c, nil)
	r.enc = hpack.NewEncoder(&r.hb)
	for _, s := range settings {
		if s.ID == http2.SettingInitialWindowSize {
			r.ourInit = int64(s.Val)
			r.autoGrant = false
		}
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	r.write(func(w *http2.Framer) error { return w.WriteSettings(settings...) })
	rd := http2.NewFramer(nil, c)
	rd.SetMaxReadFrameSize(16384)
	rd.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rd.MaxHeaderListSize = 1 << 20
	go r.read(rd)
	return r
}

// write runs one Framer write; a failure is fatal.
func (r *rawH2) write(f func(w *http2.Framer) error) {
	r.t.Helper()
	if err := r.tryWrite(f); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawH2) tryWrite(f func(w *http2.Framer) error) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.c.SetWriteDeadline(time.Now().Add(rawWait))
	return f(r.w)
}

// read runs the reader: it accounts flow control, acknowledges SETTINGS
// and queues frames.
func (r *rawH2) read(rd *http2.Framer) {
	for {
		f, err := rd.ReadFrame()
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.cond.Broadcast()
			r.mu.Unlock()
			return
		}
		fh := f.Header()
		rf := rawFrame{Type: fh.Type, Stream: fh.StreamID, Flags: fh.Flags, Len: fh.Length}
		var grant uint32
		r.mu.Lock()
		switch f := f.(type) {
		case *http2.DataFrame:
			rf.Data = append([]byte(nil), f.Data()...)
			l := int64(fh.Length)
			if l > r.recvConn {
				r.bad = append(r.bad, fmt.Sprintf("DATA[%d] of %d bytes with %d bytes of connection credit", fh.StreamID, l, r.recvConn))
			}
			if w, ok := r.recvWin[fh.StreamID]; !ok || l > w {
				r.bad = append(r.bad, fmt.Sprintf("DATA[%d] of %d bytes with %d bytes of stream credit", fh.StreamID, l, w))
			}
			r.recvConn -= l
			r.recvWin[fh.StreamID] -= l
			if r.autoGrant && l > 0 {
				grant = uint32(l)
				r.recvConn += l
				r.recvWin[fh.StreamID] += l
			}
		case *http2.MetaHeadersFrame:
			rf.Type = http2.FrameHeaders
			rf.Fields = f.Fields
		case *http2.RSTStreamFrame:
			rf.Code = f.ErrCode
			r.reset[fh.StreamID] = f.ErrCode
		case *http2.GoAwayFrame:
			rf.Code, rf.LastID = f.ErrCode, f.LastStreamID
		case *http2.PingFrame:
			rf.Ping = f.Data
		case *http2.SettingsFrame:
			f.ForeachSetting(func(s http2.Setting) error {
				rf.Settings = append(rf.Settings, s)
				r.peer[s.ID] = s.Val
				if s.ID == http2.SettingInitialWindowSize {
					for id := range r.sendWin {
						r.sendWin[id] += int64(s.Val) - r.peerInit
					}
					r.peerInit = int64(s.Val)
				}
				return nil
			})
		case *http2.WindowUpdateFrame:
			if fh.StreamID == 0 {
				r.sendConn += int64(f.Increment)
				r.connIncr += int64(f.Increment)
			} else {
				r.sendWin[fh.StreamID] += int64(f.Increment)
			}
		}
		if fh.Type != http2.FrameWindowUpdate {
			r.queue = append(r.queue, rf)
		}
		r.cond.Broadcast()
		r.mu.Unlock()
		if grant > 0 {
			r.tryWrite(func(w *http2.Framer) error {
				if err := w.WriteWindowUpdate(0, grant); err != nil {
					return err
				}
				return w.WriteWindowUpdate(fh.StreamID, grant)
			})
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			r.tryWrite(func(w *http2.Framer) error { return w.WriteSettingsAck() })
		}
	}
}

// waitUntil waits (rawWait at most) until cond, called with mu held, is
// true; it fails the test if the reader stopped or time ran out first.
func (r *rawH2) waitUntil(what string, cond func() bool) {
	r.t.Helper()
	expired := false
	timer := time.AfterFunc(rawWait, func() {
		r.mu.Lock()
		expired = true
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() {
		if r.err != nil || expired {
			err := r.err
			if err == nil {
				err = errors.New("timed out")
			}
			r.t.Fatalf("waiting for %s: %v; queued: %v", what, err, r.queue)
		}
		r.cond.Wait()
	}
}

// take removes and returns the first queued frame that match accepts,
// waiting for it.
func (r *rawH2) take(what string, match func(rawFrame) bool) rawFrame {
	r.t.Helper()
	var got rawFrame
	r.waitUntil(what, func() bool {
		for i, f := range r.queue {
			if match(f) {
				got = f
				r.queue = append(r.queue[:i], r.queue[i+1:]...)
				return true
			}
		}
		return false
	})
	return got
}

// poll is take without failing: it reports false if no matching frame
// came within d or the connection ended first.
func (r *rawH2) poll(d time.Duration, match func(rawFrame) bool) (rawFrame, bool) {
	expired := false
	timer := time.AfterFunc(d, func() {
		r.mu.Lock()
		expired = true
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for i, f := range r.queue {
			if match(f) {
				r.queue = append(r.queue[:i], r.queue[i+1:]...)
				return f, true
			}
		}
		if r.err != nil || expired {
			return rawFrame{}, false
		}
		r.cond.Wait()
	}
}

// onStream returns the next frame of stream id.
func (r *rawH2) onStream(id uint32) rawFrame {
	r.t.Helper()
	return r.take(fmt.Sprintf("a frame on stream %d", id), func(f rawFrame) bool { return f.Stream == id })
}

// stream returns the frames of stream id up to the one that ends it
// (END_STREAM or RST_STREAM).
func (r *rawH2) stream(id uint32) []rawFrame {
	r.t.Helper()
	var fs []rawFrame
	for {
		f := r.onStream(id)
		fs = append(fs, f)
		if f.endStream() || f.Type == http2.FrameRSTStream {
			return fs
		}
	}
}

// queued returns the frames not taken yet.
func (r *rawH2) queued() []rawFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rawFrame(nil), r.queue...)
}

// settings waits for the server's first SETTINGS frame and returns it.
func (r *rawH2) settings() rawFrame {
	r.t.Helper()
	return r.take("the server's SETTINGS", func(f rawFrame) bool {
		return f.Type == http2.FrameSettings && !f.Flags.Has(http2.FlagSettingsAck)
	})
}

// rawResponse is a stream's answer assembled from its frames.
type rawResponse struct {
	status   string
	header   []hpack.HeaderField
	body     []byte
	trailer  []hpack.HeaderField
	reset    http2.ErrCode
	wasReset bool
	frames   []rawFrame
}

// response reads stream id to its end.
func (r *rawH2) response(id uint32) rawResponse {
	r.t.Helper()
	var resp rawResponse
	resp.frames = r.stream(id)
	for _, f := range resp.frames {
		switch f.Type {
		case http2.FrameHeaders:
			if s := f.header(":status"); s != "" && s[0] != '1' {
				resp.status, resp.header = s, f.Fields
			} else if s == "" {
				resp.trailer = f.Fields
			}
		case http2.FrameData:
			resp.body = append(resp.body, f.Data...)
		case http2.FrameRSTStream:
			resp.reset, resp.wasReset = f.Code, true
		}
	}
	return resp
}

// request returns the fields of a request to path (pseudo-headers first).
func request(method, path string, extra ...string) []hpack.HeaderField {
	fs := []hpack.HeaderField{
		{Name: ":method", Value: method},
		{Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "h2.test"},
		{Name: ":path", Value: path},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		fs = append(fs, hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	return fs
}

// open sends a header block on a new stream and returns its id and the
// encoded block (split into HEADERS and CONTINUATIONs of 16 KiB).
func (r *rawH2) open(end bool, fields []hpack.HeaderField) (uint32, []byte) {
	r.t.Helper()
	r.mu.Lock()
	id := r.next
	r.next += 2
	r.sendWin[id] = r.peerInit
	r.recvWin[id] = r.ourInit
	r.mu.Unlock()
	return id, r.headers(id, end, fields)
}

// headers sends a header block (a request head or trailers) on id.
func (r *rawH2) headers(id uint32, end bool, fields []hpack.HeaderField) []byte {
	r.t.Helper()
	var block []byte
	r.write(func(w *http2.Framer) error {
		r.hb.Reset()
		for _, f := range fields {
			if err := r.enc.WriteField(f); err != nil {
				return err
			}
		}
		block = append([]byte(nil), r.hb.Bytes()...)
		const max = 16384
		first := block[:min(len(block), max)]
		rest := block[len(first):]
		err := w.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: end, EndHeaders: len(rest) == 0})
		for err == nil && len(rest) > 0 {
			frag := rest[:min(len(rest), max)]
			rest = rest[len(frag):]
			err = w.WriteContinuation(id, len(rest) == 0, frag)
		}
		return err
	})
	return block
}

// data sends one DATA frame, ignoring flow control.
func (r *rawH2) data(id uint32, end bool, p []byte) {
	r.t.Helper()
	r.mu.Lock()
	r.sendConn -= int64(len(p))
	r.sendWin[id] -= int64(len(p))
	r.mu.Unlock()
	r.write(func(w *http2.Framer) error { return w.WriteData(id, end, p) })
}

// sendBody sends src on stream id as DATA frames of up to 16 KiB within
// the server's flow-control windows, END_STREAM on the last one. It
// returns the longest time it waited for credit.
func (r *rawH2) sendBody(id uint32, src io.Reader) time.Duration {
	r.t.Helper()
	var longest time.Duration
	buf := make([]byte, 16384)
	for {
		n, err := io.ReadFull(src, buf)
		if err == io.EOF {
			r.write(func(w *http2.Framer) error { return w.WriteData(id, true, nil) })
			return longest
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			r.t.Fatal(err)
		}
		for p := buf[:n]; len(p) > 0; {
			var k int64
			start := time.Now()
			r.waitUntil(fmt.Sprintf("credit to send on stream %d", id), func() bool {
				if code, ok := r.reset[id]; ok {
					r.t.Fatalf("stream %d reset (%v) while sending its body", id, code)
				}
				k = min(int64(len(p)), r.sendConn, r.sendWin[id])
				if k > 0 {
					r.sendConn -= k
					r.sendWin[id] -= k
				}
				return k > 0
			})
			longest = max(longest, time.Since(start))
			chunk := p[:k]
			r.write(func(w *http2.Framer) error { return w.WriteData(id, false, chunk) })
			p = p[k:]
		}
	}
}

// grant sends WINDOW_UPDATE for stream id (0: the connection), crediting
// our accounting first so that the server can never appear early.
func (r *rawH2) grant(id uint32, n uint32) {
	r.t.Helper()
	if n == 0 {
		return
	}
	r.mu.Lock()
	if id == 0 {
		r.recvConn += int64(n)
	} else {
		r.recvWin[id] += int64(n)
	}
	r.mu.Unlock()
	r.write(func(w *http2.Framer) error { return w.WriteWindowUpdate(id, n) })
}

// violations returns the flow-control violations seen so far.
func (r *rawH2) violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// credit returns the credit the server has on the connection and on id.
func (r *rawH2) credit(id uint32) (conn, stream int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recvConn, r.recvWin[id]
}

// ping sends a PING and waits for its acknowledgement.
func (r *rawH2) ping(data [8]byte) {
	r.t.Helper()
	r.write(func(w *http2.Framer) error { return w.WritePing(false, data) })
	r.take(fmt.Sprintf("PING ack %q", data[:]), func(f rawFrame) bool {
		return f.Type == http2.FramePing && f.Flags.Has(http2.FlagPingAck) && f.Ping == data
	})
}

// closed waits for the server to close the connection: the reader ends
// with EOF (or a reset).
func (r *rawH2) closed() error {
	r.t.Helper()
	var err error
	r.waitUntilErr(func(e error) { err = e })
	return err
}

func (r *rawH2) waitUntilErr(got func(error)) {
	r.t.Helper()
	expired := false
	timer := time.AfterFunc(rawWait, func() {
		r.mu.Lock()
		expired = true
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.err == nil {
		if expired {
			r.t.Fatalf("the server did not close the connection within %s; queued: %v", rawWait, r.queue)
		}
		r.cond.Wait()
	}
	got(r.err)
}
