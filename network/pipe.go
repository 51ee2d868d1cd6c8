package network

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// PipeBufferSize is the size of the pooled buffers that carry bytes
// between the two sides of a pipe (bytes). A buffer is held only while
// data is moving; an idle pipe holds none.
const PipeBufferSize = 32 << 10

var pipeBufs = sync.Pool{New: func() any { b := make([]byte, PipeBufferSize); return &b }}

// ErrIdle is returned when a pipe saw no bytes in either direction for its
// idle timeout.
var ErrIdle = errors.New("idle timeout")

// PipeResult says how a pipe ended.
type PipeResult struct {
	// Sent is bytes copied from downstream to upstream; Received the reverse.
	Sent, Received int64
	// DownErr and UpErr are the errors that ended each direction (nil
	// for a clean end of stream).
	DownErr, UpErr error
}

// Idle reports whether the pipe was closed by its idle timeout.
func (r PipeResult) Idle() bool {
	return errors.Is(r.DownErr, ErrIdle) || errors.Is(r.UpErr, ErrIdle)
}

// Pipe copies bytes both ways between down and up until both directions
// have ended, honouring half-close: the end of one direction is passed on
// with CloseWrite and the other direction keeps flowing. An error in either
// direction, or idle > 0 elapsing with no bytes either way, closes both.
// Pipe closes both connections before it returns.
func Pipe(down, up net.Conn, idle time.Duration) PipeResult {
	p := &pipe{idle: idle}
	p.last.Store(time.Now().UnixNano())
	var res PipeResult
	done := make(chan struct{})
	go func() {
		res.Sent, res.DownErr = p.copy(up, down)
		if res.DownErr != nil {
			closeBoth(down, up)
		}
		close(done)
	}()
	res.Received, res.UpErr = p.copy(down, up)
	if res.UpErr != nil {
		closeBoth(down, up)
	}
	<-done
	closeBoth(down, up)
	return res
}

func closeBoth(a, b net.Conn) {
	a.Close()
	b.Close()
}

type pipe struct {
	idle time.Duration
	last atomic.Int64 // unix nanos of the last byte moved either way
}

type closeWriter interface{ CloseWrite() error }

// copy moves bytes from src to dst until src ends. It waits for src to be
// readable before taking a buffer from the pool, so a quiet direction holds
// no buffer.
func (p *pipe) copy(dst, src net.Conn) (int64, error) {
	var total int64
	wait := NewReadWaiter(src)
	if p.idle > 0 {
		src.SetReadDeadline(time.Now().Add(p.idle))
	}
	for {
		if err := wait(); err != nil {
			if p.expired(src, err) {
				return total, ErrIdle
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return total, err
		}
		bp := pipeBufs.Get().(*[]byte)
		n, err := p.drain(dst, src, *bp)
		pipeBufs.Put(bp)
		total += n
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if cw, ok := dst.(closeWriter); ok {
				cw.CloseWrite()
			}
			return total, nil
		case p.expired(src, err):
			return total, ErrIdle
		case errors.Is(err, os.ErrDeadlineExceeded):
		default:
			return total, err
		}
	}
}

// drain reads from src and writes to dst until a read comes back short
// (nothing more is queued right now) or fails.
func (p *pipe) drain(dst, src net.Conn, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.idle > 0 {
				now := time.Now()
				p.last.Store(now.UnixNano())
				src.SetReadDeadline(now.Add(p.idle))
			}
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, &writeError{werr}
			}
		}
		if err != nil {
			return total, err
		}
		if n < len(buf) {
			return total, nil
		}
	}
}

// expired reports whether err is a read deadline and no byte moved either
// way for the idle timeout; otherwise it re-arms the deadline.
func (p *pipe) expired(src net.Conn, err error) bool {
	if p.idle <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	last := time.Unix(0, p.last.Load())
	if time.Since(last) >= p.idle {
		return true
	}
	src.SetReadDeadline(last.Add(p.idle))
	return false
}

// writeError marks a failure on the destination side so callers can tell
// which peer broke the pipe.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }
