package testutil

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
)

// BoltServer is a bolt echo server on 127.0.0.1:0 for tests: it answers
// each request with SUCCESS and a content of "<name>:<request content>",
// after a random delay up to MaxDelay (so answers come back out of order),
// and acknowledges heartbeats. Requests counts every non-heartbeat request
// it received.
type BoltServer struct {
	*Server
	Name     string
	MaxDelay time.Duration
	silent   atomic.Bool

	mu         sync.Mutex
	requests   int
	heartbeats int
}

// NewBoltServer starts a bolt echo server.
func NewBoltServer(t testing.TB, name string, maxDelay time.Duration) *BoltServer {
	s := &BoltServer{Name: name, MaxDelay: maxDelay}
	s.Server = NewServer(t, s.serve)
	return s
}

// SetSilent makes the server read requests and never answer them.
func (s *BoltServer) SetSilent(v bool) { s.silent.Store(v) }

// Requests returns the number of requests received so far.
func (s *BoltServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Heartbeats returns the number of heartbeats received so far.
func (s *BoltServer) Heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heartbeats
}

func (s *BoltServer) serve(c net.Conn) {
	var wmu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	write := func(b []byte) {
		wmu.Lock()
		c.Write(b)
		wmu.Unlock()
	}
	buf := make([]byte, 0, 64<<10)
	tmp := make([]byte, 32<<10)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			f, m, perr := bolt.Parse(buf)
			if perr != nil {
				break
			}
			if f.IsHeartbeat() {
				s.mu.Lock()
				s.heartbeats++
				s.mu.Unlock()
				write(bolt.AppendHeartbeatAck(nil, f.Proto, f.RequestID))
			} else if f.IsRequest() {
				s.mu.Lock()
				s.requests++
				s.mu.Unlock()
				if !f.Oneway() && !s.silent.Load() {
					resp := bolt.AppendResponse(nil, bolt.Response{
						Proto: f.Proto, Ver1: f.Ver1, CmdCode: bolt.CmdResponse, Ver2: f.Ver2,
						RequestID: f.RequestID, Codec: f.Codec, Status: bolt.StatusSuccess,
						Class: bolt.ClassResponse, Content: []byte(s.Name + ":" + string(f.Content)),
					})
					var d time.Duration
					if s.MaxDelay > 0 {
						d = time.Duration(rand.Int64N(int64(s.MaxDelay)))
					}
					wg.Add(1)
					time.AfterFunc(d, func() { defer wg.Done(); write(resp) })
				}
			}
			buf = buf[m:]
		}
		if err != nil {
			return
		}
	}
}

// BoltClient is a multiplexing bolt client for tests: Call sends a request
// and waits for the response with the same id.
type BoltClient struct {
	c    net.Conn
	mu   sync.Mutex
	next uint32
	wait map[uint32]chan bolt.Frame
	err  error
	done chan struct{}
}

// DialBolt connects a BoltClient to addr.
func DialBolt(t testing.TB, addr string) *BoltClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	bc := &BoltClient{c: c, wait: map[uint32]chan bolt.Frame{}, done: make(chan struct{})}
	go bc.readLoop()
	t.Cleanup(func() { c.Close() })
	return bc
}

func (bc *BoltClient) readLoop() {
	defer close(bc.done)
	buf := make([]byte, 0, 64<<10)
	tmp := make([]byte, 32<<10)
	for {
		n, err := bc.c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			f, m, perr := bolt.Parse(buf)
			if perr != nil {
				break
			}
			// Keep the frame's bytes: buf is reused.
			raw := append([]byte(nil), f.Raw...)
			f, _, _ = bolt.Parse(raw)
			bc.mu.Lock()
			ch := bc.wait[f.RequestID]
			delete(bc.wait, f.RequestID)
			bc.mu.Unlock()
			if ch != nil {
				ch <- f
			}
			buf = buf[m:]
		}
		if err != nil {
			bc.mu.Lock()
			bc.err = err
			for id, ch := range bc.wait {
				close(ch)
				delete(bc.wait, id)
			}
			bc.mu.Unlock()
			return
		}
	}
}

// ErrClosed is returned by Call when the connection closed first.
var ErrClosed = errors.New("connection closed before the response")

// Call sends a request (a heartbeat when heartbeat is true) with the given
// headers and content and returns the response frame.
func (bc *BoltClient) Call(headers [][2]string, content string, heartbeat bool, timeout time.Duration) (bolt.Frame, error) {
	bc.mu.Lock()
	if bc.err != nil {
		bc.mu.Unlock()
		return bolt.Frame{}, ErrClosed
	}
	bc.next++
	id := bc.next
	ch := make(chan bolt.Frame, 1)
	bc.wait[id] = ch
	bc.mu.Unlock()
	var b []byte
	if heartbeat {
		b = bolt.AppendHeartbeat(nil, bolt.ProtoV1, id)
	} else {
		b = bolt.AppendRequest(nil, bolt.Request{
			Proto: bolt.ProtoV1, CmdCode: bolt.CmdRequest, Ver2: 1, RequestID: id, Codec: 1,
			Timeout: int32(timeout / time.Millisecond), Class: bolt.ClassRequest, Headers: headers, Content: []byte(content),
		})
	}
	bc.mu.Lock()
	_, err := bc.c.Write(b)
	bc.mu.Unlock()
	if err != nil {
		return bolt.Frame{}, err
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return bolt.Frame{}, ErrClosed
		}
		if f.RequestID != id {
			return f, fmt.Errorf("response id %d for request %d", f.RequestID, id)
		}
		return f, nil
	case <-time.After(timeout + 5*time.Second):
		return bolt.Frame{}, fmt.Errorf("no response to request %d", id)
	}
}
