package main

import (
	"math"
	"testing"
	"time"
)

func TestScheduleOffset(t *testing.T) {
	// 2000 qps: a period of exactly 500 us, and request i at i periods.
	for i := range int64(100000) {
		if got, want := scheduleOffset(i, 2000), time.Duration(i)*500*time.Microsecond; got != want {
			t.Fatalf("offset(%d, 2000) = %v, want %v", i, got, want)
		}
	}
	tests := []struct {
		i, qps int64
		want   time.Duration
	}{
		{0, 3, 0},
		{1, 3, 333333333},
		{2, 3, 666666666},
		{3, 3, time.Second}, // no drift: a whole second lands exactly
		{3_000_000_000, 3, 1_000_000_000 * time.Second},
		{7, 7_000_000, time.Microsecond},
		{1 << 40, 1, math.MaxInt64}, // beyond time.Duration
		{-1, 10, 0},
		{5, 0, 0},
	}
	for _, tc := range tests {
		if got := scheduleOffset(tc.i, tc.qps); got != tc.want {
			t.Errorf("offset(%d, %d) = %d, want %d", tc.i, tc.qps, got, tc.want)
		}
	}
	// Offsets never go down, whatever the rate.
	for _, qps := range []int64{1, 3, 7, 999, 2000, 123457} {
		prev := time.Duration(-1)
		for i := range int64(10000) {
			o := scheduleOffset(i, qps)
			if o < prev {
				t.Fatalf("qps %d: offset(%d) = %v before offset(%d) = %v", qps, i, o, i-1, prev)
			}
			prev = o
		}
	}
}

func TestSlotSeqCoversEveryRequestOnce(t *testing.T) {
	for _, tc := range []struct{ c, threads int }{{1, 1}, {7, 3}, {200, 16}, {5, 5}} {
		const n = 5000
		seen := make([]int, n)
		for w := range tc.threads {
			ks := workerClients(w, tc.threads, tc.c)
			seq := newSlotSeq(ks, tc.c)
			prev := int64(-1)
			for {
				i, k := seq.next()
				if i >= n {
					break
				}
				if i <= prev {
					t.Fatalf("c=%d t=%d worker %d: %d after %d", tc.c, tc.threads, w, i, prev)
				}
				if int64(k) != i%int64(tc.c) {
					t.Fatalf("request %d went to client %d, want %d", i, k, i%int64(tc.c))
				}
				if k%tc.threads != w {
					t.Fatalf("client %d driven by worker %d of %d", k, w, tc.threads)
				}
				seen[i]++
				prev = i
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("c=%d t=%d: request %d sent %d times", tc.c, tc.threads, i, n)
			}
		}
	}
}

func TestWarmupCount(t *testing.T) {
	tests := []struct {
		warm time.Duration
		qps  int64
		want int64
	}{
		{0, 2000, 0},
		{time.Second, 2000, 2000},
		{100 * time.Millisecond, 1000, 100},
		{time.Second, 3, 3},
		{1500 * time.Millisecond, 3, 5}, // 0, 0.33, 0.67, 1, 1.33 are before 1.5 s
	}
	for _, tc := range tests {
		got := warmupCount(tc.warm, tc.qps)
		if got != tc.want {
			t.Errorf("warmupCount(%v, %d) = %d, want %d", tc.warm, tc.qps, got, tc.want)
		}
		if got > 0 && scheduleOffset(got-1, tc.qps) >= tc.warm || scheduleOffset(got, tc.qps) < tc.warm {
			t.Errorf("warmupCount(%v, %d) = %d is not the first request at or after the warm-up", tc.warm, tc.qps, got)
		}
	}
}
