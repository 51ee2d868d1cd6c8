package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// outcome is how a request ended.
type outcome uint8

const (
	// outResponse: a response arrived; its status says whether it succeeded.
	outResponse outcome = iota
	// outErrored: the connection failed (dial, write, read or decode error)
	// before the response arrived.
	outErrored
	// outTimeout: no response within --timeout of the scheduled send time.
	outTimeout
)

// errorBackoff is how long a closed-loop client waits after an errored
// request before it starts the next one.
const errorBackoff = 100 * time.Millisecond

// statusSlots is the number of distinct status codes counted; codes at or
// above it share the last slot.
const statusSlots = 1024

// call is one request. Latency is measured from sched, the time the request
// was due, not the time it was written, so that a stalled sender shows up in
// the latency (no coordinated omission).
type call struct {
	sched    time.Time
	measured bool
}

// transport is one client connection of some protocol. send never blocks
// on the network; every call given to send is finished exactly once, with
// client.finish, by a response, an error or a timeout.
type transport interface {
	// connect opens the connection; the transport reconnects by itself
	// later when the connection fails.
	connect() error
	// send starts c. direct allows the caller's goroutine to do the write
	// (senders pass it, response readers do not).
	send(c *call, direct bool)
	// expire times out the calls that are due longer than the timeout.
	expire(now time.Time)
	close()
}

// protoSpec is what the runner needs to know about a protocol.
type protoSpec struct {
	// label is printed as "Application protocol: <label>".
	label        string
	newTransport func(cl *client) transport
	// success tells whether a response status counts as succeeded.
	success func(status int) bool
	// printStatus prints the status-code block of the report.
	printStatus func(w io.Writer, counts []int64)
}

// stats are the counters of one worker (-t), shared by its clients.
type stats struct {
	mu                                                  sync.Mutex
	hist                                                *histogram
	started, done, succeeded, failed, errored, timedOut int64
	status                                              []int64
}

func newStats() *stats {
	return &stats{hist: newHistogram(), status: make([]int64, statusSlots)}
}

// client is one connection and its counters.
type client struct {
	id int
	r  *runner
	st *stats
	tr transport
	// done counts finished measured requests, for the per-client req/s.
	done atomic.Int64
	// Received bytes: all of them; payload (frame bytes after the fixed
	// header, or HTTP body bytes); and HTTP header bytes before HPACK
	// compression. Headers are the difference of the first two.
	rxTotal, rxData, rxHeadersRaw atomic.Int64
	// base holds the byte counters at the start of the measured phase.
	base [3]int64

	connMu   sync.Mutex
	connects []time.Duration
}

// recordConnect records the duration of one successful TCP connect.
func (cl *client) recordConnect(d time.Duration) {
	cl.connMu.Lock()
	cl.connects = append(cl.connects, d)
	cl.connMu.Unlock()
}

// finish accounts for a call that ended. status is meaningful for
// outResponse only.
func (cl *client) finish(c *call, o outcome, status int) {
	r := cl.r
	now := time.Now()
	if c.measured {
		st := cl.st
		st.mu.Lock()
		st.done++
		switch o {
		case outResponse:
			st.hist.record(now.Sub(c.sched))
			st.status[min(max(status, 0), statusSlots-1)]++
			if r.spec.success(status) {
				st.succeeded++
			} else {
				st.failed++
			}
		case outErrored:
			st.failed++
			st.errored++
		case outTimeout:
			st.failed++
			st.timedOut++
		}
		st.mu.Unlock()
		cl.done.Add(1)
		ns := now.UnixNano()
		for {
			last := r.lastDone.Load()
			if ns <= last || r.lastDone.CompareAndSwap(last, ns) {
				break
			}
		}
	}
	if r.closedLoop {
		if o == outErrored {
			// A broken connection fails requests at once; starting the
			// next one at once would spin, so it waits a little.
			r.inflight.Add(1)
			time.AfterFunc(errorBackoff, func() {
				r.startNext(cl, time.Now())
				r.inflight.Done()
			})
		} else {
			r.startNext(cl, now)
		}
	}
	r.inflight.Done()
}

// runner runs one benchmark.
type runner struct {
	o    *options
	spec *protoSpec

	clients []*client
	workers []*stats

	start, mainStart time.Time
	closedLoop       bool
	// stopAt ends a closed-loop -D run: no request starts after it.
	stopAt time.Time
	// budget is the number of measured requests a closed-loop -n run may
	// still start.
	budget  atomic.Int64
	stopped atomic.Bool
	// inflight counts calls handed to a transport and not yet finished.
	inflight sync.WaitGroup
	lastDone atomic.Int64

	// unknownIDs counts responses whose id matched no pending request
	// (for instance answers that arrived after their timeout); reordered
	// counts responses that overtook an earlier request of their
	// connection.
	unknownIDs, reordered atomic.Int64
	connectErrs           atomic.Int64
	planned               int64
	// late is the fixed-rate senders' lateness.
	late lateness
}

func newRunner(o *options, spec *protoSpec) *runner {
	r := &runner{o: o, spec: spec, closedLoop: o.qps == 0}
	for range o.threads {
		r.workers = append(r.workers, newStats())
	}
	for k := range o.clients {
		cl := &client{id: k, r: r, st: r.workers[k%o.threads]}
		cl.tr = spec.newTransport(cl)
		r.clients = append(r.clients, cl)
	}
	return r
}

// submit hands one call to client cl.
func (r *runner) submit(cl *client, sched time.Time, measured, direct bool) {
	if measured {
		cl.st.mu.Lock()
		cl.st.started++
		cl.st.mu.Unlock()
	}
	r.inflight.Add(1)
	cl.tr.send(&call{sched: sched, measured: measured}, direct)
}

// startNext starts another closed-loop request on cl when the run allows.
func (r *runner) startNext(cl *client, now time.Time) {
	if r.stopped.Load() {
		return
	}
	measured := !now.Before(r.mainStart)
	if r.o.duration > 0 {
		if !now.Before(r.stopAt) {
			return
		}
	} else if measured && r.budget.Add(-1) < 0 {
		return
	}
	r.submit(cl, now, measured, false)
}

// sweepInterval is how often timeouts are checked: often enough that a
// timeout is not reported much later than due, rarely enough to cost
// nothing.
func sweepInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/20, time.Millisecond), 100*time.Millisecond)
}

// result is what a run measured.
type result struct {
	planned  int64
	elapsed  time.Duration
	total    *stats
	connects []time.Duration
	// perClient is each client's measured requests per second.
	perClient                          []float64
	rxTotal, rxData, rxRaw             int64
	unknownIDs, reordered, connectErrs int64
	// lateMean and lateMax are how late the fixed-rate senders were.
	lateMean, lateMax time.Duration
	// runq is the time this process waited for a CPU during the run, when
	// known (runqOK).
	runq   time.Duration
	runqOK bool
}

// run connects every client, sends the load and returns the measurements.
// Cancelling ctx stops sending; requests in flight still finish or time
// out.
func (r *runner) run(ctx context.Context, stderr io.Writer) *result {
	o := r.o
	var wg sync.WaitGroup
	errs := make([]error, len(r.clients))
	for i, cl := range r.clients {
		wg.Go(func() { errs[i] = cl.tr.connect() })
	}
	wg.Wait()
	const shownErrs = 5
	var failed int
	for i, err := range errs {
		if err == nil {
			continue
		}
		r.connectErrs.Add(1)
		if failed++; failed <= shownErrs {
			fmt.Fprintf(stderr, "client %d could not connect to host: %v\n", i, err)
		}
	}
	if failed > shownErrs {
		fmt.Fprintf(stderr, "%d more clients could not connect to host\n", failed-shownErrs)
	}

	runq0, runqOK := runqWait()
	r.start = time.Now()
	r.mainStart = r.start.Add(o.warmup)
	r.stopAt = r.mainStart.Add(o.duration)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		r.stopped.Store(true)
	}()

	// The byte counters are snapshotted when the warm-up ends, so that
	// traffic covers the measured phase only.
	snapped := make(chan struct{})
	go func() {
		defer close(snapped)
		if o.warmup <= 0 {
			return
		}
		t := time.NewTimer(o.warmup)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		for _, cl := range r.clients {
			cl.base = [3]int64{cl.rxTotal.Load(), cl.rxData.Load(), cl.rxHeadersRaw.Load()}
		}
	}()

	stopSweep, sweepDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sweepDone)
		t := time.NewTicker(sweepInterval(o.timeout))
		defer t.Stop()
		for {
			select {
			case <-stopSweep:
				return
			case <-t.C:
				now := time.Now()
				for _, cl := range r.clients {
					cl.tr.expire(now)
				}
			}
		}
	}()

	var workers sync.WaitGroup
	if r.closedLoop {
		r.planned = o.requests
		if o.duration > 0 {
			r.planned = 0 // counted as started at the end
		}
		r.budget.Store(o.requests)
		for w := range o.threads {
			workers.Go(func() { r.closedStart(w) })
		}
	} else {
		warm := warmupCount(o.warmup, o.qps)
		measured := o.requests
		if o.duration > 0 {
			measured = max(1, int64(o.duration.Seconds()*float64(o.qps)+0.5))
		}
		r.planned = measured
		for w := range o.threads {
			workers.Go(func() { r.openLoop(ctx, w, warm, warm+measured) })
		}
	}
	workers.Wait()
	r.inflight.Wait()
	close(stopSweep)
	<-sweepDone
	cancel()
	<-snapped
	res := r.collect()
	if runq1, ok := runqWait(); ok && runqOK {
		res.runq, res.runqOK = runq1-runq0, true
	}
	return res
}

// warmupCount returns the number of fixed-rate requests due during the
// warm-up, that is before offset warm.
func warmupCount(warm time.Duration, qps int64) int64 {
	if warm <= 0 {
		return 0
	}
	n := int64(warm.Seconds() * float64(qps))
	for n > 0 && scheduleOffset(n-1, qps) >= warm {
		n--
	}
	for scheduleOffset(n, qps) < warm {
		n++
	}
	return n
}

// closedStart starts the first -m requests of each client of worker w.
func (r *runner) closedStart(w int) {
	now := time.Now()
	for _, k := range workerClients(w, r.o.threads, r.o.clients) {
		for range r.o.streams {
			r.startNext(r.clients[k], now)
		}
	}
}

// openLoop sends the fixed-rate requests numbered below end that belong to
// the clients of worker w, each at its scheduled time. A request whose time
// has passed is sent at once, late, and its latency includes the delay.
func (r *runner) openLoop(ctx context.Context, w int, warm, end int64) {
	ks := workerClients(w, r.o.threads, r.o.clients)
	if len(ks) == 0 {
		return
	}
	seq := newSlotSeq(ks, r.o.clients)
	var late lateness
	defer r.late.add(&late)
	for {
		i, k := seq.next()
		if i >= end {
			return
		}
		at := r.start.Add(scheduleOffset(i, r.o.qps))
		if !sleepUntil(ctx, at) || r.stopped.Load() {
			return
		}
		behind := time.Since(at)
		if i >= warm {
			late.record(behind)
		}
		// On time, the sender writes itself and saves a hand-off; behind
		// schedule, it leaves the writes to the connections' writers,
		// which batch everything queued into one write.
		r.submit(r.clients[k], at, i >= warm, behind < catchUpLag)
	}
}

// catchUpLag is the lateness beyond which a fixed-rate sender stops writing
// requests itself.
const catchUpLag = time.Millisecond

// lateness sums how late a sender started its requests, a measure of how
// much of the latency the load generator itself caused.
type lateness struct {
	mu       sync.Mutex
	n        int64
	sum, max time.Duration
}

func (l *lateness) record(d time.Duration) {
	l.n++
	l.sum += d
	l.max = max(l.max, d)
}

// add merges o into l.
func (l *lateness) add(o *lateness) {
	l.mu.Lock()
	l.n += o.n
	l.sum += o.sum
	l.max = max(l.max, o.max)
	l.mu.Unlock()
}

// collect merges the counters of all workers and clients.
func (r *runner) collect() *result {
	res := &result{total: newStats(), planned: r.planned}
	for _, st := range r.workers {
		st.mu.Lock()
		t := res.total
		t.hist.merge(st.hist)
		t.started += st.started
		t.done += st.done
		t.succeeded += st.succeeded
		t.failed += st.failed
		t.errored += st.errored
		t.timedOut += st.timedOut
		for i, c := range st.status {
			t.status[i] += c
		}
		st.mu.Unlock()
	}
	if res.planned == 0 {
		res.planned = res.total.started
	}
	end := time.Unix(0, r.lastDone.Load())
	if r.lastDone.Load() == 0 || end.Before(r.mainStart) {
		end = time.Now()
	}
	res.elapsed = max(end.Sub(r.mainStart), time.Microsecond)
	for _, cl := range r.clients {
		res.rxTotal += cl.rxTotal.Load() - cl.base[0]
		res.rxData += cl.rxData.Load() - cl.base[1]
		res.rxRaw += cl.rxHeadersRaw.Load() - cl.base[2]
		cl.connMu.Lock()
		res.connects = append(res.connects, cl.connects...)
		cl.connMu.Unlock()
		res.perClient = append(res.perClient, float64(cl.done.Load())/res.elapsed.Seconds())
	}
	res.unknownIDs = r.unknownIDs.Load()
	res.reordered = r.reordered.Load()
	res.connectErrs = r.connectErrs.Load()
	r.late.mu.Lock()
	if r.late.n > 0 {
		res.lateMean = r.late.sum / time.Duration(r.late.n)
		res.lateMax = r.late.max
	}
	r.late.mu.Unlock()
	return res
}

// close closes every client connection.
func (r *runner) close() {
	for _, cl := range r.clients {
		cl.tr.close()
	}
}
