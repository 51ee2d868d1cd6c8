package http1

import "testing"

const (
	curlRequest = "GET /api/v1/items?id=42 HTTP/1.1\r\n" +
		"Host: example.com:8080\r\n" +
		"User-Agent: curl/8.5.0\r\n" +
		"Accept: */*\r\n" +
		"\r\n"

	browserRequest = "GET /static/js/app.3f9a1c.js?v=20240101 HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"Connection: keep-alive\r\n" +
		"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
		"sec-ch-ua-mobile: ?0\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
		"sec-ch-ua-platform: \"Linux\"\r\n" +
		"Accept: */*\r\n" +
		"Sec-Fetch-Site: same-origin\r\n" +
		"Sec-Fetch-Mode: no-cors\r\n" +
		"Sec-Fetch-Dest: script\r\n" +
		"Referer: https://www.example.com/index.html\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n" +
		"\r\n"

	typicalResponse = "HTTP/1.1 200 OK\r\n" +
		"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
		"Server: upstream/1.0\r\n" +
		"Content-Type: application/json; charset=utf-8\r\n" +
		"Content-Length: 42\r\n" +
		"Cache-Control: no-cache\r\n" +
		"X-Request-Id: 7f1c2a9e-3b4d-4e5f-8a6b-9c0d1e2f3a4b\r\n" +
		"\r\n"
)

func benchRequest(b *testing.B, raw string) {
	data := []byte(raw)
	p := NewRequestParser(Limits{})
	out := make([]byte, 0, 4096)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n, err := p.Parse(data)
		if err != nil || n != len(data) {
			b.Fatalf("Parse = %d, %v", n, err)
		}
		h := p.Header()
		if _, ok := h.Get("Host"); !ok {
			b.Fatal("no Host")
		}
		out = h.AppendRequest(out[:0])
	}
}

func BenchmarkParseCurlRequest(b *testing.B)    { benchRequest(b, curlRequest) }
func BenchmarkParseBrowserRequest(b *testing.B) { benchRequest(b, browserRequest) }

// BenchmarkParseOnlyBrowserRequest measures Parse alone.
func BenchmarkParseOnlyBrowserRequest(b *testing.B) {
	data := []byte(browserRequest)
	p := NewRequestParser(Limits{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	data := []byte(typicalResponse)
	p := NewResponseParser(Limits{})
	out := make([]byte, 0, 4096)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n, err := p.Parse(data)
		if err != nil || n != len(data) {
			b.Fatalf("Parse = %d, %v", n, err)
		}
		if p.Framing().Kind != BodyLength {
			b.Fatal("framing")
		}
		out = p.Header().AppendResponse(out[:0])
	}
}

func BenchmarkDecodeChunked(b *testing.B) {
	var body []byte
	chunk := make([]byte, 1024)
	for range 16 {
		body = AppendChunk(body, chunk)
	}
	body = AppendLastChunk(body, nil)
	var r BodyReader
	var total int
	sink := func(p []byte) { total += len(p) }
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(Framing{Kind: BodyChunked}, Limits{})
		n, done, err := r.Decode(body, sink)
		if err != nil || !done || n != len(body) {
			b.Fatalf("Decode = %d, %v, %v", n, done, err)
		}
	}
}
