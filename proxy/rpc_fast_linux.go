//go:build linux

package proxy

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fastBufs are the small read buffers of fastHeartbeat (a heartbeat is
// 20-odd bytes); pooled so that a heartbeat allocates nothing.
var fastBufs = sync.Pool{New: func() any { return new([256]byte) }}

// fastFrames are the frames fastHeartbeat parses into: a frame passed to
// the codec by pointer would otherwise be allocated for each heartbeat.
var fastFrames = sync.Pool{New: func() any { return new(rpcFrame) }}

// fastHeartbeat answers heartbeats on a parked, detached connection
// straight from its descriptor (one recv, one send), so that a fleet of
// idle clients heartbeating every few seconds costs neither a goroutine
// nor a rebuilt connection per heartbeat. Anything else (a request, a
// partial frame, EOF) is kept in d.pre for run and reported as not
// handled.
func (d *rpcDown) fastHeartbeat(fd int) bool {
	buf := fastBufs.Get().(*[256]byte)
	defer fastBufs.Put(buf)
	// The raw call: unix.Recvfrom allocates the sender's address.
	r0, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
		unix.MSG_DONTWAIT, 0, 0)
	n := int(r0)
	if errno != 0 || n <= 0 {
		// EOF or an error: the ordinary path reports it.
		return false
	}
	data := buf[:n]
	out := d.out[:0]
	ok := n < len(buf) // a full buffer may hide more behind it
	f := fastFrames.Get().(*rpcFrame)
	for r := 0; ok && r < n; {
		var m int
		var perr error
		*f, m, perr = d.codec.parse(data[r:])
		if perr != nil || !f.request || !f.heartbeat {
			ok = false
			break
		}
		out = d.codec.heartbeatReply(out, f)
		r += m
	}
	*f = rpcFrame{}
	fastFrames.Put(f)
	if ok {
		d.wmu.Lock()
		sent, err := unix.SendmsgN(fd, out, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		d.wmu.Unlock()
		switch {
		case err == nil && sent == len(out):
			d.out = out[:0]
			return true
		case sent > 0:
			// Half a reply on an idle socket cannot really happen; if it
			// does, the stream is broken and the connection must end.
			d.broken = true
			return false
		}
		// Nothing sent (EAGAIN): the ordinary path answers them.
	}
	d.out = out[:0]
	d.pre = append(d.pre[:0], data...)
	return false
}
