//go:build !linux

package proxy

import (
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
)

// h1Loop is Linux-only (epoll); elsewhere every HTTP/1 connection is
// served by its own goroutine.
type h1Loop struct{}

// h1LoopsOn: this platform has no event loop.
const h1LoopsOn = false

type loopConn struct{}

type loopUp struct{ l *h1Loop }

type h2LoopConn struct{}

func (l *h1Loop) startStream(*h2Stream) bool { return false }

// adopt hands sc to the event loop; there is none here.
func (sc *h2Conn) adopt() bool { return false }

// writeAll is only used with an event loop.
func writeAll(r *network.RawIO, b []byte) ([]byte, error) {
	_, err := r.Write(b)
	return nil, err
}

func (l *h1Loop) take(*upstream.Cluster, *upstream.Host) *upConn { return nil }
func (l *h1Loop) put(*upConn)                                    {}
func (l *h1Loop) write(*h1Server, []byte) error                  { return nil }
func (u *upConn) flushLoop() error                               { return nil }
func (u *upConn) leaveLoop()                                     {}

// adopt hands s to the event loop; there is none here.
func (s *h1Server) adopt() bool { return false }
