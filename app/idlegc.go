package app

import (
	"runtime/debug"
	"time"

	"mosn.dev/proxy/network"
)

// quietGCInterval is how often quietGC looks at the parked connections.
const quietGCInterval = 5 * time.Second

// quietGC returns memory to the operating system after the number of
// parked (idle) connections has changed a lot and the process is quiet.
//
// Why: a storm of new connections leaves read buffers in pools and
// garbage on the heap; with little allocation afterwards the collector
// has no reason to run, so that memory would stay resident for as long
// as the connections stay idle. One forced collection and scavenge fixes
// that. It runs only when the parked count moved by a quarter (and at
// least 1,000) since the last one and fewer than 1% of the parked
// connections woke up in the last interval, so a steady idle population
// costs no collections at all.
func quietGC(p *network.Poller, done <-chan struct{}) {
	t := time.NewTicker(quietGCInterval)
	defer t.Stop()
	base := 0
	last := p.Resumed()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		parked := p.Len()
		resumed := p.Resumed()
		woke := resumed - last
		last = resumed
		delta := parked - base
		if delta < 0 {
			delta = -delta
		}
		if delta < 1000 || delta < base/4 || woke*100 > uint64(parked) {
			continue
		}
		debug.FreeOSMemory()
		base = parked
	}
}
