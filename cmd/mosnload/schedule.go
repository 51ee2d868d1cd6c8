package main

import (
	"math"
	"math/bits"
	"time"
)

// scheduleOffset returns when request i (numbered from 0 over all
// connections) is due in fixed-rate mode, as an offset from the start of the
// run: exactly i/qps seconds, truncated to the nanosecond. The offset is
// computed from i alone, never by adding periods, so it does not drift.
func scheduleOffset(i, qps int64) time.Duration {
	if i <= 0 || qps <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(i), uint64(time.Second))
	if hi >= uint64(qps) { // the quotient would not fit in 64 bits
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(qps))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(q)
}

// workerClients returns the clients that worker w of t drives: every t-th
// client starting at w, as h2load spreads clients over its threads.
func workerClients(w, t, c int) []int {
	var ks []int
	for k := w; k < c; k += t {
		ks = append(ks, k)
	}
	return ks
}

// slotSeq walks, in increasing order, the request numbers that belong to
// the clients of one worker. Requests go round-robin over all clients:
// request i is sent by client i mod c, so request j of client k is number
// j*c + k.
type slotSeq struct {
	clients []int // increasing
	c       int64
	round   int64
	pos     int
}

func newSlotSeq(clients []int, c int) *slotSeq {
	return &slotSeq{clients: clients, c: int64(c)}
}

// next returns the next request number and the client that sends it.
func (s *slotSeq) next() (i int64, client int) {
	k := s.clients[s.pos]
	i = s.round*s.c + int64(k)
	s.pos++
	if s.pos == len(s.clients) {
		s.pos = 0
		s.round++
	}
	return i, k
}
