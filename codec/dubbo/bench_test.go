package dubbo

import "testing"

// BenchmarkParseSetID is the proxy's per-frame work when it does not need
// the service: find the frame, rewrite the id.
func BenchmarkParseSetID(b *testing.B) {
	raw := typicalRequest()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var id uint64
	for b.Loop() {
		f, _, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		id++
		SetID(f.Raw, id)
	}
}

// BenchmarkParseService adds decoding the invocation for routing.
func BenchmarkParseService(b *testing.B) {
	raw := typicalRequest()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		f, _, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Service(); err != nil {
			b.Fatal(err)
		}
	}
}
