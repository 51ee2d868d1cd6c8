package main

import (
	"fmt"
	"io"
	"math"
	"time"
)

// formatDuration formats like h2load: whole microseconds below 1 ms, else
// milliseconds or seconds with two decimals.
func formatDuration(d time.Duration) string {
	t := d.Seconds()
	switch {
	case t >= 1:
		return fmt.Sprintf("%.2fs", t)
	case t >= 1e-3:
		return fmt.Sprintf("%.2fms", t*1e3)
	}
	return fmt.Sprintf("%dus", int64(t*1e6))
}

// formatUnits formats a byte count like h2load: binary K, M and G with two
// decimals, plain below 1024.
func formatUnits(n float64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", n/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", n/(1<<10))
	}
	return fmt.Sprintf("%d", int64(n))
}

// sampleStats are the min, max, mean, population standard deviation and
// the percentage of samples within one sd of the mean.
type sampleStats struct {
	min, max, mean, sd, within float64
}

func computeStats(xs []float64) sampleStats {
	if len(xs) == 0 {
		return sampleStats{}
	}
	s := sampleStats{min: math.Inf(1), max: math.Inf(-1)}
	var sum float64
	for _, x := range xs {
		s.min = min(s.min, x)
		s.max = max(s.max, x)
		sum += x
	}
	s.mean = sum / float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - s.mean) * (x - s.mean)
	}
	s.sd = math.Sqrt(v / float64(len(xs)))
	var in int
	for _, x := range xs {
		if math.Abs(x-s.mean) <= s.sd {
			in++
		}
	}
	s.within = 100 * float64(in) / float64(len(xs))
	return s
}

// reportPercentiles are the rows of the latency distribution.
var reportPercentiles = []struct {
	label string
	p     float64
}{
	{"50%", 50}, {"75%", 75}, {"90%", 90}, {"95%", 95}, {"99%", 99}, {"99.9%", 99.9}, {"max", 100},
}

// printReport prints the results in sofaload's layout, then the RESULT line.
func printReport(w io.Writer, proto string, spec *protoSpec, res *result) {
	t := res.total
	secs := res.elapsed.Seconds()
	fmt.Fprintf(w, "\nfinished in %s, %.2f req/s, %sB/s\n",
		formatDuration(res.elapsed), float64(t.done)/secs, formatUnits(float64(res.rxTotal)/secs))
	fmt.Fprintf(w, "requests: %d total, %d started, %d done, %d succeeded, %d failed, %d errored, %d timeout\n",
		res.planned, t.started, t.done, t.succeeded, t.failed, t.errored, t.timedOut)
	spec.printStatus(w, t.status)

	headers := res.rxTotal - res.rxData
	savings := 0.0
	if proto == protoH2C && res.rxRaw > 0 {
		// Framing is counted with the headers, so this understates what
		// HPACK saved; it is never reported below zero.
		savings = max(0, 100*float64(res.rxRaw-headers)/float64(res.rxRaw))
	}
	fmt.Fprintf(w, "traffic: %sB (%d) total, %sB (%d) headers (space savings %.2f%%), %sB (%d) data\n",
		formatUnits(float64(res.rxTotal)), res.rxTotal, formatUnits(float64(headers)), headers, savings,
		formatUnits(float64(res.rxData)), res.rxData)

	fmt.Fprintln(w, "                     min         max         mean         sd        +/- sd")
	h := t.hist
	fmt.Fprintf(w, "time for request: %10s  %10s  %10s  %10s%9.2f%%\n",
		formatDuration(h.minimum()), formatDuration(h.maximum()), formatDuration(h.mean()),
		formatDuration(h.stddev()), h.withinSD())
	conn := make([]float64, len(res.connects))
	for i, d := range res.connects {
		conn[i] = float64(d)
	}
	cs := computeStats(conn)
	fmt.Fprintf(w, "time for connect: %10s  %10s  %10s  %10s%9.2f%%\n",
		formatDuration(time.Duration(cs.min)), formatDuration(time.Duration(cs.max)),
		formatDuration(time.Duration(cs.mean)), formatDuration(time.Duration(cs.sd)), cs.within)
	rs := computeStats(res.perClient)
	fmt.Fprintf(w, "req/s           : %10.2f  %10.2f  %10.2f  %10.2f%9.2f%%\n", rs.min, rs.max, rs.mean, rs.sd, rs.within)

	fmt.Fprintf(w, "\n  Latency  Distribution\n")
	for _, p := range reportPercentiles {
		fmt.Fprintf(w, "%6s%13s\n", p.label, formatDuration(h.percentile(p.p)))
	}

	us := func(d time.Duration) int64 { return d.Microseconds() }
	fmt.Fprintf(w, "\nRESULT protocol=%s total=%d succeeded=%d failed=%d errored=%d timeout=%d rps=%.2f"+
		" p50_us=%d p75_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%d p95_us=%d p999_us=%d started=%d done=%d connect_errors=%d",
		proto, res.planned, t.succeeded, t.failed, t.errored, t.timedOut, float64(t.done)/secs,
		us(h.percentile(50)), us(h.percentile(75)), us(h.percentile(90)), us(h.percentile(99)),
		us(h.maximum()), us(h.mean()), us(h.percentile(95)), us(h.percentile(99.9)), t.started, t.done, res.connectErrs)
	// How late the fixed-rate senders were and how long the process waited
	// for a CPU tell how much of the latency the load generator caused.
	if res.lateMax > 0 {
		fmt.Fprintf(w, " send_late_mean_us=%d send_late_max_us=%d", us(res.lateMean), us(res.lateMax))
	}
	if res.runqOK {
		fmt.Fprintf(w, " runq_s=%.3f", res.runq.Seconds())
	}
	fmt.Fprintln(w)
}
