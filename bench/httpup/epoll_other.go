//go:build !linux

package main

import (
	"errors"
	"net"
)

// serveEpoll is Linux only; elsewhere httpup serves with goroutines.
func (s *rawServer) serveEpoll(ln *net.TCPListener, stop <-chan struct{}) error {
	return errors.New("-impl epoll needs Linux")
}
