package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// The bodies served. smallBody is 12 bytes, largeBody 4096.
var (
	smallBody    = []byte("hello world\n")
	largeBody    = makeLargeBody(4096)
	notFoundBody = []byte("not found\n")
)

func makeLargeBody(n int) []byte {
	const line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n" // 64 bytes
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, line[:min(len(line), n-len(b))]...)
	}
	return b
}

// stats counts what a server did; /stats reports it.
type stats struct {
	conns    atomic.Int64 // connections accepted
	requests atomic.Int64 // requests answered, /stats excluded
}

func (s *stats) line() string {
	return "conns=" + strconv.FormatInt(s.conns.Load(), 10) +
		" requests=" + strconv.FormatInt(s.requests.Load(), 10) + "\n"
}

// rawServer is the benchmark's upstream: an HTTP/1.1 server that parses
// request heads itself and answers from fixed bodies without allocating.
// It answers pipelined requests in order, in one write per batch read.
// serveEpoll (Linux) runs it as one epoll loop on one thread;
// serveGoroutines as a goroutine per connection.
type rawServer struct {
	stats stats
	date  atomic.Pointer[dateCache]
}

// dateCache is the Date header value of one second.
type dateCache struct {
	sec   int64
	value []byte
}

// readBufSize is the per-connection read buffer, in bytes: room for one
// head of maxHead bytes and for a batch of pipelined requests.
const readBufSize = 16 << 10

// serveGoroutines serves ln with a goroutine per connection.
func (s *rawServer) serveGoroutines(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.stats.conns.Add(1)
		go s.serveConn(c)
	}
}

// dateNow returns the current IMF-fixdate, formatted once a second.
func (s *rawServer) dateNow() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := s.date.Load(); d != nil && d.sec == sec {
		return d.value
	}
	d := &dateCache{sec: sec, value: now.UTC().AppendFormat(nil, http.TimeFormat)}
	s.date.Store(d)
	return d.value
}

func (s *rawServer) serveConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 0, readBufSize)
	var out []byte
	var skip int64
	for {
		n, rerr := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		var used int
		var closing bool
		out, used, closing = s.consume(buf, &skip, out)
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = trimOut(out)
		}
		if closing || rerr != nil {
			return
		}
		buf = buf[:copy(buf, buf[used:])]
	}
}

// consume answers the whole requests at the start of buf, appending the
// responses to out, and returns out, the number of bytes of buf used and
// whether the connection closes once out is written. *skip holds the
// request body bytes still to discard, across calls. What consume leaves
// unused is the start of a request head, shorter than maxHead.
func (s *rawServer) consume(buf []byte, skip *int64, out []byte) ([]byte, int, bool) {
	p := 0
	for {
		if *skip > 0 {
			k := min(*skip, int64(len(buf)-p))
			p += int(k)
			*skip -= k
			if *skip > 0 {
				return out, p, false
			}
		}
		h, err := parseHead(buf[p:])
		if err == errIncomplete {
			return out, p, false
		}
		if err != nil {
			code := http.StatusBadRequest
			if err == errHeadTooLarge {
				code = http.StatusRequestHeaderFieldsTooLarge
			}
			return s.appendResponse(out, code, nil, true, true), len(buf), true
		}
		p += h.Len
		var closing bool
		out, closing = s.answer(out, h)
		*skip = h.BodyLen
		if closing {
			return out, len(buf), true
		}
	}
}

// trimOut empties a written output buffer, dropping it when a large batch
// grew it.
func trimOut(out []byte) []byte {
	if cap(out) > 64<<10 {
		return nil
	}
	return out[:0]
}

// answer appends the response to h and reports whether the connection
// closes after it.
func (s *rawServer) answer(out []byte, h reqHead) ([]byte, bool) {
	if h.Chunked {
		return s.appendResponse(out, http.StatusNotImplemented, nil, true, true), true
	}
	head := string(h.Method) == "HEAD"
	// POST is answered like GET, its body discarded (the POST scenario
	// of bench/http.sh).
	if !head && string(h.Method) != "GET" && string(h.Method) != "POST" {
		s.stats.requests.Add(1)
		return s.appendResponse(out, http.StatusMethodNotAllowed, nil, true, h.Close), h.Close
	}
	var body []byte
	code := http.StatusOK
	switch string(h.Path) {
	case "/small":
		body = smallBody
	case "/4k":
		body = largeBody
	case "/stats":
		return s.appendResponse(out, code, []byte(s.stats.line()), !head, h.Close), h.Close
	default:
		code, body = http.StatusNotFound, notFoundBody
	}
	s.stats.requests.Add(1)
	return s.appendResponse(out, code, body, !head, h.Close), h.Close
}

// appendResponse appends a whole response. The Content-Length is that of
// body even when withBody is false (a HEAD request).
func (s *rawServer) appendResponse(out []byte, code int, body []byte, withBody, closing bool) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(code)...)
	out = append(out, "\r\nServer: httpup\r\nDate: "...)
	out = append(out, s.dateNow()...)
	out = append(out, "\r\nContent-Type: text/plain\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	if code == http.StatusMethodNotAllowed {
		out = append(out, "\r\nAllow: GET, HEAD, POST"...)
	}
	if closing {
		out = append(out, "\r\nConnection: close"...)
	}
	out = append(out, "\r\n\r\n"...)
	if withBody {
		out = append(out, body...)
	}
	return out
}

// stdHandler serves the same answers with net/http, for comparing the
// cost of the upstreams (httpup serve -impl std).
func stdHandler(st *stats) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		if r.Method == http.MethodPost {
			_, _ = io.Copy(io.Discard, r.Body)
		} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
			st.requests.Add(1)
			h["Allow"] = []string{"GET, HEAD, POST"}
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		var body []byte
		code := http.StatusOK
		switch r.URL.Path {
		case "/small":
			body = smallBody
		case "/4k":
			body = largeBody
		case "/stats":
			_, _ = w.Write([]byte(st.line()))
			return
		default:
			code, body = http.StatusNotFound, notFoundBody
		}
		st.requests.Add(1)
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(code)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}

// serveStd serves ln with net/http (httpup serve -impl std). With h2c it
// also serves HTTP/2 over cleartext TCP with prior knowledge (RFC 9113
// section 3.3) on the same port (-impl h2c): the direct target and the h2c
// upstream of the h2load scenarios, which the built-in HTTP/1-only servers
// cannot be. net/http's defaults apply, among them 250 concurrent streams
// per connection.
func serveStd(ln net.Listener, h2c bool) error {
	var st stats
	srv := &http.Server{
		Handler:   stdHandler(&st),
		ConnState: func(_ net.Conn, cs http.ConnState) { countNew(&st, cs) },
	}
	if h2c {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = &p
	}
	return srv.Serve(ln)
}

func countNew(st *stats, cs http.ConnState) {
	if cs == http.StateNew {
		st.conns.Add(1)
	}
}
