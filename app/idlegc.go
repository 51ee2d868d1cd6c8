package app

import (
	"runtime/debug"
	"time"

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
// moved by a quarter (and at least 1,000) since the last one, and at most
// every quietGCMinGap, so a steady population (busy or idle) costs no
// extra collection at all. Heartbeats answered from the parked state do
// not count as activity.
func quietGC(p *network.Poller, done <-chan struct{}) {
	t := time.NewTicker(quietGCInterval)
	defer t.Stop()
	base := 0
	var last time.Time
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			parked := p.Len()
			delta := parked - base
			if delta < 0 {
				delta = -delta
			}
			if delta < 1000 || delta < base/4 || now.Sub(last) < quietGCMinGap {
				continue
			}
			debug.FreeOSMemory()
			base, last = parked, now
		}
	}
}
