package proxy

import (
	"context"
	"net"
	"time"
)

// An h2Stream is its request's context (context.Context): it is
// cancelled when the stream is reset or its connection fails. Being the
// context itself saves the two or three contexts per request a
// cancellable context with a value would allocate, and lets the HTTP/1.1
// upstream abort a blocked exchange without any (abortOnReset).

// streamAfter is a function registered with AfterFunc.
type streamAfter struct {
	id uint64
	f  func()
}

// Deadline reports no deadline: the route timeout is applied by the
// upstream side.
func (st *h2Stream) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done returns a channel closed when the stream is cancelled, made on the
// first call (the HTTP/1.1 upstream never asks for one).
func (st *h2Stream) Done() <-chan struct{} {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	if st.done == nil {
		st.done = make(chan struct{})
		if st.cerr != nil {
			close(st.done)
		}
	}
	return st.done
}

// Err is context.Canceled once the stream was cancelled, else nil.
func (st *h2Stream) Err() error {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	return st.cerr
}

// Value answers connKey with the connection's addresses.
func (st *h2Stream) Value(key any) any {
	if _, ok := key.(connKey); ok {
		return st.ci
	}
	return nil
}

// AfterFunc arranges for f to run once the stream is cancelled (at once,
// on its own goroutine, if it already was). context.WithCancel and
// context.AfterFunc use it instead of a goroutine watching Done.
func (st *h2Stream) AfterFunc(f func()) (stop func() bool) {
	st.cmu.Lock()
	if st.cerr != nil {
		st.cmu.Unlock()
		go f()
		return func() bool { return false }
	}
	st.afterSeq++
	id := st.afterSeq
	st.afters = append(st.afters, streamAfter{id: id, f: f})
	st.cmu.Unlock()
	return func() bool {
		st.cmu.Lock()
		defer st.cmu.Unlock()
		for i, a := range st.afters {
			if a.id == id {
				st.afters = append(st.afters[:i], st.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel cancels the stream's context: Done closes, the AfterFunc
// functions run and a watched upstream connection is aborted.
func (st *h2Stream) cancel() {
	st.cmu.Lock()
	if st.cerr != nil {
		st.cmu.Unlock()
		return
	}
	st.cerr = context.Canceled
	if st.done != nil {
		close(st.done)
	}
	afters := st.afters
	st.afters = nil
	up := st.upstream
	st.cmu.Unlock()
	if up != nil {
		up.SetDeadline(aLongTimeAgo)
	}
	for _, a := range afters {
		a.f()
	}
}

// abortOnReset makes a reset of the stream fail the blocked reads and
// writes of c (nil: none any more). It reports false when the stream was
// already cancelled; the deadline a cancellation sets may then be on c,
// which must not be reused.
func (st *h2Stream) abortOnReset(c net.Conn) bool {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	st.upstream = c
	return st.cerr == nil
}

// Compile-time check: the stream is a context.
var _ context.Context = (*h2Stream)(nil)
