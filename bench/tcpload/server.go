package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// bulkBufSize is the buffer size of bulk reads and writes (256 KiB): large
// enough that the load generator's own syscalls stay a small share of the
// CPU it shares with the upstream server.
const bulkBufSize = 256 << 10

// serve accepts connections on ln until it is closed and answers each one
// by the protocol in proto.go. Per-connection errors go to logf (which may
// be nil); serve returns the error that stopped the accept loop.
func serve(ln net.Listener, logf func(format string, args ...any)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			if err := handleConn(c); err != nil && logf != nil {
				logf("tcpload serve: %s: %v", c.RemoteAddr(), err)
			}
		}()
	}
}

// handleConn serves one connection until the client closes it.
func handleConn(c net.Conn) error {
	h, err := readHeader(c)
	if err != nil {
		if err == io.EOF {
			// A bare connect and close: readiness probes do this.
			return nil
		}
		return err
	}
	switch h.mode {
	case modeRR:
		return serveRR(c, h)
	default:
		return serveBulk(c, h)
	}
}

func serveRR(c net.Conn, h header) error {
	req := make([]byte, h.reqSize)
	resp := make([]byte, h.respSize)
	fill(resp)
	for {
		if _, err := io.ReadFull(c, req); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if _, err := c.Write(resp); err != nil {
			return err
		}
	}
}

func serveBulk(c net.Conn, h header) error {
	type result struct {
		n   uint64
		err error
	}
	got := make(chan result, 1)
	go func() {
		n, err := discardN(c, h.up, make([]byte, bulkBufSize))
		got <- result{n, err}
	}()
	werr := sourceN(c, h.down, make([]byte, bulkBufSize))
	r := <-got
	if werr != nil {
		return werr
	}
	if r.err != nil {
		return r.err
	}
	var ack [ackLen]byte
	binary.BigEndian.PutUint64(ack[:], r.n)
	if _, err := c.Write(ack[:]); err != nil {
		return err
	}
	// Let the client close first so that TIME_WAIT stays on its side.
	_, err := io.Copy(io.Discard, c)
	return err
}

// discardN reads exactly n bytes from r into buf and drops them.
func discardN(r io.Reader, n uint64, buf []byte) (uint64, error) {
	var got uint64
	for got < n {
		want := uint64(len(buf))
		if rest := n - got; rest < want {
			want = rest
		}
		k, err := r.Read(buf[:want])
		got += uint64(k)
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("EOF after %d of %d bytes", got, n)
			}
			return got, err
		}
	}
	return got, nil
}

// sourceN writes n bytes taken from buf (repeated) to w.
func sourceN(w io.Writer, n uint64, buf []byte) error {
	fill(buf)
	for n > 0 {
		k := uint64(len(buf))
		if k > n {
			k = n
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// fill writes a non-zero pattern so that no layer can special-case zeros.
func fill(b []byte) {
	for i := range b {
		b[i] = byte('a' + i%26)
	}
}
