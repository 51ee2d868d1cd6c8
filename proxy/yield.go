package proxy

import (
	"io"
	"runtime"
	"sync/atomic"
	"time"
)

// A yieldGate lets a goroutine yield the processor before a read that
// cannot succeed yet: the next request of a keep-alive connection right
// after its answer, an upstream answer right after its request. Other
// connections' goroutines run first, and by the time this one runs
// again its bytes have usually arrived, so the read gets them instead of
// failing with EAGAIN and waiting for the poller: a system call and a
// wake-up less, which on this kind of machine is most of what a request
// costs.
//
// Yielding has a price under saturation: the Go scheduler polls the
// network only when no goroutine is runnable (or from sysmon every
// 10 ms), and yielding goroutines keep the run queue full, so those
// that did block wait longer; the unbounded yield doubled the p99
// latency. The gate therefore allows yields only while blocked reads
// keep returning, which shows the network is polled: when none returned
// for yieldStarve, goroutines stop yielding until the run queue drains
// and the poller runs again.
type yieldGate struct {
	// polled is when a read that blocked last returned, in nanoseconds
	// since base.
	polled atomic.Int64
}

const (
	// yieldStarve is how long yields go on without a blocked read
	// returning.
	yieldStarve = 500 * time.Microsecond
	// blockedRead is the duration beyond which a read is taken to have
	// waited for the poller (a read that finds its bytes takes a few
	// microseconds).
	blockedRead = 50 * time.Microsecond
)

// base is the origin of yieldGate's clock: time.Since on it reads only
// the monotonic clock.
var base = time.Now()

// yield yields the processor if the gate is open.
func (g *yieldGate) yield() {
	if time.Since(base)-time.Duration(g.polled.Load()) < yieldStarve {
		runtime.Gosched()
	}
}

// read reads from c, noting whether the read blocked.
func (g *yieldGate) read(c io.Reader, b []byte) (int, error) {
	t0 := time.Since(base)
	n, err := c.Read(b)
	if t1 := time.Since(base); t1-t0 > blockedRead {
		g.polled.Store(int64(t1))
	}
	return n, err
}
