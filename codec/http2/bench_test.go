package http2

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// reqFields is what h2load or curl send for a plain GET.
var reqFields = []hpack.HeaderField{
	{Name: ":method", Value: "GET"},
	{Name: ":scheme", Value: "http"},
	{Name: ":authority", Value: "127.0.0.1:8080"},
	{Name: ":path", Value: "/index"},
	{Name: "user-agent", Value: "h2load nghttp2/1.59.0"},
	{Name: "accept", Value: "*/*"},
}

// reqBlocks returns the first request block (literals added to the
// dynamic table) and the second (all indexed), as a client's encoder
// with a default table produces them.
func reqBlocks(tb testing.TB) (first, second []byte) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range reqFields {
		if err := enc.WriteField(f); err != nil {
			tb.Fatal(err)
		}
	}
	first = bytes.Clone(buf.Bytes())
	buf.Reset()
	for _, f := range reqFields {
		if err := enc.WriteField(f); err != nil {
			tb.Fatal(err)
		}
	}
	second = bytes.Clone(buf.Bytes())
	return first, second
}

// TestReqBlocks checks the benchmark input is what the benchmarks claim:
// the second block only refers to table entries, and both decode to the
// request on both decoders.
func TestReqBlocks(t *testing.T) {
	first, second := reqBlocks(t)
	for _, c := range second {
		if c&0x80 == 0 {
			t.Fatalf("second block %x is not all indexed", second)
		}
	}
	if len(second) != len(reqFields) {
		t.Fatalf("second block %x: %d bytes, want %d", second, len(second), len(reqFields))
	}
	d := NewDecoder(DefaultTableSize)
	for _, b := range [][]byte{first, second} {
		got, err := decodeAll(d, b)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range got {
			if f.Name != reqFields[i].Name || f.Value != reqFields[i].Value {
				t.Fatalf("field %d %+v, want %+v", i, f, reqFields[i])
			}
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	first, second := reqBlocks(b)
	b.Run("first/ours", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(first)))
		n := 0
		emit := func(Field) { n++ }
		for b.Loop() {
			d := NewDecoder(DefaultTableSize)
			if err := d.Decode(first, emit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first/xnet", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(first)))
		n := 0
		emit := func(hpack.HeaderField) { n++ }
		for b.Loop() {
			d := hpack.NewDecoder(DefaultTableSize, emit)
			if _, err := d.Write(first); err != nil {
				b.Fatal(err)
			}
			if err := d.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("indexed/ours", func(b *testing.B) {
		d := NewDecoder(DefaultTableSize)
		n := 0
		emit := func(Field) { n++ }
		if err := d.Decode(first, emit); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(second)))
		for b.Loop() {
			if err := d.Decode(second, emit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("indexed/xnet", func(b *testing.B) {
		n := 0
		d := hpack.NewDecoder(DefaultTableSize, func(hpack.HeaderField) { n++ })
		if _, err := d.Write(first); err != nil {
			b.Fatal(err)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(second)))
		for b.Loop() {
			if _, err := d.Write(second); err != nil {
				b.Fatal(err)
			}
			if err := d.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeEvicting decodes blocks that each insert one entry into
// a full table (100 entries), so every block evicts the oldest: the
// steady state of a client that indexes changing values.
func BenchmarkDecodeEvicting(b *testing.B) {
	insert, _ := deepInsert(100)
	// A raw literal with indexing, 36 bytes as table entries go: one
	// eviction per block once the table is full.
	block := hx("40 03 6b 39 39 03 76 39 39") // k99: v99
	b.Run("ours", func(b *testing.B) {
		d := NewDecoder(DefaultTableSize)
		if err := d.Decode(insert, func(Field) {}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := d.Decode(block, func(Field) {}); err != nil {
				b.Fatal(err)
			}
		}
		if d.Entries() > 110 {
			b.Fatalf("table grew to %d entries", d.Entries())
		}
	})
	b.Run("xnet", func(b *testing.B) {
		d := hpack.NewDecoder(DefaultTableSize, func(hpack.HeaderField) {})
		if _, err := d.Write(insert); err != nil {
			b.Fatal(err)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Write(block); err != nil {
				b.Fatal(err)
			}
			if err := d.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// respHead is a typical response head.
var respHead = []Field{
	{Name: ":status", Value: "200"},
	{Name: "content-type", Value: "text/html"},
	{Name: "content-length", Value: "612"},
	{Name: "date", Value: "Mon, 21 Oct 2013 20:13:21 GMT"},
	{Name: "server", Value: "mosn"},
}

func BenchmarkEncodeResponse(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for _, f := range respHead {
				buf = AppendField(buf, f)
			}
		}
		b.ReportMetric(float64(len(buf)), "block-bytes")
	})
	// x/net's Encoder indexes into its dynamic table: after the first
	// block every field is one byte, at the cost of per-connection state.
	b.Run("xnet", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		for b.Loop() {
			buf.Reset()
			for _, f := range respHead {
				if err := enc.WriteField(hpack.HeaderField{Name: f.Name, Value: f.Value}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(buf.Len()), "block-bytes")
	})
	// With a zero table x/net encodes statelessly, like ours.
	b.Run("xnet-no-table", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.SetMaxDynamicTableSizeLimit(0)
		for b.Loop() {
			buf.Reset()
			for _, f := range respHead {
				if err := enc.WriteField(hpack.HeaderField{Name: f.Name, Value: f.Value}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(buf.Len()), "block-bytes")
	})
}
