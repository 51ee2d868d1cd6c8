package proxy

import (
	"errors"
	"io"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/sys/unix"

	"mosn.dev/proxy/codec/http1"
	"mosn.dev/proxy/network"
)

// HTTP/2 connections in the event loop (eventLoop). A downstream h2c
// connection is adopted at its idle point, as an HTTP/1 one is: from
// then on the loop reads its frames and handles them with the ordinary
// code (h2Conn.handle), so only waiting changes hands. A request that
// needs no other waiting (its HEADERS ended the stream, or its small
// body came whole in the same read), routed to a cluster whose host has
// an idle HTTP/1 connection in the loop, is sent by the loop; when its
// answer is whole in the connection's buffer and the stream's
// flow-control windows hold it, the loop runs the rest of the ordinary
// code on it (h2.resumeStream), none of which can wait then. Anything
// else goes to a goroutine at the point it is reached: a larger or later
// request body, a dial, a direct answer, an answer larger than the
// buffer or than the windows, a failure, a route timeout, a reset. The
// goroutine goes on from there (h2Resume) with the same code.
//
// Output never waits while the loop serves the connection: whoever
// flushes writes what the socket takes, and a goroutine writes the rest
// (h2Conn.flushLocked). The connection's read side leaves the loop for
// a goroutine (h2Conn.loop) when it drains, either side sends GOAWAY,
// a connection error or the end of input comes, a partial frame waits
// on no stream, and when it has been idle for parkAfter (parked in the
// poller as before, or closed at its idle timeout).

// h2LoopConn is the event loop's state for an HTTP/2 connection.
type h2LoopConn struct {
	slot, gen uint32
	k         *network.RawIO
	// readable: the socket may hold unread bytes; hup: its end of
	// stream (or an error) is among them.
	readable, hup bool
	// since is when the loop first saw the connection with no stream and
	// nothing buffered (zero: active since); partial, when it first saw
	// part of a frame waiting with no stream open.
	since, partial time.Time
	// noAdopt keeps the goroutine the connection was handed to from
	// giving it straight back.
	noAdopt bool
	// held are new streams with a small body to come, kept until the
	// end of the current read: served by the loop if the whole body came
	// with it, else by goroutines.
	held []*h2Stream
}

// h2HeldBody is the largest request body the loop sends itself (bytes):
// all of it must come in the read that brought the request's head.
const h2HeldBody = 16 << 10

// h2Partial is how long part of a frame may wait in the loop with no
// stream open before the connection goes to a goroutine, which applies
// the idle timeout to it (h2Conn.fill).
const h2Partial = time.Second

// adopt hands the connection to the proxy's event loop at an idle point
// (no stream, nothing buffered); true when the loop has it and the
// goroutine must return.
func (sc *h2Conn) adopt() bool {
	if sc.lw.noAdopt {
		sc.lw.noAdopt = false
		return false
	}
	c := sc.c
	if c.Draining() || sc.drainPhase != 0 || sc.peerGoAway || sc.isGoingAway() || sc.hdrID != 0 {
		return false
	}
	l := sc.x.p.eventLoopFor(c.ID)
	if l == nil {
		return false
	}
	k := c.RawIO()
	if k == nil {
		return false
	}
	sc.in.release()
	sc.lw = h2LoopConn{k: k}
	c.Detach()
	return l.post(loopMsg{sc: sc})
}

// serveOn serves the connection on the calling goroutine (one the loop
// started).
func (sc *h2Conn) serveOn(then func() bool) {
	defer sc.recoverPanic()
	if then != nil && !then() {
		return
	}
	sc.loop()
}

// adoptH2 takes an HTTP/2 connection from its goroutine.
func (l *eventLoop) adoptH2(sc *h2Conn) {
	slot, gen, err := l.register(sc.lw.k)
	if err != nil {
		sc.lw.noAdopt = true
		go sc.serveOn(nil)
		return
	}
	l.slots[slot].sc = sc
	sc.lp = l
	sc.lw.slot, sc.lw.gen = slot, gen
	sc.lw.since = time.Now()
	sc.wmu.Lock()
	sc.tryIO = sc.lw.k
	sc.wmu.Unlock()
	l.h2s[sc] = struct{}{}
	sc.c.OnDrain(func() { l.post(loopMsg{sc: sc, drain: true, slot: slot, gen: gen}) })
}

// leaveH2 hands the connection's read side, and the loop's streams of
// it, to goroutines; the connection's goroutine runs then first (when it
// returns true, or is nil, the connection is served on as usual).
func (l *eventLoop) leaveH2(sc *h2Conn, then func() bool) {
	l.p.stats.loopHandoffH2.Inc()
	for i, st := range sc.lw.held {
		sc.goStream(st)
		sc.lw.held[i] = nil
	}
	sc.lw.held = sc.lw.held[:0]
	sc.mu.Lock()
	var mine []*h2Stream
	for _, st := range sc.streams {
		if st.lup != nil {
			mine = append(mine, st)
		}
	}
	sc.mu.Unlock()
	for _, st := range mine {
		l.handStream(st)
	}
	l.detachH2(sc)
	// The goroutine reads for itself before it may give the connection
	// back: what made it leave (the end of input, a drain) is for it.
	sc.lw.noAdopt = true
	go sc.serveOn(then)
}

// detachH2 takes the connection out of the loop.
func (l *eventLoop) detachH2(sc *h2Conn) {
	sc.c.OnDrain(sc.c.Interrupt)
	l.unregister(sc.lw.k, sc.lw.slot)
	delete(l.h2s, sc)
	sc.lp = nil
	sc.wmu.Lock()
	sc.tryIO = nil
	sc.wmu.Unlock()
	// A parked connection keeps sc: not the socket's I/O state, which
	// the runtime replaces while it is parked.
	sc.lw = h2LoopConn{}
}

// serveH2 reads and handles the frames of a readable connection.
func (l *eventLoop) serveH2(sc *h2Conn) {
	in := &sc.in
	for {
		for in.frameReady() {
			f, err := sc.fr.ReadFrame()
			if err == nil {
				err = sc.handle(f)
			}
			if err != nil {
				var se http2.StreamError
				if errors.As(err, &se) {
					sc.onError(err)
					continue
				}
				l.leaveH2(sc, func() bool { return sc.onError(err) })
				return
			}
		}
		if !sc.lw.readable {
			break
		}
		b := in.space()
		n, errno := sc.lw.k.TryRead(b)
		if errno == unix.EAGAIN {
			sc.lw.readable = false
			continue
		}
		if errno != 0 || n == 0 {
			// The end of input (or an error): the goroutine's read
			// reports it and closes what is left.
			l.leaveH2(sc, nil)
			return
		}
		sc.lw.readable = n == len(b) || sc.lw.hup
		sc.lw.since = time.Time{}
		in.w += n
	}
	l.releaseHeld(sc)
	if err := sc.flushCtl(); err != nil || sc.c.Draining() || sc.peerGoAway || sc.isGoingAway() {
		// The goroutine sends what a drain or a GOAWAY needs, or closes.
		l.leaveH2(sc, nil)
		return
	}
	in.release()
}

// startStream serves a new stream in the loop if it can: true when the
// loop has it (sent, or handed to a goroutine from where it got), false
// when the caller is to run it on a goroutine from its start.
func (l *eventLoop) startStream(st *h2Stream) bool {
	sc := st.sc
	if sc.c.Draining() {
		return false
	}
	if !st.remoteDone.Load() {
		if st.expect || st.req.Trailer != nil || st.declared > h2HeldBody {
			return false // a body to ask for, or with trailers, or large
		}
		sc.lw.held = append(sc.lw.held, st)
		return true
	}
	return l.sendStream(st, nil)
}

// releaseHeld ends the wait of the held streams at the end of a read:
// those whose whole body came are served by the loop, the others by
// goroutines (which read the rest of the body as it comes).
func (l *eventLoop) releaseHeld(sc *h2Conn) {
	for i, st := range sc.lw.held {
		sc.lw.held[i] = nil
		st.bmu.Lock()
		body, whole := st.body[st.boff:], st.berr == io.EOF && st.trailers == nil && len(st.body)-st.boff <= h2HeldBody
		st.bmu.Unlock()
		if !whole || st.Err() != nil || !l.sendStream(st, body) {
			sc.goStream(st)
		}
	}
	sc.lw.held = sc.lw.held[:0]
}

// sendStream routes a stream whose request (with body, if any) is whole,
// and sends it upstream: true when the loop has it (sent, or handed to a
// goroutine from where it got), false when it is to run on a goroutine
// from its start.
func (l *eventLoop) sendStream(st *h2Stream, body []byte) bool {
	sc := st.sc
	x := sc.x
	if !x.routeStream(st, &st.rw, st.req, true) {
		return false // a direct answer, a missing route or cluster
	}
	ex := &st.ex
	ch := &ex.ch
	br := x.p.breakers.Get(ch.cl.Config())
	if !br.AcquireRequest() {
		l.resume(st) // answered 503 there
		return true
	}
	h := ch.cl.Pick(&ch.lbctx)
	if h == nil {
		br.ReleaseRequest()
		l.resume(st)
		return true
	}
	uc := l.take(ch.cl, h)
	if uc == nil {
		br.ReleaseRequest()
		ch.picked = h // a dial, there; the same host
		l.resume(st)
		return true
	}
	ch.host = h
	ch.info.UpstreamHost = h.Address()
	ex.out.URL.Host = h.Address()
	ch.info.UpstreamLocalAddress = uc.localAddr()
	uc.requests++
	if body != nil {
		ex.out.ContentLength = int64(len(body))
	}
	uc.out = appendH1Request(uc.out[:0], &ex.out, len(body) > 0)
	uc.out = append(uc.out, body...)
	if err := uc.flushLoop(); err != nil {
		// A connection the upstream closed meanwhile: a goroutine
		// starts over on another (the request had no effect).
		l.closeUp(uc)
		br.ReleaseRequest()
		ch.picked = h
		l.resume(st)
		return true
	}
	if body != nil {
		// Sent: the body's bytes go back to the client's windows.
		st.bmu.Lock()
		n := int64(len(st.body) - st.boff)
		st.body, st.boff = st.body[:0], 0
		st.buffered -= n
		st.bmu.Unlock()
		sc.refund(st, n)
	}
	h.RequestStart()
	ch.loopUC, ch.deadline = uc, time.Now().Add(ch.timeout)
	uc.lp.st, st.lup = st, uc
	uc.headLen = 0
	l.h2wait[st] = struct{}{}
	return true
}

// resume hands a stream to a goroutine, which goes on with it where the
// loop left it (see choice).
func (l *eventLoop) resume(st *h2Stream) {
	l.p.stats.loopHandoffH2.Inc()
	st.sc.onGoroutines.Add(1)
	l.p.workers.Go(h2Resume{st})
}

// handStream hands a stream whose request the loop sent to a goroutine,
// with its upstream connection.
func (l *eventLoop) handStream(st *h2Stream) {
	uc := st.lup
	st.lup = nil
	delete(l.h2wait, st)
	uc.lp.st = nil
	uc.headLen = 0
	l.letGo(uc)
	l.resume(st)
}

// upEventH2 handles a readable upstream connection of a stream.
func (l *eventLoop) upEventH2(uc *upConn, st *h2Stream) {
	for {
		b := uc.loopSpace()
		if len(b) == 0 {
			l.handStream(st) // larger than the buffer: streamed there
			return
		}
		n, errno := uc.rio.TryRead(b)
		if errno == unix.EAGAIN {
			return
		}
		if errno != 0 || n == 0 {
			l.handStream(st) // the goroutine's read reports it
			return
		}
		uc.w += n
		switch l.answerWhole(uc, st) {
		case answerMore:
			if n < len(b) && !uc.lp.hup {
				return
			}
		case answerWhole:
			l.finishStream(st)
			return
		default:
			l.handStream(st)
			return
		}
	}
}

// The states of an answer in the loop's buffer.
const (
	answerMore  = iota // more is to come
	answerWhole        // all of it is there
	answerOther        // a goroutine is to handle it
)

// answerWhole parses the head of the answer at uc.r (once) and tells
// whether the whole answer is buffered.
func (l *eventLoop) answerWhole(uc *upConn, st *h2Stream) int {
	if uc.headLen == 0 {
		uc.parser.Reset()
		uc.parser.SetRequestMethod([]byte(st.req.Method))
		n, err := uc.parser.Parse(uc.in())
		switch {
		case err == http1.ErrNeedMore:
			return answerMore
		case err != nil, uc.parser.Header().Status() < 200:
			return answerOther // a bad answer, a 1xx
		}
		uc.headLen = n
	}
	uc.r += uc.headLen
	ok := whole(uc, l.p.limits)
	uc.r -= uc.headLen
	if ok {
		return answerWhole
	}
	if k := uc.parser.Framing().Kind; k == http1.BodyUntilClose {
		return answerOther
	}
	return answerMore
}

// finishStream ends a stream whose answer is whole in its upstream
// connection's buffer: in the loop when nothing can wait (the windows
// hold the answer and no goroutine writes DATA on the connection), else
// on a goroutine.
func (l *eventLoop) finishStream(st *h2Stream) {
	sc := st.sc
	uc := st.lup
	// Room for the answer and for an error page if it turns out bad.
	need := int64(uc.w-uc.r) + 512
	sc.wmu.Lock()
	ok := sc.werr == nil && !st.ended && sc.onGoroutines.Load() == 0 &&
		st.sendWin >= need && sc.sendWin >= need && len(sc.out)+int(need) < h2MaxOut
	sc.wmu.Unlock()
	if !ok || st.Err() != nil {
		l.handStream(st)
		return
	}
	delete(l.h2wait, st)
	st.lup = nil
	uc.lp.st = nil
	st.ex.ch.inLoop = true
	st.serve(func() { sc.x.resumeStream(st) })
	l.p.stats.loopServedH2.Inc()
	// Nothing but this goroutine ever held the stream (no goroutine ran
	// it, no filter or context watcher saw it), and it is closed: it can
	// be used again.
	sc.mu.Lock()
	done := st.closing && st.handlerDone
	sc.mu.Unlock()
	st.cmu.Lock()
	done = done && st.done == nil && len(st.afters) == 0
	st.cmu.Unlock()
	if done {
		sc.x.spare.Put(st)
	}
}

// sweepH2 hands requests past their route timeout (or reset by the
// client) to goroutines, which answer or end them, and parks (or
// closes) connections idle for parkAfter (or their idle timeout).
func (l *eventLoop) sweepH2(now time.Time) {
	for st := range l.h2wait {
		if !now.Before(st.ex.ch.deadline) || st.Err() != nil {
			l.handStream(st)
		}
	}
	for sc := range l.h2s {
		if sc.active() > 0 {
			sc.lw.since, sc.lw.partial = time.Time{}, time.Time{}
			continue
		}
		if sc.in.r < sc.in.w || sc.hdrID != 0 {
			// Part of a frame, and no stream.
			if sc.lw.partial.IsZero() {
				sc.lw.partial = now
			} else if now.Sub(sc.lw.partial) >= h2Partial {
				l.leaveH2(sc, nil)
			}
			continue
		}
		sc.lw.partial = time.Time{}
		if sc.lw.since.IsZero() {
			sc.lw.since = now
			continue
		}
		waited := now.Sub(sc.lw.since)
		if t := sc.c.IdleTimeout; t > 0 && waited >= t {
			l.leaveH2(sc, func() bool {
				sc.goAway(http2.ErrCodeNo, "idle timeout")
				sc.shutdown()
				return false
			})
			continue
		}
		if waited >= parkAfter {
			l.detachH2(sc)
			if !sc.park(waited) {
				sc.lw.noAdopt = true
				go sc.serveOn(nil)
			}
		}
	}
}
