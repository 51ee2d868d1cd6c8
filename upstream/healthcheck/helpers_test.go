package healthcheck

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/upstream"
)

// testLB picks the first healthy host, so that tests can see what the
// balancer of the current snapshot offers without depending on package lb.
const testLB = "HC_TEST_FIRST_HEALTHY"

type firstHealthy struct{ hs *upstream.HostSet }

func (b firstHealthy) Pick(*upstream.LBContext) *upstream.Host {
	if h := b.hs.Healthy(); len(h) > 0 {
		return h[0]
	}
	return nil
}

func init() {
	upstream.RegisterBalancer(testLB, func(hs *upstream.HostSet, _ *config.Cluster) upstream.Balancer {
		return firstHealthy{hs}
	})
}

// fast returns a health_check that checks every 20ms.
func fast(protocol string) *config.HealthCheck {
	return &config.HealthCheck{
		Protocol:       protocol,
		Timeout:        dur(2 * time.Second),
		Interval:       dur(20 * time.Millisecond),
		IntervalJitter: dur(time.Millisecond),
	}
}

func dur(d time.Duration) *config.Duration {
	c := config.Duration(d)
	return &c
}

func newCluster(t *testing.T, hc *config.HealthCheck, addrs ...string) *upstream.Cluster {
	t.Helper()
	cfg := &config.Cluster{Name: "c", LbType: testLB, HealthCheck: hc}
	for _, a := range addrs {
		cfg.Hosts = append(cfg.Hosts, config.Host{Address: a})
	}
	cl, err := upstream.NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func start(t *testing.T, cl *upstream.Cluster, lg *log.Logger) *Checker {
	t.Helper()
	c, err := Start(cl, lg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func hostStats(c *Checker, addr string) HostStats {
	for _, h := range c.Stats().Hosts {
		if h.Address == addr {
			return h
		}
	}
	return HostStats{}
}

// server accepts connections on a loopback listener and runs handle on
// each; Close (also run at cleanup) closes the listener and every
// connection and waits for the handlers.
type server struct {
	ln      net.Listener
	handle  func(net.Conn)
	mu      sync.Mutex
	conns   map[net.Conn]bool
	accepts int
	wg      sync.WaitGroup
	closed  sync.Once
}

func serve(t *testing.T, addr string, handle func(net.Conn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, handle: handle, conns: make(map[net.Conn]bool)}
	s.wg.Add(1)
	go s.loop()
	t.Cleanup(s.Close)
	return s
}

func (s *server) Addr() string { return s.ln.Addr().String() }

func (s *server) Accepts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts
}

func (s *server) loop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepts++
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			if s.handle != nil {
				s.handle(c)
			}
		}()
	}
}

func (s *server) Close() {
	s.closed.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

// readUntil reads from c until parse accepts the bytes read so far.
func readUntil(c net.Conn, parse func([]byte) error, needMore error) ([]byte, error) {
	var buf []byte
	tmp := make([]byte, 512)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if n > 0 {
			perr := parse(buf)
			if perr == nil {
				return buf, nil
			}
			if !errors.Is(perr, needMore) {
				return nil, perr
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger writing and a test
// reading at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventRE is the exact shape of an event line (seed 001).
var eventRE = regexp.MustCompile(`^time:(\d+),host:127\.0\.0\.1:\d+,health_status:([01]),current_result:([01]),status_changed:([01])$`)

type event struct {
	host                     string
	healthy, success, change bool
}

// readEvents parses the event log at path, failing on any malformed line.
func readEvents(t *testing.T, path string) []event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("event log does not end with a newline: %q", data)
	}
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		m := eventRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed event line %q", line)
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		if now := time.Now().Unix(); sec < now-60 || sec > now+1 {
			t.Fatalf("event line %q: time %d is not now (%d)", line, sec, now)
		}
		host := strings.TrimPrefix(strings.Split(line, ",")[1], "host:")
		out = append(out, event{host: host, healthy: m[2] == "1", success: m[3] == "1", change: m[4] == "1"})
	}
	return out
}
