package hessian

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cat concatenates byte fragments and strings into one encoding.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case byte:
			b = append(b, v)
		case int:
			b = append(b, byte(v))
		case rune:
			b = append(b, byte(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic("cat: unsupported part")
		}
	}
	return b
}

func TestReadInt(t *testing.T) {
	tests := []struct {
		in   []byte
		want int32
	}{
		// Examples of the Hessian 2.0 specification.
		{cat(0x90), 0},
		{cat(0x80), -16},
		{cat(0xbf), 47},
		{cat(0xc8, 0x00), 0},
		{cat(0xc0, 0x00), -2048},
		{cat(0xc7, 0x00), -256},
		{cat(0xcf, 0xff), 2047},
		{cat(0xd4, 0x00, 0x00), 0},
		{cat(0xd0, 0x00, 0x00), -262144},
		{cat(0xd7, 0xff, 0xff), 262143},
		{cat('I', 0x00, 0x00, 0x00, 0x00), 0},
		{cat('I', 0x00, 0x00, 0x01, 0x2c), 300},
		{cat('I', 0x80, 0x00, 0x00, 0x00), math.MinInt32},
		{cat('I', 0x7f, 0xff, 0xff, 0xff), math.MaxInt32},
	}
	for _, tt := range tests {
		r := NewReader(tt.in)
		got, err := r.ReadInt()
		if err != nil || got != tt.want || r.Len() != 0 {
			t.Errorf("ReadInt(% x) = %d, %v, %d left; want %d", tt.in, got, err, r.Len(), tt.want)
		}
	}
}

func TestIntRoundTrip(t *testing.T) {
	tests := []struct {
		v    int32
		size int
	}{
		{0, 1}, {-16, 1}, {47, 1}, {-17, 2}, {48, 2}, {-2048, 2}, {2047, 2},
		{-2049, 3}, {2048, 3}, {-262144, 3}, {262143, 3}, {-262145, 5}, {262144, 5},
		{math.MinInt32, 5}, {math.MaxInt32, 5},
	}
	for _, tt := range tests {
		b := AppendInt(nil, tt.v)
		if len(b) != tt.size {
			t.Errorf("AppendInt(%d) = % x, want %d bytes", tt.v, b, tt.size)
		}
		got, err := NewReader(b).ReadInt()
		if err != nil || got != tt.v {
			t.Errorf("ReadInt(AppendInt(%d)) = %d, %v", tt.v, got, err)
		}
		// A long reader accepts ints too.
		l, err := NewReader(b).ReadLong()
		if err != nil || l != int64(tt.v) {
			t.Errorf("ReadLong(AppendInt(%d)) = %d, %v", tt.v, l, err)
		}
	}
}

func TestReadLong(t *testing.T) {
	tests := []struct {
		in   []byte
		want int64
	}{
		{cat(0xe0), 0},
		{cat(0xd8), -8},
		{cat(0xef), 15},
		{cat(0xf8, 0x00), 0},
		{cat(0xf0, 0x00), -2048},
		{cat(0xf7, 0x00), -256},
		{cat(0xff, 0xff), 2047},
		{cat(0x3c, 0x00, 0x00), 0},
		{cat(0x38, 0x00, 0x00), -262144},
		{cat(0x3f, 0xff, 0xff), 262143},
		{cat('Y', 0x00, 0x00, 0x00, 0x00), 0},
		{cat('Y', 0x00, 0x00, 0x01, 0x2c), 300},
		{cat('Y', 0x80, 0x00, 0x00, 0x00), math.MinInt32},
		{cat('L', 0, 0, 0, 0, 0, 0, 0x01, 0x2c), 300},
		{cat('L', 0x80, 0, 0, 0, 0, 0, 0, 0), math.MinInt64},
		{cat('L', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), math.MaxInt64},
	}
	for _, tt := range tests {
		r := NewReader(tt.in)
		got, err := r.ReadLong()
		if err != nil || got != tt.want || r.Len() != 0 {
			t.Errorf("ReadLong(% x) = %d, %v, %d left; want %d", tt.in, got, err, r.Len(), tt.want)
		}
	}
}

func TestLongRoundTrip(t *testing.T) {
	tests := []struct {
		v    int64
		size int
	}{
		{0, 1}, {-8, 1}, {15, 1}, {-9, 2}, {16, 2}, {-2048, 2}, {2047, 2},
		{-2049, 3}, {2048, 3}, {-262144, 3}, {262143, 3}, {-262145, 5}, {262144, 5},
		{math.MinInt32, 5}, {math.MaxInt32, 5}, {math.MinInt32 - 1, 9}, {math.MaxInt32 + 1, 9},
		{math.MinInt64, 9}, {math.MaxInt64, 9},
	}
	for _, tt := range tests {
		b := AppendLong(nil, tt.v)
		if len(b) != tt.size {
			t.Errorf("AppendLong(%d) = % x, want %d bytes", tt.v, b, tt.size)
		}
		got, err := NewReader(b).ReadLong()
		if err != nil || got != tt.v {
			t.Errorf("ReadLong(AppendLong(%d)) = %d, %v", tt.v, got, err)
		}
	}
}

func TestReadDouble(t *testing.T) {
	tests := []struct {
		in   []byte
		want float64
	}{
		{cat(0x5b), 0},
		{cat(0x5c), 1},
		{cat(0x5d, 0x80), -128},
		{cat(0x5d, 0x7f), 127},
		{cat(0x5e, 0x80, 0x00), -32768},
		{cat(0x5e, 0x7f, 0xff), 32767},
		{cat(0x5f, 0x00, 0x00, 0x30, 0x39), 12.345},
		{cat('D', 0x40, 0x28, 0x80, 0, 0, 0, 0, 0), 12.25},
	}
	for _, tt := range tests {
		r := NewReader(tt.in)
		got, err := r.ReadDouble()
		if err != nil || got != tt.want || r.Len() != 0 {
			t.Errorf("ReadDouble(% x) = %v, %v, %d left; want %v", tt.in, got, err, r.Len(), tt.want)
		}
	}
}

func TestDoubleRoundTrip(t *testing.T) {
	tests := []struct {
		v    float64
		size int
	}{
		{0, 1}, {1, 1}, {-128, 2}, {127, 2}, {-129, 3}, {32767, 3}, {12.345, 5}, {-0.001, 5},
		{12.25, 5}, {0.1, 5}, {math.Copysign(0, -1), 9}, {math.Pi, 9}, {1e300, 9},
		{math.Inf(1), 9}, {math.Inf(-1), 9}, {3e5, 5}, {3e6, 9},
	}
	for _, tt := range tests {
		b := AppendDouble(nil, tt.v)
		if len(b) != tt.size {
			t.Errorf("AppendDouble(%v) = % x, want %d bytes", tt.v, b, tt.size)
		}
		got, err := NewReader(b).ReadDouble()
		if err != nil || math.Float64bits(got) != math.Float64bits(tt.v) {
			t.Errorf("ReadDouble(AppendDouble(%v)) = %v, %v", tt.v, got, err)
		}
	}
	b := AppendDouble(nil, math.NaN())
	if got, err := NewReader(b).ReadDouble(); err != nil || !math.IsNaN(got) {
		t.Errorf("NaN round trip = %v, %v", got, err)
	}
}

func TestDate(t *testing.T) {
	tests := []struct {
		in   []byte
		want time.Time
	}{
		{cat(0x4a, 0x00, 0x00, 0x00, 0xd0, 0x4b, 0x92, 0x84, 0xb8), time.Date(1998, 5, 8, 9, 51, 31, 0, time.UTC)},
		{cat(0x4b, 0x00, 0xe3, 0x83, 0x8f), time.Date(1998, 5, 8, 9, 51, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := NewReader(tt.in).ReadDate()
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ReadDate(% x) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if enc := AppendDate(nil, tt.want); !bytes.Equal(enc, tt.in) {
			t.Errorf("AppendDate(%v) = % x, want % x", tt.want, enc, tt.in)
		}
	}
	ms := time.UnixMilli(-1234567).UTC()
	if got, err := NewReader(AppendDate(nil, ms)).ReadDate(); err != nil || !got.Equal(ms) {
		t.Errorf("negative date round trip = %v, %v", got, err)
	}
}

func TestReadString(t *testing.T) {
	long := strings.Repeat("x", 1023)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", cat(0x00), ""},
		{"ascii", cat(0x05, "hello"), "hello"},
		{"spec latin1", cat(0x01, 0xc3, 0x83), "\u00c3"},
		{"chinese", cat(0x02, "中文"), "中文"},
		{"java surrogate pair", cat(0x02, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80), "😀"},
		{"4-byte utf8 counts two", cat(0x02, 0xf0, 0x9f, 0x98, 0x80), "😀"},
		{"mixed", cat(0x06, "a", 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80, "中", 0xf0, 0x9f, 0x98, 0x81), "a😀中😁"},
		{"lone high surrogate", cat(0x02, 0xed, 0xa0, 0xbd, "z"), "\ufffdz"},
		{"lone low surrogate", cat(0x01, 0xed, 0xb8, 0x80), "\ufffd"},
		{"medium", cat(0x33, 0xff, long), long},
		{"medium short", cat(0x30, 0x20, strings.Repeat("y", 32)), strings.Repeat("y", 32)},
		{"S final", cat('S', 0x00, 0x05, "hello"), "hello"},
		{"chunked", cat('R', 0x00, 0x03, "abc", 'S', 0x00, 0x02, "de"), "abcde"},
		{"chunk then compact", cat('R', 0x00, 0x01, "a", 0x02, "bc"), "abc"},
		{"chunk then medium", cat('R', 0x00, 0x01, "a", 0x30, 0x02, "bc"), "abc"},
		{"pair split across chunks", cat('R', 0x00, 0x01, 0xed, 0xa0, 0xbd, 'S', 0x00, 0x01, 0xed, 0xb8, 0x80), "😀"},
		{"null", cat('N'), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.in)
			got, err := r.ReadString()
			if err != nil || got != tt.want || r.Len() != 0 {
				t.Errorf("ReadString(% x) = %q, %v, %d left; want %q", tt.in, got, err, r.Len(), tt.want)
			}
			r.Reset(tt.in)
			if err := r.Skip(); err != nil || r.Len() != 0 {
				t.Errorf("Skip = %v, %d left", err, r.Len())
			}
		})
	}
}

func TestReadStringBytesAliasesInput(t *testing.T) {
	in := cat(0x05, "hello", 0x02, "中文")
	r := NewReader(in)
	for _, want := range []string{"hello", "中文"} {
		b, isNull, err := r.ReadStringBytes()
		if err != nil || isNull || string(b) != want {
			t.Fatalf("ReadStringBytes = %q, %v, %v; want %q", b, isNull, err, want)
		}
		if &b[0] != &in[r.Offset()-len(b)] {
			t.Errorf("%q was copied; want a sub-slice of the input", want)
		}
	}
	// Surrogate fixing must not write into the input.
	in = cat(0x02, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80)
	orig := bytes.Clone(in)
	if b, _, err := NewReader(in).ReadStringBytes(); err != nil || string(b) != "😀" {
		t.Fatalf("ReadStringBytes = %q, %v", b, err)
	}
	if !bytes.Equal(in, orig) {
		t.Errorf("input modified: % x", in)
	}
	if _, isNull, err := NewReader([]byte{'N'}).ReadStringBytes(); !isNull || err != nil {
		t.Errorf("null: isNull %v, %v", isNull, err)
	}
}

func TestStringRoundTrip(t *testing.T) {
	tests := []string{
		"",
		"a",
		strings.Repeat("a", 31),
		strings.Repeat("a", 32),
		strings.Repeat("é", 1023),
		strings.Repeat("é", 1024),
		strings.Repeat("a", chunkUnits),
		strings.Repeat("a", chunkUnits+1),
		strings.Repeat("a", chunkUnits-1) + "😀" + "tail", // the pair must not straddle chunks
		strings.Repeat("中😀", 40000),
		"invalid \xff utf-8 \xed\xa0\x80",
	}
	for _, s := range tests {
		enc := AppendString(nil, s)
		r := NewReader(enc)
		got, err := r.ReadString()
		want := string([]rune(s)) // invalid bytes become U+FFFD, one per byte
		if err != nil || got != want || r.Len() != 0 {
			t.Errorf("round trip of %d-byte string: %v, equal %v, %d left", len(s), err, got == want, r.Len())
		}
	}
	// Java cannot read 4-byte UTF-8: supplementary characters are written as
	// surrogate pairs.
	if enc := AppendString(nil, "😀"); !bytes.Equal(enc, cat(0x02, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80)) {
		t.Errorf("AppendString(😀) = % x", enc)
	}
	// A chunk must end before a surrogate pair it cannot hold whole.
	enc := AppendString(nil, strings.Repeat("a", chunkUnits-1)+"😀")
	if enc[0] != 'R' || enc[1] != 0x7f || enc[2] != 0xff {
		t.Errorf("first chunk header % x, want R 7f ff", enc[:3])
	}
}

func TestBinary(t *testing.T) {
	big := bytes.Repeat([]byte{1, 2, 3}, 30000)
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"empty", cat(0x20), []byte{}},
		{"short", cat(0x23, 1, 2, 3), []byte{1, 2, 3}},
		{"medium", cat(0x34, 0x10, bytes.Repeat([]byte{9}, 16)), bytes.Repeat([]byte{9}, 16)},
		{"B", cat('B', 0x00, 0x02, 7, 8), []byte{7, 8}},
		{"chunks", cat('A', 0x00, 0x02, 1, 2, 'A', 0x00, 0x01, 3, 0x21, 4), []byte{1, 2, 3, 4}},
		{"written", AppendBinary(nil, big), big},
		{"written medium", AppendBinary(nil, big[:1000]), big[:1000]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.in)
			got, err := r.ReadBinary()
			if err != nil || !bytes.Equal(got, tt.want) || r.Len() != 0 {
				t.Errorf("ReadBinary = %d bytes, %v, %d left; want %d bytes", len(got), err, r.Len(), len(tt.want))
			}
			r.Reset(tt.in)
			v, err := r.Decode()
			if b, ok := v.([]byte); err != nil || !ok || !bytes.Equal(b, tt.want) {
				t.Errorf("Decode = %T, %v", v, err)
			}
		})
	}
}

func TestDecodeScalars(t *testing.T) {
	tests := []struct {
		in   []byte
		want any
	}{
		{cat('N'), nil},
		{cat('T'), true},
		{cat('F'), false},
		{cat(0x91), int32(1)},
		{cat(0xe1), int64(1)},
		{cat(0x5c), float64(1)},
		{cat(0x03, "abc"), "abc"},
		{cat(0x4b, 0, 0, 0, 1), time.Unix(60, 0).UTC()},
	}
	for _, tt := range tests {
		got, err := NewReader(tt.in).Decode()
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(% x) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeContainers(t *testing.T) {
	carClass := cat('C', 0x0b, "example.Car", 0x92, 0x05, "color", 0x05, "model")
	tests := []struct {
		name string
		in   []byte
		want any
	}{
		{
			"typed fixed list (spec)",
			cat('V', 0x04, "[int", 0x92, 0x90, 0x91),
			&List{Type: "[int", Items: []any{int32(0), int32(1)}},
		},
		{
			"untyped variable list (spec)",
			cat('W', 0x90, 0x91, 'Z'),
			&List{Items: []any{int32(0), int32(1)}},
		},
		{
			"compact typed list",
			cat(0x72, 0x04, "[int", 0x90, 0x91),
			&List{Type: "[int", Items: []any{int32(0), int32(1)}},
		},
		{
			"compact untyped list",
			cat(0x7a, 0x90, 0x01, "a"),
			&List{Items: []any{int32(0), "a"}},
		},
		{
			"untyped fixed list",
			cat('X', 0x98, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97),
			&List{Items: []any{int32(0), int32(1), int32(2), int32(3), int32(4), int32(5), int32(6), int32(7)}},
		},
		{
			"typed variable list",
			cat('U', 0x04, "[int", 0x90, 'Z'),
			&List{Type: "[int", Items: []any{int32(0)}},
		},
		{
			"untyped map (spec)",
			cat('H', 0x91, 0x03, "fee", 0xa0, 0x03, "fie", 0xc9, 0x00, 0x03, "foe", 'Z'),
			&Map{Entries: []MapEntry{{int32(1), "fee"}, {int32(16), "fie"}, {int32(256), "foe"}}},
		},
		{
			"typed map",
			cat('M', 0x13, "com.caucho.test.Car", 0x05, "color", 0x0a, "aquamarine", 0x07, "mileage", 0xe5, 'Z'),
			&Map{Type: "com.caucho.test.Car", Entries: []MapEntry{{"color", "aquamarine"}, {"mileage", int64(5)}}},
		},
		{
			"objects (spec)",
			cat(0x7a, carClass, 'O', 0x90, 0x03, "red", 0x08, "corvette", 0x60, 0x05, "green", 0x05, "civic"),
			&List{Items: []any{
				&Object{Class: "example.Car", Fields: []string{"color", "model"}, Values: []any{"red", "corvette"}},
				&Object{Class: "example.Car", Fields: []string{"color", "model"}, Values: []any{"green", "civic"}},
			}},
		},
		{
			"nested",
			cat('H', 0x04, "list", 0x79, 'H', 0x01, "k", 0x7a, 'N', 'T', 'Z', 0x03, "nil", 'N', 'Z'),
			&Map{Entries: []MapEntry{
				{"list", &List{Items: []any{&Map{Entries: []MapEntry{{"k", &List{Items: []any{nil, true}}}}}}}},
				{"nil", nil},
			}},
		},
		{
			"type reference",
			cat(0x7a, 0x72, 0x04, "[int", 0x90, 0x91, 0x71, 0x90, 0x92),
			&List{Items: []any{
				&List{Type: "[int", Items: []any{int32(0), int32(1)}},
				&List{Type: "[int", Items: []any{int32(2)}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.in)
			got, err := r.Decode()
			if err != nil || !reflect.DeepEqual(got, tt.want) || r.Len() != 0 {
				t.Errorf("Decode = %#v, %v, %d left; want %#v", got, err, r.Len(), tt.want)
			}
			r.Reset(tt.in)
			if err := r.Skip(); err != nil || r.Len() != 0 {
				t.Errorf("Skip = %v, %d left", err, r.Len())
			}
		})
	}
}

func TestDecodeRefs(t *testing.T) {
	// The circular linked list of the specification: tail refers to the
	// object itself.
	in := cat('C', 0x0a, "LinkedList", 0x92, 0x04, "head", 0x04, "tail", 'O', 0x90, 0x91, 'Q', 0x90)
	v, err := NewReader(in).Decode()
	if err != nil {
		t.Fatal(err)
	}
	o, ok := v.(*Object)
	if !ok || o.Class != "LinkedList" {
		t.Fatalf("Decode = %#v", v)
	}
	if head, _ := o.Field("head"); head != int32(1) {
		t.Errorf("head = %#v", head)
	}
	if tail, _ := o.Field("tail"); tail != any(o) {
		t.Errorf("tail = %p, want the object itself %p", tail, o)
	}

	// A list holding the same map twice: [m, ref 1]; refs count the outer
	// list (0) and the map (1).
	in = cat(0x7a, 'H', 0x01, "a", 0x91, 'Z', 'Q', 0x91)
	v, err = NewReader(in).Decode()
	if err != nil {
		t.Fatal(err)
	}
	l := v.(*List)
	if l.Items[0] != l.Items[1] {
		t.Errorf("ref did not resolve to the same map: %#v", l.Items)
	}
	if a, _ := l.Items[0].(*Map).Get("a"); a != int32(1) {
		t.Errorf("map[a] = %#v", a)
	}

	// Refs count values skipped before: Decode after Skip reports a ref to a
	// skipped value instead of inventing one.
	r := NewReader(cat('H', 'Z', 'Q', 0x90))
	if err := r.Skip(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Decode(); !errors.Is(err, ErrSkippedRef) {
		t.Errorf("Decode of ref to skipped map = %v, want ErrSkippedRef", err)
	}
	r.Reset(cat('H', 'Z', 'Q', 0x90))
	if err := r.Skip(); err != nil {
		t.Fatal(err)
	}
	if err := r.Skip(); err != nil {
		t.Errorf("Skip of valid ref: %v", err)
	}
}

func TestStateAcrossValues(t *testing.T) {
	// A class defined in one value serves the next; Reset forgets it.
	in := cat('C', 0x01, "P", 0x91, 0x01, "x", 0x60, 0x91, 0x60, 0x92)
	r := NewReader(in)
	for _, want := range []int32{1, 2} {
		v, err := r.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if x, _ := v.(*Object).Field("x"); x != want {
			t.Errorf("x = %v, want %d", x, want)
		}
	}
	r.Reset(in[len(in)-2:])
	if _, err := r.Decode(); !errors.Is(err, ErrMalformed) {
		t.Errorf("undefined class after Reset: %v", err)
	}
}

func TestManyClassesAndTypes(t *testing.T) {
	// Beyond the inline capacity of the Reader.
	var in []byte
	const n = 3 * inlineClasses
	for i := 0; i < n; i++ {
		in = AppendClassDef(in, "C"+strings.Repeat("x", i), "f")
		in = AppendObjectStart(in, i)
		in = AppendInt(in, int32(i))
		in = AppendListStart(in, "T"+strings.Repeat("y", i), 0)
	}
	for i := 0; i < n; i++ {
		in = AppendObjectStart(in, i)
		in = AppendInt(in, int32(-i))
		in = append(in, 0x70)
		in = AppendInt(in, int32(i))
	}
	r := NewReader(in)
	for i := 0; i < 2*n; i++ {
		v, err := r.Decode()
		if err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		o := v.(*Object)
		j := i % n
		want := int32(j)
		if i >= n {
			want = -want
		}
		if o.Class != "C"+strings.Repeat("x", j) || o.Values[0] != want {
			t.Errorf("object %d = %s %v", i, o.Class, o.Values)
		}
		v, err = r.Decode()
		if err != nil {
			t.Fatalf("list %d: %v", i, err)
		}
		if l := v.(*List); l.Type != "T"+strings.Repeat("y", j) {
			t.Errorf("list %d type %q", i, l.Type)
		}
	}
	r.Reset(in)
	for r.Len() > 0 {
		if err := r.Skip(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriterContainers(t *testing.T) {
	var in []byte
	in = AppendMapStart(in, "")
	in = AppendString(in, "k")
	in = AppendListStart(in, "", 9)
	for i := 0; i < 9; i++ {
		in = AppendNull(in)
	}
	in = AppendString(in, "t")
	in = AppendListStart(in, "[string", 8)
	for i := 0; i < 8; i++ {
		in = AppendBool(in, i%2 == 0)
	}
	in = AppendString(in, "v")
	in = AppendVarListStart(in, "")
	in = AppendEnd(in)
	in = AppendString(in, "vt")
	in = AppendVarListStart(in, "java.util.ArrayList")
	in = AppendEnd(in)
	in = AppendString(in, "m")
	in = AppendMapStart(in, "java.util.TreeMap")
	in = AppendEnd(in)
	in = AppendString(in, "o")
	in = AppendClassDef(in, "Empty")
	in = AppendObjectStart(in, 0)
	in = AppendString(in, "o20")
	for i := 1; i <= 20; i++ {
		in = AppendClassDef(in, "K")
	}
	in = AppendObjectStart(in, 20)
	in = AppendString(in, "self")
	in = AppendRef(in, 0)
	in = AppendEnd(in)
	in = AppendStringMap(in, [][2]string{{"a", "b"}, {"c", ""}})

	r := NewReader(in)
	v, err := r.Decode()
	if err != nil {
		t.Fatal(err)
	}
	m := v.(*Map)
	check := func(key string, ok func(any) bool) {
		t.Helper()
		if got, _ := m.Get(key); !ok(got) {
			t.Errorf("%s = %#v", key, got)
		}
	}
	check("k", func(v any) bool { l, ok := v.(*List); return ok && len(l.Items) == 9 && l.Type == "" })
	check("t", func(v any) bool {
		l, ok := v.(*List)
		return ok && len(l.Items) == 8 && l.Type == "[string" && l.Items[0] == true
	})
	check("v", func(v any) bool { l, ok := v.(*List); return ok && len(l.Items) == 0 })
	check("vt", func(v any) bool { l, ok := v.(*List); return ok && l.Type == "java.util.ArrayList" })
	check("m", func(v any) bool { mm, ok := v.(*Map); return ok && mm.Type == "java.util.TreeMap" })
	check("o", func(v any) bool { o, ok := v.(*Object); return ok && o.Class == "Empty" && len(o.Values) == 0 })
	check("o20", func(v any) bool { o, ok := v.(*Object); return ok && o.Class == "K" })
	check("self", func(v any) bool { return v == any(m) })
	v, err = r.Decode()
	if err != nil {
		t.Fatal(err)
	}
	want := &Map{Entries: []MapEntry{{"a", "b"}, {"c", ""}}}
	if !reflect.DeepEqual(v, want) || r.Len() != 0 {
		t.Errorf("string map = %#v, %d left", v, r.Len())
	}
}

func TestStreamingMapAPI(t *testing.T) {
	in := AppendStringMap(nil, [][2]string{{"path", "svc"}, {"group", "g"}})
	in = append(in, 'N')
	r := NewReader(in)
	isNull, err := r.ReadMapStart()
	if err != nil || isNull {
		t.Fatal(isNull, err)
	}
	var got []string
	for {
		end, err := r.End()
		if err != nil {
			t.Fatal(err)
		}
		if end {
			break
		}
		k, _ := r.ReadString()
		v, _ := r.ReadString()
		got = append(got, k+"="+v)
	}
	if strings.Join(got, ",") != "path=svc,group=g" {
		t.Errorf("entries %v", got)
	}
	if isNull, err := r.ReadMapStart(); !isNull || err != nil {
		t.Errorf("null map: %v %v", isNull, err)
	}
	r.Reset(cat(0x7a, 0x90, 0x91, 'W', 'Z', 'N'))
	for _, want := range []int{2, -1} {
		n, isNull, err := r.ReadListStart()
		if err != nil || isNull || n != want {
			t.Errorf("ReadListStart = %d, %v, %v; want %d", n, isNull, err, want)
		}
		if want == 2 {
			r.ReadInt()
			r.ReadInt()
		} else if end, err := r.End(); !end || err != nil {
			t.Errorf("End = %v %v", end, err)
		}
	}
	if _, isNull, err := r.ReadListStart(); !isNull || err != nil {
		t.Errorf("null list: %v %v", isNull, err)
	}
}

func TestPeekKind(t *testing.T) {
	tests := []struct {
		in   []byte
		want Kind
	}{
		{cat('N'), KindNull}, {cat('T'), KindBool}, {cat(0x90), KindInt}, {cat(0xe0), KindLong},
		{cat(0x5b), KindDouble}, {cat('J'), KindDate}, {cat(0x00), KindString}, {cat('R'), KindString},
		{cat(0x20), KindBinary}, {cat('V'), KindList}, {cat('H'), KindMap}, {cat(0x60), KindObject},
		{cat('Q'), KindRef}, {cat('C', 0x01, "A", 0x90, 0x60), KindObject},
	}
	for _, tt := range tests {
		if got, err := NewReader(tt.in).PeekKind(); err != nil || got != tt.want {
			t.Errorf("PeekKind(% x) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, tag := range []byte{0x40, 'E', 'G', 'P', 'Z'} {
		if _, err := NewReader([]byte{tag}).PeekKind(); !errors.Is(err, ErrMalformed) {
			t.Errorf("PeekKind(%#x) = %v, want ErrMalformed", tag, err)
		}
	}
	if _, err := NewReader(nil).PeekKind(); err != ErrUnexpectedEnd {
		t.Errorf("PeekKind(empty) = %v", err)
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrUnexpectedEnd},
		{"reserved tag", cat(0x40), ErrMalformed},
		{"stray end", cat('Z'), ErrMalformed},
		{"string too short", cat(0x05, "abc"), ErrUnexpectedEnd},
		{"string bad lead byte", cat(0x01, 0xff), ErrMalformed},
		{"string bad continuation", cat(0x01, 0xc3, 0x41), ErrMalformed},
		{"string pair beyond length", cat(0x01, 0xf0, 0x9f, 0x98, 0x80), ErrMalformed},
		{"chunk without final", cat('R', 0x00, 0x01, "a"), ErrUnexpectedEnd},
		{"chunk followed by int", cat('R', 0x00, 0x01, "a", 0x90), ErrMalformed},
		{"binary too short", cat(0x25, 1, 2), ErrUnexpectedEnd},
		{"binary chunk followed by string", cat('A', 0x00, 0x01, 1, 0x01, "a"), ErrMalformed},
		{"int truncated", cat('I', 0, 0), ErrUnexpectedEnd},
		{"long truncated", cat('L', 0, 0), ErrUnexpectedEnd},
		{"double truncated", cat('D', 0), ErrUnexpectedEnd},
		{"date truncated", cat('J', 0), ErrUnexpectedEnd},
		{"undefined class", cat(0x60), ErrMalformed},
		{"undefined class O", cat('O', 0x91), ErrMalformed},
		{"class index not int", cat('C', 0x01, "A", 0x90, 'O', 0x01, "x"), ErrMalformed},
		{"class name not string", cat('C', 0x90, 0x90), ErrMalformed},
		{"class field count not int", cat('C', 0x01, "A", 0x01, "B"), ErrMalformed},
		{"class field count negative", cat('C', 0x01, "A", 0x8f), ErrMalformed},
		{"class field count beyond input", cat('C', 0x01, "A", 'I', 0x7f, 0xff, 0xff, 0xff, 0x01, "f"), ErrMalformed},
		{"class field name not string", cat('C', 0x01, "A", 0x91, 0x90, 0x60, 0x90), ErrMalformed},
		{"ref out of range", cat('Q', 0x90), ErrMalformed},
		{"ref negative", cat(0x79, 'Q', 0x8f), ErrMalformed},
		{"ref not int", cat('Q', 'N'), ErrMalformed},
		{"type ref out of range", cat(0x71, 0x90, 0x90), ErrMalformed},
		{"type not string or int", cat(0x71, 'N', 0x90), ErrMalformed},
		{"list length negative", cat('X', 0x8f), ErrMalformed},
		{"list length not int", cat('X', 'N'), ErrMalformed},
		{"list length huge", cat('X', 'I', 0x7f, 0xff, 0xff, 0xff, 0x90), ErrUnexpectedEnd},
		{"variable list without end", cat('W', 0x90), ErrUnexpectedEnd},
		{"map without end", cat('H', 0x90, 0x90), ErrUnexpectedEnd},
		{"map key without value", cat('H', 0x90, 'Z'), ErrMalformed},
		{"typed map without type", cat('M'), ErrUnexpectedEnd},
		{"object missing fields", cat('C', 0x01, "A", 0x92, 0x01, "x", 0x01, "y", 0x60, 0x90), ErrUnexpectedEnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := NewReader(tt.in).Skip(); !errors.Is(err, tt.want) {
				t.Errorf("Skip(% x) = %v, want %v", tt.in, err, tt.want)
			}
			if _, err := NewReader(tt.in).Decode(); !errors.Is(err, tt.want) {
				t.Errorf("Decode(% x) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestWrongKindReads(t *testing.T) {
	r := NewReader(cat(0x01, "a"))
	if _, err := r.ReadInt(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadInt on string: %v", err)
	}
	if _, err := r.ReadLong(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadLong on string: %v", err)
	}
	if _, err := r.ReadDouble(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadDouble on string: %v", err)
	}
	if _, err := r.ReadBool(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadBool on string: %v", err)
	}
	if _, err := r.ReadDate(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadDate on string: %v", err)
	}
	if _, err := r.ReadBinary(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadBinary on string: %v", err)
	}
	if _, err := r.ReadMapStart(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadMapStart on string: %v", err)
	}
	if _, _, err := r.ReadListStart(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadListStart on string: %v", err)
	}
	if r.TryNull() {
		t.Error("TryNull on string")
	}
	if s, err := r.ReadString(); s != "a" || err != nil {
		t.Errorf("failed reads consumed input: %q %v", s, err)
	}
	r.Reset(cat(0x90))
	if _, _, err := r.ReadStringBytes(); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadStringBytes on int: %v", err)
	}
}

func TestPrefixesNeverPanic(t *testing.T) {
	// Every proper prefix of a valid stream is an error, never a panic or a
	// bogus success.
	var in []byte
	in = AppendClassDef(in, "com.example.Pojo", "name", "tags", "nested")
	in = AppendObjectStart(in, 0)
	in = AppendString(in, "名字😀")
	in = AppendListStart(in, "[string", 2)
	in = AppendString(in, strings.Repeat("t", 40))
	in = AppendRef(in, 0)
	in = AppendMapStart(in, "java.util.HashMap")
	in = AppendLong(in, math.MaxInt64)
	in = AppendDouble(in, 12.345)
	in = AppendEnd(in)
	for i := 0; i < len(in); i++ {
		if err := NewReader(in[:i]).Skip(); err == nil {
			t.Errorf("Skip of %d-byte prefix succeeded", i)
		}
		if _, err := NewReader(in[:i]).Decode(); err == nil {
			t.Errorf("Decode of %d-byte prefix succeeded", i)
		}
	}
	r := NewReader(in)
	if err := r.Skip(); err != nil || r.Len() != 0 {
		t.Errorf("Skip of whole = %v, %d left", err, r.Len())
	}
}

func TestDepthLimit(t *testing.T) {
	nest := func(n int) []byte {
		b := bytes.Repeat([]byte{0x79}, n) // single-item lists
		return append(b, 'N')
	}
	for _, tt := range []struct {
		depth int
		ok    bool
	}{{MaxDepth, true}, {MaxDepth + 1, false}, {100000, false}} {
		in := nest(tt.depth)
		err := NewReader(in).Skip()
		if (err == nil) != tt.ok || (!tt.ok && !errors.Is(err, ErrTooDeep)) {
			t.Errorf("Skip depth %d = %v", tt.depth, err)
		}
		_, err = NewReader(in).Decode()
		if (err == nil) != tt.ok || (!tt.ok && !errors.Is(err, ErrTooDeep)) {
			t.Errorf("Decode depth %d = %v", tt.depth, err)
		}
	}
	maps := append(bytes.Repeat([]byte{'H', 0x90}, MaxDepth+1), 'N')
	if err := NewReader(maps).Skip(); !errors.Is(err, ErrTooDeep) {
		t.Errorf("nested maps: %v", err)
	}
}

func TestSkipDoesNotAllocate(t *testing.T) {
	var in []byte
	in = AppendClassDef(in, "com.example.Pojo", "name", "tags", "attrs")
	in = AppendObjectStart(in, 0)
	in = AppendString(in, "name")
	in = AppendListStart(in, "[string", 2)
	in = AppendString(in, "a")
	in = AppendString(in, "中文")
	in = AppendStringMap(in, [][2]string{{"k", "v"}})
	in = AppendString(in, strings.Repeat("z", 5000))
	in = AppendString(in, strings.Repeat("z", 70000)) // chunked
	in = AppendBinary(in, make([]byte, 70000))        // chunked
	var r Reader
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(in)
		for r.Len() > 0 {
			if err := r.Skip(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Skip allocated %.1f times per run", allocs)
	}
}
