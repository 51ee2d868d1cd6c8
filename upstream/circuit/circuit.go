// Package circuit implements MOSN's cluster circuit breakers
// (circuit_breakers[{max_connections, max_pending_requests, max_requests,
// max_retries}]): limits on what one cluster may have open at once, shared
// by every listener of the process. Only the first threshold set is used
// and 0 means unlimited, as in MOSN. A request over a limit is answered at
// once (HTTP 503 with the UpstreamOverflow flag, bolt
// SERVER_THREADPOOL_BUSY, dubbo 40) instead of queueing.
package circuit

import (
	"sync"
	"sync/atomic"

	"mosn.dev/proxy/config"
)

// Breaker counts one cluster's open connections, requests and retries.
type Breaker struct {
	maxConns, maxReqs, maxRetries int64
	conns, reqs, retries          atomic.Int64
	overflows                     atomic.Int64
}

// New returns a breaker for cfg's first threshold set (nil cfg or no set:
// unlimited).
func New(cfg *config.Cluster) *Breaker {
	b := &Breaker{}
	if cfg != nil && len(cfg.CircuitBreakers) > 0 {
		t := cfg.CircuitBreakers[0]
		b.maxConns, b.maxReqs, b.maxRetries = int64(t.MaxConnections), int64(t.MaxRequests), int64(t.MaxRetries)
	}
	return b
}

func acquire(n *atomic.Int64, limit int64, overflows *atomic.Int64) bool {
	if limit <= 0 {
		n.Add(1)
		return true
	}
	if n.Add(1) > limit {
		n.Add(-1)
		overflows.Add(1)
		return false
	}
	return true
}

// AcquireRequest admits one request; ReleaseRequest must follow when it
// ends. False means the cluster is at max_requests.
func (b *Breaker) AcquireRequest() bool { return acquire(&b.reqs, b.maxReqs, &b.overflows) }

// ReleaseRequest ends a request admitted by AcquireRequest.
func (b *Breaker) ReleaseRequest() { b.reqs.Add(-1) }

// AcquireRetry admits one retry; ReleaseRetry must follow.
func (b *Breaker) AcquireRetry() bool { return acquire(&b.retries, b.maxRetries, &b.overflows) }

// ReleaseRetry ends a retry admitted by AcquireRetry.
func (b *Breaker) ReleaseRetry() { b.retries.Add(-1) }

// AcquireConn admits one new upstream connection; ReleaseConn must follow
// when it closes.
func (b *Breaker) AcquireConn() bool { return acquire(&b.conns, b.maxConns, &b.overflows) }

// ReleaseConn ends a connection admitted by AcquireConn.
func (b *Breaker) ReleaseConn() { b.conns.Add(-1) }

// Overflows counts refusals, for metrics.
func (b *Breaker) Overflows() int64 { return b.overflows.Load() }

// Set holds the process's breakers by cluster name.
type Set struct {
	m sync.Map // name -> *Breaker
}

// Get returns the breaker of cluster cfg.Name, creating it on first use.
func (s *Set) Get(cfg *config.Cluster) *Breaker {
	if b, ok := s.m.Load(cfg.Name); ok {
		return b.(*Breaker)
	}
	b, _ := s.m.LoadOrStore(cfg.Name, New(cfg))
	return b.(*Breaker)
}
