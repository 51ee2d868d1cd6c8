//go:build linux

package proxy

import "mosn.dev/proxy/upstream"

type h1Loop struct{}

type loopConn struct{}

func (l *h1Loop) take(*upstream.Cluster, *upstream.Host) *upConn { return nil }
func (l *h1Loop) put(*upConn)                                    {}
func (l *h1Loop) write(*h1Server, []byte) error                  { return nil }
