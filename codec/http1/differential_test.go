package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"
)

// FuzzDifferentialRequest compares the parser with net/http's: whenever
// this package accepts a request (head and, if complete, body), net/http
// must accept it too and agree on method, target, version, Host, every field
// value, framing, keep-alive, body bytes and trailers. Inputs this package
// rejects are not compared: it is meant to be stricter (see "Differences
// from net/http" in the package documentation).
func FuzzDifferentialRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(diffRequest)
}

// FuzzDifferentialChunked is FuzzDifferentialRequest with the fuzzed bytes
// placed after a fixed chunked request head, so that the fuzzer spends its
// time on chunk-size lines, extensions and trailers.
func FuzzDifferentialChunked(f *testing.F) {
	for _, tc := range chunkCases {
		if len(tc.raw) < 4096 {
			f.Add([]byte(tc.raw + tc.extra))
		}
	}
	prefix := head("POST /upload HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: X-Sum")
	f.Fuzz(func(t *testing.T, body []byte) {
		diffRequest(t, append([]byte(prefix), body...))
	})
}

// documentedDifference holds the errors this package may return for input
// net/http accepts; each maps to an entry of "Differences from net/http" in
// the package documentation. Any other rejection of input net/http accepts
// fails the differential fuzz test.
var documentedDifference = map[error]bool{
	ErrBareLF:              true, // 1
	ErrObsFold:             true, // 2
	ErrSpaceBeforeColon:    true, // 3
	ErrVersionNotSupported: true, // 4
	ErrBadTarget:           true, // 5
	ErrMissingHost:         true, // 6
	ErrBadHost:             true, // 6
	ErrBadTransferEncoding: true, // 7 (HTTP/1.0 only; net/http rejects the others)
	ErrContentLengthWithTE: true, // 8
	ErrBadTrailerField:     true, // 9
	ErrBadChunk:            true, // 10
	ErrChunkLineTooLong:    true, // 10
	ErrHeaderTooLarge:      true, // 11
	ErrTooManyHeaders:      true, // 11
	ErrTrailerTooLarge:     true, // 11 (field count; net/http has the same byte limit)
}

func diffRequest(t *testing.T, data []byte) {
	p := NewRequestParser(Limits{})
	n, err := p.Parse(data)
	if err == ErrNeedMore {
		return
	}
	req, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		if herr == nil {
			if _, berr := io.ReadAll(io.LimitReader(req.Body, 1<<20)); berr == nil && !documentedDifference[err] {
				t.Fatalf("rejected here with %v, accepted by net/http, and not a documented difference:\n%q",
					err, data)
			}
		}
		return
	}
	if herr != nil {
		t.Fatalf("accepted here, net/http rejects: %v\n%q", herr, data)
	}
	h := p.Header()
	if req.Method != string(h.Method()) || req.RequestURI != string(h.Target()) ||
		req.ProtoMajor != 1 || req.ProtoMinor != h.ProtoMinor() {
		t.Fatalf("request line: net/http %q %q %q; here %q %q %q", req.Method, req.RequestURI, req.Proto,
			h.Method(), h.Target(), h.Proto())
	}
	host, _ := h.Host()
	if req.Host != string(host) {
		t.Fatalf("Host: net/http %q, here %q", req.Host, host)
	}
	framing := p.Framing()
	chunked := framing.Kind == BodyChunked

	// Field values, grouped by canonical name, in order.
	ours := map[string][]string{}
	h.Range(func(name, value []byte) bool {
		k := http.CanonicalHeaderKey(string(name))
		ours[k] = append(ours[k], string(value))
		return true
	})
	skip := func(k string) bool {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding":
			// net/http moves Host to req.Host, dedups Content-Length
			// and removes Transfer-Encoding; all are compared above or
			// through the framing below.
			return true
		case "Trailer":
			return chunked // moved to req.Trailer
		}
		return false
	}
	for k, vs := range ours {
		if !skip(k) && !slices.Equal(vs, req.Header[k]) {
			t.Fatalf("field %s: net/http %q, here %q", k, req.Header[k], vs)
		}
	}
	for k := range req.Header {
		if _, ok := ours[k]; !ok && !skip(k) && k != "Cache-Control" {
			// net/http adds Cache-Control for "Pragma: no-cache".
			t.Fatalf("field %s only in net/http", k)
		}
	}

	switch framing.Kind {
	case BodyNone:
		if req.ContentLength != 0 || req.TransferEncoding != nil {
			t.Fatalf("framing none; net/http CL %d TE %q", req.ContentLength, req.TransferEncoding)
		}
	case BodyLength:
		if req.ContentLength != framing.Length || req.TransferEncoding != nil {
			t.Fatalf("framing length %d; net/http CL %d TE %q", framing.Length, req.ContentLength,
				req.TransferEncoding)
		}
	case BodyChunked:
		if req.ContentLength != -1 || !slices.Equal(req.TransferEncoding, []string{"chunked"}) {
			t.Fatalf("framing chunked; net/http CL %d TE %q", req.ContentLength, req.TransferEncoding)
		}
	default:
		t.Fatalf("request framing %v", framing)
	}
	if p.KeepAlive() == req.Close {
		t.Fatalf("keep-alive %v, net/http Close %v", p.KeepAlive(), req.Close)
	}

	// Body.
	var body bytes.Buffer
	br := NewBodyReader(framing, Limits{})
	_, done, derr := br.Decode(data[n:], func(b []byte) { body.Write(b) })
	hbody, hberr := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	switch {
	case derr != nil:
		if hberr == nil && !documentedDifference[derr] {
			t.Fatalf("body rejected here with %v, accepted by net/http, and not a documented difference:\n%q",
				derr, data)
		}
	case !done:
		if hberr == nil {
			t.Fatalf("body incomplete here, complete for net/http: %q", hbody)
		}
	default:
		if hberr != nil {
			t.Fatalf("body accepted here, net/http: %v", hberr)
		}
		if !bytes.Equal(hbody, body.Bytes()) {
			t.Fatalf("body: net/http %q, here %q", hbody, body.Bytes())
		}
		trailers := map[string][]string{}
		br.Trailers().Range(func(name, value []byte) bool {
			k := http.CanonicalHeaderKey(string(name))
			trailers[k] = append(trailers[k], string(value))
			return true
		})
		for k, vs := range trailers {
			if !slices.Equal(vs, req.Trailer[k]) {
				t.Fatalf("trailer %s: net/http %q, here %q", k, req.Trailer[k], vs)
			}
		}
	}
}
