//go:build !linux

package network

import "net"

// readableWaiter returns immediately on platforms without MSG_PEEK
// support here; the copy loop then blocks in Read with a buffer.
func readableWaiter(net.Conn) func() error { return func() error { return nil } }
