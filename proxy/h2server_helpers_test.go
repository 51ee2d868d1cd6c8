package proxy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/metrics"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
	"mosn.dev/proxy/upstream/circuit"
	_ "mosn.dev/proxy/upstream/lb" // registers the load balancers
)

// Bounds of one exchange with the server under test. They are liveness
// limits, far above what a healthy server needs on a loaded machine; the
// tests never wait for them to pass unless the server misbehaves or the
// client's input leaves a stream waiting.
const (
	// h2tReplyWait bounds how long a client waits for the replies to what
	// it sent before it half-closes (2 s, as the brief asks).
	h2tReplyWait = 2 * time.Second
	// h2tCloseWait bounds how long the server may take to close after
	// the client half-closed or after it sent GOAWAY.
	h2tCloseWait = 5 * time.Second
	// h2tIdleTimeout is the downstream connections' idle timeout.
	h2tIdleTimeout = 3 * time.Second
	// h2tMaxEcho bounds the request body bytes the upstream echoes.
	h2tMaxEcho = 16 << 10
	// h2tMaxReply bounds what a client keeps of the server's output.
	h2tMaxReply = 8 << 20
)

// h2tUpstreamBody is what the upstream answers a request without a body.
const h2tUpstreamBody = "hello from upstream\n"

// h2tSyncPing is the data of the PING a client appends to its input: its
// ack shows the server handled every frame before it.
var h2tSyncPing = [8]byte{'f', 'u', 'z', 'z', 's', 'y', 'n', 'c'}

// h2tServer is a Proxy serving HTTP/2 downstream connections on a real
// TCP listener, forwarding to a real HTTP/1.1 upstream. One is built per
// test process (h2TestServer) and shared by the seed test and the fuzz
// target; its connections are independent of each other, which is what
// the tests check.
type h2tServer struct {
	addr string
	p    *Proxy
	logs *panicLog
	// replyWait and closeWait are h2tReplyWait and h2tCloseWait (the
	// test of the harness itself shortens them).
	replyWait, closeWait time.Duration

	mu     sync.Mutex
	served map[string]chan struct{} // client address -> closed when ServeConn returned

	holds sync.Map // token -> *h2tHold
}

var (
	h2tOnce sync.Once
	h2tSrv  *h2tServer
	h2tErr  error
)

// h2TestServer returns the process's server under test, starting it on
// first use.
func h2TestServer(tb testing.TB) *h2tServer {
	tb.Helper()
	h2tOnce.Do(func() { h2tSrv, h2tErr = startH2tServer() })
	if h2tErr != nil {
		tb.Fatal(h2tErr)
	}
	return h2tSrv
}

// h2tUpstream answers with the request body (at most h2tMaxEcho bytes),
// or h2tUpstreamBody when there is none; request trailers come back as
// X-Echo-Trailer-* response headers. A request for /stream/<token> of a
// token registered with hold gets h2tStreamBody bytes instead, and the
// token's arrived is closed once the first h2tStreamChunk went out.
func (s *h2tServer) h2tUpstream(w http.ResponseWriter, r *http.Request) {
	if token, ok := strings.CutPrefix(r.URL.Path, "/stream/"); ok {
		if h, ok := s.holds.LoadAndDelete(token); ok {
			chunk := make([]byte, h2tStreamChunk)
			for n := 0; n < h2tStreamBody; n += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					break
				}
				w.(http.Flusher).Flush()
				if n == 0 {
					close(h.(*h2tHold).arrived)
				}
			}
			return
		}
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, h2tMaxEcho))
	for k, vs := range r.Trailer {
		for _, v := range vs {
			w.Header().Add("X-Echo-Trailer-"+k, v)
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	if len(body) == 0 {
		io.WriteString(w, h2tUpstreamBody)
		return
	}
	w.Write(body)
}

// h2tHold tells a test when the upstream's answer to one request has
// started.
type h2tHold struct {
	arrived chan struct{} // closed once the first chunk of the answer went out
}

// The size of the upstream's answers to /stream/ requests, and of their
// pieces.
const (
	h2tStreamBody  = 2 << 20
	h2tStreamChunk = 32 << 10
)

// hold registers token (one request) for /stream/<token>.
func (s *h2tServer) hold(token string) *h2tHold {
	h := &h2tHold{arrived: make(chan struct{})}
	s.holds.Store(token, h)
	return h
}

func startH2tServer() (*h2tServer, error) {
	s := &h2tServer{logs: &panicLog{}, served: map[string]chan struct{}{}, replyWait: h2tReplyWait, closeWait: h2tCloseWait}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	up := &http.Server{Handler: http.HandlerFunc(s.h2tUpstream), ReadHeaderTimeout: 10 * time.Second}
	go up.Serve(upLn)

	doc := fmt.Sprintf(`{
	  "servers": [{"routers": [{"router_config_name": "fuzz", "virtual_hosts": [
	    {"name": "all", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "up"}}]}
	  ]}]}],
	  "cluster_manager": {"clusters": [{"name": "up", "hosts": [{"address": %q}]}]}
	}`, upLn.Addr().String())
	cfg, _, err := config.Parse([]byte(doc), "h2fuzz.json")
	if err != nil {
		return nil, err
	}
	clusters := upstream.NewManager()
	for i := range cfg.ClusterManager.Clusters {
		if err := clusters.AddOrUpdate(&cfg.ClusterManager.Clusters[i]); err != nil {
			return nil, err
		}
	}
	bc := &network.BuildContext{
		Config:   cfg,
		Path:     "servers[0].listeners[0].filter_chains[0].filters[0].config",
		Clusters: clusters,
		Log:      log.New(s.logs),
		Metrics:  metrics.NewRegistry(nil),
		Breakers: &circuit.Set{},
	}
	built, err := New(bc, json.RawMessage(`{"downstream_protocol": "Http2", "upstream_protocol": "Http1", "router_config_name": "fuzz"}`))
	if err != nil {
		return nil, err
	}
	p := built.(*Proxy)
	s.p = p

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	go s.accept(ln, p)
	return s, nil
}

// accept serves each connection on its own goroutine, as the listener
// does, but without recovering panics: one in the server fails the run.
func (s *h2tServer) accept(ln net.Listener, p *Proxy) {
	for {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		c := &network.Conn{
			Conn:        raw,
			ID:          network.NextConnID(),
			Listener:    "h2fuzz",
			Start:       time.Now(),
			IdleTimeout: h2tIdleTimeout,
		}
		done := make(chan struct{})
		s.mu.Lock()
		s.served[raw.RemoteAddr().String()] = done
		s.mu.Unlock()
		go func() {
			defer close(done)
			p.ServeConn(c)
			if !c.Detached() {
				c.Close()
			}
		}()
	}
}

// servedBy returns the channel closed when the server is done with the
// connection from client address addr (nil if it never accepted it),
// and forgets it.
func (s *h2tServer) servedBy(addr string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.served[addr]
	delete(s.served, addr)
	return ch
}

// panicLog is the server's error log: it keeps the lines that report a
// recovered panic, which the server survives but the tests must not.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (l *panicLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("panic")) {
		l.mu.Lock()
		l.panics = append(l.panics, string(p))
		l.mu.Unlock()
	}
	return len(p), nil
}

func (l *panicLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.panics)
}

func (l *panicLog) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.panics[n:]...)
}

// h2tInput is what a client sends, and what the reply checks need to
// know about it (found by walking its frame headers, not by trusting it).
type h2tInput struct {
	sent     []byte // everything written, preface included
	prefaced bool   // sent starts with the connection preface
	aligned  bool   // the frames after the preface end on a frame boundary
	synced   bool   // h2tSyncPing was appended
	opened   map[uint32]bool
	ended    map[uint32]bool // streams the client sent END_STREAM on
	pings    map[[8]byte]bool
	settings int    // non-ack SETTINGS frames sent
	maxFrame uint32 // the largest SETTINGS_MAX_FRAME_SIZE the server may use

	// pause, when not 0, makes the client call beforeRest after it
	// wrote sent[:pause] and before it writes the rest.
	pause      int
	beforeRest func()
}

// newH2tInput describes the client's bytes: frames after the preface,
// or, with raw, everything including whatever preface they carry. An
// input ending on a frame boundary gets the sync PING appended.
func newH2tInput(frames []byte, raw bool) *h2tInput {
	in := &h2tInput{
		opened:   map[uint32]bool{},
		ended:    map[uint32]bool{},
		pings:    map[[8]byte]bool{},
		maxFrame: 16384,
	}
	if raw {
		in.sent = append([]byte(nil), frames...)
	} else {
		in.sent = append(append([]byte(nil), http2Preface...), frames...)
	}
	in.prefaced = bytes.HasPrefix(in.sent, http2Preface)
	if !in.prefaced {
		return in
	}
	b := in.sent[len(http2Preface):]
	for len(b) >= 9 {
		l := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if len(b) < 9+l {
			break
		}
		typ, flags := http2.FrameType(b[3]), http2.Flags(b[4])
		id := binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1)
		p := b[9 : 9+l]
		switch typ {
		case http2.FrameHeaders:
			in.opened[id] = true
			if flags.Has(http2.FlagHeadersEndStream) {
				in.ended[id] = true
			}
		case http2.FrameData:
			if flags.Has(http2.FlagDataEndStream) {
				in.ended[id] = true
			}
		case http2.FramePing:
			if !flags.Has(http2.FlagPingAck) && l == 8 {
				in.pings[[8]byte(p)] = true
			}
		case http2.FrameSettings:
			if !flags.Has(http2.FlagSettingsAck) {
				in.settings++
				for s := p; len(s) >= 6; s = s[6:] {
					v := binary.BigEndian.Uint32(s[2:6])
					if http2.SettingID(binary.BigEndian.Uint16(s)) == http2.SettingMaxFrameSize && v > in.maxFrame && v < 1<<24 {
						in.maxFrame = v
					}
				}
			}
		}
		b = b[9+l:]
	}
	in.aligned = len(b) == 0
	if in.aligned {
		in.sent = append(in.sent, pingFrame(h2tSyncPing)...)
		in.pings[h2tSyncPing] = true
		in.synced = true
	}
	return in
}

func pingFrame(data [8]byte) []byte {
	var b bytes.Buffer
	http2.NewFramer(&b, nil).WritePing(false, data)
	return b.Bytes()
}

// h2tProgress follows the server's output frame by frame (headers only)
// while the client waits for it.
type h2tProgress struct {
	off      int
	synced   bool
	ended    map[uint32]bool // END_STREAM or RST_STREAM seen
	goAwayAt time.Time
}

func (g *h2tProgress) scan(raw []byte) {
	for {
		b := raw[g.off:]
		if len(b) < 9 {
			return
		}
		l := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if len(b) < 9+l {
			return
		}
		typ, flags := http2.FrameType(b[3]), http2.Flags(b[4])
		id := binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1)
		switch typ {
		case http2.FramePing:
			if flags.Has(http2.FlagPingAck) && l == 8 && [8]byte(b[9:17]) == h2tSyncPing {
				g.synced = true
			}
		case http2.FrameHeaders, http2.FrameData:
			if flags.Has(http2.FlagDataEndStream) {
				g.ended[id] = true
			}
		case http2.FrameRSTStream:
			g.ended[id] = true
		case http2.FrameGoAway:
			if g.goAwayAt.IsZero() {
				g.goAwayAt = time.Now()
			}
		}
		g.off += 9 + l
	}
}

// done reports whether the client has seen what it waits for: the ack
// of its sync PING and the end of every stream it finished sending. A
// GOAWAY means waiting for the close instead.
func (g *h2tProgress) done(in *h2tInput) bool {
	if !in.synced {
		// Nothing to wait for: the server is waiting for the rest of a
		// frame (or of the preface) and learns it will not come from
		// the half-close.
		return true
	}
	if !g.goAwayAt.IsZero() || !g.synced {
		return false
	}
	for id := range in.ended {
		if in.opened[id] && !g.ended[id] {
			return false
		}
	}
	return true
}

// h2tReply is what came back on one connection.
type h2tReply struct {
	raw      []byte
	selfEnd  bool // the server closed (or half-closed) before the client did
	reset    bool // the connection was reset (output may be cut short)
	timedOut bool // the client gave up waiting and half-closed
	frames   []h2tFrame
}

// h2tFrame is a parsed frame, copied out of the Framer's buffers.
type h2tFrame struct {
	typ      http2.FrameType
	flags    http2.Flags
	stream   uint32
	fields   []hpack.HeaderField // HEADERS (with CONTINUATIONs merged)
	data     []byte              // DATA payload, PING data, GOAWAY debug data
	code     http2.ErrCode       // RST_STREAM, GOAWAY
	last     uint32              // GOAWAY last stream id
	settings []http2.Setting
}

func (f h2tFrame) String() string {
	s := fmt.Sprintf("%v stream=%d flags=%#x", f.typ, f.stream, uint8(f.flags))
	switch f.typ {
	case http2.FrameHeaders:
		s += fmt.Sprintf(" %v", f.fields)
	case http2.FrameData, http2.FramePing:
		s += fmt.Sprintf(" %q", f.data)
	case http2.FrameRSTStream:
		s += " " + f.code.String()
	case http2.FrameGoAway:
		s += fmt.Sprintf(" last=%d %v %q", f.last, f.code, f.data)
	}
	return s
}

// h2tExchange sends in on a new connection and collects the server's
// output: until the client saw the replies it waits for (or
// h2tReplyWait passed), then, after a half-close, until the server
// closes. It fails tb if the server does not close within h2tCloseWait
// of the half-close or of its GOAWAY, or keeps serving the connection
// after closing it. waitClose makes the client wait for the server to
// close on its own instead of for replies.
func (s *h2tServer) h2tExchange(tb testing.TB, in *h2tInput, waitClose bool) *h2tReply {
	tb.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	conn := c.(*net.TCPConn)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// The server may close first; that is its right.
		if in.pause > 0 {
			if _, err := conn.Write(in.sent[:in.pause]); err != nil {
				return
			}
			in.beforeRest()
			conn.Write(in.sent[in.pause:])
			return
		}
		conn.Write(in.sent)
	}()

	r := &h2tReply{}
	prog := &h2tProgress{ended: map[uint32]bool{}}
	buf := make([]byte, 32<<10)
	read := func(deadline func() time.Time, stop func() bool) (timedOut bool) {
		for !stop() {
			conn.SetReadDeadline(deadline())
			n, err := conn.Read(buf)
			if len(r.raw)+n > h2tMaxReply {
				tb.Fatalf("the server sent more than %d bytes", h2tMaxReply)
			}
			r.raw = append(r.raw, buf[:n]...)
			prog.scan(r.raw)
			switch {
			case err == nil:
			case errors.Is(err, os.ErrDeadlineExceeded):
				return true
			case errors.Is(err, io.EOF):
				r.selfEnd = true
				return false
			default:
				r.reset = true
				return false
			}
		}
		return false
	}
	start := time.Now()
	phase1 := func() time.Time {
		if !prog.goAwayAt.IsZero() {
			return prog.goAwayAt.Add(s.closeWait)
		}
		return start.Add(s.replyWait)
	}
	stop := func() bool { return !waitClose && prog.done(in) }
	r.timedOut = read(phase1, stop)
	if r.timedOut && !prog.goAwayAt.IsZero() {
		tb.Errorf("the server sent GOAWAY but did not close within %v", s.closeWait)
	}
	if !r.selfEnd && !r.reset {
		// Let the write finish (or fail) before the half-close, then
		// the server must see the end of its input and close.
		conn.SetWriteDeadline(time.Now().Add(s.closeWait))
		<-wrote
		conn.CloseWrite()
		end := time.Now().Add(s.closeWait)
		if read(func() time.Time { return end }, func() bool { return false }) {
			tb.Errorf("hang: the server did not close within %v of the client's half-close", s.closeWait)
		}
	}
	conn.SetWriteDeadline(time.Now())
	<-wrote
	c.Close()
	if ch := s.servedBy(conn.LocalAddr().String()); ch != nil {
		select {
		case <-ch:
		case <-time.After(s.closeWait):
			tb.Errorf("hang: ServeConn did not return within %v of the connection's end", s.closeWait)
		}
	}
	return r
}

// parseAndCheck parses the server's output and checks that it is
// well-formed HTTP/2 and consistent with what the client sent.
func (r *h2tReply) parseAndCheck(in *h2tInput) error {
	if !in.prefaced {
		if len(r.raw) > 0 {
			return fmt.Errorf("the server answered a bad preface with % x", r.raw[:min(len(r.raw), 64)])
		}
		return nil
	}
	fr := http2.NewFramer(nil, bytes.NewReader(r.raw))
	fr.SetMaxReadFrameSize(in.maxFrame)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	const (
		idle = iota
		informational
		open // final head sent
		ended
		reset
	)
	state := map[uint32]int{}
	acks := 0
	var goAway *h2tFrame
	for i := 0; ; i++ {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) && r.reset {
			return nil // cut short by the reset
		}
		if err != nil {
			return fmt.Errorf("frame %d: %v", i, err)
		}
		pf := copyFrame(f)
		r.frames = append(r.frames, pf)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("frame %d (%v): %s", i, pf, fmt.Sprintf(format, args...))
		}
		if i == 0 && (pf.typ != http2.FrameSettings || pf.flags.Has(http2.FlagSettingsAck)) {
			return bad("the server's preface must be a SETTINGS frame")
		}
		if goAway != nil {
			// Only the responses of streams the GOAWAY let through (and
			// the window they returned) may follow it.
			switch {
			case pf.typ == http2.FrameGoAway:
				if pf.last > goAway.last {
					return bad("GOAWAY raised the last stream id from %d", goAway.last)
				}
			case pf.typ == http2.FrameWindowUpdate:
			case pf.stream == 0 || pf.stream > goAway.last:
				return bad("after GOAWAY (%v)", *goAway)
			}
		}
		switch pf.typ {
		case http2.FrameSettings:
			if pf.flags.Has(http2.FlagSettingsAck) {
				if acks++; acks > in.settings {
					return bad("%d SETTINGS acks for %d SETTINGS", acks, in.settings)
				}
			} else if i != 0 {
				return bad("a second server SETTINGS")
			}
			for _, st := range pf.settings {
				if err := st.Valid(); err != nil {
					return bad("%v", err)
				}
			}
		case http2.FramePing:
			if pf.flags.Has(http2.FlagPingAck) && !in.pings[[8]byte(pf.data)] {
				return bad("ack of a PING the client never sent")
			}
		case http2.FrameGoAway:
			g := pf
			goAway = &g
		case http2.FrameRSTStream:
			state[pf.stream] = reset
		case http2.FrameHeaders:
			if !in.opened[pf.stream] {
				return bad("a response on a stream the client never opened")
			}
			status := ""
			for _, hf := range pf.fields {
				if hf.IsPseudo() {
					if hf.Name != ":status" {
						return bad("pseudo-header %s in a response", hf.Name)
					}
					status = hf.Value
				}
			}
			switch state[pf.stream] {
			case idle, informational:
				if len(status) != 3 || status[0] < '1' || status[0] > '9' || strings.Trim(status, "0123456789") != "" || status == "101" {
					return bad("invalid :status %q", status)
				}
				if status[0] == '1' {
					if pf.flags.Has(http2.FlagHeadersEndStream) {
						return bad("1xx head ends the stream")
					}
					state[pf.stream] = informational
				} else {
					state[pf.stream] = open
				}
			case open:
				if status != "" || !pf.flags.Has(http2.FlagHeadersEndStream) {
					return bad("trailers must end the stream and carry no :status")
				}
			default:
				return bad("HEADERS on a stream the server ended or reset")
			}
			if pf.flags.Has(http2.FlagHeadersEndStream) {
				state[pf.stream] = ended
			}
		case http2.FrameData:
			if !in.opened[pf.stream] {
				return bad("DATA on a stream the client never opened")
			}
			if state[pf.stream] != open {
				return bad("DATA before the head or after the end of the stream (state %d)", state[pf.stream])
			}
			if pf.flags.Has(http2.FlagDataEndStream) {
				state[pf.stream] = ended
			}
		case http2.FrameWindowUpdate, http2.FramePriority:
		default:
			return bad("unexpected frame type from a server")
		}
	}
}

func copyFrame(f http2.Frame) h2tFrame {
	fh := f.Header()
	pf := h2tFrame{typ: fh.Type, flags: fh.Flags, stream: fh.StreamID}
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		pf.fields = append(pf.fields, f.Fields...)
	case *http2.DataFrame:
		pf.data = append([]byte(nil), f.Data()...)
	case *http2.PingFrame:
		pf.data = append([]byte(nil), f.Data[:]...)
	case *http2.GoAwayFrame:
		pf.data = append([]byte(nil), f.DebugData()...)
		pf.code, pf.last = f.ErrCode, f.LastStreamID
	case *http2.RSTStreamFrame:
		pf.code = f.ErrCode
	case *http2.SettingsFrame:
		f.ForeachSetting(func(s http2.Setting) error {
			pf.settings = append(pf.settings, s)
			return nil
		})
	}
	return pf
}

// status returns the final :status of stream id's response, or "".
func (r *h2tReply) status(id uint32) string {
	st := ""
	for _, f := range r.frames {
		if f.typ == http2.FrameHeaders && f.stream == id {
			for _, hf := range f.fields {
				if hf.Name == ":status" && !strings.HasPrefix(hf.Value, "1") {
					st = hf.Value
				}
			}
		}
	}
	return st
}

// header returns the first value of a response field of stream id.
func (r *h2tReply) header(id uint32, name string) string {
	for _, f := range r.frames {
		if f.typ == http2.FrameHeaders && f.stream == id {
			for _, hf := range f.fields {
				if hf.Name == name {
					return hf.Value
				}
			}
		}
	}
	return ""
}

// body returns the DATA stream id carried.
func (r *h2tReply) body(id uint32) string {
	var b []byte
	for _, f := range r.frames {
		if f.typ == http2.FrameData && f.stream == id {
			b = append(b, f.data...)
		}
	}
	return string(b)
}

// ended reports whether the server ended stream id with END_STREAM.
func (r *h2tReply) ended(id uint32) bool {
	for _, f := range r.frames {
		if (f.typ == http2.FrameData || f.typ == http2.FrameHeaders) && f.stream == id && f.flags.Has(http2.FlagDataEndStream) {
			return true
		}
	}
	return false
}

// onStream returns the frames on stream id.
func (r *h2tReply) onStream(id uint32) []h2tFrame {
	var out []h2tFrame
	for _, f := range r.frames {
		if f.stream == id {
			out = append(out, f)
		}
	}
	return out
}

// find returns the first frame of type typ (nil if none).
func (r *h2tReply) find(typ http2.FrameType) *h2tFrame {
	for i := range r.frames {
		if r.frames[i].typ == typ {
			return &r.frames[i]
		}
	}
	return nil
}

// dump lists the frames for a failure message.
func (r *h2tReply) dump() string {
	var b strings.Builder
	for _, f := range r.frames {
		fmt.Fprintf(&b, "\n  %v", f)
	}
	fmt.Fprintf(&b, "\n  (closed by server %v, reset %v, client timed out %v)", r.selfEnd, r.reset, r.timedOut)
	return b.String()
}

// h2tFrames builds client input with x/net's Framer and HPACK encoder.
// The encoder keeps its dynamic table across blocks, as a real client's.
type h2tFrames struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newH2tFrames() *h2tFrames {
	b := &h2tFrames{}
	b.fr = http2.NewFramer(&b.buf, nil)
	b.fr.AllowIllegalWrites = true
	b.enc = hpack.NewEncoder(&b.hb)
	return b
}

func (b *h2tFrames) bytes() []byte { return append([]byte(nil), b.buf.Bytes()...) }

func (b *h2tFrames) settings(s ...http2.Setting) *h2tFrames {
	b.fr.WriteSettings(s...)
	return b
}

func (b *h2tFrames) raw(p ...byte) *h2tFrames {
	b.buf.Write(p)
	return b
}

// block encodes name, value pairs as a header block.
func (b *h2tFrames) block(kv ...string) []byte {
	b.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		b.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), b.hb.Bytes()...)
}

// request returns the fields of a request for path with extra fields.
func request(method, path string, extra ...string) []string {
	return append([]string{":method", method, ":scheme", "http", ":authority", "example.com", ":path", path}, extra...)
}

func (b *h2tFrames) headers(id uint32, end bool, kv ...string) *h2tFrames {
	b.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.block(kv...), EndStream: end, EndHeaders: true})
	return b
}

func (b *h2tFrames) get(id uint32, path string) *h2tFrames {
	return b.headers(id, true, request("GET", path)...)
}

func (b *h2tFrames) data(id uint32, end bool, p string) *h2tFrames {
	b.fr.WriteData(id, end, []byte(p))
	return b
}
