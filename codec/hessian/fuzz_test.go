package hessian

import (
	"math"
	"strings"
	"testing"
)

func seedStream() []byte {
	var b []byte
	b = AppendClassDef(b, "com.example.Pojo", "name", "tags", "nested")
	b = AppendObjectStart(b, 0)
	b = AppendString(b, "名字😀")
	b = AppendListStart(b, "[string", 2)
	b = AppendString(b, strings.Repeat("t", 40))
	b = AppendRef(b, 0)
	b = AppendMapStart(b, "java.util.HashMap")
	b = AppendLong(b, math.MaxInt64)
	b = AppendDouble(b, 12.345)
	b = AppendEnd(b)
	b = AppendStringMap(b, [][2]string{{"path", "com.example.Svc"}, {"group", "g"}})
	b = AppendBinary(b, []byte{1, 2, 3})
	b = append(b, 'J', 0, 0, 0, 0xd0, 0x4b, 0x92, 0x84, 0xb8)
	b = append(b, 'R', 0x00, 0x01, 0xed, 0xa0, 0xbd, 'S', 0x00, 0x01, 0xed, 0xb8, 0x80)
	return b
}

func FuzzHessian(f *testing.F) {
	f.Add(seedStream())
	f.Add([]byte{'C', 0x0a, 'L', 'i', 'n', 'k', 'e', 'd', 'L', 'i', 's', 't', 0x92, 0x04, 'h', 'e', 'a', 'd', 0x04, 't', 'a', 'i', 'l', 'O', 0x90, 0x91, 'Q', 0x90})
	f.Add([]byte{'W', 0x79, 'H', 0x90, 0x72, 0x04, '[', 'i', 'n', 't', 0x90, 0x91, 'Z', 'Z'})
	f.Add([]byte{'X', 'I', 0x7f, 0xff, 0xff, 0xff, 0x90})
	f.Add([]byte{0x33, 0xff, 0xf0, 0x9f})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Skip and Decode agree on the first value.
		r1 := NewReader(data)
		e1 := r1.Skip()
		r2 := NewReader(data)
		_, e2 := r2.Decode()
		if (e1 == nil) != (e2 == nil) || (e1 == nil && r1.Offset() != r2.Offset()) {
			t.Fatalf("Skip: %v at %d; Decode: %v at %d", e1, r1.Offset(), e2, r2.Offset())
		}
		// Reading the whole stream terminates: every value consumes bytes.
		r := NewReader(data)
		for i := 0; r.Len() > 0; i++ {
			before := r.Len()
			var err error
			switch i % 3 {
			case 0:
				err = r.Skip()
			case 1:
				_, err = r.Decode()
			case 2:
				_, _, err = r.ReadStringBytes()
				if err != nil {
					err = r.Skip()
				}
			}
			if err != nil {
				break
			}
			if r.Len() >= before {
				t.Fatalf("value %d consumed nothing", i)
			}
		}
	})
}

func FuzzStringRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello", "中文", "😀", "\xff\xed\xa0\x80", strings.Repeat("é😀", 20000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := AppendString(nil, s)
		r := NewReader(enc)
		got, err := r.ReadString()
		if want := string([]rune(s)); err != nil || got != want || r.Len() != 0 {
			t.Fatalf("round trip of %q: %q, %v, %d left", s, got, err, r.Len())
		}
	})
}
