//go:build !linux

package main

import "syscall"

// dialControl does nothing outside Linux: IP_BIND_ADDRESS_NO_PORT is
// Linux's.
func dialControl(_, _ string, _ syscall.RawConn) error { return nil }

// peekFD cannot peek portably; every connection counts as alive, and the
// probes find the dead ones.
func peekFD(uintptr) connState { return stateAlive }
