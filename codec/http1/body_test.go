package http1

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

type decodeResult struct {
	body     string
	trailers string
	consumed int
	err      error
}

// decodePieces feeds data to a fresh chunked BodyReader in pieces cut at
// the given positions, keeping unconsumed bytes as a caller would.
func decodePieces(limits Limits, data []byte, cuts []int) decodeResult {
	r := NewBodyReader(Framing{Kind: BodyChunked}, limits)
	var body bytes.Buffer
	out := func(p []byte) { body.Write(p) }
	var pending []byte
	total := 0
	prev := 0
	for k := 0; k <= len(cuts); k++ {
		end := len(data)
		if k < len(cuts) {
			end = cuts[k]
		}
		// A fresh copy each time: the reader must not keep pointers.
		pending = append(bytes.Clone(pending), data[prev:end]...)
		prev = end
		n, done, err := r.Decode(pending, out)
		if err != nil {
			return decodeResult{body: body.String(), err: err}
		}
		total += n
		pending = pending[n:]
		if done {
			return decodeResult{body.String(), fmt.Sprint(fieldsOf(r.Trailers())), total, nil}
		}
	}
	return decodeResult{body: body.String(), consumed: total, err: ErrNeedMore}
}

func TestChunkedDecode(t *testing.T) {
	for _, tc := range chunkCases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw + tc.extra)
			got := decodePieces(tc.limits, data, nil)
			if got.err != tc.err {
				t.Fatalf("err = %v, want %v", got.err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if got.body != tc.body {
				t.Errorf("body = %q, want %q", got.body, tc.body)
			}
			if got.consumed != len(tc.raw) {
				t.Errorf("consumed = %d, want %d", got.consumed, len(tc.raw))
			}
			if tc.trailers != nil && got.trailers != fmt.Sprint(tc.trailers) {
				t.Errorf("trailers = %s, want %v", got.trailers, tc.trailers)
			}
		})
	}
}

// TestChunkedSplits checks that cutting the input anywhere, into two pieces
// or into single bytes, changes nothing.
func TestChunkedSplits(t *testing.T) {
	for _, tc := range chunkCases {
		if len(tc.raw) > 2000 {
			continue // the long cases are covered by TestChunkedDecode
		}
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw + tc.extra)
			want := decodePieces(tc.limits, data, nil)
			for i := 0; i <= len(data); i++ {
				if got := decodePieces(tc.limits, data, []int{i}); got != want {
					t.Fatalf("cut at %d: %+v, want %+v", i, got, want)
				}
			}
			cuts := make([]int, len(data))
			for i := range cuts {
				cuts[i] = i
			}
			if got := decodePieces(tc.limits, data, cuts); got != want {
				t.Fatalf("byte by byte: %+v, want %+v", got, want)
			}
		})
	}
}

func TestLengthAndCloseBodies(t *testing.T) {
	var got []string
	out := func(p []byte) { got = append(got, string(p)) }

	r := NewBodyReader(Framing{BodyLength, 5}, Limits{})
	n, done, err := r.Decode([]byte("he"), out)
	if n != 2 || done || err != nil {
		t.Fatalf("first piece: %d %v %v", n, done, err)
	}
	n, done, err = r.Decode([]byte("lloGET /"), out)
	if n != 3 || !done || err != nil || !r.Done() {
		t.Fatalf("second piece: %d %v %v", n, done, err)
	}
	if strings.Join(got, "|") != "he|llo" {
		t.Errorf("pieces = %q", got)
	}
	if n, done, _ := r.Decode([]byte("more"), out); n != 0 || !done {
		t.Errorf("after done: %d %v", n, done)
	}

	got = nil
	r.Reset(Framing{Kind: BodyUntilClose}, Limits{})
	for _, s := range []string{"a", "bc", ""} {
		n, done, err := r.Decode([]byte(s), out)
		if n != len(s) || done || err != nil {
			t.Fatalf("until close %q: %d %v %v", s, n, done, err)
		}
	}
	if strings.Join(got, "|") != "a|bc" {
		t.Errorf("until-close pieces = %q", got)
	}

	r.Reset(Framing{}, Limits{})
	if n, done, err := r.Decode([]byte("next"), out); n != 0 || !done || err != nil {
		t.Errorf("none: %d %v %v", n, done, err)
	}
}

func TestChunkedZeroCopy(t *testing.T) {
	data := []byte("5\r\nhello\r\n0\r\n\r\n")
	r := NewBodyReader(Framing{Kind: BodyChunked}, Limits{})
	var piece []byte
	if _, done, err := r.Decode(data, func(p []byte) { piece = p }); !done || err != nil {
		t.Fatal(done, err)
	}
	if &piece[0] != &data[3] {
		t.Error("content was copied")
	}
}

func TestChunkedErrorSticks(t *testing.T) {
	r := NewBodyReader(Framing{Kind: BodyChunked}, Limits{})
	if _, _, err := r.Decode([]byte("zz\r\n"), nil); err != ErrBadChunk {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := r.Decode([]byte("0\r\n\r\n"), nil); err != ErrBadChunk {
		t.Fatalf("second err = %v", err)
	}
}

func TestChunkEncoder(t *testing.T) {
	var tr Header
	if err := tr.Add("X-Checksum", "abc"); err != nil {
		t.Fatal(err)
	}
	var enc []byte
	enc = AppendChunk(enc, []byte("hello"))
	enc = AppendChunk(enc, nil) // must not end the body
	enc = AppendChunk(enc, bytes.Repeat([]byte("x"), 300))
	enc = AppendChunkHeader(enc, 2)
	enc = append(enc, "ab\r\n"...)
	enc = AppendLastChunk(enc, &tr)
	want := "5\r\nhello\r\n12c\r\n" + strings.Repeat("x", 300) + "\r\n2\r\nab\r\n0\r\nX-Checksum: abc\r\n\r\n"
	if string(enc) != want {
		t.Fatalf("encoded %q", enc)
	}
	got := decodePieces(Limits{}, enc, nil)
	if got.err != nil || got.body != "hello"+strings.Repeat("x", 300)+"ab" || got.trailers != "[{X-Checksum abc}]" {
		t.Errorf("round trip: %+v", got)
	}
	if s := string(AppendLastChunk(nil, nil)); s != "0\r\n\r\n" {
		t.Errorf("last chunk without trailers = %q", s)
	}
}

func TestDecodeAllocs(t *testing.T) {
	body := []byte("5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
	var r BodyReader
	n := 0
	sink := func(p []byte) { n += len(p) }
	run := func() {
		r.Reset(Framing{Kind: BodyChunked}, Limits{})
		if _, done, err := r.Decode(body, sink); !done || err != nil {
			t.Fatal(done, err)
		}
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("chunked decode with trailers: %v allocs per run", a)
	}
}
