package lb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/upstream"
)

// TestRingSuccessor checks the bucket index against a plain binary search
// of the whole ring.
func TestRingSuccessor(t *testing.T) {
	for _, n := range []int{1, 2, 5, 100} {
		hosts := make([]*upstream.Host, n)
		for i := range hosts {
			hosts[i] = upstream.NewHost(config.Host{Address: fmt.Sprintf("192.168.0.%d:8080", i), Weight: uint32(1 + i%3)}, "c")
		}
		b := NewRingHash(upstream.NewHostSet(hosts), nil).(*ringHash)
		want := func(key uint64) int {
			i, _ := slices.BinarySearch(b.points, key)
			if i == len(b.points) {
				i = 0
			}
			return i
		}
		ks := []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1, b.points[0], b.points[0] - 1, b.points[len(b.points)-1], b.points[len(b.points)-1] + 1}
		for _, p := range b.points[:min(len(b.points), 500)] {
			ks = append(ks, p, p+1, p-1)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		for range 20000 {
			ks = append(ks, rng.Uint64())
		}
		for _, k := range ks {
			if got, w := b.successor(k), want(k); got != w {
				t.Fatalf("%d hosts: successor(%x) = %d, want %d", n, k, got, w)
			}
		}
	}
}

// TestRingSize checks the number of points each host gets.
func TestRingSize(t *testing.T) {
	tests := []struct {
		weights []uint32
		want    []int
	}{
		{[]uint32{1, 1, 1}, []int{1024, 1024, 1024}},
		{[]uint32{2, 4}, []int{1024, 2048}},
		// 1024*(1+128*2) = 263168 points exceeds the cap of 131072: each
		// share is scaled by 131072/263168 and rounded down.
		{[]uint32{1, 128, 128}, []int{510, 65280, 65280}},
	}
	for _, tc := range tests {
		hosts := make([]*upstream.Host, len(tc.weights))
		for i, w := range tc.weights {
			hosts[i] = upstream.NewHost(config.Host{Address: fmt.Sprintf("10.0.0.%d:80", i), Weight: w}, "c")
		}
		b := NewRingHash(upstream.NewHostSet(hosts), nil).(*ringHash)
		got := make([]int, len(hosts))
		for i := range b.points {
			for j, h := range hosts {
				if b.owner(i) == h {
					got[j]++
				}
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("weights %v: points %v, want %v", tc.weights, got, tc.want)
		}
	}
}
