package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type funcTask func()

func (f funcTask) Run() { f() }

// waitFor polls cond for up to 10 s: goroutines end asynchronously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunsEveryTask(t *testing.T) {
	var p Pool
	t.Cleanup(p.Stop)
	const n = 1000
	var wg sync.WaitGroup
	var ran atomic.Int64
	wg.Add(n)
	for range n {
		p.Go(funcTask(func() {
			ran.Add(1)
			wg.Done()
		}))
	}
	wg.Wait()
	if got := ran.Load(); got != n {
		t.Fatalf("%d tasks ran, want %d", got, n)
	}
}

// TestReuse: a goroutine that finished a task runs the next one, so
// sequential tasks need one goroutine.
func TestReuse(t *testing.T) {
	var p Pool
	t.Cleanup(p.Stop)
	ids := map[uint64]bool{}
	for range 50 {
		done := make(chan uint64)
		p.Go(funcTask(func() { done <- goid() }))
		ids[<-done] = true
		// The next task must find the goroutine idle.
		waitFor(t, "the goroutine to become idle", func() bool { return p.Idle() == 1 })
	}
	if len(ids) != 1 {
		t.Fatalf("50 sequential tasks ran on %d goroutines, want 1", len(ids))
	}
}

func TestMaxIdle(t *testing.T) {
	var ended atomic.Int64
	p := Pool{MaxIdle: 3, exited: func() { ended.Add(1) }}
	t.Cleanup(p.Stop)
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(10)
	for range 10 {
		p.Go(funcTask(func() {
			started.Done()
			<-release
		}))
	}
	started.Wait()
	close(release)
	// The 7 that find the pool full end rather than wait.
	waitFor(t, "7 goroutines to end", func() bool { return ended.Load() == 7 })
	if n := p.Idle(); n != 3 {
		t.Fatalf("%d idle goroutines, want MaxIdle 3", n)
	}
}

// TestIdleTimeout: idle goroutines end after IdleTimeout, and the pool
// starts new ones afterwards.
func TestIdleTimeout(t *testing.T) {
	var ended atomic.Int64
	p := Pool{IdleTimeout: 50 * time.Millisecond, exited: func() { ended.Add(1) }}
	t.Cleanup(p.Stop)
	var wg sync.WaitGroup
	release := make(chan struct{})
	wg.Add(5)
	for range 5 {
		p.Go(funcTask(func() {
			wg.Done()
			<-release
		}))
	}
	wg.Wait()
	close(release)
	waitFor(t, "5 idle goroutines", func() bool { return p.Idle() == 5 })
	waitFor(t, "the sweep", func() bool { return p.Idle() == 0 })
	waitFor(t, "the goroutines to end", func() bool { return ended.Load() == 5 })
	done := make(chan struct{})
	p.Go(funcTask(func() { close(done) }))
	<-done
}

func TestStop(t *testing.T) {
	var ended atomic.Int64
	p := Pool{exited: func() { ended.Add(1) }}
	var wg sync.WaitGroup
	wg.Add(4)
	for range 4 {
		p.Go(funcTask(wg.Done))
	}
	wg.Wait()
	waitFor(t, "4 idle goroutines", func() bool { return p.Idle() == 4 })
	p.Stop()
	waitFor(t, "the goroutines to end", func() bool { return ended.Load() == 4 })
	// Go still works after Stop, without keeping the goroutine.
	done := make(chan struct{})
	p.Go(funcTask(func() { close(done) }))
	<-done
	if n := p.Idle(); n != 0 {
		t.Fatalf("%d idle goroutines after Stop", n)
	}
}

// goid is the current goroutine's id, read from its stack header.
func goid() uint64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	var id uint64
	for _, c := range buf[len("goroutine "):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// deep grows the stack: a fresh goroutine copies its stack several times
// on the way down, a kept one not again.
func deep(n int) byte {
	var pad [256]byte
	pad[n%256] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%256]
}

var sink byte

func BenchmarkPoolDeepTask(b *testing.B) {
	var p Pool
	b.Cleanup(p.Stop)
	done := make(chan struct{}, 1)
	task := funcTask(func() { sink = deep(64); done <- struct{}{} })
	b.ReportAllocs()
	for b.Loop() {
		p.Go(task)
		<-done
	}
}

func BenchmarkGoDeepTask(b *testing.B) {
	done := make(chan struct{}, 1)
	b.ReportAllocs()
	for b.Loop() {
		go func() { sink = deep(64); done <- struct{}{} }()
		<-done
	}
}
