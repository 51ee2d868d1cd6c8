package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// clientConfig is the command line of "idle client".
type clientConfig struct {
	kind string
	addr string
	// n is the number of connections to open and hold.
	n int
	// src is the local IP address to bind (empty: the kernel's choice).
	src string
	// conc is how many connections are opened at once.
	conc int
	// path and host are the HTTP request's path and Host (:authority).
	path, host string
	// heartbeat is the bolt heartbeat period of each held connection; 0
	// sends none.
	heartbeat time.Duration
	// probe is how many random held connections each probe times; 0 or
	// more than are held means all of them.
	probe int
	// timeout bounds every exchange (dial, request, heartbeat).
	timeout time.Duration
	seed    uint64
	// latFile, when set, names files that get every latency in
	// microseconds, one a line: latFile+".open" (each connection's dial
	// and first answer) and latFile+".probe" (appended by each probe).
	latFile string
}

func newProtocol(cfg *clientConfig) (protocol, error) {
	host := cfg.host
	if host == "" {
		host = cfg.addr
	}
	switch cfg.kind {
	case "http1":
		return newHTTP1(cfg.path, host), nil
	case "h2c":
		return newH2(cfg.path, host), nil
	case "bolt":
		return newBolt(), nil
	}
	return nil, fmt.Errorf("unknown kind %q (want http1, h2c or bolt)", cfg.kind)
}

// client holds the connections of one "idle client" process.
type client struct {
	cfg   clientConfig
	proto protocol
	out   io.Writer
	errw  *errLog
	held  []*idleConn
	// dead marks held connections that failed a probe or a heartbeat.
	dead []atomic.Bool

	hbOK, hbFailed atomic.Int64
	rng            *rand.Rand
}

// errLog prints the first few errors of a kind and counts the rest, so
// that 15,000 failures do not flood the script's log.
type errLog struct {
	mu    sync.Mutex
	w     io.Writer
	shown map[string]int
}

const errShown = 5

func (l *errLog) printf(what, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shown[what]++
	if n := l.shown[what]; n <= errShown {
		fmt.Fprintf(l.w, "idle client: %s: "+format+"\n", append([]any{what}, args...)...)
		if n == errShown {
			fmt.Fprintf(l.w, "idle client: %s: further errors of this kind are counted, not shown\n", what)
		}
	}
}

// runClient opens cfg.n connections, reports the OPEN line, then holds
// them: a signal from probe (SIGUSR1) checks and times them, and one from
// stop (SIGUSR2, SIGINT, SIGTERM) closes them and returns. It returns the exit
// status: 1 when no connection could be opened.
func runClient(cfg clientConfig, stdout, stderr io.Writer, probe, stop <-chan os.Signal) int {
	cl, err := newClient(cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "idle client: %v\n", err)
		return 2
	}
	if !cl.open() {
		return 1
	}
	done := make(chan struct{})
	var hbWG sync.WaitGroup
	if cfg.heartbeat > 0 && cfg.kind == "bolt" {
		hbWG.Add(1)
		go func() {
			defer hbWG.Done()
			cl.heartbeats(done)
		}()
	}
	for {
		select {
		case <-probe:
			cl.probe()
		case sig := <-stop:
			close(done)
			hbWG.Wait()
			cl.close()
			fmt.Fprintf(stdout, "DONE kind=%s conns=%d signal=%s\n", cfg.kind, len(cl.held), signalName(sig))
			return 0
		}
	}
}

// newClient returns a client for cfg that writes its report lines to
// stdout and its errors to stderr.
func newClient(cfg clientConfig, stdout, stderr io.Writer) (*client, error) {
	proto, err := newProtocol(&cfg)
	if err != nil {
		return nil, err
	}
	return &client{
		cfg: cfg, proto: proto, out: stdout,
		errw: &errLog{w: stderr, shown: map[string]int{}},
		rng:  rand.New(rand.NewPCG(cfg.seed, uint64(cfg.n))),
	}, nil
}

// close closes every held connection.
func (cl *client) close() {
	for _, ic := range cl.held {
		ic.c.Close()
	}
}

// signalName names a stop signal the way kill(1) does (USR2, TERM, INT).
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGUSR2:
		return "USR2"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGINT:
		return "INT"
	}
	return s.String()
}

// open opens the connections, cfg.conc at a time, sending each its first
// request, and prints the OPEN line. It reports whether any connection is
// held.
func (cl *client) open() bool {
	cfg := &cl.cfg
	conns := make([]*idleConn, cfg.n)
	lat := make([]time.Duration, cfg.n)
	d := net.Dialer{Timeout: cfg.timeout, Control: dialControl}
	if cfg.src != "" {
		ip := net.ParseIP(cfg.src)
		if ip == nil {
			fmt.Fprintf(cl.errw.w, "idle client: bad -src %q\n", cfg.src)
			return false
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(cfg.conc, cfg.n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.n {
					return
				}
				t0 := time.Now()
				ic, err := cl.dial(&d)
				if err != nil {
					cl.errw.printf("open", "connection %d: %v", i, err)
					continue
				}
				lat[i] = time.Since(t0)
				conns[i] = ic
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	var ok []time.Duration
	for i, ic := range conns {
		if ic != nil {
			cl.held = append(cl.held, ic)
			ok = append(ok, lat[i])
		}
	}
	cl.dead = make([]atomic.Bool, len(cl.held))
	cl.writeLat(".open", ok, os.O_TRUNC)
	secs := end.Sub(start).Seconds()
	p := percentilesUS(ok, 50, 99)
	fmt.Fprintf(cl.out, "OPEN kind=%s src=%s conns=%d failed=%d start_unix_ns=%d end_unix_ns=%d seconds=%.4f conn_per_s=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
		cfg.kind, orDash(cfg.src), len(cl.held), cfg.n-len(cl.held), start.UnixNano(), end.UnixNano(), secs,
		float64(len(cl.held))/secs, p[0], p[1], maxUS(ok))
	return len(cl.held) > 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dial opens one connection and makes its first request.
func (cl *client) dial(d *net.Dialer) (*idleConn, error) {
	c, err := d.Dial("tcp", cl.cfg.addr)
	if err != nil {
		return nil, err
	}
	ic := &idleConn{c: c}
	ic.setDeadline(cl.cfg.timeout)
	if err := cl.proto.start(ic); err != nil {
		c.Close()
		return nil, err
	}
	if err := cl.proto.request(ic); err != nil {
		c.Close()
		return nil, fmt.Errorf("first request: %w", err)
	}
	ic.clearDeadline()
	return ic, nil
}

// heartbeats sends every held connection a heartbeat each cfg.heartbeat,
// spread evenly: the connections are split into one slot per 100 ms tick.
func (cl *client) heartbeats(done <-chan struct{}) {
	const tick = 100 * time.Millisecond
	slots := max(int(cl.cfg.heartbeat/tick), 1)
	t := time.NewTicker(tick)
	defer t.Stop()
	for s := 0; ; s = (s + 1) % slots {
		select {
		case <-done:
			return
		case <-t.C:
		}
		cl.heartbeatSlot(s, slots)
	}
}

// heartbeatSlot sends a heartbeat on the live held connections whose index
// is s modulo slots, one after another.
func (cl *client) heartbeatSlot(s, slots int) {
	for i := s; i < len(cl.held); i += slots {
		if cl.dead[i].Load() {
			continue
		}
		ic := cl.held[i]
		ic.mu.Lock()
		ic.setDeadline(cl.cfg.timeout)
		err := cl.proto.heartbeat(ic)
		ic.clearDeadline()
		ic.mu.Unlock()
		if err != nil {
			cl.dead[i].Store(true)
			cl.hbFailed.Add(1)
			cl.errw.printf("heartbeat", "connection %d: %v", i, err)
			continue
		}
		cl.hbOK.Add(1)
	}
}

// probe checks every held connection without waking the server (a
// non-blocking peek: still open, bytes waiting, or closed), then times one
// request on cfg.probe random ones, one after another, and prints the PROBE
// line.
func (cl *client) probe() {
	var alive, pending, closed int
	for i, ic := range cl.held {
		ic.mu.Lock()
		st := peekState(ic.c)
		if st == stateAlive && len(ic.rd) > 0 {
			st = statePending
		}
		ic.mu.Unlock()
		switch st {
		case stateAlive:
			alive++
		case statePending:
			pending++
		default:
			closed++
			cl.dead[i].Store(true)
		}
	}
	var live []int
	for i := range cl.held {
		if !cl.dead[i].Load() {
			live = append(live, i)
		}
	}
	k := cl.cfg.probe
	if k <= 0 || k > len(live) {
		k = len(live)
	}
	cl.rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	var lat []time.Duration
	failed := 0
	for _, i := range live[:k] {
		ic := cl.held[i]
		ic.mu.Lock()
		t0 := time.Now()
		ic.setDeadline(cl.cfg.timeout)
		err := cl.proto.request(ic)
		el := time.Since(t0)
		ic.clearDeadline()
		ic.mu.Unlock()
		if err != nil {
			failed++
			cl.dead[i].Store(true)
			cl.errw.printf("probe", "connection %d: %v", i, err)
			continue
		}
		lat = append(lat, el)
	}
	cl.writeLat(".probe", lat, os.O_APPEND)
	p := percentilesUS(lat, 50, 90, 99)
	fmt.Fprintf(cl.out, "PROBE kind=%s conns=%d alive=%d pending=%d closed=%d probed=%d ok=%d failed=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f heartbeats_ok=%d heartbeats_failed=%d\n",
		cl.cfg.kind, len(cl.held), alive, pending, closed, k, len(lat), failed, p[0], p[1], p[2], maxUS(lat),
		cl.hbOK.Load(), cl.hbFailed.Load())
}

// writeLat writes d to cfg.latFile+suffix (see clientConfig.latFile).
func (cl *client) writeLat(suffix string, d []time.Duration, mode int) {
	if cl.cfg.latFile == "" {
		return
	}
	f, err := os.OpenFile(cl.cfg.latFile+suffix, os.O_WRONLY|os.O_CREATE|mode, 0o644)
	if err != nil {
		cl.errw.printf("latency file", "%v", err)
		return
	}
	w := bufio.NewWriter(f)
	for _, x := range d {
		fmt.Fprintf(w, "%.1f\n", float64(x)/1e3)
	}
	if err := w.Flush(); err != nil {
		cl.errw.printf("latency file", "%v", err)
	}
	if err := f.Close(); err != nil {
		cl.errw.printf("latency file", "%v", err)
	}
}

// connState is what a non-blocking peek tells about an idle connection.
type connState int

const (
	stateAlive   connState = iota // open, nothing to read
	statePending                  // open with unread bytes
	stateClosed                   // EOF or a socket error
)

func (s connState) String() string {
	return [...]string{"alive", "pending", "closed"}[s]
}

// peekState peeks one byte of c without blocking or consuming it.
func peekState(c net.Conn) connState {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return stateAlive
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return stateClosed
	}
	st := stateClosed
	if err := rc.Control(func(fd uintptr) { st = peekFD(fd) }); err != nil {
		return stateClosed
	}
	return st
}

// percentilesUS returns the nearest-rank percentiles ps of d in
// microseconds (zeros when d is empty).
func percentilesUS(d []time.Duration, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	if len(d) == 0 {
		return out
	}
	s := slices.Clone(d)
	slices.Sort(s)
	for i, p := range ps {
		rank := int(p/100*float64(len(s))+0.999999) - 1
		rank = min(max(rank, 0), len(s)-1)
		out[i] = float64(s[rank]) / 1e3
	}
	return out
}

func maxUS(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	return float64(slices.Max(d)) / 1e3
}
