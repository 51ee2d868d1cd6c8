//go:build !linux

package network

import (
	"errors"
	"syscall"
	"time"
)

// Poller parks idle connections without a goroutine on Linux; elsewhere
// Park always fails and handlers wait the usual way.
type Poller struct{}

// WakeReason says why a parked connection resumed.
type WakeReason uint8

// Wake reasons (see the Linux implementation).
const (
	Readable WakeReason = iota
	IdleTimeout
	Woken
)

// Parked is one parked connection.
type Parked struct{ keep bool }

// ErrPollerClosed is returned by Park after Close.
var ErrPollerClosed = errors.New("poller closed")

var errNoPoller = errors.New("parking needs epoll (Linux)")

// NewPoller fails outside Linux.
func NewPoller() (*Poller, error) { return nil, errNoPoller }

// Park fails outside Linux.
func (p *Poller) Park(syscall.RawConn, time.Duration, func(WakeReason)) (*Parked, error) {
	return nil, errNoPoller
}

// ParkFD fails outside Linux.
func (p *Poller) ParkFD(int, time.Duration, func(WakeReason)) (*Parked, error) {
	return nil, errNoPoller
}

// ParkFDKeep fails outside Linux.
func (p *Poller) ParkFDKeep(int, time.Duration, func(WakeReason)) (*Parked, error) {
	return nil, errNoPoller
}

// Rearm fails outside Linux.
func (p *Poller) Rearm(*Parked, time.Duration) error { return errNoPoller }

// Release does nothing outside Linux.
func (p *Poller) Release(int) {}

// Wake does nothing outside Linux.
func (p *Poller) Wake(*Parked) {}

// Cancel does nothing outside Linux.
func (p *Poller) Cancel(*Parked) bool { return false }

// Len is 0 outside Linux.
func (p *Poller) Len() int { return 0 }

// Close does nothing outside Linux.
func (p *Poller) Close() {}
