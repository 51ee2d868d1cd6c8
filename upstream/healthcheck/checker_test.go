package healthcheck

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
)

func TestTCPCheck(t *testing.T) {
	live := serve(t, "127.0.0.1:0", nil)
	dead := closedAddr(t)
	cl := newCluster(t, fast(""), dead, live.Addr())
	c := start(t, cl, nil)

	waitFor(t, "the closed port to be marked unhealthy", func() bool {
		return !hostStats(c, dead).Healthy
	})
	waitFor(t, "two checks of the listening port", func() bool {
		return hostStats(c, live.Addr()).Checks >= 2
	})
	ls := hostStats(c, live.Addr())
	if !ls.Healthy || ls.Failures != 0 || ls.StateChanges != 0 || ls.LastError != "" {
		t.Errorf("listening host: %+v, want healthy without failures", ls)
	}
	ds := hostStats(c, dead)
	if ds.StateChanges != 1 || ds.LastError == "" || ds.LastCheck.IsZero() {
		t.Errorf("closed host: %+v, want one state change and the last error", ds)
	}
	if got := c.Stats().Protocol; got != ProtocolTCP {
		t.Errorf("protocol %q, want tcp", got)
	}
	// The dead host comes first, so the balancer offers it until a new
	// snapshot without it is published.
	waitFor(t, "the balancer to offer only the listening host", func() bool {
		h := cl.Pick(nil)
		return h != nil && h.Address() == live.Addr()
	})
	// The kernel completes a connect before the server accepts it.
	waitFor(t, "a connection per check", func() bool { return live.Accepts() >= 2 })
}

// TestDownAndBack takes an upstream away and brings it back on the same
// port, and checks every event line against the threshold rules.
func TestDownAndBack(t *testing.T) {
	const unhealthyAfter, healthyAfter = 3, 2
	srv := serve(t, "127.0.0.1:0", nil)
	addr := srv.Addr()
	logPath := filepath.Join(t.TempDir(), "a", "b", "hc.log")
	hc := fast("tcp")
	hc.UnhealthyThreshold = unhealthyAfter
	hc.HealthyThreshold = healthyAfter
	hc.EventLogPath = logPath
	cl := newCluster(t, hc, addr)
	var errLog syncBuffer
	c := start(t, cl, log.New(&errLog))

	waitFor(t, "two successful checks", func() bool { return hostStats(c, addr).Checks >= 2 })
	srv.Close()
	// The flag flips just before the new snapshot is published, so wait
	// on the balancer.
	waitFor(t, "the host to be taken out", func() bool { return cl.Pick(nil) == nil })
	if cl.Hosts().Host(addr).Healthy() {
		t.Fatal("no host to pick but the host is healthy")
	}
	srv = serve(t, addr, nil)
	waitFor(t, "the host to come back", func() bool { return cl.Pick(nil) != nil })
	if h := cl.Pick(nil); h.Address() != addr || !h.Healthy() {
		t.Fatalf("Pick = %s (healthy %v) after recovery, want %s", h.Address(), h.Healthy(), addr)
	}
	c.Stop()

	events := readEvents(t, logPath)
	healthy, fails, succs := true, 0, 0
	var downs, ups int
	for i, e := range events {
		if e.host != addr {
			t.Fatalf("line %d: host %s, want %s", i, e.host, addr)
		}
		wantChange := false
		if e.success {
			fails = 0
			if !healthy {
				if succs++; succs == healthyAfter {
					healthy, wantChange, succs = true, true, 0
					ups++
				}
			}
		} else {
			succs = 0
			if healthy {
				if fails++; fails == unhealthyAfter {
					healthy, wantChange, fails = false, true, 0
					downs++
				}
			}
		}
		if e.healthy != healthy || e.change != wantChange {
			t.Fatalf("line %d: %+v, want health_status %v status_changed %v", i, e, healthy, wantChange)
		}
	}
	if downs != 1 || ups != 1 || !healthy {
		t.Fatalf("%d lines with %d transitions down and %d up, want one each and healthy at the end", len(events), downs, ups)
	}
	st := hostStats(c, addr)
	if st.StateChanges != 2 || st.Checks != uint64(len(events)) {
		t.Errorf("stats %+v, want 2 state changes and %d checks (one per event line)", st, len(events))
	}

	logs := errLog.String()
	wantDown := fmt.Sprintf("[WARN] [upstream] [health check] cluster c host %s is now unhealthy (%d consecutive failures: ", addr, unhealthyAfter)
	wantUp := fmt.Sprintf("[INFO] [upstream] [health check] cluster c host %s is healthy again (%d consecutive successes)", addr, healthyAfter)
	if !strings.Contains(logs, wantDown) || !strings.Contains(logs, wantUp) {
		t.Errorf("error log lacks the transitions:\n%s", logs)
	}
}

func TestHostUpdatesAreFollowed(t *testing.T) {
	a := serve(t, "127.0.0.1:0", nil)
	b := closedAddr(t)
	cl := newCluster(t, fast(""), a.Addr())
	c := start(t, cl, nil)
	waitFor(t, "a check of the first host", func() bool { return hostStats(c, a.Addr()).Checks >= 1 })

	if err := cl.UpdateHosts([]config.Host{{Address: a.Addr()}, {Address: b}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the added dead host to be taken out", func() bool { return !cl.Hosts().Host(b).Healthy() })

	if err := cl.UpdateHosts([]config.Host{{Address: b}}); err != nil {
		t.Fatal(err)
	}
	hosts := c.Stats().Hosts
	if len(hosts) != 1 || hosts[0].Address != b || hosts[0].Checks == 0 {
		t.Fatalf("stats after removing the first host: %+v", hosts)
	}
	before := a.Accepts()
	waitFor(t, "five more checks of the remaining host", func() bool { return hostStats(c, b).Checks >= hosts[0].Checks+5 })
	// One check may have been in flight when the host was removed, and
	// the connection of an earlier one not yet accepted.
	if got := a.Accepts(); got > before+2 {
		t.Errorf("removed host was checked %d more times", got-before)
	}
}

func TestManyHostsEventLinesDoNotInterleave(t *testing.T) {
	var addrs []string
	for i := range 40 {
		if i%2 == 0 {
			addrs = append(addrs, serve(t, "127.0.0.1:0", nil).Addr())
		} else {
			addrs = append(addrs, closedAddr(t))
		}
	}
	logPath := filepath.Join(t.TempDir(), "hc.log")
	hc := fast("")
	hc.EventLogPath = logPath
	cl := newCluster(t, hc, addrs...)
	c := start(t, cl, nil)
	waitFor(t, "three rounds", func() bool {
		for _, h := range c.Stats().Hosts {
			if h.Checks < 3 {
				return false
			}
		}
		return true
	})
	c.Stop()
	perHost := map[string]int{}
	for _, e := range readEvents(t, logPath) {
		perHost[e.host]++
	}
	for i, a := range addrs {
		st := hostStats(c, a)
		if perHost[a] != int(st.Checks) {
			t.Errorf("host %s: %d lines for %d checks", a, perHost[a], st.Checks)
		}
		if wantHealthy := i%2 == 0; st.Healthy != wantHealthy {
			t.Errorf("host %s: healthy %v, want %v (last error %q)", a, st.Healthy, wantHealthy, st.LastError)
		}
	}
}

func TestStopStopsChecks(t *testing.T) {
	srv := serve(t, "127.0.0.1:0", nil)
	logPath := filepath.Join(t.TempDir(), "hc.log")
	hc := fast("")
	hc.EventLogPath = logPath
	hc.Interval = dur(5 * time.Millisecond)
	c := start(t, newCluster(t, hc, srv.Addr()), nil)
	waitFor(t, "three checks", func() bool { return hostStats(c, srv.Addr()).Checks >= 3 })
	c.Stop()
	c.Stop() // idempotent

	lines := len(readEvents(t, logPath))
	checks := hostStats(c, srv.Addr()).Checks
	if checks != uint64(lines) {
		t.Errorf("checks %d != event lines %d", checks, lines)
	}
	// The server may accept the connections of the last checks late.
	waitFor(t, "the connections of the recorded checks", func() bool { return srv.Accepts() >= lines })
	// Not synchronisation: an observation window of many intervals in
	// which a running checker would have checked again.
	time.Sleep(100 * time.Millisecond)
	if got := len(readEvents(t, logPath)); got != lines {
		t.Errorf("%d event lines after Stop returned, then %d", lines, got)
	}
	if got := hostStats(c, srv.Addr()).Checks; got != checks {
		t.Errorf("%d checks after Stop returned, then %d", checks, got)
	}
	// At most one more: a check abandoned by Stop after it connected.
	if got := srv.Accepts(); got > lines+1 {
		t.Errorf("%d checks recorded but %d connections after Stop", lines, got)
	}
}

// TestStopAbandonsCheckInFlight stops the checker while a check waits on a
// silent server: Stop returns, and the abandoned check leaves no trace.
func TestStopAbandonsCheckInFlight(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := serve(t, "127.0.0.1:0", func(c net.Conn) {
		arrived <- struct{}{}
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	logPath := filepath.Join(t.TempDir(), "hc.log")
	hc := fast("bolt")
	hc.Timeout = dur(time.Minute)
	hc.EventLogPath = logPath
	cl := newCluster(t, hc, srv.Addr())
	c := start(t, cl, nil)
	<-arrived
	c.Stop()
	if got := readEvents(t, logPath); len(got) != 0 {
		t.Errorf("event lines of an abandoned check: %+v", got)
	}
	if st := hostStats(c, srv.Addr()); st.Checks != 0 || !st.Healthy {
		t.Errorf("stats %+v, want no check recorded and the host still healthy", st)
	}
}

func TestInitialDelay(t *testing.T) {
	srv := serve(t, "127.0.0.1:0", nil)
	delayed := fast("")
	delayed.InitialDelaySeconds = dur(time.Hour)
	cd := start(t, newCluster(t, delayed, srv.Addr()), nil)
	c := start(t, newCluster(t, fast(""), srv.Addr()), nil)
	waitFor(t, "three rounds of the undelayed checker", func() bool { return hostStats(c, srv.Addr()).Checks >= 3 })
	if n := hostStats(cd, srv.Addr()).Checks; n != 0 {
		t.Errorf("checker with an hour of initial delay made %d checks", n)
	}
}

func TestNextInterval(t *testing.T) {
	tests := []struct {
		interval, jitter time.Duration
	}{
		{15 * time.Second, 5 * time.Millisecond},
		{time.Second, time.Second},
		{time.Second, 0},
	}
	for _, tt := range tests {
		c := &Checker{set: settings{interval: tt.interval, jitter: tt.jitter}}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := c.nextInterval()
			if d < tt.interval || (tt.jitter > 0 && d >= tt.interval+tt.jitter) || (tt.jitter == 0 && d != tt.interval) {
				t.Fatalf("interval %v jitter %v: got %v", tt.interval, tt.jitter, d)
			}
			seen[d] = true
		}
		if tt.jitter > time.Millisecond && len(seen) < 2 {
			t.Errorf("interval %v jitter %v: no jitter in 200 draws", tt.interval, tt.jitter)
		}
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hc   *config.HealthCheck
		want string
	}{
		{"no health_check", nil, "no health_check config"},
		{"unknown protocol", &config.HealthCheck{Protocol: "Http2"}, `unknown health check protocol "Http2"`},
		{"bad codes", &config.HealthCheck{Protocol: "Http1", CheckConfig: map[string]any{"codes": []any{float64(700)}}}, "codes: [0]: 700-700"},
		{"event log under a file", &config.HealthCheck{EventLogPath: filepath.Join(file, "hc.log")}, "event_log_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCluster(t, tt.hc, "127.0.0.1:1")
			c, err := Start(cl, nil)
			if err == nil {
				c.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `cluster "c"`) {
				t.Errorf("error %q, want it to name the cluster and contain %q", err, tt.want)
			}
		})
	}
	if _, err := Start(nil, nil); err == nil {
		t.Error("Start(nil) succeeded")
	}
}

func TestEventLogToStdout(t *testing.T) {
	// Standard output is shared with the test binary, so only check that
	// it opens and survives close.
	l, err := openEventLog("stdout")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Fatalf("stdout closed by the event log: %v", err)
	}
}
