package main

import (
	"context"
	"syscall"
	"time"
)

// maxNap bounds one sleep so that a cancelled run stops promptly.
const maxNap = 10 * time.Millisecond

// sleepUntil sleeps until at and reports false when ctx ended first.
//
// It sleeps in nanosleep rather than on a runtime timer: an idle Go process
// waits for timers in epoll with millisecond resolution, which would make
// every request up to a millisecond late and add that to its latency;
// nanosleep wakes within the kernel's timer slack (50 us by default).
func sleepUntil(ctx context.Context, at time.Time) bool {
	for {
		d := time.Until(at)
		if d <= 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		ts := syscall.NsecToTimespec(int64(min(d, maxNap)))
		// EINTR only shortens the nap; the loop sleeps the rest.
		_ = syscall.Nanosleep(&ts, nil)
	}
}
