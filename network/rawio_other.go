//go:build !linux

package network

import "net"

// RawIO is Linux-only; elsewhere NewRawIO returns nil and callers use
// the connection itself.
type RawIO struct{ c net.Conn }

// NewRawIO returns nil: raw I/O is Linux-only.
func NewRawIO(net.Conn) *RawIO { return nil }

// Read reads from the connection.
func (r *RawIO) Read(p []byte) (int, error) { return r.c.Read(p) }

// Write writes to the connection.
func (r *RawIO) Write(p []byte) (int, error) { return r.c.Write(p) }
