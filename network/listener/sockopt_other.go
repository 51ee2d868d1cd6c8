//go:build !linux

package listener

import (
	"syscall"

	"mosn.dev/proxy/config"
)

// controlFunc sets no options outside Linux: reuseport and tproxy are
// Linux features here.
func controlFunc(*config.Listener) func(string, string, syscall.RawConn) error { return nil }
