//go:build !linux

package proxy

import "mosn.dev/proxy/upstream"

// h1Loop is Linux-only (epoll); elsewhere every HTTP/1 connection is
// served by its own goroutine.
type h1Loop struct{}

type loopConn struct{}

func (l *h1Loop) take(*upstream.Cluster, *upstream.Host) *upConn { return nil }
func (l *h1Loop) put(*upConn)                                    {}
func (l *h1Loop) write(*h1Server, []byte) error                  { return nil }

// adopt hands s to the event loop; there is none here.
func (s *h1Server) adopt() bool { return false }
