//go:build !linux

package main

import (
	"context"
	"time"
)

// sleepUntil sleeps until at and reports false when ctx ended first. On
// systems other than Linux it uses a runtime timer, whose resolution may
// add up to about a millisecond of lateness to each request.
func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
