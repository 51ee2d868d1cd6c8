package http2

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// hx decodes a hex dump as RFC 7541 prints it (spaces and newlines are
// ignored).
func hx(s string) []byte {
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// encInt encodes an HPACK integer (RFC 7541 §5.1) independently of the
// package's own appendInt, so the tests do not check the code with itself.
func encInt(first byte, n uint8, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return []byte{first | byte(v)}
	}
	out := []byte{first | byte(max)}
	for v -= max; v >= 128; v /= 128 {
		out = append(out, byte(v%128)|0x80)
	}
	return append(out, byte(v))
}

func decodeAll(d *Decoder, b []byte) ([]Field, error) {
	var got []Field
	err := d.Decode(b, func(f Field) { got = append(got, f) })
	return got, err
}

// dynTable reads the decoder's dynamic table through its public API,
// newest first as RFC 7541 Appendix C lists it: indexed representations
// of 62, 63, ... do not change the table.
func dynTable(t *testing.T, d *Decoder) []Field {
	t.Helper()
	var out []Field
	for i := range d.Entries() {
		f, err := decodeAll(d, encInt(0x80, 7, uint64(62+i)))
		if err != nil || len(f) != 1 {
			t.Fatalf("reading dynamic entry %d: %v, %v", 62+i, f, err)
		}
		out = append(out, f[0])
	}
	// One past the end must be refused, or Entries is wrong.
	if _, err := decodeAll(d, encInt(0x80, 7, uint64(62+d.Entries()))); !errors.Is(err, ErrIndex) {
		t.Fatalf("index %d past the table: err %v, want ErrIndex", 62+d.Entries(), err)
	}
	return out
}

func fl(kv ...string) []Field {
	out := make([]Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Field{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

type appendixStep struct {
	block  []byte
	fields []Field
	table  []Field // newest first
	size   uint32
}

func runSteps(t *testing.T, limit uint32, steps []appendixStep) {
	t.Helper()
	d := NewDecoder(limit)
	for i, s := range steps {
		got, err := decodeAll(d, s.block)
		if err != nil {
			t.Fatalf("block %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(got, s.fields) {
			t.Errorf("block %d fields:\n got %+v\nwant %+v", i+1, got, s.fields)
		}
		if d.TableSize() != s.size {
			t.Errorf("block %d table size %d, want %d", i+1, d.TableSize(), s.size)
		}
		if tab := dynTable(t, d); !reflect.DeepEqual(tab, s.table) && !(len(tab) == 0 && len(s.table) == 0) {
			t.Errorf("block %d table:\n got %+v\nwant %+v", i+1, tab, s.table)
		}
	}
}

// TestDecodeAppendixC2 runs RFC 7541 C.2.1-C.2.4, each on a new decoder.
func TestDecodeAppendixC2(t *testing.T) {
	tests := []struct {
		name string
		step appendixStep
	}{
		{"C.2.1 literal with indexing", appendixStep{
			block:  hx("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
			fields: fl("custom-key", "custom-header"),
			table:  fl("custom-key", "custom-header"),
			size:   55,
		}},
		{"C.2.2 literal without indexing", appendixStep{
			block:  hx("040c 2f73 616d 706c 652f 7061 7468"),
			fields: fl(":path", "/sample/path"),
		}},
		{"C.2.3 literal never indexed", appendixStep{
			block:  hx("1008 7061 7373 776f 7264 0673 6563 7265 74"),
			fields: []Field{{Name: "password", Value: "secret", Sensitive: true}},
		}},
		{"C.2.4 indexed", appendixStep{
			block:  hx("82"),
			fields: fl(":method", "GET"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, DefaultTableSize, []appendixStep{tt.step}) })
	}
}

var (
	c3Table1 = fl(":authority", "www.example.com")
	c3Table2 = fl("cache-control", "no-cache", ":authority", "www.example.com")
	c3Table3 = fl("custom-key", "custom-value", "cache-control", "no-cache", ":authority", "www.example.com")
	c3Fields = [][]Field{
		fl(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com"),
		fl(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com", "cache-control", "no-cache"),
		fl(":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "www.example.com", "custom-key", "custom-value"),
	}
	c5Fields = [][]Field{
		fl(":status", "302", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
		fl(":status", "307", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
		fl(":status", "200", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:22 GMT", "location", "https://www.example.com",
			"content-encoding", "gzip", "set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
	}
	c5Tables = [][]Field{
		fl("location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private", ":status", "302"),
		fl(":status", "307", "location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private"),
		fl("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", "content-encoding", "gzip", "date", "Mon, 21 Oct 2013 20:13:22 GMT"),
	}

	// The Appendix C header blocks, also the fuzz seeds.
	c3Blocks = [][]byte{
		hx("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
		hx("8286 84be 5808 6e6f 2d63 6163 6865"),
		hx("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
	}
	c4Blocks = [][]byte{
		hx("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
		hx("8286 84be 5886 a8eb 1064 9cbf"),
		hx("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
	}
	c5Blocks = [][]byte{
		hx(`4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
			2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
			6c65 2e63 6f6d`),
		hx("4803 3330 37c1 c0bf"),
		hx(`88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
			54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
			5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
			3d31`),
	}
	c6Blocks = [][]byte{
		hx(`4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
			2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`),
		hx("4883 640e ffc1 c0bf"),
		hx(`88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
			77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
			9587 3160 65c0 03ed 4ee5 b106 3d50 07`),
	}
)

// TestDecodeAppendixC3C6 decodes each series of RFC 7541 C.3-C.6 with one
// decoder, checking the fields and the dynamic table after every block.
func TestDecodeAppendixC3C6(t *testing.T) {
	reqTables := [][]Field{c3Table1, c3Table2, c3Table3}
	reqSizes := []uint32{57, 110, 164}
	respSizes := []uint32{222, 222, 215}
	series := func(blocks [][]byte, fields, tables [][]Field, sizes []uint32) []appendixStep {
		var out []appendixStep
		for i := range blocks {
			out = append(out, appendixStep{block: blocks[i], fields: fields[i], table: tables[i], size: sizes[i]})
		}
		return out
	}
	tests := []struct {
		name  string
		limit uint32
		steps []appendixStep
	}{
		{"C.3 requests raw", DefaultTableSize, series(c3Blocks, c3Fields, reqTables, reqSizes)},
		{"C.4 requests Huffman", DefaultTableSize, series(c4Blocks, c3Fields, reqTables, reqSizes)},
		{"C.5 responses raw 256", 256, series(c5Blocks, c5Fields, c5Tables, respSizes)},
		{"C.6 responses Huffman 256", 256, series(c6Blocks, c5Fields, c5Tables, respSizes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.limit, tt.steps) })
	}
}

// TestDecodeErrors checks that malformed blocks fail with the right error.
func TestDecodeErrors(t *testing.T) {
	// 30 'a's Huffman-code to 19 bytes: long enough for the up-front
	// bound (19*8/30 > 4) to refuse it before decoding.
	longHuff := hpack.AppendHuffmanString(nil, strings.Repeat("a", 30))
	tests := []struct {
		name      string
		maxString int
		block     []byte
		want      error
	}{
		{"index 0", 0, hx("80"), ErrIndex},
		{"index past static table, empty dynamic", 0, hx("be"), ErrIndex},
		{"index far past the table", 0, hx("ff ff 0f"), ErrIndex},
		{"literal name index past table", 0, hx("7e 01 61"), ErrIndex},
		{"literal never indexed name index 0 then truncated", 0, hx("10"), ErrTruncated},
		{"truncated integer prefix only", 0, hx("ff"), ErrTruncated},
		{"truncated integer in continuation", 0, hx("ff 80"), ErrTruncated},
		{"truncated string length", 0, hx("00 7f"), ErrTruncated},
		{"truncated string data", 0, hx("00 03 61 62"), ErrTruncated},
		{"missing value", 0, hx("04"), ErrTruncated},
		{"missing value after name", 0, hx("40 01 61"), ErrTruncated},
		{"truncated size update", 0, hx("3f"), ErrTruncated},
		{"integer overflow index", 0, hx("ff 80 80 80 80 80 01"), ErrInteger},
		{"integer overflow string length", 0, hx("00 7f ff ff ff ff ff 01"), ErrInteger},
		{"integer overflow size update", 0, hx("3f 80 80 80 80 80 00"), ErrInteger},
		{"size update after a field", 0, hx("82 20"), ErrSizeUpdate},
		{"size update after a literal", 0, hx("04 01 2f 3f e1 1f"), ErrSizeUpdate},
		{"size update above limit", 0, hx("3f e2 1f"), ErrSizeUpdate}, // 4097
		{"Huffman padding zeros", 0, hx("00 81 18 00"), ErrHuffman},
		{"Huffman padding over 7 bits", 0, hx("00 82 1f ff 00"), ErrHuffman},
		{"Huffman EOS symbol", 0, hx("00 01 61 84 ff ff ff fc"), ErrHuffman},
		{"raw name over MaxString", 4, append(hx("00 05"), "hello\x00"...), ErrStringLength},
		{"raw value over MaxString", 4, append(hx("04 05"), "/abcd"...), ErrStringLength},
		{"Huffman over MaxString after decoding", 4, append(hx("04 84"), hpack.AppendHuffmanString(nil, "hello")...), ErrStringLength},
		{"Huffman over MaxString before decoding", 4, append(append(hx("04"), encInt(0x80, 7, uint64(len(longHuff)))...), longHuff...), ErrStringLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(DefaultTableSize)
			d.MaxString = tt.maxString
			if _, err := decodeAll(d, tt.block); !errors.Is(err, tt.want) {
				t.Fatalf("block %x: err %v, want %v", tt.block, err, tt.want)
			}
		})
	}
}

// TestDecodeAccepts covers the edges just inside what the errors above
// refuse.
func TestDecodeAccepts(t *testing.T) {
	sameName := strings.Repeat("\x00", 5) // 13-bit codes: 9 bytes Huffman-coded
	tests := []struct {
		name      string
		maxString int
		block     []byte
		want      []Field
		size      uint32
	}{
		{"empty block", 0, nil, nil, 0},
		{"size update to limit", 0, hx("3f e1 1f"), nil, 0},
		{"two size updates at start", 0, hx("20 3f e1 1f 82"), fl(":method", "GET"), 0},
		{"integer with five continuation bytes", 0, hx("3f 80 80 80 80 00"), nil, 0}, // size update to 31
		{"raw string exactly MaxString", 5, append(hx("04 05"), "/abcd"...), fl(":path", "/abcd"), 0},
		{"Huffman string exactly MaxString", 5, append(hx("04 84"), hpack.AppendHuffmanString(nil, "hello")...), fl(":path", "hello"), 0},
		// The bound is on the decoded string (RFC 7541 leaves the limit to
		// the implementation; x/net bounds the encoded length instead).
		{"Huffman encoded longer than MaxString, decoded within", 5,
			append(append(hx("04"), encInt(0x80, 7, hpack.HuffmanEncodeLength(sameName))...), hpack.AppendHuffmanString(nil, sameName)...),
			fl(":path", sameName), 0},
		{"empty name and value", 0, hx("00 00 00"), fl("", ""), 0},
		{"empty Huffman string", 0, hx("00 80 80"), fl("", ""), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(DefaultTableSize)
			d.MaxString = tt.maxString
			got, err := decodeAll(d, tt.block)
			if err != nil {
				t.Fatalf("block %x: %v", tt.block, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if d.TableSize() != tt.size {
				t.Fatalf("table size %d, want %d", d.TableSize(), tt.size)
			}
		})
	}
}

// c3Decoder returns a decoder holding the C.3 table (164 bytes, 3 entries).
func c3Decoder(t *testing.T) *Decoder {
	t.Helper()
	d := NewDecoder(DefaultTableSize)
	for _, b := range c3Blocks {
		if _, err := decodeAll(d, b); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestSetLimit(t *testing.T) {
	tests := []struct {
		name   string
		limits []uint32 // applied in turn; the last is the one in force
		table  []Field
		size   uint32
	}{
		{"above the size keeps all", []uint32{4096}, c3Table3, 164},
		{"exactly the size keeps all", []uint32{164}, c3Table3, 164},
		{"evicts the oldest", []uint32{120}, c3Table3[:2], 107},
		{"evicts two", []uint32{54}, c3Table3[:1], 54},
		{"zero empties", []uint32{0}, nil, 0},
		{"lowered twice", []uint32{140, 60}, c3Table3[:1], 54},
		{"lowered by one", []uint32{164, 163}, c3Table3[:2], 107},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := c3Decoder(t)
			for _, v := range tt.limits {
				d.SetLimit(v)
			}
			limit := tt.limits[len(tt.limits)-1]
			if d.TableSize() != tt.size {
				t.Fatalf("size %d, want %d", d.TableSize(), tt.size)
			}
			if got := dynTable(t, d); !reflect.DeepEqual(got, tt.table) && len(got)+len(tt.table) > 0 {
				t.Fatalf("table %+v, want %+v", got, tt.table)
			}
			// The peer may now announce at most the new limit.
			if _, err := decodeAll(d, encInt(0x20, 5, uint64(limit)+1)); !errors.Is(err, ErrSizeUpdate) {
				t.Fatalf("size update to limit+1: err %v, want ErrSizeUpdate", err)
			}
			if _, err := decodeAll(d, encInt(0x20, 5, uint64(limit))); err != nil {
				t.Fatalf("size update to limit: %v", err)
			}
		})
	}
}

// TestSetLimitRaise checks that raising the limit lets the peer grow the
// table but does not grow it by itself (RFC 7541 §4.2: only the peer's
// size update changes the size in force).
func TestSetLimitRaise(t *testing.T) {
	d := c3Decoder(t)
	d.SetLimit(120)
	d.SetLimit(4096)
	// A 34-byte entry does not fit beside the remaining 107 within 120.
	if _, err := decodeAll(d, hx("40 01 61 01 62")); err != nil {
		t.Fatal(err)
	}
	if want := fl("a", "b", "custom-key", "custom-value"); !reflect.DeepEqual(dynTable(t, d), want) {
		t.Fatalf("table %+v, want %+v", dynTable(t, d), want)
	}
	if _, err := decodeAll(d, hx("3f e1 1f 40 01 63 01 64")); err != nil { // update to 4096, then c: d
		t.Fatal(err)
	}
	if want := fl("c", "d", "a", "b", "custom-key", "custom-value"); !reflect.DeepEqual(dynTable(t, d), want) {
		t.Fatalf("table %+v, want %+v", dynTable(t, d), want)
	}
	if d.TableSize() != 54+34+34 {
		t.Fatalf("size %d, want %d", d.TableSize(), 54+34+34)
	}
}

func TestCompact(t *testing.T) {
	d := c3Decoder(t)
	before := dynTable(t, d)
	if cap(d.ents) == len(d.ents) {
		t.Fatalf("setup: cap %d already equals len", cap(d.ents))
	}
	old := &d.ents[:cap(d.ents)][0]
	d.Compact()
	if cap(d.ents) != len(d.ents) {
		t.Fatalf("after Compact cap %d, len %d", cap(d.ents), len(d.ents))
	}
	// Re-slicing would keep the whole old array alive.
	if &d.ents[0] == old {
		t.Fatal("Compact kept the old backing array")
	}
	if got := dynTable(t, d); !reflect.DeepEqual(got, before) {
		t.Fatalf("table after Compact %+v, want %+v", got, before)
	}
	if d.TableSize() != 164 {
		t.Fatalf("size %d, want 164", d.TableSize())
	}
	// The table keeps working: C.3's second block again refers to 62.
	got, err := decodeAll(d, hx("be 40 01 61 01 62"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fl("custom-key", "custom-value", "a", "b"); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %+v, want %+v", got, want)
	}
	if d.Entries() != 4 {
		t.Fatalf("entries %d, want 4", d.Entries())
	}

	empty := NewDecoder(DefaultTableSize)
	if _, err := decodeAll(empty, hx("40 01 61 01 62")); err != nil {
		t.Fatal(err)
	}
	empty.SetLimit(0)
	empty.Compact()
	if empty.ents != nil || empty.Entries() != 0 {
		t.Fatalf("empty table after Compact: %v", empty.ents)
	}
}

// TestOversizedEntry checks RFC 7541 §4.4: an entry larger than the table
// empties it and is not added, but is still emitted.
func TestOversizedEntry(t *testing.T) {
	d := NewDecoder(64)
	if _, err := decodeAll(d, hx("40 01 61 01 62")); err != nil { // a: b, 34 bytes
		t.Fatal(err)
	}
	if d.Entries() != 1 || d.TableSize() != 34 {
		t.Fatalf("entries %d size %d, want 1, 34", d.Entries(), d.TableSize())
	}
	long := strings.Repeat("\xff", 32) // raw: 1+32+32 = 65 > 64
	block := append(append(hx("40 01 78"), encInt(0, 7, uint64(len(long)))...), long...)
	got, err := decodeAll(d, block)
	if err != nil {
		t.Fatal(err)
	}
	if want := fl("x", long); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %+v, want %+v", got, want)
	}
	if d.Entries() != 0 || d.TableSize() != 0 {
		t.Fatalf("entries %d size %d, want an empty table", d.Entries(), d.TableSize())
	}
	// An entry of exactly the table size fits.
	exact := strings.Repeat("\xff", 31)
	block = append(append(hx("40 01 78"), encInt(0, 7, uint64(len(exact)))...), exact...)
	if _, err := decodeAll(d, block); err != nil {
		t.Fatal(err)
	}
	if d.Entries() != 1 || d.TableSize() != 64 {
		t.Fatalf("entries %d size %d, want 1, 64", d.Entries(), d.TableSize())
	}
}

// deepInsert returns a block inserting n entries "k<i>: v<i>", oldest
// first, and those fields.
func deepInsert(n int) (insert []byte, fields []Field) {
	for i := range n {
		k, v := "k"+strconv.Itoa(i), "v"+strconv.Itoa(i)
		insert = append(insert, 0x40, byte(len(k)))
		insert = append(insert, k...)
		insert = append(insert, byte(len(v)))
		insert = append(insert, v...)
		fields = append(fields, Field{Name: k, Value: v})
	}
	return insert, fields
}

// TestDecodeDeepTable fills the table with many entries, including past
// what fits (so the oldest are evicted), and checks every index against
// the expected field and x/net's decoder.
func TestDecodeDeepTable(t *testing.T) {
	// Each entry is 36 to 40 bytes: 100 fit in 4096, 120 do not.
	for _, n := range []int{1, 2, 10, 100, 120} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			insert, fields := deepInsert(n)
			d := NewDecoder(DefaultTableSize)
			xd := hpack.NewDecoder(DefaultTableSize, nil)
			if _, err := decodeAll(d, insert); err != nil {
				t.Fatal(err)
			}
			if _, err := xd.DecodeFull(insert); err != nil {
				t.Fatal(err)
			}
			// The newest entries that fit stay.
			var size uint32
			kept := 0
			for i := n - 1; i >= 0 && size+fields[i].Size() <= DefaultTableSize; i-- {
				size += fields[i].Size()
				kept++
			}
			if n <= 100 && kept != n {
				t.Fatalf("setup: %d of %d entries fit", kept, n)
			}
			if d.Entries() != kept || d.TableSize() != size {
				t.Fatalf("entries %d size %d, want %d, %d", d.Entries(), d.TableSize(), kept, size)
			}
			// Refer to each kept entry, oldest (highest index) first.
			var refer []byte
			want := fields[n-kept:]
			for i := range kept {
				refer = append(refer, encInt(0x80, 7, uint64(61+kept-i))...)
			}
			got, err := decodeAll(d, refer)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fields differ:\n got %+v\nwant %+v", got, want)
			}
			xgot, err := xd.DecodeFull(refer)
			if err != nil {
				t.Fatal(err)
			}
			if len(xgot) != len(want) {
				t.Fatalf("x/net decoded %d fields, want %d", len(xgot), len(want))
			}
			for i := range xgot {
				if xgot[i].Name != want[i].Name || xgot[i].Value != want[i].Value {
					t.Fatalf("x/net field %d %+v, want %+v", i, xgot[i], want[i])
				}
			}
			if _, err := decodeAll(d, encInt(0x80, 7, uint64(62+kept))); !errors.Is(err, ErrIndex) {
				t.Fatalf("index past the table: %v", err)
			}
		})
	}
}

// appendCases are the fields AppendField is checked with. wantHex, when
// set, is the exact encoding, pinning the representation chosen; the
// Huffman-coded strings are taken from RFC 7541 C.4 and C.6, behind the
// literal-without-indexing prefix. wantLen, when set, is the exact length.
var appendCases = []struct {
	name    string
	f       Field
	wantHex string
	wantLen int
}{
	{"static exact :method GET", Field{Name: ":method", Value: "GET"}, "82", 0},
	{"static exact :status 200", Field{Name: ":status", Value: "200"}, "88", 0},
	{"static exact accept-encoding", Field{Name: "accept-encoding", Value: "gzip, deflate"}, "90", 0},
	{"static exact :path /index.html", Field{Name: ":path", Value: "/index.html"}, "85", 0},
	{"static name low index", Field{Name: ":status", Value: "302"}, "08 82 6402", 0},
	{"static name :authority", Field{Name: ":authority", Value: "www.example.com"}, "01 8c f1e3 c2e5 f23a 6ba0 ab90 f4ff", 0},
	{"static name index 24", Field{Name: "cache-control", Value: "private"}, "0f 09 85 aec3 771a 4b", 0},
	{"static name index 33", Field{Name: "date", Value: "Mon, 21 Oct 2013 20:13:21 GMT"},
		"0f 12 96 d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", 0},
	{"static name index 46", Field{Name: "location", Value: "https://www.example.com"},
		"0f 1f 91 9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", 0},
	{"new name Huffman", Field{Name: "custom-key", Value: "custom-value"}, "00 88 25a8 49e9 5ba9 7d7f 89 25a8 49e9 5bb8 e8b4 bf", 0},
	{"static name index needing continuation", Field{Name: "user-agent", Value: "curl/8.5.0"}, "", 0},
	{"static name www-authenticate", Field{Name: "www-authenticate", Value: "Basic"}, "", 0},
	{"static name with empty static value", Field{Name: ":authority", Value: "127.0.0.1:8080"}, "", 0},
	{"new name", Field{Name: "x-request-id", Value: "4f1c2a"}, "", 0},
	{"new name empty value", Field{Name: "x-empty", Value: ""}, "", 0},
	{"static name empty value", Field{Name: "content-type", Value: ""}, "0f 10 00", 0},
	{"raw shorter than Huffman", Field{Name: "content-type", Value: "{}"}, "0f 10 02 7b7d", 0},
	{"sensitive static name", Field{Name: "authorization", Value: "Bearer abc", Sensitive: true}, "", 0},
	{"sensitive static exact pair", Field{Name: ":method", Value: "GET", Sensitive: true}, "12 03 474554", 0},
	{"sensitive new name", Field{Name: "custom-key", Value: "custom-value", Sensitive: true}, "10 88 25a8 49e9 5ba9 7d7f 89 25a8 49e9 5bb8 e8b4 bf", 0},
	{"long value Huffman", Field{Name: "cookie", Value: strings.Repeat("session=abcdefghij; ", 20)}, "", 0},
	// Name index 31 takes 2 bytes, the length 300 takes 3.
	{"long value raw", Field{Name: "content-type", Value: strings.Repeat("\xfe\x01", 150)}, "", 2 + 3 + 300},
	{"long name", Field{Name: strings.Repeat("x-long-name-", 20), Value: "v"}, "", 0},
}

// TestAppendFieldXNet decodes AppendField's output with x/net's decoder,
// field by field and as one block.
func TestAppendFieldXNet(t *testing.T) {
	var all []byte
	var want []hpack.HeaderField
	for _, tt := range appendCases {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendField(nil, tt.f)
			if tt.wantHex != "" && !bytes.Equal(b, hx(tt.wantHex)) {
				t.Errorf("encoded %x, want %x", b, hx(tt.wantHex))
			}
			if tt.wantLen != 0 && len(b) != tt.wantLen {
				t.Errorf("encoded %x: %d bytes, want %d", b, len(b), tt.wantLen)
			}
			if b[0]&0xc0 == 0x40 || b[0]&0xe0 == 0x20 {
				t.Fatalf("encoded %x starts with an indexing literal or size update", b)
			}
			got, err := hpack.NewDecoder(DefaultTableSize, nil).DecodeFull(b)
			if err != nil {
				t.Fatalf("x/net decoding %x: %v", b, err)
			}
			w := hpack.HeaderField{Name: tt.f.Name, Value: tt.f.Value, Sensitive: tt.f.Sensitive}
			if len(got) != 1 || got[0] != w {
				t.Fatalf("x/net decoded %+v, want %+v", got, w)
			}
			ours, err := decodeAll(NewDecoder(DefaultTableSize), b)
			if err != nil || len(ours) != 1 || ours[0] != tt.f {
				t.Fatalf("our decoder: %+v, %v; want %+v", ours, err, tt.f)
			}
		})
		all = AppendField(all, tt.f)
		want = append(want, hpack.HeaderField{Name: tt.f.Name, Value: tt.f.Value, Sensitive: tt.f.Sensitive})
	}
	got, err := hpack.NewDecoder(DefaultTableSize, nil).DecodeFull(all)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("whole block:\n got %+v\nwant %+v", got, want)
	}
}

// TestAppendFieldIndexesNothing decodes many blocks with one x/net
// decoder and one of ours: every block must decode the same on its own,
// and afterwards both dynamic tables must still be empty.
func TestAppendFieldIndexesNothing(t *testing.T) {
	xd := hpack.NewDecoder(DefaultTableSize, nil)
	od := NewDecoder(DefaultTableSize)
	for round := range 50 {
		var block []byte
		var want []hpack.HeaderField
		for i, tt := range appendCases {
			if (round+i)%3 == 0 {
				continue // vary the blocks
			}
			block = AppendField(block, tt.f)
			want = append(want, hpack.HeaderField{Name: tt.f.Name, Value: tt.f.Value, Sensitive: tt.f.Sensitive})
		}
		got, err := xd.DecodeFull(block)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d:\n got %+v\nwant %+v", round, got, want)
		}
		if _, err := decodeAll(od, block); err != nil {
			t.Fatalf("round %d, our decoder: %v", round, err)
		}
	}
	// Index 62 is the first dynamic entry: both must refuse it.
	// x/net wraps the index error in a DecodingError without Unwrap.
	_, err := xd.DecodeFull(hx("be"))
	var de hpack.DecodingError
	if !errors.As(err, &de) || de.Err != hpack.InvalidIndexError(62) {
		t.Fatalf("x/net decoding index 62: err %v, want InvalidIndexError (table not empty)", err)
	}
	if od.Entries() != 0 || od.TableSize() != 0 {
		t.Fatalf("our table holds %d entries", od.Entries())
	}
}

// TestAppendFieldInteger checks the integer encoding (RFC 7541 §5.1) at
// the edges of a 7-bit string length prefix and of a 4-bit name index
// prefix (content-type is static entry 31: 15 + 16).
func TestAppendFieldInteger(t *testing.T) {
	tests := []struct {
		n      int
		prefix []byte
	}{
		{0, []byte{0x00}},
		{126, []byte{0x7e}},
		{127, []byte{0x7f, 0x00}},
		{128, []byte{0x7f, 0x01}},
		{254, []byte{0x7f, 0x7f}},
		{255, []byte{0x7f, 0x80, 0x01}},
		{1337, []byte{0x7f, 0xba, 0x09}},
		{16511, []byte{0x7f, 0x80, 0x80, 0x01}},
	}
	for _, tt := range tests {
		// Byte 0xfe Huffman-codes to 27 bits: raw is always shorter.
		v := strings.Repeat("\xfe", tt.n)
		b := AppendField(nil, Field{Name: "content-type", Value: v})
		want := append(append([]byte{0x0f, 0x10}, tt.prefix...), v...)
		if string(b) != string(want) {
			n := min(len(b), 8)
			t.Errorf("length %d: encoded %x..., want %x...", tt.n, b[:n], want[:min(len(want), 8)])
		}
	}
}

// TestPackBetweenBlocks decodes the RFC 7541 series with the table packed
// (as a parked connection's) before every block: the fields, the table
// size and the entry count match a decoder that never packs.
func TestPackBetweenBlocks(t *testing.T) {
	tests := []struct {
		name   string
		limit  uint32
		blocks [][]byte
	}{
		{"C.3", DefaultTableSize, c3Blocks},
		{"C.4", DefaultTableSize, c4Blocks},
		{"C.5", 256, c5Blocks},
		{"C.6", 256, c6Blocks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packed, plain := NewDecoder(tt.limit), NewDecoder(tt.limit)
			for i, b := range tt.blocks {
				packed.Pack()
				if i > 0 && packed.packed == "" {
					t.Fatalf("block %d: Pack left the table unpacked", i)
				}
				var got, want []Field
				if err := packed.Decode(b, func(f Field) { got = append(got, f) }); err != nil {
					t.Fatalf("block %d: packed decoder: %v", i, err)
				}
				if err := plain.Decode(b, func(f Field) { want = append(want, f) }); err != nil {
					t.Fatalf("block %d: plain decoder: %v", i, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("block %d: fields %v, want %v", i, got, want)
				}
				if packed.TableSize() != plain.TableSize() || packed.Entries() != plain.Entries() {
					t.Fatalf("block %d: table %d B/%d entries, want %d B/%d", i,
						packed.TableSize(), packed.Entries(), plain.TableSize(), plain.Entries())
				}
			}
		})
	}
}

// TestAppendLiteralLower: the name arrives lower-cased, the value as it
// was, for x/net's decoder and ours.
func TestAppendLiteralLower(t *testing.T) {
	for _, tt := range []struct{ name, value, want string }{
		{"Content-Type", "text/plain", "content-type"},
		{"X-Request-Id", "4f1c2a", "x-request-id"},
		{"already-lower", "", "already-lower"},
		{"X-Long", strings.Repeat("session=abcdefghij; ", 20), "x-long"},
	} {
		b := AppendLiteralLower(nil, tt.name, tt.value)
		got, err := hpack.NewDecoder(DefaultTableSize, nil).DecodeFull(b)
		if err != nil || len(got) != 1 || got[0].Name != tt.want || got[0].Value != tt.value {
			t.Fatalf("%s: x/net decoded %+v, %v", tt.name, got, err)
		}
		ours, err := decodeAll(NewDecoder(DefaultTableSize), b)
		if err != nil || len(ours) != 1 || ours[0].Name != tt.want || ours[0].Value != tt.value {
			t.Fatalf("%s: our decoder: %+v, %v", tt.name, ours, err)
		}
	}
}
