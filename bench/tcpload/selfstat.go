package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runqueueWait returns the time this process's threads have spent runnable
// but waiting for a CPU (the second field of Linux's schedstat), and false
// where that is not available. The benchmark prints it so that a starved
// load generator on a shared machine is visible in the results.
func runqueueWait() (time.Duration, bool) {
	files, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(files) == 0 {
		return 0, false
	}
	var total time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			// The thread exited between the glob and the read.
			continue
		}
		ns, ok := parseSchedstat(string(b))
		if !ok {
			return 0, false
		}
		total += ns
	}
	return total, true
}

// parseSchedstat returns the wait field of a schedstat line
// "run_ns wait_ns timeslices".
func parseSchedstat(s string) (time.Duration, bool) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n), true
}

// runqMeter measures the run-queue wait between its start and format.
type runqMeter struct {
	start time.Duration
	ok    bool
}

func startRunq() runqMeter {
	d, ok := runqueueWait()
	return runqMeter{d, ok}
}

// field returns " runq_s=S" (the wait since start, in seconds) or "" where
// schedstat is not available.
func (m runqMeter) field() string {
	end, ok := runqueueWait()
	if !m.ok || !ok {
		return ""
	}
	return " runq_s=" + strconv.FormatFloat((end-m.start).Seconds(), 'f', 3, 64)
}
