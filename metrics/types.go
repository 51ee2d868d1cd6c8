package metrics

import (
	"sync/atomic"
	"time"
)

// Counter is a monotonically increasing int64. A nil *Counter is a no-op
// counter whose Value is 0.
type Counter struct {
	v atomic.Int64
}

// Inc adds 1.
func (c *Counter) Inc() {
	if c != nil {
		c.v.Add(1)
	}
}

// Add adds n; a negative n is ignored because counters never decrease.
func (c *Counter) Add(n int64) {
	if c != nil && n > 0 {
		c.v.Add(n)
	}
}

// Value returns the current count.
func (c *Counter) Value() int64 {
	if c == nil {
		return 0
	}
	return c.v.Load()
}

// Gauge is an int64 that goes up and down. A nil *Gauge is a no-op gauge
// whose Value is 0.
type Gauge struct {
	v atomic.Int64
}

// Set replaces the value with v.
func (g *Gauge) Set(v int64) {
	if g != nil {
		g.v.Store(v)
	}
}

// Add adds n, which may be negative.
func (g *Gauge) Add(n int64) {
	if g != nil {
		g.v.Add(n)
	}
}

// Value returns the current value.
func (g *Gauge) Value() int64 {
	if g == nil {
		return 0
	}
	return g.v.Load()
}

// bucketBounds are the histogram's inclusive upper bounds: a 1-2-5 series
// (each step about x2.2) from 50us to 60s, which resolves request latency
// from a local hop to a long upstream timeout. Observations above 60s fall in
// the +Inf bucket.
var bucketBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second, 60 * time.Second,
}

// Histogram counts durations into fixed buckets (see Buckets) and keeps
// their sum; the exposition reports seconds. A nil *Histogram is a no-op.
type Histogram struct {
	// counts are per bucket (not cumulative) so that Observe touches one
	// counter; the last one is +Inf. The total count is their sum, which
	// keeps the +Inf bucket and _count equal in every snapshot.
	counts   [len(bucketBounds) + 1]atomic.Uint64
	sumNanos atomic.Int64
}

// Buckets returns the histogram bucket upper bounds in seconds, ascending,
// without the implicit +Inf bucket.
func Buckets() []float64 {
	out := make([]float64, len(bucketBounds))
	for i, b := range bucketBounds {
		out[i] = b.Seconds()
	}
	return out
}

// Observe records one duration; a negative d counts as 0.
func (h *Histogram) Observe(d time.Duration) {
	if h == nil {
		return
	}
	if d < 0 {
		d = 0
	}
	i := 0
	for i < len(bucketBounds) && d > bucketBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(int64(d))
}

// histSnapshot is a histogram read for exposition.
type histSnapshot struct {
	cumulative [len(bucketBounds) + 1]uint64 // last is +Inf == count
	sum        time.Duration
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	if h == nil {
		return 0
	}
	return h.snapshot().cumulative[len(bucketBounds)]
}

// Sum returns the total of the observed durations.
func (h *Histogram) Sum() time.Duration {
	if h == nil {
		return 0
	}
	return time.Duration(h.sumNanos.Load())
}

func (h *Histogram) snapshot() histSnapshot {
	var s histSnapshot
	var acc uint64
	for i := range h.counts {
		acc += h.counts[i].Load()
		s.cumulative[i] = acc
	}
	s.sum = time.Duration(h.sumNanos.Load())
	return s
}
