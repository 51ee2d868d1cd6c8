//go:build !linux

package network

import "net"

// NewReadWaiter returns immediately on platforms without MSG_PEEK
// support here; the copy loop then blocks in Read with a buffer.
func NewReadWaiter(net.Conn) func() error { return func() error { return nil } }

// Alive cannot look without blocking here; it trusts the connection.
func Alive(net.Conn) bool { return true }

// PeekPrefix cannot peek here; it reports no match, so protocol detection
// falls back to the first protocol.
func PeekPrefix(net.Conn, []byte) (bool, error) { return false, nil }

// Peek cannot look ahead here; it returns nothing, so detection falls
// back to HTTP/1.
func Peek(net.Conn, int) ([]byte, error) { return []byte{0}, nil }
