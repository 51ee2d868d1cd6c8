package http1

import (
	"bytes"
	"fmt"
	"testing"
)

// splitAt derives a split position from the input so that every fuzz input
// also checks incremental parsing.
func splitAt(data []byte) int {
	if len(data) < 2 {
		return 0
	}
	return int(data[len(data)/2]) % len(data)
}

// summary is everything a parse reports, for comparing two parses.
func summary(p *Parser) string {
	h := p.Header()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%q %q %q %d %d %q form=%d ", h.Method(), h.Target(), h.Proto(), h.Status(), h.ProtoMinor(),
		h.Reason(), h.Form())
	fmt.Fprintf(&b, "path=%q query=%q/%v auth=%q ", h.Path(), h.Query(), h.Query() != nil, h.Authority())
	fmt.Fprintf(&b, "framing=%v ka=%v expect=%v upgrade=%q tunnel=%v cl=%d\n", p.Framing(), p.KeepAlive(),
		p.ExpectContinue(), p.Upgrade(), p.Tunnel(), p.ContentLength())
	h.Range(func(n, v []byte) bool {
		fmt.Fprintf(&b, "%q: %q\n", n, v)
		return true
	})
	return b.String()
}

func checkParserInvariants(t *testing.T, newParser func() *Parser, data []byte, serialize func(*Header) []byte) *Parser {
	t.Helper()
	p := newParser()
	n, err := p.Parse(data)
	if err != nil {
		if n != 0 {
			t.Fatalf("n = %d with %v", n, err)
		}
		if _, ok := err.(*Error); !ok && err != ErrNeedMore {
			t.Fatalf("error %v is not an *Error", err)
		}
	} else if n <= 0 || n > len(data) || n > 8192 {
		t.Fatalf("n = %d for %d bytes", n, len(data))
	}

	// Feeding in two pieces gives the same result.
	q := newParser()
	k := splitAt(data)
	n2, err2 := q.Parse(data[:k])
	if err2 == ErrNeedMore {
		n2, err2 = q.Parse(data)
	}
	if n2 != n || err2 != err {
		t.Fatalf("split at %d: %d, %v; at once: %d, %v", k, n2, err2, n, err)
	}
	if err != nil {
		return nil
	}
	if a, b := summary(p), summary(q); a != b {
		t.Fatalf("split parse differs:\n%s\n%s", a, b)
	}

	// Re-serialising and re-parsing gives the same head, and the
	// serialisation is a fixed point.
	out := serialize(p.Header())
	r := newParser()
	m, rerr := r.Parse(out)
	if rerr != nil || m != len(out) {
		t.Fatalf("reparse of %q: %d, %v", out, m, rerr)
	}
	if a, b := summary(p), summary(r); a != b {
		t.Fatalf("reparse differs:\n%s\n%s", a, b)
	}
	if out2 := serialize(r.Header()); !bytes.Equal(out, out2) {
		t.Fatalf("serialisation not stable:\n%q\n%q", out, out2)
	}

	// The body decoder never panics and never consumes more than it gets.
	br := NewBodyReader(p.Framing(), Limits{})
	c, _, derr := br.Decode(data[n:], func([]byte) {})
	if c < 0 || c > len(data)-n || (derr != nil && c != 0) {
		t.Fatalf("Decode consumed %d of %d, err %v", c, len(data)-n, derr)
	}
	return p
}

func addRequestSeeds(f *testing.F) {
	for _, tc := range goodRequests {
		f.Add([]byte(tc.raw + tc.extra))
	}
	for _, tc := range badRequests {
		f.Add([]byte(tc.raw))
	}
	for _, tc := range chunkCases {
		if len(tc.raw) < 4096 {
			f.Add([]byte(head("POST /c HTTP/1.1", "Host: a", "Transfer-Encoding: chunked") + tc.raw + tc.extra))
		}
	}
}

func FuzzRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParserInvariants(t, func() *Parser { return NewRequestParser(Limits{}) }, data,
			func(h *Header) []byte { return h.AppendRequest(nil) })
	})
}

func FuzzResponse(f *testing.F) {
	methods := []string{"GET", "HEAD", "CONNECT"}
	for _, tc := range goodResponses {
		m := 0
		for i, s := range methods {
			if s == tc.reqMethod {
				m = i
			}
		}
		f.Add([]byte(tc.raw+tc.extra), uint8(m))
	}
	for _, tc := range badResponses {
		f.Add([]byte(tc.raw), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, method uint8) {
		m := []byte(methods[int(method)%len(methods)])
		newParser := func() *Parser {
			p := NewResponseParser(Limits{})
			p.SetRequestMethod(m)
			return p
		}
		checkParserInvariants(t, newParser, data, func(h *Header) []byte { return h.AppendResponse(nil) })
	})
}

func FuzzChunked(f *testing.F) {
	for _, tc := range chunkCases {
		if len(tc.raw) < 4096 {
			f.Add([]byte(tc.raw + tc.extra))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := decodePieces(Limits{}, data, nil)
		k := splitAt(data)
		if got := decodePieces(Limits{}, data, []int{k}); got != whole {
			t.Fatalf("split at %d: %+v; at once: %+v", k, got, whole)
		}
		if whole.err != nil {
			if _, ok := whole.err.(*Error); !ok && whole.err != ErrNeedMore {
				t.Fatalf("error %v is not an *Error", whole.err)
			}
			return
		}
		if whole.consumed > len(data) {
			t.Fatalf("consumed %d of %d", whole.consumed, len(data))
		}
		// Re-encoding the content and trailers decodes to the same.
		r := NewBodyReader(Framing{Kind: BodyChunked}, Limits{})
		if _, done, err := r.Decode(data, nil); !done || err != nil {
			t.Fatalf("second decode: %v %v", done, err)
		}
		enc := AppendChunk(nil, []byte(whole.body))
		enc = AppendLastChunk(enc, r.Trailers())
		again := decodePieces(Limits{}, enc, nil)
		if again.err != nil || again.body != whole.body || again.trailers != whole.trailers ||
			again.consumed != len(enc) {
			t.Fatalf("re-encoded %q decodes to %+v, want %+v", enc, again, whole)
		}
	})
}
