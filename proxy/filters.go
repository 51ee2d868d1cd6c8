package proxy

import (
	"context"
	"net"
	"net/http"
	"sort"
	"strconv"

	"mosn.dev/proxy/codec/http1"
	"mosn.dev/proxy/stream"
)

// h1Filters adapts one HTTP/1 request to the stream filter callbacks.
type h1Filters struct {
	s        *h1Server
	chain    *stream.Chain
	replied  bool
	keep     bool
	meta     map[string]string
	limit    int64
	limitSt  int
	cluster  string
	host     string
	respHead *http1.Header
}

func (f *h1Filters) Protocol() string     { return "HTTP1" }
func (f *h1Filters) RemoteAddr() net.Addr { return f.s.c.RemoteAddr() }
func (f *h1Filters) LocalAddr() net.Addr  { return f.s.c.LocalAddr() }
func (f *h1Filters) Method() string       { return string(f.s.parser.Header().Method()) }
func (f *h1Filters) Path() string         { return string(f.s.parser.Header().Path()) }
func (f *h1Filters) Cluster() string      { return f.cluster }
func (f *h1Filters) Host() string         { return f.host }
func (f *h1Filters) ContentLength() int64 {
	fr := f.s.parser.Framing()
	switch fr.Kind {
	case http1.BodyLength:
		return fr.Length
	case http1.BodyNone:
		return 0
	}
	return -1
}
func (f *h1Filters) RequestHeaders() stream.Headers  { return headerOps{f.s.parser.Header()} }
func (f *h1Filters) ResponseHeaders() stream.Headers { return headerOps{f.respHead} }
func (f *h1Filters) Status() int                     { return f.respHead.Status() }
func (f *h1Filters) Flag(flag uint64)                { f.s.info.ResponseFlags |= flag }

func (f *h1Filters) SetMetadata(k, v string) {
	if f.meta == nil {
		f.meta = map[string]string{}
	}
	f.meta[k] = v
}

func (f *h1Filters) SetBodyLimit(limit int64, status int) {
	f.limit, f.limitSt = limit, status
}

// Reply answers locally. Headers are written in sorted order so replies
// are reproducible.
func (f *h1Filters) Reply(status int, headers map[string]string, body string) {
	if f.replied {
		return
	}
	f.replied = true
	s := f.s
	keep := s.parser.KeepAlive() && s.parser.Framing().Kind == http1.BodyNone && !s.closing()
	f.keep = keep
	s.info.ResponseCode = status
	s.out = append(s.out[:0], "HTTP/1.1 "...)
	s.out = strconv.AppendInt(s.out, int64(status), 10)
	s.out = append(s.out, ' ')
	s.out = append(s.out, http1.StatusText(status)...)
	s.out = append(s.out, '\r', '\n')
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if http1Valid(k, headers[k]) {
			s.out = append(s.out, k...)
			s.out = append(s.out, ':', ' ')
			s.out = append(s.out, headers[k]...)
			s.out = append(s.out, '\r', '\n')
		}
	}
	if _, ok := headers["Content-Type"]; !ok && body != "" {
		s.out = append(s.out, "Content-Type: text/plain; charset=utf-8\r\n"...)
	}
	s.out = append(s.out, "Content-Length: "...)
	s.out = strconv.AppendInt(s.out, int64(len(body)), 10)
	s.out = append(s.out, '\r', '\n')
	if !keep {
		s.out = append(s.out, "Connection: close\r\n"...)
	}
	s.out = append(s.out, '\r', '\n')
	s.out = append(s.out, body...)
	s.c.Write(s.out)
	s.out = s.out[:0]
	s.info.BytesSent = uint64(len(body))
}

// http1Valid rejects header names and values that could split the head.
func http1Valid(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c == ':' || c >= 0x7f {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// run runs a receive phase; true means stop (the request was answered).
func (f *h1Filters) run(phase stream.Phase) bool {
	if f == nil || f.chain == nil {
		return false
	}
	return f.chain.OnReceive(context.Background(), f, phase) == stream.Stop || f.replied
}

// h2Filters adapts one HTTP/2 request to the stream filter callbacks.
type h2Filters struct {
	r       *http.Request
	w       http.ResponseWriter
	chain   *stream.Chain
	c       net.Addr
	l       net.Addr
	replied bool
	meta    map[string]string
	limit   int64
	limitSt int
	cluster string
	host    string
	resp    *http.Response
	flags   *uint64
}

func (f *h2Filters) Protocol() string     { return "HTTP2" }
func (f *h2Filters) RemoteAddr() net.Addr { return f.c }
func (f *h2Filters) LocalAddr() net.Addr  { return f.l }
func (f *h2Filters) Method() string       { return f.r.Method }
func (f *h2Filters) Path() string         { return f.r.URL.Path }
func (f *h2Filters) Cluster() string      { return f.cluster }
func (f *h2Filters) Host() string         { return f.host }
func (f *h2Filters) ContentLength() int64 {
	if f.r.ContentLength == 0 && f.r.Body != nil && f.r.Body != http.NoBody {
		return -1
	}
	return f.r.ContentLength
}
func (f *h2Filters) RequestHeaders() stream.Headers  { return headerMap(f.r.Header) }
func (f *h2Filters) ResponseHeaders() stream.Headers { return headerMap(f.resp.Header) }
func (f *h2Filters) Status() int                     { return f.resp.StatusCode }
func (f *h2Filters) Flag(flag uint64)                { *f.flags |= flag }

func (f *h2Filters) SetMetadata(k, v string) {
	if f.meta == nil {
		f.meta = map[string]string{}
	}
	f.meta[k] = v
}

func (f *h2Filters) SetBodyLimit(limit int64, status int) { f.limit, f.limitSt = limit, status }

func (f *h2Filters) Reply(status int, headers map[string]string, body string) {
	if f.replied {
		return
	}
	f.replied = true
	for k, v := range headers {
		f.w.Header().Set(k, v)
	}
	if body != "" && f.w.Header().Get("Content-Type") == "" {
		f.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	f.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	f.w.WriteHeader(status)
	f.w.Write([]byte(body))
}

func (f *h2Filters) run(phase stream.Phase) bool {
	if f == nil || f.chain == nil {
		return false
	}
	return f.chain.OnReceive(f.r.Context(), f, phase) == stream.Stop || f.replied
}

// mergeMeta overlays filter-set metadata on the route's metadata_match.
func mergeMeta(route, filters map[string]string) map[string]string {
	if len(filters) == 0 {
		return route
	}
	m := make(map[string]string, len(route)+len(filters))
	for k, v := range route {
		m[k] = v
	}
	for k, v := range filters {
		m[k] = v
	}
	return m
}
