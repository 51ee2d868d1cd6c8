package app

import (
	"runtime/debug"
	"time"

	"mosn.dev/proxy/log"
	"mosn.dev/proxy/network"
)

// quietGCInterval is how often quietGC looks at the parked connections.
const quietGCInterval = 5 * time.Second

// quietGCMinGap is the least time between two forced collections.
const quietGCMinGap = 10 * time.Second

// quietGC returns memory to the operating system after the number of
// parked (idle) connections has changed a lot.
//
// Why: a storm of new connections leaves read buffers in pools and
// garbage on the heap; once the connections are parked little is
// allocated, so the collector has no reason to run and that memory would
// stay resident for as long as the connections stay idle. One forced
// collection and scavenge fixes that. It runs only when the parked count
// moved by a quarter (and at least 1,000) since the last one, once more
// after the count has settled, and at most every quietGCMinGap, so a
// steady population (busy or idle) costs no extra collection at all.
// Heartbeats answered from the parked state do not count as activity.
func quietGC(p *network.Poller, done <-chan struct{}, lg *log.Logger) {
	t := time.NewTicker(quietGCInterval)
	defer t.Stop()
	base := 0
	var last time.Time
	settle := false
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			if now.Sub(last) < quietGCMinGap {
				continue
			}
			parked := p.Len()
			delta := parked - base
			if delta < 0 {
				delta = -delta
			}
			moved := delta >= 1000 && delta >= base/4
			// One more collection once the count has settled after a
			// move: a storm still running at the first one leaves its
			// buffers and goroutine stacks behind.
			if !moved && !(settle && parked >= 1000) {
				continue
			}
			debug.FreeOSMemory()
			lg.Infof("[mosn] [gc] %d connections parked (%d before): memory returned to the OS", parked, base)
			settle = moved
			base, last = parked, now
		}
	}
}
