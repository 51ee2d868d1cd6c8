//go:build !linux

package upstream

import "syscall"

// markControl returns nil: SO_MARK exists only on Linux, so the cluster's
// mark is ignored elsewhere.
func markControl(uint32) func(network, address string, rc syscall.RawConn) error {
	return nil
}
