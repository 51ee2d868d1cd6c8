package http1

import "strings"

// The tables below drive the table tests and seed every fuzz target, so the
// seed corpora run in plain `go test`.

// kv is one expected field line.
type kv struct{ name, value string }

type reqCase struct {
	name   string
	raw    string
	err    error // nil: the head must parse
	status int   // StatusOf(err) for error cases

	// Expectations for good cases (zero values are checked too, unless noted).
	method, target string
	path, query    string
	hasQuery       bool
	form           TargetForm
	authority      string
	host           string // Header.Host(); "" with hostOK false means none
	minor          int
	fields         []kv // nil: not checked
	framing        Framing
	keepAlive      bool
	expect         bool
	upgrade        string
	extra          string // bytes after the head (body or next request)
}

func head(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

var goodRequests = []reqCase{
	{name: "curl", raw: curlRequest, method: "GET", target: "/api/v1/items?id=42",
		path: "/api/v1/items", query: "id=42", hasQuery: true, host: "example.com:8080", minor: 1,
		fields:    []kv{{"Host", "example.com:8080"}, {"User-Agent", "curl/8.5.0"}, {"Accept", "*/*"}},
		keepAlive: true},
	{name: "browser", raw: browserRequest, method: "GET", target: "/static/js/app.3f9a1c.js?v=20240101",
		path: "/static/js/app.3f9a1c.js", query: "v=20240101", hasQuery: true, host: "www.example.com",
		minor: 1, keepAlive: true},
	{name: "post-length", raw: head("POST /submit HTTP/1.1", "Host: a", "Content-Length: 5"), extra: "hello",
		method: "POST", target: "/submit", path: "/submit", host: "a", minor: 1,
		fields:  []kv{{"Host", "a"}, {"Content-Length", "5"}},
		framing: Framing{BodyLength, 5}, keepAlive: true},
	{name: "post-chunked", raw: head("POST /up HTTP/1.1", "Host: a", "Transfer-Encoding: chunked"),
		extra:  "5\r\nhello\r\n0\r\n\r\n",
		method: "POST", target: "/up", path: "/up", host: "a", minor: 1,
		framing: Framing{Kind: BodyChunked}, keepAlive: true},
	{name: "chunked-case-insensitive", raw: head("PUT /x HTTP/1.1", "Host: a", "transfer-encoding:  ChUnKeD "),
		method: "PUT", target: "/x", path: "/x", host: "a", minor: 1,
		fields:  []kv{{"Host", "a"}, {"transfer-encoding", "ChUnKeD"}},
		framing: Framing{Kind: BodyChunked}, keepAlive: true},
	{name: "http10-no-host", raw: head("GET / HTTP/1.0"), method: "GET", target: "/", path: "/",
		minor: 0, fields: []kv{}, keepAlive: false},
	{name: "http10-keep-alive", raw: head("GET / HTTP/1.0", "Connection: Keep-Alive"), method: "GET",
		target: "/", path: "/", minor: 0, keepAlive: true},
	{name: "http10-keep-alive-and-close", raw: head("GET / HTTP/1.0", "Connection: keep-alive, close"),
		method: "GET", target: "/", path: "/", minor: 0, keepAlive: false},
	{name: "http11-close", raw: head("GET / HTTP/1.1", "Host: a", "Connection: foo, CLOSE"), method: "GET",
		target: "/", path: "/", host: "a", minor: 1, keepAlive: false},
	{name: "http11-close-second-line", raw: head("GET / HTTP/1.1", "Host: a", "Connection: keep-alive", "Connection: close"),
		method: "GET", target: "/", path: "/", host: "a", minor: 1, keepAlive: false},
	{name: "options-asterisk", raw: head("OPTIONS * HTTP/1.1", "Host: a"), method: "OPTIONS", target: "*",
		path: "*", form: FormAsterisk, host: "a", minor: 1, keepAlive: true},
	{name: "connect-authority", raw: head("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"),
		method: "CONNECT", target: "example.com:443", form: FormAuthority, authority: "example.com:443",
		host: "example.com:443", minor: 1, keepAlive: true},
	{name: "connect-ipv6", raw: head("CONNECT [2001:db8::1]:443 HTTP/1.1", "Host: [2001:db8::1]:443"),
		method: "CONNECT", target: "[2001:db8::1]:443", form: FormAuthority, authority: "[2001:db8::1]:443",
		host: "[2001:db8::1]:443", minor: 1, keepAlive: true},
	{name: "absolute-form", raw: head("GET http://example.com:8080/a/b?c=d HTTP/1.1", "Host: other"),
		method: "GET", target: "http://example.com:8080/a/b?c=d", path: "/a/b", query: "c=d", hasQuery: true,
		form: FormAbsolute, authority: "example.com:8080", host: "example.com:8080", minor: 1, keepAlive: true},
	{name: "absolute-form-no-path", raw: head("GET HTTPS://Example.COM HTTP/1.1", "Host: Example.COM"),
		method: "GET", target: "HTTPS://Example.COM", form: FormAbsolute, authority: "Example.COM",
		host: "Example.COM", minor: 1, keepAlive: true},
	{name: "absolute-form-query-no-path", raw: head("GET http://h?x HTTP/1.1", "Host: h"),
		method: "GET", target: "http://h?x", query: "x", hasQuery: true, form: FormAbsolute, authority: "h",
		host: "h", minor: 1, keepAlive: true},
	{name: "absolute-form-ipv6", raw: head("GET http://[::1]:8080/ HTTP/1.1", "Host: [::1]:8080"),
		method: "GET", target: "http://[::1]:8080/", path: "/", form: FormAbsolute, authority: "[::1]:8080",
		host: "[::1]:8080", minor: 1, keepAlive: true},
	{name: "empty-host", raw: head("GET / HTTP/1.1", "Host:"), method: "GET", target: "/", path: "/",
		host: "", minor: 1, fields: []kv{{"Host", ""}}, keepAlive: true},
	{name: "empty-query", raw: head("GET /p? HTTP/1.1", "Host: a"), method: "GET", target: "/p?", path: "/p",
		hasQuery: true, host: "a", minor: 1, keepAlive: true},
	{name: "same-content-length-twice", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 3", "content-length: 3"),
		extra: "abc", method: "POST", target: "/", path: "/", host: "a", minor: 1,
		framing: Framing{BodyLength, 3}, keepAlive: true},
	{name: "content-length-zero", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 0"),
		method: "POST", target: "/", path: "/", host: "a", minor: 1, framing: Framing{}, keepAlive: true},
	{name: "content-length-leading-zeros", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 007"),
		extra: "1234567", method: "POST", target: "/", path: "/", host: "a", minor: 1,
		framing: Framing{BodyLength, 7}, keepAlive: true},
	{name: "expect-continue", raw: head("PUT /f HTTP/1.1", "Host: a", "Expect: 100-Continue", "Content-Length: 1"),
		extra: "x", method: "PUT", target: "/f", path: "/f", host: "a", minor: 1,
		framing: Framing{BodyLength, 1}, keepAlive: true, expect: true},
	{name: "expect-continue-http10-ignored", raw: head("PUT /f HTTP/1.0", "Expect: 100-continue"),
		method: "PUT", target: "/f", path: "/f", minor: 0},
	{name: "websocket-upgrade", raw: head("GET /ws HTTP/1.1", "Host: a", "Connection: keep-alive, Upgrade",
		"Upgrade: websocket", "Sec-WebSocket-Version: 13"), method: "GET", target: "/ws", path: "/ws", host: "a",
		minor: 1, keepAlive: true, upgrade: "websocket"},
	{name: "upgrade-list", raw: head("GET / HTTP/1.1", "Host: a", "Connection: upgrade", "Upgrade:  h2c , websocket"),
		method: "GET", target: "/", path: "/", host: "a", minor: 1, keepAlive: true, upgrade: "h2c"},
	{name: "upgrade-without-connection", raw: head("GET / HTTP/1.1", "Host: a", "Upgrade: websocket"),
		method: "GET", target: "/", path: "/", host: "a", minor: 1, keepAlive: true},
	{name: "value-ows-trimmed", raw: head("GET / HTTP/1.1", "Host: a", "X-A: \t a \t b \t", "X-Empty:", "X-Sp:   "),
		method: "GET", target: "/", path: "/", host: "a", minor: 1,
		fields:    []kv{{"Host", "a"}, {"X-A", "a \t b"}, {"X-Empty", ""}, {"X-Sp", ""}},
		keepAlive: true},
	{name: "obs-text-value", raw: head("GET / HTTP/1.1", "Host: a", "X-Name: caf\xc3\xa9 \x80\xff"),
		method: "GET", target: "/", path: "/", host: "a", minor: 1,
		fields: []kv{{"Host", "a"}, {"X-Name", "caf\xc3\xa9 \x80\xff"}}, keepAlive: true},
	{name: "extension-method", raw: head("PURGE /cache HTTP/1.1", "Host: a"), method: "PURGE",
		target: "/cache", path: "/cache", host: "a", minor: 1, keepAlive: true},
	{name: "lowercase-method", raw: head("get / HTTP/1.1", "Host: a"), method: "get", target: "/", path: "/",
		host: "a", minor: 1, keepAlive: true},
	{name: "percent-path-and-loose-query", raw: head("GET /a%20b/%C3%A9?q=%zz&r={x}|y HTTP/1.1", "Host: a"),
		method: "GET", target: "/a%20b/%C3%A9?q=%zz&r={x}|y", path: "/a%20b/%C3%A9", query: "q=%zz&r={x}|y",
		hasQuery: true, host: "a", minor: 1, keepAlive: true},
	{name: "double-slash-path", raw: head("GET //x/y HTTP/1.1", "Host: a"), method: "GET", target: "//x/y",
		path: "//x/y", host: "a", minor: 1, keepAlive: true},
	{name: "trailer-declared", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: X-Sum, X-Other"),
		extra: "0\r\nX-Sum: 1\r\n\r\n", method: "POST", target: "/", path: "/", host: "a", minor: 1,
		framing: Framing{Kind: BodyChunked}, keepAlive: true},
	{name: "host-ipv6-and-port", raw: head("GET / HTTP/1.1", "Host: [2001:db8::1]:80"), method: "GET",
		target: "/", path: "/", host: "[2001:db8::1]:80", minor: 1, keepAlive: true},
	{name: "host-underscore-dot", raw: head("GET / HTTP/1.1", "Host: my_host.example.com."), method: "GET",
		target: "/", path: "/", host: "my_host.example.com.", minor: 1, keepAlive: true},
	{name: "colon-in-value", raw: head("GET / HTTP/1.1", "Host: a", "X-Time: 12:00:01"), method: "GET",
		target: "/", path: "/", host: "a", minor: 1, fields: []kv{{"Host", "a"}, {"X-Time", "12:00:01"}},
		keepAlive: true},
	{name: "pragma-no-cache", raw: head("GET / HTTP/1.1", "Host: a", "Pragma: no-cache"), method: "GET",
		target: "/", path: "/", host: "a", minor: 1, fields: []kv{{"Host", "a"}, {"Pragma", "no-cache"}},
		keepAlive: true},
	{name: "pipelined", raw: head("GET /1 HTTP/1.1", "Host: a"), extra: head("GET /2 HTTP/1.1", "Host: a"),
		method: "GET", target: "/1", path: "/1", host: "a", minor: 1, keepAlive: true},
}

var badRequests = []reqCase{
	{name: "bare-lf-request-line", raw: "GET / HTTP/1.1\nHost: a\r\n\r\n", err: ErrBareLF},
	{name: "bare-lf-field", raw: "GET / HTTP/1.1\r\nHost: a\n\r\n", err: ErrBareLF},
	{name: "bare-lf-end", raw: "GET / HTTP/1.1\r\nHost: a\r\n\n", err: ErrBareLF},
	{name: "bare-cr-after-version", raw: "GET / HTTP/1.1\rHost: a\r\n\r\n", err: ErrBareCR},
	{name: "bare-cr-in-value", raw: head("GET / HTTP/1.1", "Host: a", "X: a\rb"), err: ErrBareCR},
	{name: "bare-cr-end", raw: "GET / HTTP/1.1\r\nHost: a\r\n\rX", err: ErrBareCR},
	{name: "leading-empty-line", raw: "\r\n" + head("GET / HTTP/1.1", "Host: a"), err: ErrLeadingWhitespace},
	{name: "leading-space", raw: " " + head("GET / HTTP/1.1", "Host: a"), err: ErrLeadingWhitespace},
	{name: "whitespace-before-first-field", raw: head("GET / HTTP/1.1", " Host: a"), err: ErrLeadingWhitespace},
	{name: "obs-fold", raw: head("GET / HTTP/1.1", "Host: a", "X: a", " b"), err: ErrObsFold},
	{name: "obs-fold-tab", raw: head("GET / HTTP/1.1", "Host: a", "X: a", "\tb"), err: ErrObsFold},
	{name: "space-before-colon", raw: head("GET / HTTP/1.1", "Host : a"), err: ErrSpaceBeforeColon},
	{name: "tab-before-colon", raw: head("GET / HTTP/1.1", "Host\t: a"), err: ErrSpaceBeforeColon},
	{name: "bad-name-char", raw: head("GET / HTTP/1.1", "Host: a", "X@Y: 1"), err: ErrBadFieldName},
	{name: "name-non-ascii", raw: head("GET / HTTP/1.1", "Host: a", "X\xc3\xa9: 1"), err: ErrBadFieldName},
	{name: "no-colon", raw: head("GET / HTTP/1.1", "Host: a", "NoColon"), err: ErrBadFieldName},
	{name: "empty-name", raw: head("GET / HTTP/1.1", "Host: a", ": v"), err: ErrBadFieldName},
	{name: "nul-in-value", raw: head("GET / HTTP/1.1", "Host: a", "X: a\x00b"), err: ErrBadFieldValue},
	{name: "del-in-value", raw: head("GET / HTTP/1.1", "Host: a", "X: a\x7fb"), err: ErrBadFieldValue},
	{name: "ctl-in-value", raw: head("GET / HTTP/1.1", "Host: a", "X: \x01"), err: ErrBadFieldValue},
	{name: "double-space", raw: head("GET  / HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "trailing-space", raw: head("GET / HTTP/1.1 ", "Host: a"), err: ErrBadRequestLine},
	{name: "missing-version", raw: head("GET /", "Host: a"), err: ErrBadRequestLine},
	{name: "method-only", raw: head("GET", "Host: a"), err: ErrBadRequestLine},
	{name: "bad-method-char", raw: head("G@T / HTTP/1.1", "Host: a"), err: ErrBadMethod},
	{name: "tab-after-method", raw: head("GET\t/ HTTP/1.1", "Host: a"), err: ErrBadMethod},
	{name: "lowercase-version", raw: head("GET / http/1.1", "Host: a"), err: ErrBadVersion},
	{name: "long-version", raw: head("GET / HTTP/1.1x", "Host: a"), err: ErrBadVersion},
	{name: "short-version", raw: head("GET / HTTP/1", "Host: a"), err: ErrBadVersion},
	{name: "version-10-0", raw: head("GET / HTTP/10.0", "Host: a"), err: ErrBadVersion},
	{name: "http2", raw: head("GET / HTTP/2.0", "Host: a"), err: ErrVersionNotSupported, status: 505},
	{name: "http2-preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", err: ErrBadTarget},
	{name: "http12", raw: head("GET / HTTP/1.2", "Host: a"), err: ErrVersionNotSupported, status: 505},
	{name: "http09", raw: head("GET / HTTP/0.9", "Host: a"), err: ErrVersionNotSupported, status: 505},
	{name: "fragment", raw: head("GET /a#b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "bad-percent", raw: head("GET /a%zz HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "truncated-percent", raw: head("GET /a%2 HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "non-ascii-target", raw: head("GET /caf\xc3\xa9 HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "ctl-in-target", raw: head("GET /a\x01 HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "asterisk-with-get", raw: head("GET * HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "connect-origin-form", raw: head("CONNECT / HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "connect-absolute-form", raw: head("CONNECT http://a:1/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "connect-without-port", raw: head("CONNECT example.com HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "authority-form-with-get", raw: head("GET example.com:80 HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "relative-target", raw: head("GET a/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "absolute-userinfo", raw: head("GET http://user:pw@a/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "absolute-empty-host", raw: head("GET http:///x HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "absolute-other-scheme", raw: head("GET ftp://a/x HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "absolute-bad-port", raw: head("GET http://a:99999/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "absolute-ipv4-literal", raw: head("GET http://[1.2.3.4]/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "absolute-unclosed-ipv6", raw: head("GET http://[::1/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "bad-content-length-alpha", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: abc"), err: ErrBadContentLength},
	{name: "bad-content-length-negative", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: -1"), err: ErrBadContentLength},
	{name: "bad-content-length-plus", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: +5"), err: ErrBadContentLength},
	{name: "bad-content-length-empty", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length:"), err: ErrBadContentLength},
	{name: "bad-content-length-list", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 5"), err: ErrBadContentLength},
	{name: "bad-content-length-inner-space", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 1 2"), err: ErrBadContentLength},
	{name: "content-length-overflow", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 9223372036854775808"), err: ErrBadContentLength},
	{name: "content-length-huge", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 99999999999999999999999"), err: ErrBadContentLength},
	{name: "conflicting-content-length", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 6"), err: ErrConflictingContentLength},
	{name: "content-length-05-vs-5", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 05"), err: ErrConflictingContentLength},
	{name: "content-length-and-te", raw: head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Transfer-Encoding: chunked"), err: ErrContentLengthWithTE},
	{name: "te-and-content-length", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 0"), err: ErrContentLengthWithTE},
	{name: "te-gzip-only", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip"), err: ErrBadTransferEncoding},
	{name: "te-gzip-chunked", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked"), err: ErrUnsupportedTransferEncoding, status: 501},
	{name: "te-chunked-gzip", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, gzip"), err: ErrBadTransferEncoding},
	{name: "te-chunked-twice", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, chunked"), err: ErrBadTransferEncoding},
	{name: "te-two-lines", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), err: ErrBadTransferEncoding},
	{name: "te-empty-element", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked,"), err: ErrBadTransferEncoding},
	{name: "te-empty", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding:"), err: ErrBadTransferEncoding},
	{name: "te-identity", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: identity"), err: ErrBadTransferEncoding},
	{name: "te-chunked-param", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked;q=1"), err: ErrBadTransferEncoding},
	{name: "te-http10", raw: head("POST / HTTP/1.0", "Transfer-Encoding: chunked"), err: ErrBadTransferEncoding},
	{name: "missing-host", raw: head("GET / HTTP/1.1", "Accept: */*"), err: ErrMissingHost},
	{name: "multiple-host", raw: head("GET / HTTP/1.1", "Host: a", "host: b"), err: ErrMultipleHost},
	{name: "multiple-host-same", raw: head("GET / HTTP/1.0", "Host: a", "Host: a"), err: ErrMultipleHost},
	{name: "bad-host-space", raw: head("GET / HTTP/1.1", "Host: a b"), err: ErrBadHost},
	{name: "bad-host-userinfo", raw: head("GET / HTTP/1.1", "Host: u@a"), err: ErrBadHost},
	{name: "bad-host-port", raw: head("GET / HTTP/1.1", "Host: a:65536"), err: ErrBadHost},
	{name: "bad-host-empty-port", raw: head("GET / HTTP/1.1", "Host: a:"), err: ErrBadHost},
	{name: "bad-host-path", raw: head("GET / HTTP/1.1", "Host: a/b"), err: ErrBadHost},
	{name: "trailer-content-length", raw: head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: X, content-length"), err: ErrBadTrailerField},
	{name: "trailer-transfer-encoding", raw: head("POST / HTTP/1.1", "Host: a", "Trailer: Transfer-Encoding"), err: ErrBadTrailerField},
	{name: "too-many-headers", raw: head(append([]string{"GET / HTTP/1.1", "Host: a"}, repeatLines("X-H: v", 100)...)...),
		err: ErrTooManyHeaders, status: 431},
	{name: "header-too-large", raw: head("GET / HTTP/1.1", "Host: a", "X-Big: "+strings.Repeat("b", 8192)),
		err: ErrHeaderTooLarge, status: 431},
	{name: "request-line-too-large", raw: head("GET /"+strings.Repeat("a", 9000)+" HTTP/1.1", "Host: a"),
		err: ErrHeaderTooLarge, status: 431},
}

func repeatLines(l string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = l
	}
	return s
}

type respCase struct {
	name      string
	raw       string
	reqMethod string
	err       error

	status    int
	reason    string
	minor     int
	framing   Framing
	keepAlive bool
	tunnel    bool
	upgrade   string
	cl        int64
	extra     string
}

var goodResponses = []respCase{
	{name: "typical", raw: typicalResponse, status: 200, reason: "OK", minor: 1,
		framing: Framing{BodyLength, 42}, keepAlive: true, cl: 42, extra: strings.Repeat("j", 42)},
	{name: "chunked", raw: head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), status: 200, reason: "OK",
		minor: 1, framing: Framing{Kind: BodyChunked}, keepAlive: true, cl: -1, extra: "3\r\nabc\r\n0\r\n\r\n"},
	{name: "gzip-chunked", raw: head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), status: 200,
		reason: "OK", minor: 1, framing: Framing{Kind: BodyChunked}, keepAlive: true, cl: -1},
	{name: "gzip-until-close", raw: head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip"), status: 200,
		reason: "OK", minor: 1, framing: Framing{Kind: BodyUntilClose}, cl: -1, extra: "raw bytes"},
	{name: "no-length-until-close", raw: head("HTTP/1.1 200 OK", "Content-Type: text/plain"), status: 200,
		reason: "OK", minor: 1, framing: Framing{Kind: BodyUntilClose}, cl: -1, extra: "until close"},
	{name: "content-length-zero", raw: head("HTTP/1.1 200 OK", "Content-Length: 0"), status: 200,
		reason: "OK", minor: 1, keepAlive: true, cl: 0},
	{name: "no-content", raw: head("HTTP/1.1 204 No Content"), status: 204, reason: "No Content", minor: 1,
		keepAlive: true, cl: -1},
	{name: "not-modified-with-length", raw: head("HTTP/1.1 304 Not Modified", "Content-Length: 1234"),
		status: 304, reason: "Not Modified", minor: 1, keepAlive: true, cl: 1234},
	{name: "not-modified-chunked", raw: head("HTTP/1.1 304 Not Modified", "Transfer-Encoding: chunked"),
		status: 304, reason: "Not Modified", minor: 1, keepAlive: true, cl: -1},
	{name: "continue", raw: head("HTTP/1.1 100 Continue"), status: 100, reason: "Continue", minor: 1,
		keepAlive: true, cl: -1, extra: typicalResponse},
	{name: "early-hints", raw: head("HTTP/1.1 103 Early Hints", "Link: </a.css>; rel=preload"), status: 103,
		reason: "Early Hints", minor: 1, keepAlive: true, cl: -1},
	{name: "switching-protocols", raw: head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
		"Connection: Upgrade"), status: 101, reason: "Switching Protocols", minor: 1, tunnel: true,
		upgrade: "websocket", cl: -1, extra: "\x81\x05hello"},
	{name: "head-response", reqMethod: "HEAD", raw: head("HTTP/1.1 200 OK", "Content-Length: 1234"),
		status: 200, reason: "OK", minor: 1, keepAlive: true, cl: 1234},
	{name: "head-response-chunked", reqMethod: "HEAD", raw: head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"),
		status: 200, reason: "OK", minor: 1, keepAlive: true, cl: -1},
	{name: "connect-established", reqMethod: "CONNECT", raw: head("HTTP/1.1 200 Connection Established"),
		status: 200, reason: "Connection Established", minor: 1, tunnel: true, cl: -1},
	{name: "connect-refused", reqMethod: "CONNECT", raw: head("HTTP/1.1 407 Proxy Auth Required", "Content-Length: 2"),
		status: 407, reason: "Proxy Auth Required", minor: 1, framing: Framing{BodyLength, 2}, keepAlive: true,
		cl: 2, extra: "no"},
	{name: "http10-keep-alive", raw: head("HTTP/1.0 200 OK", "Connection: keep-alive", "Content-Length: 2"),
		status: 200, reason: "OK", minor: 0, framing: Framing{BodyLength, 2}, keepAlive: true, cl: 2, extra: "ok"},
	{name: "http10-default-close", raw: head("HTTP/1.0 200 OK", "Content-Length: 2"), status: 200, reason: "OK",
		minor: 0, framing: Framing{BodyLength, 2}, cl: 2, extra: "ok"},
	{name: "close", raw: head("HTTP/1.1 200 OK", "Connection: close", "Content-Length: 2"), status: 200,
		reason: "OK", minor: 1, framing: Framing{BodyLength, 2}, cl: 2, extra: "ok"},
	{name: "no-reason", raw: head("HTTP/1.1 200", "Content-Length: 0"), status: 200, minor: 1, keepAlive: true, cl: 0},
	{name: "empty-reason", raw: head("HTTP/1.1 404 ", "Content-Length: 0"), status: 404, minor: 1, keepAlive: true, cl: 0},
	{name: "reason-with-spaces-and-obs-text", raw: head("HTTP/1.1 500 Internal\tServer Error \xe2\x9c\x97", "Content-Length: 0"),
		status: 500, reason: "Internal\tServer Error \xe2\x9c\x97", minor: 1, keepAlive: true, cl: 0},
	{name: "no-host-needed", raw: head("HTTP/1.1 200 OK", "Content-Length: 0", "Host: a", "Host: b"),
		status: 200, reason: "OK", minor: 1, keepAlive: true, cl: 0},
}

var badResponses = []respCase{
	{name: "two-digit-status", raw: head("HTTP/1.1 20 OK"), err: ErrBadStatusLine},
	{name: "four-digit-status", raw: head("HTTP/1.1 2000 OK"), err: ErrBadStatusLine},
	{name: "status-below-100", raw: head("HTTP/1.1 099 X"), err: ErrBadStatusLine},
	{name: "status-above-599", raw: head("HTTP/1.1 600 X"), err: ErrBadStatusLine},
	{name: "double-space", raw: head("HTTP/1.1  200 OK"), err: ErrBadStatusLine},
	{name: "no-space-after-code", raw: head("HTTP/1.1 200OK"), err: ErrBadStatusLine},
	{name: "ctl-in-reason", raw: head("HTTP/1.1 200 O\x00K"), err: ErrBadStatusLine},
	{name: "version-only", raw: head("HTTP/1.1"), err: ErrBadStatusLine},
	{name: "bad-version", raw: head("HTTP/1.x 200 OK"), err: ErrBadStatusLine},
	{name: "long-version", raw: head("HTTP/1.10 200 OK"), err: ErrBadStatusLine},
	{name: "http2", raw: head("HTTP/2.0 200 OK"), err: ErrVersionNotSupported},
	{name: "bare-lf", raw: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", err: ErrBareLF},
	{name: "bare-lf-end", raw: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", err: ErrBareLF},
	{name: "obs-fold", raw: head("HTTP/1.1 200 OK", "X: a", " b"), err: ErrObsFold},
	{name: "space-before-colon", raw: head("HTTP/1.1 200 OK", "Content-Length : 0"), err: ErrSpaceBeforeColon},
	{name: "content-length-and-te", raw: head("HTTP/1.1 200 OK", "Content-Length: 3", "Transfer-Encoding: chunked"), err: ErrContentLengthWithTE},
	{name: "conflicting-content-length", raw: head("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 4"), err: ErrConflictingContentLength},
	{name: "bad-content-length", raw: head("HTTP/1.1 200 OK", "Content-Length: 0x10"), err: ErrBadContentLength},
	{name: "chunked-twice", raw: head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, chunked"), err: ErrBadTransferEncoding},
	{name: "te-http10", raw: head("HTTP/1.0 200 OK", "Transfer-Encoding: chunked"), err: ErrBadTransferEncoding},
	{name: "te-empty", raw: head("HTTP/1.1 200 OK", "Transfer-Encoding: ,"), err: ErrBadTransferEncoding},
	{name: "too-large", raw: head("HTTP/1.1 200 OK", "X: "+strings.Repeat("x", 9000)), err: ErrHeaderTooLarge},
}

type chunkCase struct {
	name     string
	raw      string
	err      error // nil: the body must decode
	body     string
	trailers []kv
	extra    string // bytes after the body
	limits   Limits
}

var chunkCases = []chunkCase{
	{name: "simple", raw: "5\r\nhello\r\n0\r\n\r\n", body: "hello", trailers: []kv{}},
	{name: "several", raw: "5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n", body: "hello 0123456789"},
	{name: "uppercase-and-lowercase-hex", raw: "a\r\n0123456789\r\nB\r\n0123456789a\r\n0\r\n\r\n",
		body: "01234567890123456789a"},
	{name: "leading-zeros", raw: "0005\r\nhello\r\n000\r\n\r\n", body: "hello"},
	{name: "sixteen-digits", raw: "0000000000000005\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "extensions", raw: "5;name=value;flag\r\nhello\r\n0;last=\"yes\"\r\n\r\n", body: "hello"},
	{name: "quoted-extension", raw: "5;a=\"b c\\\"d;e\"\r\nhello\r\n0\r\n\r\n", body: "hello"},
	{name: "trailers", raw: "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nx-more:  1 2 \r\n\r\n", body: "hello",
		trailers: []kv{{"X-Checksum", "abc"}, {"x-more", "1 2"}}},
	{name: "next-message-follows", raw: "3\r\nabc\r\n0\r\n\r\n", extra: head("GET / HTTP/1.1", "Host: a"), body: "abc"},
	{name: "empty-body", raw: "0\r\n\r\n", body: ""},
	{name: "binary-data", raw: "4\r\n\r\n\x00\xff\r\n0\r\n\r\n", body: "\r\n\x00\xff"},
	{name: "trailing-space-size", raw: "5 \r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "space-before-extension", raw: "5 ;a\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "space-in-extension", raw: "5;a = b\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "negative-size", raw: "-5\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "plus-size", raw: "+5\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "0x-prefix", raw: "0x5\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "empty-size", raw: "\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "non-hex-size", raw: "g\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "bare-lf-size", raw: "5\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "bare-cr-size", raw: "5\rx\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "data-too-long", raw: "5\r\nhelloX\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "data-bare-lf", raw: "5\r\nhello\n0\r\n\r\n", err: ErrBadChunk},
	{name: "data-bare-cr", raw: "5\r\nhello\r00\r\n\r\n", err: ErrBadChunk},
	{name: "seventeen-digits", raw: "00000000000000005\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "size-overflows-int64", raw: "8000000000000000\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "size-all-f", raw: "ffffffffffffffff\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "empty-extension", raw: "5;\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "extension-no-name", raw: "5;=x\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "extension-empty-value", raw: "5;a=\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "extension-unterminated-quote", raw: "5;a=\"x\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "extension-ctl", raw: "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "trailer-bare-lf", raw: "0\r\nX: a\n\r\n", err: ErrBareLF},
	{name: "trailer-obs-fold", raw: "0\r\nX: a\r\n b\r\n\r\n", err: ErrObsFold},
	{name: "trailer-leading-space", raw: "0\r\n X: a\r\n\r\n", err: ErrLeadingWhitespace},
	{name: "trailer-bad-name", raw: "0\r\nX Y: a\r\n\r\n", err: ErrSpaceBeforeColon},
	{name: "trailer-bad-value", raw: "0\r\nX: a\x00\r\n\r\n", err: ErrBadFieldValue},
	{name: "last-chunk-bare-lf-end", raw: "0\r\n\n", err: ErrBareLF},
	{name: "line-too-long", raw: "5;a=" + strings.Repeat("x", 2000) + "\r\nhello\r\n0\r\n\r\n", err: ErrChunkLineTooLong},
	{name: "overhead", raw: strings.Repeat("1;"+strings.Repeat("e", 60)+"\r\nX\r\n", 400) + "0\r\n\r\n",
		err: ErrChunkOverhead},
	{name: "one-byte-chunks-allowed", raw: strings.Repeat("1\r\nX\r\n", 3000) + "0\r\n\r\n",
		body: strings.Repeat("X", 3000)},
	{name: "trailer-too-large", raw: "0\r\n" + strings.Repeat("X-T: "+strings.Repeat("t", 90)+"\r\n", 50) + "\r\n",
		err: ErrTrailerTooLarge},
	{name: "too-many-trailers", raw: "0\r\n" + strings.Repeat("X: y\r\n", 11) + "\r\n",
		err: ErrTrailerTooLarge, limits: Limits{MaxHeaders: 10}},
}
