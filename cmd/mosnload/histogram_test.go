package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	prevIdx, prevLo := -1, int64(-1)
	for us := int64(0); us <= histMaxUS; us += 1 + us/300 {
		i := bucketIndex(us)
		lo, w := bucketBounds(i)
		if us < lo || us >= lo+w {
			t.Fatalf("value %d us in bucket %d [%d, %d)", us, i, lo, lo+w)
		}
		if i < prevIdx {
			t.Fatalf("bucket index went down at %d us: %d after %d", us, i, prevIdx)
		}
		if i != prevIdx && lo <= prevLo {
			t.Fatalf("bucket %d starts at %d, not after %d", i, lo, prevLo)
		}
		if us < histLinear && w != 1 {
			t.Fatalf("value %d us: width %d, want 1 us below %d us", us, w, histLinear)
		}
		if us >= histLinear && float64(w)/float64(lo) > 0.01 {
			t.Fatalf("value %d us: bucket width %d is more than 1%% of %d", us, w, lo)
		}
		prevIdx, prevLo = i, lo
	}
	if got := bucketIndex(histMaxUS * 10); got != histBuckets-1 {
		t.Errorf("overflow goes to bucket %d, want the last, %d", got, histBuckets-1)
	}
	if got := bucketIndex(-5); got != 0 {
		t.Errorf("negative value goes to bucket %d, want 0", got)
	}
}

func TestHistogramKnownData(t *testing.T) {
	h := newHistogram()
	// 1..1000 us, shuffled: every percentile is exact in the linear range.
	vals := make([]int64, 1000)
	for i := range vals {
		vals[i] = int64(i + 1)
	}
	rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	for _, v := range vals {
		h.record(time.Duration(v) * time.Microsecond)
	}
	us := time.Microsecond
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{0.1, 1 * us}, {1, 10 * us}, {50, 500 * us}, {75, 750 * us}, {90, 900 * us},
		{95, 950 * us}, {99, 990 * us}, {99.9, 999 * us}, {100, 1000 * us},
	}
	for _, tc := range tests {
		if got := h.percentile(tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if h.count() != 1000 || h.minimum() != us || h.maximum() != 1000*us {
		t.Errorf("count/min/max = %d/%v/%v", h.count(), h.minimum(), h.maximum())
	}
	if got := h.mean(); got != 500500*time.Nanosecond {
		t.Errorf("mean = %v, want 500.5us", got)
	}
	// Population sd of 1..n is sqrt((n^2-1)/12).
	wantSD := time.Duration(math.Sqrt((1000*1000-1)/12.0) * 1000)
	if got := h.stddev(); (got - wantSD).Abs() > time.Nanosecond {
		t.Errorf("sd = %v, want %v", got, wantSD)
	}
	// mean +/- sd = [211.8, 789.2] us holds 212..789: 578 values.
	if got := h.withinSD(); math.Abs(got-57.8) > 1e-9 {
		t.Errorf("within sd = %v%%, want 57.8%%", got)
	}
}

func TestHistogramRelativePrecision(t *testing.T) {
	h := newHistogram()
	var exact []time.Duration
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		// Log-uniform between 1 ms and 10 s.
		d := time.Duration(math.Exp(math.Log(1e6) + r.Float64()*math.Log(1e4)))
		h.record(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	for _, p := range []float64{10, 50, 75, 90, 99, 99.9} {
		want := exact[int(math.Ceil(p/100*float64(len(exact))))-1]
		got := h.percentile(p)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.01 {
			t.Errorf("p%v = %v, exact %v: off by %.2f%%", p, got, want, 100*rel)
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b, all := newHistogram(), newHistogram(), newHistogram()
	for i := range 5000 {
		d := time.Duration(i*i) * time.Microsecond / 7
		all.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(b)
	a.merge(newHistogram()) // merging an empty histogram changes nothing
	for _, p := range []float64{1, 50, 90, 99, 100} {
		if a.percentile(p) != all.percentile(p) {
			t.Errorf("p%v: merged %v, direct %v", p, a.percentile(p), all.percentile(p))
		}
	}
	if a.count() != all.count() || a.minimum() != all.minimum() || a.maximum() != all.maximum() || a.mean() != all.mean() {
		t.Errorf("merged n/min/max/mean %d/%v/%v/%v, direct %d/%v/%v/%v",
			a.count(), a.minimum(), a.maximum(), a.mean(), all.count(), all.minimum(), all.maximum(), all.mean())
	}
}

func TestHistogramEmptyAndExtremes(t *testing.T) {
	h := newHistogram()
	if h.percentile(50) != 0 || h.mean() != 0 || h.stddev() != 0 || h.minimum() != 0 || h.withinSD() != 0 {
		t.Error("an empty histogram should report zeros")
	}
	h.record(-time.Second)
	h.record(10 * time.Minute) // beyond the last bucket
	if got := h.percentile(100); got != 10*time.Minute {
		t.Errorf("max = %v, want the exact 10m", got)
	}
	if got := h.percentile(50); got != 0 {
		t.Errorf("p50 = %v, want 0 (the negative sample)", got)
	}
	if got := h.percentile(99); got > 10*time.Minute || got < histMaxUS*time.Microsecond*99/100 {
		t.Errorf("p99 = %v, want about the top of the range", got)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := newHistogram()
	b.ReportAllocs()
	d := time.Duration(0)
	for b.Loop() {
		d += 7919 * time.Nanosecond
		h.record(d % (50 * time.Millisecond))
	}
}
