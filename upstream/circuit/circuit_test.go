package circuit

import (
	"sync"
	"testing"

	"mosn.dev/proxy/config"
)

func TestLimits(t *testing.T) {
	b := New(&config.Cluster{CircuitBreakers: []config.CircuitBreaker{{MaxRequests: 2, MaxRetries: 1, MaxConnections: 1}}})
	if !b.AcquireRequest() || !b.AcquireRequest() {
		t.Fatal("the first two requests must pass")
	}
	if b.AcquireRequest() {
		t.Fatal("a third concurrent request passed max_requests 2")
	}
	b.ReleaseRequest()
	if !b.AcquireRequest() {
		t.Fatal("a request after a release must pass")
	}
	if !b.AcquireRetry() || b.AcquireRetry() {
		t.Fatal("max_retries 1 not honoured")
	}
	if !b.AcquireConn() || b.AcquireConn() {
		t.Fatal("max_connections 1 not honoured")
	}
	if b.Overflows() != 3 {
		t.Fatalf("overflows = %d, want 3", b.Overflows())
	}
}

func TestUnlimited(t *testing.T) {
	for _, b := range []*Breaker{New(nil), New(&config.Cluster{})} {
		for i := 0; i < 1000; i++ {
			if !b.AcquireRequest() || !b.AcquireConn() || !b.AcquireRetry() {
				t.Fatal("an unlimited breaker refused")
			}
		}
	}
}

func TestConcurrentNeverExceeds(t *testing.T) {
	b := New(&config.Cluster{CircuitBreakers: []config.CircuitBreaker{{MaxRequests: 5}}})
	var mu sync.Mutex
	active, peak := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if b.AcquireRequest() {
					mu.Lock()
					active++
					peak = max(peak, active)
					mu.Unlock()
					mu.Lock()
					active--
					mu.Unlock()
					b.ReleaseRequest()
				}
			}
		}()
	}
	wg.Wait()
	if peak > 5 {
		t.Fatalf("peak %d active requests with max_requests 5", peak)
	}
}

func TestSetShares(t *testing.T) {
	var s Set
	c := &config.Cluster{Name: "a"}
	if s.Get(c) != s.Get(c) {
		t.Fatal("Set.Get made two breakers for one cluster")
	}
}
