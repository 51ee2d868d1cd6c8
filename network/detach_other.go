//go:build !linux

package network

import "net"

func detachFD(net.Conn) (int, error) { return -1, errNotDetachable }

func attachFD(int) (net.Conn, error) { return nil, errNotDetachable }

func closeFD(int) {}
