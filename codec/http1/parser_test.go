package http1

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func fieldsOf(h *Header) []kv {
	out := []kv{}
	h.Range(func(n, v []byte) bool {
		out = append(out, kv{string(n), string(v)})
		return true
	})
	return out
}

func checkRequest(t *testing.T, tc reqCase, p *Parser, n int) {
	t.Helper()
	h := p.Header()
	if n != len(tc.raw) {
		t.Errorf("n = %d, want %d", n, len(tc.raw))
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"method", string(h.Method()), tc.method},
		{"target", string(h.Target()), tc.target},
		{"path", string(h.Path()), tc.path},
		{"query", string(h.Query()), tc.query},
		{"hasQuery", h.Query() != nil, tc.hasQuery},
		{"form", h.Form(), tc.form},
		{"authority", string(h.Authority()), tc.authority},
		{"minor", h.ProtoMinor(), tc.minor},
		{"framing", p.Framing(), tc.framing},
		{"keepAlive", p.KeepAlive(), tc.keepAlive},
		{"expect", p.ExpectContinue(), tc.expect},
		{"upgrade", string(p.Upgrade()), tc.upgrade},
		{"status", h.Status(), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	if host, _ := h.Host(); string(host) != tc.host {
		t.Errorf("Host() = %q, want %q", host, tc.host)
	}
	if tc.fields != nil {
		if got := fieldsOf(h); fmt.Sprint(got) != fmt.Sprint(tc.fields) {
			t.Errorf("fields = %q, want %q", got, tc.fields)
		}
	}
}

func TestParseRequestGood(t *testing.T) {
	for _, tc := range goodRequests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewRequestParser(Limits{})
			data := []byte(tc.raw + tc.extra)
			n, err := p.Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkRequest(t, tc, p, n)
			if !bytes.Equal(data[n:], []byte(tc.extra)) {
				t.Errorf("rest = %q, want %q", data[n:], tc.extra)
			}
		})
	}
}

func TestParseRequestBad(t *testing.T) {
	for _, tc := range badRequests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewRequestParser(Limits{})
			n, err := p.Parse([]byte(tc.raw))
			if err != tc.err {
				t.Fatalf("Parse = %d, %v; want %v", n, err, tc.err)
			}
			if n != 0 {
				t.Errorf("n = %d on error", n)
			}
			want := tc.status
			if want == 0 {
				want = 400
			}
			if got := StatusOf(err); got != want {
				t.Errorf("StatusOf = %d, want %d", got, want)
			}
		})
	}
}

// feed passes data to parse one byte more at a time, as a caller that keeps
// the unconsumed bytes and appends each read would, and returns the first
// result that is not ErrNeedMore.
func feed(parse func([]byte) (int, error), data []byte) (int, error) {
	buf := make([]byte, 0, len(data))
	for i := range data {
		// A fresh copy now and then checks that the parser keeps offsets,
		// not pointers into an earlier buffer.
		if i%64 == 0 {
			buf = bytes.Clone(buf)
		}
		buf = append(buf, data[i])
		n, err := parse(buf)
		if err != ErrNeedMore {
			return n, err
		}
	}
	return 0, ErrNeedMore
}

func TestParseIncremental(t *testing.T) {
	var cases []reqCase
	cases = append(cases, goodRequests...)
	cases = append(cases, badRequests...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw + tc.extra)
			whole := NewRequestParser(Limits{})
			wn, werr := whole.Parse(data)
			inc := NewRequestParser(Limits{})
			in, ierr := feed(inc.Parse, data)
			if in != wn || ierr != werr {
				t.Fatalf("byte by byte: %d, %v; at once: %d, %v", in, ierr, wn, werr)
			}
			if werr == nil {
				if a, b := whole.Header().String(), inc.Header().String(); a != b {
					t.Errorf("heads differ:\n%q\n%q", a, b)
				}
				if whole.Framing() != inc.Framing() || whole.KeepAlive() != inc.KeepAlive() ||
					!bytes.Equal(whole.Upgrade(), inc.Upgrade()) {
					t.Errorf("flags differ")
				}
			}
			// Two pieces, split at every position (every few for long heads).
			step := 1 + len(data)/300
			for i := 1; i < len(data); i += step {
				p := NewRequestParser(Limits{})
				n, err := p.Parse(data[:i])
				if err == ErrNeedMore {
					n, err = p.Parse(data)
				}
				if n != wn || err != werr {
					t.Fatalf("split at %d: %d, %v; at once: %d, %v", i, n, err, wn, werr)
				}
			}
		})
	}
}

func TestParsePipelined(t *testing.T) {
	reqs := []string{
		head("GET /1 HTTP/1.1", "Host: a"),
		head("POST /2 HTTP/1.1", "Host: a", "Content-Length: 4") + "body",
		head("GET /3 HTTP/1.1", "Host: a", "Connection: close"),
	}
	data := []byte(strings.Join(reqs, ""))
	p := NewRequestParser(Limits{})
	var targets []string
	for len(data) > 0 {
		n, err := p.Parse(data)
		if err != nil {
			t.Fatalf("Parse: %v (data %q)", err, data)
		}
		targets = append(targets, string(p.Header().Target()))
		data = data[n:]
		if f := p.Framing(); f.Kind == BodyLength {
			if string(data[:f.Length]) != "body" {
				t.Fatalf("body = %q", data[:f.Length])
			}
			data = data[f.Length:]
		}
	}
	if got := strings.Join(targets, " "); got != "/1 /2 /3" {
		t.Errorf("targets = %s", got)
	}
	if p.KeepAlive() {
		t.Errorf("last request has Connection: close")
	}
}

func TestParseNeedMore(t *testing.T) {
	p := NewRequestParser(Limits{})
	for _, s := range []string{"", "G", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r"} {
		if n, err := p.Parse([]byte(s)); err != ErrNeedMore || n != 0 {
			t.Errorf("Parse(%q) = %d, %v; want ErrNeedMore", s, n, err)
		}
		p.Reset()
	}
}

func TestHeaderSizeLimits(t *testing.T) {
	// A head of exactly MaxHeaderBytes parses; one byte more does not.
	const max = 200
	base := head("GET / HTTP/1.1", "Host: a", "X: ")
	pad := strings.Repeat("p", max-len(base))
	exact := head("GET / HTTP/1.1", "Host: a", "X: "+pad)
	if len(exact) != max {
		t.Fatalf("test head is %d bytes", len(exact))
	}
	p := NewRequestParser(Limits{MaxHeaderBytes: max})
	if n, err := p.Parse([]byte(exact + "tail")); err != nil || n != max {
		t.Fatalf("exact size: %d, %v", n, err)
	}
	over := head("GET / HTTP/1.1", "Host: a", "X: "+pad+"p")
	if _, err := p.Parse([]byte(over)); err != ErrHeaderTooLarge {
		t.Fatalf("one over: %v", err)
	}
	// The limit applies while the head is still incomplete.
	if _, err := p.Parse([]byte(over[:max])); err != ErrHeaderTooLarge {
		t.Fatalf("incomplete at limit: %v", err)
	}
	if _, err := p.Parse([]byte(over[:max-1])); err != ErrNeedMore {
		t.Fatalf("incomplete below limit: %v", err)
	}

	lines := []string{"GET / HTTP/1.1", "Host: a"}
	for range 8 {
		lines = append(lines, "X: y")
	}
	p = NewRequestParser(Limits{MaxHeaders: 9})
	if _, err := p.Parse([]byte(head(lines...))); err != nil {
		t.Fatalf("9 fields with limit 9: %v", err)
	}
	if _, err := p.Parse([]byte(head(append(lines, "X: z")...))); err != ErrTooManyHeaders {
		t.Fatalf("10 fields with limit 9: %v", err)
	}
}

func TestParseErrorResets(t *testing.T) {
	p := NewRequestParser(Limits{})
	if _, err := p.Parse([]byte(head("GET / HTTP/1.1", "Host: a", "Bad Name: x"))); err == nil {
		t.Fatal("want error")
	}
	if p.Header().Len() != 0 || len(p.Header().Method()) != 0 {
		t.Errorf("header not reset after error: %q", p.Header().String())
	}
	// The parser is usable again.
	if _, err := p.Parse([]byte(curlRequest)); err != nil {
		t.Fatal(err)
	}
}

func checkResponse(t *testing.T, tc respCase, p *Parser, n int) {
	t.Helper()
	h := p.Header()
	if n != len(tc.raw) {
		t.Errorf("n = %d, want %d", n, len(tc.raw))
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"status", h.Status(), tc.status},
		{"reason", string(h.Reason()), tc.reason},
		{"minor", h.ProtoMinor(), tc.minor},
		{"framing", p.Framing(), tc.framing},
		{"keepAlive", p.KeepAlive(), tc.keepAlive},
		{"tunnel", p.Tunnel(), tc.tunnel},
		{"upgrade", string(p.Upgrade()), tc.upgrade},
		{"contentLength", p.ContentLength(), tc.cl},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range goodResponses {
		t.Run(tc.name, func(t *testing.T) {
			p := NewResponseParser(Limits{})
			p.SetRequestMethod([]byte(tc.reqMethod))
			data := []byte(tc.raw + tc.extra)
			n, err := p.Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkResponse(t, tc, p, n)
			inc := NewResponseParser(Limits{})
			inc.SetRequestMethod([]byte(tc.reqMethod))
			if in, ierr := feed(inc.Parse, data); in != n || ierr != nil ||
				inc.Header().String() != p.Header().String() || inc.Framing() != p.Framing() {
				t.Errorf("byte by byte: %d, %v", in, ierr)
			}
		})
	}
	for _, tc := range badResponses {
		t.Run(tc.name, func(t *testing.T) {
			p := NewResponseParser(Limits{})
			if _, err := p.Parse([]byte(tc.raw)); err != tc.err {
				t.Fatalf("Parse = %v, want %v", err, tc.err)
			}
			inc := NewResponseParser(Limits{})
			if _, err := feed(inc.Parse, []byte(tc.raw)); err != tc.err {
				t.Errorf("byte by byte = %v, want %v", err, tc.err)
			}
		})
	}
}

// TestResponseAfterContinue checks that the request method set once covers
// the interim and the final response.
func TestResponseAfterContinue(t *testing.T) {
	data := []byte(head("HTTP/1.1 100 Continue") + head("HTTP/1.1 200 OK", "Content-Length: 10"))
	p := NewResponseParser(Limits{})
	p.SetRequestMethod([]byte("HEAD"))
	n, err := p.Parse(data)
	if err != nil || p.Header().Status() != 100 || p.Framing().Kind != BodyNone {
		t.Fatalf("first: %d, %v, %d", n, err, p.Header().Status())
	}
	n2, err := p.Parse(data[n:])
	if err != nil || n+n2 != len(data) || p.Header().Status() != 200 {
		t.Fatalf("second: %d, %v", n2, err)
	}
	if p.Framing().Kind != BodyNone || p.ContentLength() != 10 {
		t.Errorf("HEAD response framing = %v, CL %d", p.Framing(), p.ContentLength())
	}
	p.SetRequestMethod([]byte("GET"))
	if _, err := p.Parse(data[n:]); err != nil || p.Framing() != (Framing{BodyLength, 10}) {
		t.Errorf("GET response framing = %v, %v", p.Framing(), err)
	}
}

func TestKeepAliveRules(t *testing.T) {
	cases := []struct {
		version, conn string
		want          bool
	}{
		{"HTTP/1.1", "", true},
		{"HTTP/1.1", "close", false},
		{"HTTP/1.1", "Close", false},
		{"HTTP/1.1", "keep-alive", true},
		{"HTTP/1.1", "foo,close", false},
		{"HTTP/1.1", "closed", true},
		{"HTTP/1.1", "upgrade", true},
		{"HTTP/1.0", "", false},
		{"HTTP/1.0", "keep-alive", true},
		{"HTTP/1.0", "KEEP-ALIVE", true},
		{"HTTP/1.0", "keep-alive, close", false},
		{"HTTP/1.0", "foo, keep-alive", true},
		{"HTTP/1.0", "keep-alived", false},
	}
	for _, tc := range cases {
		lines := []string{"GET / " + tc.version, "Host: a"}
		if tc.conn != "" {
			lines = append(lines, "Connection: "+tc.conn)
		}
		p := NewRequestParser(Limits{})
		if _, err := p.Parse([]byte(head(lines...))); err != nil {
			t.Fatalf("%v: %v", lines, err)
		}
		if p.KeepAlive() != tc.want {
			t.Errorf("request %s Connection %q: KeepAlive = %v", tc.version, tc.conn, p.KeepAlive())
		}
		rlines := []string{tc.version + " 200 OK", "Content-Length: 0"}
		if tc.conn != "" {
			rlines = append(rlines, "Connection: "+tc.conn)
		}
		rp := NewResponseParser(Limits{})
		if _, err := rp.Parse([]byte(head(rlines...))); err != nil {
			t.Fatalf("%v: %v", rlines, err)
		}
		if rp.KeepAlive() != tc.want {
			t.Errorf("response %s Connection %q: KeepAlive = %v", tc.version, tc.conn, rp.KeepAlive())
		}
	}
}

func TestStatusOf(t *testing.T) {
	if got := StatusOf(fmt.Errorf("wrapped: %w", ErrTooManyHeaders)); got != 431 {
		t.Errorf("wrapped 431 = %d", got)
	}
	if got := StatusOf(errors.New("other")); got != 400 {
		t.Errorf("other = %d", got)
	}
	if !errors.Is(fmt.Errorf("x: %w", ErrBadChunk), ErrBadChunk) {
		t.Error("errors.Is fails")
	}
}

func TestParseAllocs(t *testing.T) {
	for _, raw := range []string{curlRequest, browserRequest} {
		data := []byte(raw)
		p := NewRequestParser(Limits{})
		out := make([]byte, 0, 4096)
		run := func() {
			if _, err := p.Parse(data); err != nil {
				t.Fatal(err)
			}
			if _, ok := p.Header().Get("host"); !ok {
				t.Fatal("no host")
			}
			out = p.Header().AppendRequest(out[:0])
		}
		run() // grows the buffers once
		if a := testing.AllocsPerRun(100, run); a != 0 {
			t.Errorf("request parse+get+append: %v allocs per run", a)
		}
	}
	rp := NewResponseParser(Limits{})
	data := []byte(typicalResponse)
	out := make([]byte, 0, 4096)
	run := func() {
		if _, err := rp.Parse(data); err != nil {
			t.Fatal(err)
		}
		out = rp.Header().AppendResponse(out[:0])
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("response parse+append: %v allocs per run", a)
	}
}
