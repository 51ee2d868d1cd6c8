// Package workers runs short tasks on goroutines that are kept for the
// next task instead of ending.
//
// A new goroutine starts with a small stack that the runtime grows by
// copying it as the task calls deeper; a proxy that starts one goroutine
// per request (an HTTP/2 stream) pays for that growth on every request. A
// kept goroutine keeps its grown stack, so a task handed to it starts at
// once, for the cost of a channel hand-off.
package workers

import (
	"sync"
	"time"
)

// Task is work for a pool. Run must recover its own panics: a panic
// ends the process as in any goroutine.
type Task interface{ Run() }

// DefaultMaxIdle is how many idle goroutines a Pool keeps when MaxIdle
// is zero.
const DefaultMaxIdle = 1024

// DefaultIdleTimeout is how long an idle goroutine waits for a task
// before it ends, when IdleTimeout is zero.
const DefaultIdleTimeout = 10 * time.Second

// Pool runs tasks on kept goroutines. The zero value is ready to use;
// set the fields before the first Go. A Pool belongs to one owner (a
// proxy instance): it is no package-level singleton.
type Pool struct {
	// MaxIdle bounds the idle goroutines kept (DefaultMaxIdle when
	// zero); a goroutine finding the pool full ends.
	MaxIdle int
	// IdleTimeout is how long a goroutine stays idle before it ends
	// (DefaultIdleTimeout when zero).
	IdleTimeout time.Duration

	mu sync.Mutex
	// idle is a stack: the goroutine that finished last (its stack and
	// cache lines warm) runs the next task, and the ones at the bottom
	// age out when load drops.
	idle    []*worker
	sweeper *time.Timer
	stopped bool
	// exited, when set (tests), is called as a goroutine ends.
	exited func()
}

type worker struct {
	tasks     chan Task
	idleSince time.Time
}

// Go runs t on an idle goroutine of the pool, or on a new one.
func (p *Pool) Go(t Task) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		// The channel has room for one task and the worker is idle:
		// the send never blocks.
		w.tasks <- t
		return
	}
	p.mu.Unlock()
	go p.loop(&worker{tasks: make(chan Task, 1)}, t)
}

func (p *Pool) loop(w *worker, t Task) {
	if p.exited != nil {
		defer p.exited()
	}
	for {
		t.Run()
		t = nil // nothing of the task is kept while idle
		if !p.putIdle(w) {
			return
		}
		if t = <-w.tasks; t == nil {
			return // swept
		}
	}
}

// putIdle offers w for the next task; false means it must end.
func (p *Pool) putIdle(w *worker) bool {
	max := p.MaxIdle
	if max <= 0 {
		max = DefaultMaxIdle
	}
	w.idleSince = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || len(p.idle) >= max {
		return false
	}
	p.idle = append(p.idle, w)
	if p.sweeper == nil {
		p.sweeper = time.AfterFunc(p.idleTimeout(), p.sweep)
	}
	return true
}

func (p *Pool) idleTimeout() time.Duration {
	if p.IdleTimeout > 0 {
		return p.IdleTimeout
	}
	return DefaultIdleTimeout
}

// sweep ends the goroutines idle for longer than the idle timeout. They
// are at the bottom of the stack; the sweep runs again while any idle
// goroutine is left.
func (p *Pool) sweep() {
	timeout := p.idleTimeout()
	cutoff := time.Now().Add(-timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && p.idle[n].idleSince.Before(cutoff) {
		p.idle[n].tasks <- nil
		n++
	}
	if n > 0 {
		k := copy(p.idle, p.idle[n:])
		clear(p.idle[k:])
		p.idle = p.idle[:k]
	}
	if len(p.idle) == 0 || p.stopped {
		p.sweeper = nil
		return
	}
	p.sweeper.Reset(timeout)
}

// Idle reports how many goroutines wait for a task.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Stop ends the idle goroutines; goroutines running a task end when it
// returns. Go keeps working after Stop, on goroutines that end with
// their task.
func (p *Pool) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for _, w := range p.idle {
		w.tasks <- nil
	}
	clear(p.idle)
	p.idle = p.idle[:0]
	if p.sweeper != nil {
		p.sweeper.Stop()
		p.sweeper = nil
	}
}
