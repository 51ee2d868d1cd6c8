package proxy

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestStreamContext: a stream is a context that ends when the stream is
// cancelled, for Done, Err, AfterFunc and child contexts alike, and it
// aborts a watched upstream connection.
func TestStreamContext(t *testing.T) {
	ci := &connInfo{local: "l", remote: "r"}
	st := &h2Stream{ci: ci}
	if st.Err() != nil {
		t.Fatal("a fresh stream is cancelled")
	}
	if v, _ := st.Value(connKey{}).(*connInfo); v != ci {
		t.Fatalf("Value(connKey) = %v", st.Value(connKey{}))
	}
	if st.Value("other") != nil {
		t.Fatal("Value of an unknown key is not nil")
	}
	child, cancelChild := context.WithCancel(st)
	defer cancelChild()
	ran := make(chan struct{})
	context.AfterFunc(st, func() { close(ran) })
	stopped := false
	stop := st.AfterFunc(func() { stopped = true })
	if !stop() {
		t.Fatal("stop of a pending AfterFunc reported false")
	}
	done := st.Done()

	// A watched connection gets a deadline in the past: its blocked read
	// fails.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if !st.abortOnReset(a) {
		t.Fatal("abortOnReset on a live stream reported false")
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		readErr <- err
	}()

	st.cancel()
	st.cancel() // a second cancel changes nothing
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
	if st.Err() != context.Canceled {
		t.Fatalf("Err = %v", st.Err())
	}
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("child context not cancelled")
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("context.AfterFunc function did not run")
	}
	if stopped {
		t.Fatal("a stopped AfterFunc ran")
	}
	select {
	case err := <-readErr:
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("watched read: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watched read not aborted")
	}
	if st.abortOnReset(nil) {
		t.Fatal("abortOnReset on a cancelled stream reported true")
	}
	// After cancellation: Done is closed at once, AfterFunc runs at once.
	late := make(chan struct{})
	st.AfterFunc(func() { close(late) })
	<-late
	<-(&h2Stream{cerr: context.Canceled}).Done()
}

// TestYieldGateNotesBlockedReads: a read that waited for its bytes opens
// the gate's window.
func TestYieldGateNotesBlockedReads(t *testing.T) {
	var g yieldGate
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		time.Sleep(time.Millisecond) // the read must block
		b.Write([]byte("x"))
	}()
	before := time.Since(base)
	if n, err := g.read(a, make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read: %d %v", n, err)
	}
	if p := time.Duration(g.polled.Load()); p < before+time.Millisecond {
		t.Fatalf("polled = %v, want after %v", p, before+time.Millisecond)
	}
}
