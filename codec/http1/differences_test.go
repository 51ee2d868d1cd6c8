package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestNetHTTPDifferences keeps the list "Differences from net/http" in the
// package documentation honest: each example is rejected here and accepted by
// net/http (head and body). If net/http changes, this test says which entry
// of the list is stale.
func TestNetHTTPDifferences(t *testing.T) {
	chunked := head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")
	cases := []struct {
		entry int
		raw   string
	}{
		{1, "GET / HTTP/1.1\nHost: a\n\n"},
		{2, head("GET / HTTP/1.1", "Host: a", "X: a", " b")},
		{3, head("GET / HTTP/1.1", "Host: a", "X-A : 1")},
		{4, head("GET / HTTP/1.2", "Host: a")},
		{4, head("GET / HTTP/2.0", "Host: a")},
		{4, head("GET / HTTP/0.9", "Host: a")},
		{5, head("GET /caf\xc3\xa9 HTTP/1.1", "Host: a")},
		{5, head("GET /a#b HTTP/1.1", "Host: a")},
		{5, head("GET * HTTP/1.1", "Host: a")},
		{5, head("CONNECT /rpc HTTP/1.1", "Host: a")},
		{5, head("GET ftp://a/x HTTP/1.1", "Host: a")},
		{5, head("GET http:foo HTTP/1.1", "Host: a")},
		{5, head("GET http://u:p@a/ HTTP/1.1", "Host: a")},
		{5, head("GET http:///x HTTP/1.1", "Host: a")},
		{5, head("GET http://a:/ HTTP/1.1", "Host: a")},
		{5, head("GET http://a:123456/ HTTP/1.1", "Host: a")},
		{5, head("GET http://a!b/ HTTP/1.1", "Host: a")},
		{5, head("GET http://[fe80::1%25eth0]/ HTTP/1.1", "Host: a")},
		{6, head("GET / HTTP/1.1", "Accept: */*")},
		{6, head("GET / HTTP/1.1", "Host: a b")},
		{7, head("POST / HTTP/1.0", "Transfer-Encoding: chunked", "Content-Length: 3") + "abc"},
		{8, head("POST / HTTP/1.1", "Host: a", "Content-Length: 3", "Transfer-Encoding: chunked") + "0\r\n\r\n"},
		{9, head("GET / HTTP/1.1", "Host: a", "Trailer: Content-Length")},
		{10, chunked + "5 \r\nhello\r\n0\r\n\r\n"},
		{10, chunked + "5; a\r\nhello\r\n0\r\n\r\n"},
		{10, chunked + "5;a = b\r\nhello\r\n0\r\n\r\n"},
		{10, chunked + "5;;\"\r\nhello\r\n0\r\n\r\n"},
		{10, chunked + "5;a=" + strings.Repeat("x", 2000) + "\r\nhello\r\n0\r\n\r\n"},
		{11, head(append([]string{"GET / HTTP/1.1", "Host: a"}, repeatLines("X: y", 100)...)...)},
		{11, head("GET / HTTP/1.1", "Host: a", "X: "+strings.Repeat("y", 9000))},
	}
	for _, tc := range cases {
		data := []byte(tc.raw)
		p := NewRequestParser(Limits{})
		n, err := p.Parse(data)
		if err == nil {
			br := NewBodyReader(p.Framing(), Limits{})
			_, done, derr := br.Decode(data[n:], nil)
			if derr == nil && done {
				t.Errorf("entry %d: accepted here: %q", tc.entry, tc.raw)
				continue
			}
			err = derr
		}
		req, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if herr == nil {
			_, herr = io.ReadAll(req.Body)
		}
		if herr != nil {
			t.Errorf("entry %d: net/http rejects too (%v; here %v): %q", tc.entry, herr, err, tc.raw)
		}
	}
}
