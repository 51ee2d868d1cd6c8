package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serverOptions configures serve mode.
type serverOptions struct {
	proto string
	addr  string
	// delay holds every answer back by a fixed time; when delayMax > 0 a
	// random time in [delayMin, delayMax] is used instead, drawn per
	// request, so that answers overtake each other.
	delay              time.Duration
	delayMin, delayMax time.Duration
	// status forces a response status: a number or a status name of the
	// protocol; "" answers success.
	status string
	// heartbeat makes the server send a heartbeat on every connection at
	// this interval (RPC protocols; 0 sends none).
	heartbeat time.Duration
	// bodySize is the size of HTTP response bodies in bytes.
	bodySize int
}

const serveUsage = `Usage: mosnload serve [options] ADDR

Runs an echo server on ADDR (host:port) until interrupted.

Options:
  -p, --protocol=P     sofarpc (bolt v1 and v2), dubbo, http1 or h2c (the HTTP
                       server speaks both HTTP/1.1 and h2c) (default sofarpc)
  --delay=T            answer every request after T
  --delay-random=A-B   answer every request after a random time in [A, B],
                       e.g. 0-5ms, so that answers come back out of order
  --status=S           answer with status S instead of success: a number or a
                       name (SERVER_THREADPOOL_BUSY, SERVICE_NOT_FOUND, 503)
  --heartbeat=T        send a heartbeat on every RPC connection every T
  --body-size=N        HTTP response body size in bytes (default 2)
`

// parseServe parses the serve command line (without "serve").
func parseServe(args []string, stderr io.Writer) (*serverOptions, error) {
	o := &serverOptions{bodySize: 2}
	fs := flag.NewFlagSet("mosnload serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	proto := protoSofaRPC
	for _, n := range []string{"p", "protocol"} {
		fs.StringVar(&proto, n, proto, "")
	}
	fs.Var(durationValue{&o.delay}, "delay", "")
	var random string
	fs.StringVar(&random, "delay-random", "", "")
	fs.StringVar(&o.status, "status", "", "")
	fs.Var(durationValue{&o.heartbeat}, "heartbeat", "")
	fs.IntVar(&o.bodySize, "body-size", o.bodySize, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		fs.Usage()
		return nil, errors.New("want exactly one listen address")
	}
	if o.proto, err = normProto(proto); err != nil {
		return nil, err
	}
	o.addr = pos[0]
	if strings.Contains(o.addr, "://") {
		if o.addr, _, _, _, err = parseTarget(o.addr, o.proto); err != nil {
			return nil, err
		}
	}
	if random != "" {
		if o.delayMin, o.delayMax, err = parseDelayRange(random); err != nil {
			return nil, err
		}
	}
	if o.bodySize < 0 {
		return nil, errors.New("--body-size must not be negative")
	}
	if _, err := newStatus(o.proto, o.status); err != nil {
		return nil, err
	}
	return o, nil
}

// parseDelayRange parses "A-B" (for example "0-5ms" or "1ms-2ms"). A bare
// number takes the unit of the other bound.
func parseDelayRange(s string) (lo, hi time.Duration, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("--delay-random %q: want MIN-MAX, e.g. 0-5ms", s)
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	unit := func(x string) string { return strings.TrimLeft(x, "0123456789.") }
	if unit(a) == "" && unit(b) != "" {
		a += unit(b)
	}
	if unit(b) == "" && unit(a) != "" {
		b += unit(a)
	}
	if unit(a) == "" || unit(b) == "" {
		return 0, 0, fmt.Errorf("--delay-random %q: give a unit, e.g. 0-5ms", s)
	}
	if lo, err = time.ParseDuration(a); err != nil {
		return 0, 0, fmt.Errorf("--delay-random: %w", err)
	}
	if hi, err = time.ParseDuration(b); err != nil {
		return 0, 0, fmt.Errorf("--delay-random: %w", err)
	}
	if lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("--delay-random %q: want 0 <= MIN <= MAX", s)
	}
	return lo, hi, nil
}

// forcedStatus is the status a server answers with; forced is false for
// the normal success answer.
type forcedStatus struct {
	code   int
	forced bool
}

// newStatus parses --status for protocol proto.
func newStatus(proto, s string) (forcedStatus, error) {
	if s == "" {
		return forcedStatus{}, nil
	}
	name := strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(s)))
	num, numErr := strconv.ParseUint(s, 0, 16)
	switch proto {
	case protoSofaRPC:
		if numErr == nil {
			return forcedStatus{int(num), true}, nil
		}
		for c := range 256 {
			if boltStatusName(uint16(c)) == name {
				return forcedStatus{c, true}, nil
			}
		}
	case protoDubbo:
		if numErr == nil && num < 256 {
			return forcedStatus{int(num), true}, nil
		}
		for c := range 256 {
			if dubboStatusName(byte(c)) == name {
				return forcedStatus{c, true}, nil
			}
		}
	default:
		if numErr == nil && num >= 100 && num <= 999 {
			return forcedStatus{int(num), true}, nil
		}
	}
	return forcedStatus{}, fmt.Errorf("--status %q is not a %s status", s, proto)
}

// srvFrame is what a server codec made of one frame.
type srvFrame struct {
	// reply is the answer (nil for none); it may alias the codec's scratch
	// space and is valid until the next parse.
	reply []byte
	// request marks an RPC request (not a heartbeat); id is its id.
	request bool
	id      uint64
	// ack marks a heartbeat answer from the client.
	ack bool
}

// srvCodec is the protocol-specific part of an RPC server connection. One
// is made per connection, so it may keep scratch space.
type srvCodec interface {
	// parse parses the frame at the start of data and builds its answer;
	// n == 0 means more data is needed. An error ends the connection.
	parse(data []byte) (f srvFrame, n int, err error)
	// appendHeartbeat appends a heartbeat request with id.
	appendHeartbeat(dst []byte, id uint64) []byte
}

// server is the echo server of serve mode.
type server struct {
	o        serverOptions
	status   forcedStatus
	newCodec func() srvCodec
	ln       net.Listener
	httpSrv  *http.Server
	body     []byte

	// requests counts requests received; acks counts heartbeat answers
	// received from clients; h2 counts the HTTP requests that came over
	// HTTP/2.
	requests, acks, h2 atomic.Int64
	// trackIDs makes the server remember every request id per connection:
	// distinct counts the new ones, dups the repeated ones (tests).
	trackIDs       bool
	distinct, dups atomic.Int64
	// reverseBatch > 0 holds answers until that many are due on a
	// connection and sends them in reverse order, which reorders answers
	// without timing (tests).
	reverseBatch int

	mu     sync.Mutex
	conns  map[*srvConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// newServer listens on o.addr; call serve to accept.
func newServer(o serverOptions) (*server, error) {
	st, err := newStatus(o.proto, o.status)
	if err != nil {
		return nil, err
	}
	s := &server{o: o, status: st, conns: make(map[*srvConn]struct{})}
	switch o.proto {
	case protoSofaRPC:
		s.newCodec = func() srvCodec { return &boltServerCodec{status: st} }
	case protoDubbo:
		s.newCodec = func() srvCodec { return &dubboServerCodec{status: st} }
	case protoHTTP1, protoH2C:
		s.body = []byte(strings.Repeat("o", o.bodySize))
		if o.bodySize == 2 {
			s.body = []byte("ok")
		}
	default:
		return nil, fmt.Errorf("serve: unknown protocol %q", o.proto)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	if s.newCodec == nil {
		s.httpSrv = newHTTPServer(s)
	}
	return s, nil
}

// addr returns the listening address.
func (s *server) addr() string { return s.ln.Addr().String() }

// serve accepts connections until close.
func (s *server) serve() error {
	if s.httpSrv != nil {
		err := s.httpSrv.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors and the like: try again shortly.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		sc := &srvConn{s: s, nc: nc, codec: s.newCodec(), wake: make(chan struct{}, 1), done: make(chan struct{})}
		if s.trackIDs {
			sc.ids = make(map[uint64]struct{})
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[sc] = struct{}{}
		s.wg.Add(2)
		s.mu.Unlock()
		go sc.readLoop()
		go sc.writeLoop()
	}
}

// close stops the server and closes every connection.
func (s *server) close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*srvConn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	if s.httpSrv != nil {
		s.httpSrv.Close()
	} else {
		s.ln.Close()
	}
	for _, sc := range conns {
		sc.shutdown()
	}
	s.wg.Wait()
}

// pickDelay returns how long to hold the next answer back.
func (s *server) pickDelay() time.Duration {
	if s.o.delayMax > 0 {
		return s.o.delayMin + rand.N(s.o.delayMax-s.o.delayMin+1)
	}
	return s.o.delay
}

// srvConn is one server connection: a reader that parses requests and
// answers them, writing itself when no write is under way; answers queued
// meanwhile (and delayed ones) go out in one write by the writer
// goroutine.
type srvConn struct {
	s     *server
	nc    net.Conn
	codec srvCodec
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu   sync.Mutex
	out  []byte
	held [][]byte
	ids  map[uint64]struct{}

	// wmu is held by whoever writes, the reader, a delay timer or the
	// writer goroutine; it guards buf.
	wmu sync.Mutex
	buf []byte
}

func (sc *srvConn) shutdown() {
	sc.once.Do(func() {
		close(sc.done)
		sc.nc.Close()
		sc.s.mu.Lock()
		delete(sc.s.conns, sc)
		sc.s.mu.Unlock()
	})
}

// enqueue queues answer bytes and writes them at once when no write is
// under way, else leaves them to the writer goroutine.
func (sc *srvConn) enqueue(b []byte) {
	sc.mu.Lock()
	sc.out = append(sc.out, b...)
	sc.mu.Unlock()
	if sc.wmu.TryLock() {
		err := sc.flush()
		sc.wmu.Unlock()
		if err != nil {
			sc.shutdown()
		}
		return
	}
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// flush writes everything queued; it is called with wmu held.
func (sc *srvConn) flush() error {
	for {
		sc.mu.Lock()
		sc.buf, sc.out = sc.out, sc.buf[:0]
		sc.mu.Unlock()
		if len(sc.buf) == 0 {
			return nil
		}
		if _, err := sc.nc.Write(sc.buf); err != nil {
			return err
		}
		if cap(sc.buf) > 1<<20 {
			sc.buf = nil
		}
	}
}

func (sc *srvConn) readLoop() {
	defer sc.s.wg.Done()
	defer sc.shutdown()
	buf := make([]byte, 64<<10)
	start, end := 0, 0
	for {
		if end == len(buf) {
			if start > 0 {
				end = copy(buf, buf[start:end])
				start = 0
			} else {
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		n, err := sc.nc.Read(buf[end:])
		end += n
		for start < end {
			f, m, perr := sc.codec.parse(buf[start:end])
			if perr != nil {
				return
			}
			if m == 0 {
				break
			}
			start += m
			sc.dispatch(f)
		}
		if start == end {
			start, end = 0, 0
		}
		if err != nil {
			return
		}
	}
}

// dispatch counts one frame and sends its answer now, later or in a
// reversed batch.
func (sc *srvConn) dispatch(f srvFrame) {
	s := sc.s
	if f.ack {
		s.acks.Add(1)
	}
	if f.request {
		s.requests.Add(1)
		if sc.ids != nil {
			sc.mu.Lock()
			_, dup := sc.ids[f.id]
			sc.ids[f.id] = struct{}{}
			sc.mu.Unlock()
			if dup {
				s.dups.Add(1)
			} else {
				s.distinct.Add(1)
			}
		}
	}
	if f.reply == nil {
		return
	}
	if !f.request { // heartbeat answers go out at once
		sc.enqueue(f.reply)
		return
	}
	if s.reverseBatch > 0 {
		sc.mu.Lock()
		sc.held = append(sc.held, append([]byte(nil), f.reply...))
		var batch [][]byte
		if len(sc.held) == s.reverseBatch {
			batch, sc.held = sc.held, nil
		}
		sc.mu.Unlock()
		for i := len(batch) - 1; i >= 0; i-- {
			sc.enqueue(batch[i])
		}
		return
	}
	if d := s.pickDelay(); d > 0 {
		reply := append([]byte(nil), f.reply...)
		time.AfterFunc(d, func() { sc.enqueue(reply) })
		return
	}
	sc.enqueue(f.reply)
}

func (sc *srvConn) writeLoop() {
	defer sc.s.wg.Done()
	defer sc.shutdown()
	var tick <-chan time.Time
	if sc.s.o.heartbeat > 0 {
		t := time.NewTicker(sc.s.o.heartbeat)
		defer t.Stop()
		tick = t.C
	}
	var hbID uint64
	for {
		select {
		case <-sc.done:
			return
		case <-sc.wake:
		case <-tick:
			hbID++
			sc.mu.Lock()
			sc.out = sc.codec.appendHeartbeat(sc.out, hbID)
			sc.mu.Unlock()
		}
		sc.wmu.Lock()
		err := sc.flush()
		sc.wmu.Unlock()
		if err != nil {
			return
		}
	}
}
