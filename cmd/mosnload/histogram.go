package main

import (
	"math"
	"math/bits"
	"time"
)

// The histogram keeps one bucket per microsecond below histLinear, then
// histSub buckets per power of two, which bounds the relative error of a
// reported value by 1/histSub (0.78%). Values above histMax share the last
// bucket; min, max, mean and sd stay exact because they are kept aside.
const (
	histLinear  = 1024 // microseconds with a bucket of their own
	histSubBits = 7
	histSub     = 1 << histSubBits
	// histMaxUS is the largest value, in microseconds, with its own bucket
	// range: 60 s.
	histMaxUS = 60_000_000
)

var (
	histLinearExp = bits.Len64(histLinear) - 1 // 10
	histBuckets   = bucketIndex(histMaxUS) + 1
)

// histogram is a log-linear latency histogram in the spirit of HDR
// histograms: fixed memory (about 24 KiB), O(1) recording and no
// allocation after creation. The zero value is not usable; call
// newHistogram.
type histogram struct {
	counts []uint64
	n      uint64
	// min, max, sum and sumSq are in nanoseconds and exact.
	min, max int64
	sum      float64
	sumSq    float64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, histBuckets), min: math.MaxInt64}
}

// bucketIndex returns the bucket of a value in microseconds.
func bucketIndex(us int64) int {
	if us < 0 {
		us = 0
	}
	if us > histMaxUS {
		us = histMaxUS
	}
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(uint64(us)) - 1
	sub := int(us>>(e-histSubBits)) - histSub
	return histLinear + (e-histLinearExp)*histSub + sub
}

// bucketBounds returns the lowest value of bucket i and its width, both in
// microseconds.
func bucketBounds(i int) (lo, width int64) {
	if i < histLinear {
		return int64(i), 1
	}
	j := i - histLinear
	e := histLinearExp + j/histSub
	sub := int64(j % histSub)
	return (histSub + sub) << (e - histSubBits), 1 << (e - histSubBits)
}

// bucketValue is the value, in microseconds, reported for bucket i: the
// value itself in the linear range, else the middle of the bucket.
func bucketValue(i int) int64 {
	lo, w := bucketBounds(i)
	return lo + w/2
}

// record adds one latency. Negative durations count as zero.
func (h *histogram) record(d time.Duration) {
	ns := int64(d)
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketIndex(ns/1000)]++
	h.n++
	h.min = min(h.min, ns)
	h.max = max(h.max, ns)
	f := float64(ns)
	h.sum += f
	h.sumSq += f * f
}

// merge adds the samples of o to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
	h.sum += o.sum
	h.sumSq += o.sumSq
}

// count returns the number of samples.
func (h *histogram) count() uint64 { return h.n }

// minimum returns the smallest sample, or 0 without samples.
func (h *histogram) minimum() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.min)
}

// maximum returns the largest sample, or 0 without samples.
func (h *histogram) maximum() time.Duration { return time.Duration(h.max) }

// mean returns the exact mean, or 0 without samples.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// stddev returns the exact population standard deviation.
func (h *histogram) stddev() time.Duration {
	if h.n == 0 {
		return 0
	}
	m := h.sum / float64(h.n)
	v := h.sumSq/float64(h.n) - m*m
	if v < 0 { // rounding
		v = 0
	}
	return time.Duration(math.Sqrt(v))
}

// percentile returns the value below or at which p percent (0 < p <= 100)
// of the samples lie, with the precision of the buckets, clamped to the
// exact min and max.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if p >= 100 {
		return time.Duration(h.max)
	}
	// The tolerance keeps binary rounding (99.9% of 1000 is 999.0000001)
	// from moving the rank up by one.
	x := p / 100 * float64(h.n)
	rank := uint64(math.Ceil(x - 1e-9*x))
	rank = max(rank, 1)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			v := time.Duration(bucketValue(i)) * time.Microsecond
			return min(max(v, time.Duration(h.min)), time.Duration(h.max))
		}
	}
	return time.Duration(h.max)
}

// withinSD returns the percentage of samples within one standard deviation
// of the mean, judged by bucket values (h2load's "+/- sd" column).
func (h *histogram) withinSD() float64 {
	if h.n == 0 {
		return 0
	}
	m, sd := h.mean(), h.stddev()
	lo, hi := m-sd, m+sd
	var in uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		v := time.Duration(bucketValue(i)) * time.Microsecond
		v = min(max(v, time.Duration(h.min)), time.Duration(h.max))
		if v >= lo && v <= hi {
			in += c
		}
	}
	return 100 * float64(in) / float64(h.n)
}
