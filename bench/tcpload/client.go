package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ioTimeout bounds every dial and every single request so that a stuck
// proxy shows up as a failure instead of a hung benchmark.
const ioTimeout = 10 * time.Second

// failures counts errors and keeps the first few for printing.
type failures struct {
	n     atomic.Int64
	mu    sync.Mutex
	first []string
}

const keptFailures = 10

func (f *failures) add(err error) {
	f.n.Add(1)
	f.mu.Lock()
	if len(f.first) < keptFailures {
		f.first = append(f.first, err.Error())
	}
	f.mu.Unlock()
}

// bulkResult is the outcome of one bulk run. Bytes counts payload in both
// directions together.
type bulkResult struct {
	Conns    int
	Dir      string
	PerConn  uint64
	Bytes    uint64
	Elapsed  time.Duration
	Failures int64
	Errors   []string
}

// upDown splits a per-connection byte count by direction ("up", "down" or
// "both").
func upDown(dir string, n uint64) (up, down uint64, err error) {
	switch dir {
	case "up":
		return n, 0, nil
	case "down":
		return 0, n, nil
	case "both":
		return n, n, nil
	}
	return 0, 0, fmt.Errorf("-dir %q: want up, down or both", dir)
}

// runBulk opens conns connections to addr at once and moves perConn bytes
// over each in direction dir; the clock runs from the first dial to the
// last ack.
func runBulk(addr string, conns int, perConn uint64, dir string) (bulkResult, error) {
	up, down, err := upDown(dir, perConn)
	if err != nil {
		return bulkResult{}, err
	}
	var (
		fails failures
		moved atomic.Uint64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := bulkConn(addr, up, down)
			moved.Add(n)
			if err != nil {
				fails.add(err)
			}
		}()
	}
	wg.Wait()
	return bulkResult{
		Conns: conns, Dir: dir, PerConn: perConn, Bytes: moved.Load(),
		Elapsed: time.Since(start), Failures: fails.n.Load(), Errors: fails.first,
	}, nil
}

// bulkConn does one bulk transfer and returns the payload bytes that
// arrived (the server's ack for the upload, what was read for the download).
func bulkConn(addr string, up, down uint64) (uint64, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Write(header{mode: modeBulk, up: up, down: down}.appendTo(nil)); err != nil {
		return 0, err
	}
	pc := progressConn{c}
	werr := make(chan error, 1)
	go func() { werr <- sourceN(pc, up, make([]byte, bulkBufSize)) }()
	got, err := discardN(pc, down, make([]byte, bulkBufSize))
	if err != nil {
		return got, fmt.Errorf("download: %w", err)
	}
	var ack [ackLen]byte
	if _, err := io.ReadFull(pc, ack[:]); err != nil {
		return got, fmt.Errorf("reading ack: %w", err)
	}
	if err := <-werr; err != nil {
		return got, fmt.Errorf("upload: %w", err)
	}
	acked := binary.BigEndian.Uint64(ack[:])
	if acked != up {
		return got + acked, fmt.Errorf("server received %d of %d bytes", acked, up)
	}
	return got + acked, nil
}

// progressConn fails a bulk transfer that makes no progress in either
// direction for ioTimeout, whatever its size. Every Read or Write pushes
// both deadlines, because a pending Read (the upload's ack) must not time
// out while the upload is still moving.
type progressConn struct{ net.Conn }

func (c progressConn) Read(b []byte) (int, error) {
	c.SetDeadline(time.Now().Add(ioTimeout))
	return c.Conn.Read(b)
}

func (c progressConn) Write(b []byte) (int, error) {
	c.SetDeadline(time.Now().Add(ioTimeout))
	return c.Conn.Write(b)
}

// latResult is the outcome of a timed run: ops completed cycles (a
// connection in connrate, a request in rr) and their latencies.
type latResult struct {
	Mode     string
	Workers  int
	Size     int
	Ops      int64
	Elapsed  time.Duration
	Lat      latencies
	Failures int64
	Errors   []string
}

// runConnRate runs workers loops of dial, one request of size bytes, read
// the size-byte answer, close, for d. Latency covers the whole cycle.
func runConnRate(addr string, workers int, d time.Duration, size int) latResult {
	hdr := header{mode: modeRR, reqSize: uint32(size), respSize: uint32(size)}
	msg := hdr.appendTo(nil)
	msg = append(msg, make([]byte, size)...)
	fill(msg[rrHeaderLen:])
	var fails failures
	per := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := make([]byte, size)
			lat := make([]time.Duration, 0, 4096)
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if err := oneShot(addr, msg, resp); err != nil {
					fails.add(err)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			per[w] = lat
		}()
	}
	wg.Wait()
	return finish("connrate", workers, size, start, per, &fails)
}

func oneShot(addr string, msg, resp []byte) error {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if _, err := io.ReadFull(c, resp); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return nil
}

// runRR opens conns keep-alive connections, then on each sends a size-byte
// request and waits for the size-byte answer in a loop for d.
func runRR(addr string, conns int, d time.Duration, size int) (latResult, error) {
	hdr := header{mode: modeRR, reqSize: uint32(size), respSize: uint32(size)}.appendTo(nil)
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	// Connections are set up before the clock starts: rr measures the
	// steady state only.
	for range conns {
		c, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			return latResult{}, err
		}
		cs = append(cs, c)
		if _, err := c.Write(hdr); err != nil {
			return latResult{}, err
		}
	}
	var fails failures
	per := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, size)
			fill(req)
			resp := make([]byte, size)
			lat := make([]time.Duration, 0, 1<<14)
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				c.SetDeadline(t0.Add(ioTimeout))
				if _, err := c.Write(req); err != nil {
					fails.add(fmt.Errorf("write: %w", err))
					break
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					fails.add(fmt.Errorf("read answer: %w", err))
					break
				}
				lat = append(lat, time.Since(t0))
			}
			per[i] = lat
		}()
	}
	wg.Wait()
	return finish("rr", conns, size, start, per, &fails), nil
}

func finish(mode string, workers, size int, start time.Time, per [][]time.Duration, f *failures) latResult {
	elapsed := time.Since(start)
	var all latencies
	for _, l := range per {
		all = append(all, l...)
	}
	slices.Sort(all)
	return latResult{
		Mode: mode, Workers: workers, Size: size, Ops: int64(len(all)),
		Elapsed: elapsed, Lat: all, Failures: f.n.Load(), Errors: f.first,
	}
}

// latencies is sorted ascending.
type latencies []time.Duration

// quantile returns the q-quantile (0..1) by the nearest-rank method, or 0
// for no samples.
func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(q*float64(len(l))+0.5) - 1
	i = max(0, min(i, len(l)-1))
	return l[i]
}
