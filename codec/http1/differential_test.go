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
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewRequestParser(Limits{})
		n, err := p.Parse(data)
		if err != nil {
			return
		}
		req, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
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
			// Rejected here; net/http may accept (it is more lenient).
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
	})
}
