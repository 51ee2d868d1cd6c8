//go:build linux

package batchsend

import (
	"net"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// The io_uring ABI (include/uapi/linux/io_uring.h), only what a batch of
// sends needs.
const (
	sysIOURingSetup = 425
	sysIOURingEnter = 426
	opSend          = 26 // IORING_OP_SEND
	enterGetEvents  = 1  // IORING_ENTER_GETEVENTS
	offSQEs         = 0x10000000
)

type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type ringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqRingOffsets
	cqOff                                                                  cqRingOffsets
}

type submission struct {
	opcode, flags         uint8
	ioprio                uint16
	fd                    int32
	off, addr             uint64
	len, msgFlags         uint32
	userData              uint64
	bufIndex, personality uint16
	spliceFdIn            int32
	addr3, pad            uint64
}

type completion struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is an io_uring with its rings mapped (IORING_FEAT_SINGLE_MMAP: the
// submission and completion rings share one mapping).
type ring struct {
	fd                     int
	sqTail, sqMask         *uint32
	sqArray                []uint32
	sqes                   []submission
	cqHead, cqTail, cqMask *uint32
	cqes                   []completion
}

func newRing(tb testing.TB, entries uint32) *ring {
	var p ringParams
	fd, _, errno := syscall.Syscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		tb.Skipf("io_uring_setup: %v", errno)
	}
	tb.Cleanup(func() { syscall.Close(int(fd)) })
	size := p.sqOff.array + p.sqEntries*4
	if c := p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(completion{})); c > size {
		size = c
	}
	rings, err := syscall.Mmap(int(fd), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		tb.Fatal(err)
	}
	sqes, err := syscall.Mmap(int(fd), offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(submission{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Munmap(rings); syscall.Munmap(sqes) })
	base := unsafe.Pointer(&rings[0])
	return &ring{
		fd:      int(fd),
		sqTail:  (*uint32)(unsafe.Add(base, p.sqOff.tail)),
		sqMask:  (*uint32)(unsafe.Add(base, p.sqOff.ringMask)),
		sqArray: unsafe.Slice((*uint32)(unsafe.Add(base, p.sqOff.array)), p.sqEntries),
		sqes:    unsafe.Slice((*submission)(unsafe.Pointer(&sqes[0])), p.sqEntries),
		cqHead:  (*uint32)(unsafe.Add(base, p.cqOff.head)),
		cqTail:  (*uint32)(unsafe.Add(base, p.cqOff.tail)),
		cqMask:  (*uint32)(unsafe.Add(base, p.cqOff.ringMask)),
		cqes:    unsafe.Slice((*completion)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries),
	}
}

// queueSend adds a send of msg on fd (MSG_DONTWAIT: a full socket
// completes at once with -EAGAIN instead of waiting).
func (r *ring) queueSend(fd int, msg []byte) {
	tail := *r.sqTail
	i := tail & *r.sqMask
	r.sqes[i] = submission{opcode: opSend, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&msg[0]))),
		len: uint32(len(msg)), msgFlags: syscall.MSG_DONTWAIT}
	r.sqArray[i] = i
	*r.sqTail = tail + 1
}

// submit submits n queued sends, waits for their n completions and
// checks that each sent want bytes.
func (r *ring) submit(tb testing.TB, n, want int) {
	got, _, errno := syscall.RawSyscall6(sysIOURingEnter, uintptr(r.fd), uintptr(n), uintptr(n), enterGetEvents, 0, 0)
	if errno != 0 || int(got) != n {
		tb.Fatalf("io_uring_enter: %d of %d, %v", got, n, errno)
	}
	for h := *r.cqHead; h != *r.cqTail; h++ {
		if c := r.cqes[h&*r.cqMask]; int(c.res) != want {
			tb.Fatalf("send: %d, want %d", c.res, want)
		}
	}
	*r.cqHead = *r.cqTail
}

const sockets, msgSize = 32, 128

// socketPairs returns the sending and receiving descriptors of n loopback
// TCP connections (duplicates of their own, non-blocking like the
// originals; closed at cleanup).
func socketPairs(tb testing.TB, n int) (send, recv []int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	var files []*os.File
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		cf, _ := c.(*net.TCPConn).File()
		sf, _ := s.(*net.TCPConn).File()
		c.Close()
		s.Close()
		files = append(files, cf, sf)
		send = append(send, int(cf.Fd()))
		recv = append(recv, int(sf.Fd()))
	}
	tb.Cleanup(func() {
		for _, f := range files {
			f.Close()
		}
	})
	return send, recv
}

// drain reads msgSize bytes from each receiving descriptor, outside the
// timed part.
func drain(recv []int, buf []byte) {
	for _, fd := range recv {
		for got := 0; got < msgSize; {
			if n, _ := syscall.Read(fd, buf); n > 0 {
				got += n
			}
		}
	}
}

// measure times sendAll, which must send msg on every descriptor of
// send; draining the receivers is not timed.
func measure(b *testing.B, sendAll func(send []int, msg []byte)) {
	send, recv := socketPairs(b, sockets)
	msg, buf := make([]byte, msgSize), make([]byte, 4096)
	for b.Loop() {
		sendAll(send, msg)
		b.StopTimer()
		drain(recv, buf)
		b.StartTimer()
	}
}

func BenchmarkWritePerSocket(b *testing.B) {
	measure(b, func(send []int, msg []byte) {
		for _, fd := range send {
			if n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg))); errno != 0 || int(n) != len(msg) {
				b.Fatalf("write: %d, %v", n, errno)
			}
		}
	})
}

func BenchmarkURingOneSubmission(b *testing.B) {
	r := newRing(b, 64)
	measure(b, func(send []int, msg []byte) {
		for _, fd := range send {
			r.queueSend(fd, msg)
		}
		r.submit(b, len(send), len(msg))
	})
}

func BenchmarkURingSubmissionPerSocket(b *testing.B) {
	r := newRing(b, 64)
	measure(b, func(send []int, msg []byte) {
		for _, fd := range send {
			r.queueSend(fd, msg)
			r.submit(b, 1, len(msg))
		}
	})
}
