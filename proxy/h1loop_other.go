//go:build !linux

package proxy

import (
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/upstream"
)

// eventLoop is Linux-only (epoll); elsewhere every HTTP/1 connection is
// served by its own goroutine.
type eventLoop struct{}

// eventLoopsOn: this platform has no event loop.
const eventLoopsOn = false

type loopConn struct{}

type loopUp struct{ l *eventLoop }

type h2LoopConn struct{}

func (l *eventLoop) startStream(*h2Stream) bool { return false }

// adopt hands sc to the event loop; there is none here.
func (sc *h2Conn) adopt() bool { return false }

// writeAll is only used with an event loop.
func writeAll(r *network.RawIO, b []byte) ([]byte, error) {
	_, err := r.Write(b)
	return nil, err
}

func (l *eventLoop) take(*upstream.Cluster, *upstream.Host) *upConn { return nil }
func (l *eventLoop) put(*upConn)                                    {}
func (l *eventLoop) write(*h1Server, []byte) error                  { return nil }
func (u *upConn) flushLoop() error                                  { return nil }
func (u *upConn) leaveLoop()                                        {}

// adopt hands s to the event loop; there is none here.
func (s *h1Server) adopt() bool { return false }
