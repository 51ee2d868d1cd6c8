package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runqWait returns the total time the threads of this process have spent
// runnable but waiting for a CPU, from the second field of Linux's
// /proc/self/task/*/schedstat, and false where that is not available.
// Threads that exit take their share with them, so it is a lower bound.
// The RESULT line reports it so that a starved load generator on a shared
// machine is visible.
func runqWait() (time.Duration, bool) {
	paths, _ := filepath.Glob("/proc/self/task/*/schedstat")
	if len(paths) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil { // the thread is gone
			continue
		}
		d, ok := schedstatWait(string(b))
		if !ok {
			return 0, false
		}
		sum += d
	}
	return sum, true
}

// schedstatWait parses "run_ns wait_ns slices" and returns wait_ns.
func schedstatWait(s string) (time.Duration, bool) {
	fields := strings.Fields(s)
	if len(fields) < 3 {
		return 0, false
	}
	ns, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || ns < 0 {
		return 0, false
	}
	return time.Duration(ns), true
}
